// Public entry of @teleport-plugin/email. No default export yet: the adapter is wired onto the
// core's delivery layer in a later stage; this is its config, texts and mail client.
export {
  parseEmailConfig,
  exampleConfig,
  EMAIL_TABLES,
  DEFAULT_SMTP_PORT,
  MAILGUN_US_API_BASE,
  MAILGUN_EU_API_BASE,
  STARTTLS_POLICIES,
} from './config.js';
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
  EMAIL_THREADS_KEY,
  LEGACY_EMAIL_KEY,
  LEGACY_TIMESTAMP_KEY,
} from './pluginData.js';
export type { EmailThread } from './pluginData.js';
export { isEmail, mailboxAddress, addressDomain } from './address.js';
export * from './render.js';
