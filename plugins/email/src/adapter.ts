import { PluginError, defineAdapter, messagingHandlers } from '@teleport-plugin/core';
import type { AdapterContext, AdapterHandlers, OutboundPolicy } from '@teleport-plugin/core';
import { addressDomain } from './address.js';
import { EmailBot } from './bot.js';
import { checkEmail } from './check.js';
import { createMailer } from './client.js';
import type { MailerOptions } from './client.js';
import { exampleConfig, parseEmailConfig } from './config.js';
import type { EmailConfig } from './config.js';
import { emailDemo } from './demo.js';
import { emailPluginData, emailThreadsLayout } from './pluginData.js';

export const ADAPTER_NAME = 'email';

/** Tuning for tests (and embedders); production uses the defaults. */
export interface EmailAdapterOptions {
  /** Core's outbound policy, tuned (tests use short backoffs). */
  policy?: Partial<OutboundPolicy> | undefined;
  /** Per attempt: SMTP connect and greeting, or a whole Mailgun request (default 10 s). */
  timeoutMs?: number | undefined;
  /** SMTP: extra TLS trust (a private CA); production uses the system store and NODE_EXTRA_CA_CERTS. */
  tls?: MailerOptions['tls'];
  /** Mailgun: waits before asking its events log again whether a mail was accepted (default 2 s, 5 s). */
  findRetryDelaysMs?: readonly number[] | undefined;
}

/**
 * Builds the handlers: the messaging kit on a mailer (SMTP or Mailgun), threads kept in the Go
 * plugin's `email_threads`. Start-up checks the connection, STARTTLS and the login (or the
 * Mailgun domain and key) as upstream does, and refuses to start on the first failure with one
 * line that names the key to fix.
 */
export async function setupEmail(ctx: AdapterContext<EmailConfig>, options: EmailAdapterOptions = {}): Promise<AdapterHandlers> {
  const { config, logger } = ctx;
  const mailer = createMailer(config, { logger, policy: options.policy, timeoutMs: options.timeoutMs, tls: options.tls });
  ctx.onClose(() => mailer.close());

  const items = await mailer.verify(ctx.signal);
  const failed = items.find((i) => !i.ok);
  if (failed) {
    await mailer.close();
    throw new PluginError('CONFIG', `${failed.name}: ${failed.detail ?? 'failed'}`, { userFacing: true, details: { service: mailer.service } });
  }
  for (const item of items) if (item.warning) logger.warn(`${item.name}: ${item.detail ?? ''}`);

  const bot = new EmailBot(mailer, {
    domain: addressDomain(config.senderAddress),
    html: config.html,
    logger,
    findRetryDelaysMs: options.findRetryDelaysMs,
  });
  const delivery = messagingHandlers(ctx as AdapterContext<unknown>, bot, {
    roleToRecipients: config.roleToRecipients,
    layout: emailThreadsLayout,
    // Mails show roles, not logins (upstream's texts): no user and role reads.
    loginsByRole: false,
    // A mail re-sent with the same Message-ID threads with the first copy and is dropped by
    // receivers that de-duplicate: the documented at-least-once window of SMTP. Mailgun answers
    // the find verbs, so there nothing is re-sent that was accepted.
    redoUnknown: true,
  });
  return {
    ...delivery,
    check: (signal) => checkEmail(mailer, config, signal),
  };
}

export const emailAdapter = defineAdapter<EmailConfig>({
  name: ADAPTER_NAME,
  version: '0.1.0',
  parseConfig: parseEmailConfig,
  setup: (ctx) => setupEmail(ctx),
  exampleConfig,
  pluginData: emailPluginData,
  demo: emailDemo,
});
