import { PluginError, isPluginError } from '@teleport-plugin/core';
import type { CheckItem, Logger, OutboundPolicy } from '@teleport-plugin/core';
import type { EmailConfig } from './config.js';
import { MailgunMailer } from './mailgunMailer.js';
import { SmtpMailer } from './smtpMailer.js';

/** One mail to one recipient. */
export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html?: string | undefined;
  /** This mail's Message-ID, without angle brackets (see mailMessageId). */
  messageId: string;
  /** The thread's first Message-ID (replies only), without angle brackets. */
  inReplyTo?: string | undefined;
  /** Ids this mail refers to, oldest first; defaults to `inReplyTo`. */
  references?: readonly string[] | undefined;
  /** The Teleport request, sent as the `X-Teleport-Access-Request` header (machine-readable). */
  requestId?: string | undefined;
}

export interface SentMail {
  /**
   * The Message-ID the recipient sees, without brackets: ours, unless the service replaced it
   * (Mailgun answers with the id it used). Replies must refer to this one.
   */
  messageId: string;
  /** The service's answer (`250 2.0.0 Ok: queued as …`, `Queued. Thank you.`), for logs. */
  response: string;
}

/**
 * How the adapter sends mail. Two implementations: SmtpMailer (nodemailer's SMTP connection) and
 * MailgunMailer (Mailgun's HTTP API). Every call goes through core's outbound policy.
 */
export interface Mailer {
  /** `SMTP` or `Mailgun`: the service name in errors and logs. */
  readonly service: 'SMTP' | 'Mailgun';
  /** Whether findSent can answer (Mailgun's events); false for SMTP, which cannot be asked. */
  readonly canFindSent: boolean;
  /**
   * Sends one mail. Not idempotent: it is repeated only when it certainly never reached the
   * service; a failure after that carries `outcomeUnknown` and goes to findSent (Mailgun) or is
   * accepted as an at-least-once window (SMTP, where the Message-ID lets clients drop a copy).
   * A recipient the service refuses for good fails with isRecipientRefused().
   */
  send(mail: OutgoingMail, signal?: AbortSignal): Promise<SentMail>;
  /**
   * Whether the service accepted a mail with this Message-ID: true/false when it can tell
   * (Mailgun's events), undefined when it cannot (SMTP has no such question).
   */
  findSent(messageId: string, signal?: AbortSignal): Promise<boolean | undefined>;
  /** `teleport-plugin check`: each step in plain words (connect, STARTTLS, login / domain, key). */
  verify(signal?: AbortSignal): Promise<CheckItem[]>;
  /** Closes kept-alive connections. */
  close(): Promise<void>;
}

export interface MailerOptions {
  logger?: Logger | undefined;
  /** Core's outbound policy, overridden in part (tests use tiny backoffs). */
  policy?: Partial<OutboundPolicy> | undefined;
  /** Per attempt: connect and greeting for SMTP, the whole request for Mailgun (default 10 s). */
  timeoutMs?: number | undefined;
  /** SMTP: extra TLS settings (a private CA in tests; production relies on the system store and NODE_EXTRA_CA_CERTS). */
  tls?: { ca?: string | string[] | undefined; servername?: string | undefined } | undefined;
  /** SMTP: most connections kept open at once (default 3). */
  maxConnections?: number | undefined;
  /** SMTP: close a kept-alive connection after this long unused (default 15 s). */
  idleTimeoutMs?: number | undefined;
  /** SMTP: the name we give in EHLO (default: this host's name). */
  clientName?: string | undefined;
}

/** The mailer the config asks for: SMTP when `[smtp]` is present, else Mailgun. */
export function createMailer(config: EmailConfig, options: MailerOptions = {}): Mailer {
  if (config.transport === 'smtp' && config.smtp) return new SmtpMailer(config.smtp, config.sender, options);
  if (config.mailgun) return new MailgunMailer(config.mailgun, config.sender, options);
  throw new PluginError('CONFIG', 'email: neither [smtp] nor [mailgun] is configured', { userFacing: true });
}

/** A recipient the service refused for good (SMTP 5xx to RCPT, Mailgun 400 on `to`). */
export function isRecipientRefused(err: unknown): err is PluginError {
  return isPluginError(err) && err.details?.['recipientRefused'] === true;
}

/** The recipient a send error is about, when it names one. */
export function refusedRecipient(err: unknown): string | undefined {
  if (!isPluginError(err)) return undefined;
  const r = err.details?.['recipient'];
  return typeof r === 'string' ? r : undefined;
}

/**
 * Start-up's health check: the first failed step as one user-facing line (no stack), e.g.
 * `SMTP login: the server refused user "bot" (535 …): check smtp.username and smtp.password`.
 */
export function assertVerified(service: string, items: readonly CheckItem[]): void {
  const failed = items.find((i) => !i.ok);
  if (!failed) return;
  throw new PluginError('SERVICE_ERROR', `${failed.name}: ${failed.detail ?? 'failed'}`, { userFacing: true, details: { service } });
}
