// Public entry of @teleport-plugin/email: the adapter (default export), its config, texts, mail
// clients and plugin-data layout. Test servers are in @teleport-plugin/email/testing.
import { emailAdapter } from './adapter.js';

export default emailAdapter;
export { emailAdapter, setupEmail, ADAPTER_NAME } from './adapter.js';
export type { EmailAdapterOptions } from './adapter.js';
export { checkEmail } from './check.js';
export { EmailBot } from './bot.js';
export type { EmailBotOptions } from './bot.js';
export { emailDemo, describeMails } from './demo.js';
export { parseEmailConfig, exampleConfig, EMAIL_TABLES, DEFAULT_SMTP_PORT, MAILGUN_US_API_BASE, MAILGUN_EU_API_BASE, STARTTLS_POLICIES } from './config.js';
export type { EmailConfig, SmtpConfig, MailgunConfig, StartTlsPolicy } from './config.js';
export { createMailer, isRecipientRefused, refusedRecipient, assertVerified } from './client.js';
export type { Mailer, MailerOptions, OutgoingMail, SentMail } from './client.js';
export { SmtpMailer } from './smtpMailer.js';
export { MailgunMailer } from './mailgunMailer.js';
export { smtpFailure } from './smtpFailure.js';
export type { SmtpPhase, SmtpFailureContext } from './smtpFailure.js';
export { mailMessageId, reviewKind, bracketed, unbracketed } from './messageId.js';
export type { MailKind, MailIdentity } from './messageId.js';
export {
  decodeEmailThreads,
  encodeEmailThreads,
  isEncodableThread,
  threadTimestamp,
  emailThreadsLayout,
  emailPluginData,
  EMAIL_THREADS_KEY,
  LEGACY_EMAIL_KEY,
  LEGACY_TIMESTAMP_KEY,
} from './pluginData.js';
export type { EmailThread } from './pluginData.js';
export { isEmail, mailboxAddress, addressDomain } from './address.js';
export * from './render.js';
