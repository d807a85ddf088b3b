import type { ConfigContext, ConfigSection } from '@teleport-plugin/core';
import { isEmail, mailboxAddress } from './address.js';

/**
 * Top-level tables this adapter reads. The Go email plugin has no `[email]` table: its settings
 * live in `[smtp]`, `[mailgun]` and `[delivery]` (plus the core's `[role_to_recipients]`).
 */
export const EMAIL_TABLES = ['smtp', 'mailgun', 'delivery'] as const;

export const DEFAULT_SMTP_PORT = 587;
/** Mailgun's US region. EU-region domains live at {@link MAILGUN_EU_API_BASE}. */
export const MAILGUN_US_API_BASE = 'https://api.mailgun.net/v3';
export const MAILGUN_EU_API_BASE = 'https://api.eu.mailgun.net/v3';

export const STARTTLS_POLICIES = ['mandatory', 'opportunistic', 'disabled'] as const;
/**
 * `mandatory`: fail unless the connection is upgraded with STARTTLS; `opportunistic`: upgrade
 * when the server offers it; `disabled`: never upgrade (password and mail travel in clear).
 * Port 465 means TLS from the first byte whatever the policy, as upstream's mail library did.
 */
export type StartTlsPolicy = (typeof STARTTLS_POLICIES)[number];

export interface SmtpConfig {
  host: string;
  port: number;
  username: string;
  password: string;
  startTlsPolicy: StartTlsPolicy;
}

export interface MailgunConfig {
  domain: string;
  privateKey: string;
  /** Base URL including the version, no trailing slash: `https://api.mailgun.net/v3`. */
  apiBase: string;
}

export interface EmailConfig {
  /** Which transport sends: SMTP when `[smtp]` is present (even next to `[mailgun]`), as upstream. */
  transport: 'smtp' | 'mailgun';
  smtp: SmtpConfig | undefined;
  mailgun: MailgunConfig | undefined;
  /** The From header as configured (`noreply@example.com` or `Teleport <noreply@example.com>`). */
  sender: string;
  /** The bare address in `sender`: the SMTP envelope sender and the Message-ID domain. */
  senderAddress: string;
  /** role -> recipient emails; always has a non-empty `*`. */
  roleToRecipients: Record<string, string[]>;
  /** Add an HTML part next to the plain text (same content). Off by default, as upstream. */
  html: boolean;
}

/**
 * `[smtp]`, `[mailgun]`, `[delivery]` and `[role_to_recipients]` (or `[email.role_to_recipients]`).
 * Keys, defaults and checks are the Go plugin's; `mailgun.api_base` and `delivery.html` are new.
 * `section` is `[email]`, which the Go plugin never had; only its role_to_recipients is read.
 */
export function parseEmailConfig(section: ConfigSection, ctx: ConfigContext): EmailConfig {
  const root = ctx.root();
  const smtpSection = root.section('smtp');
  const mailgunSection = root.section('mailgun');
  const delivery = root.section('delivery');

  if (!smtpSection.present && !mailgunSection.present) {
    throw root.error('smtp', 'required: a [smtp] table (host, port, username, password) or a [mailgun] table (domain, private_key); the file has neither');
  }
  const roleToRecipients = parseRecipients(section, delivery, ctx);
  // Upstream validates both tables when both are present, then SMTP wins.
  const mailgun = mailgunSection.present ? parseMailgun(mailgunSection) : undefined;
  const smtp = smtpSection.present ? parseSmtp(smtpSection) : undefined;
  if (smtp && mailgun) {
    mailgunSection.warn('domain', 'ignored: [smtp] is also configured and takes precedence (as in the Go plugin); remove one of the two tables');
  }

  const { sender, senderAddress } = parseSender(delivery, smtp, mailgun);
  const html = delivery.bool('html', false);

  return { transport: smtp ? 'smtp' : 'mailgun', smtp, mailgun, sender, senderAddress, roleToRecipients, html };
}

function parseSmtp(smtp: ConfigSection): SmtpConfig {
  const host = smtp.requireString('host', { description: 'the SMTP server host name, e.g. "smtp.example.com"' }).trim();
  // Upstream treats 0 (or no key) as the default submission port.
  const port = smtp.integer('port', { min: 0, max: 65535 }) || DEFAULT_SMTP_PORT;
  const username = smtp.requireString('username', { description: 'the SMTP login name' }).trim();
  const password = smtp.secret('password', { required: true, description: 'the SMTP password' });
  if (!password) throw smtp.error('password', 'required: the SMTP password (password, or password_file naming a file that holds it)');
  const startTlsPolicy = smtp.oneOf('starttls_policy', STARTTLS_POLICIES, 'mandatory');
  if (startTlsPolicy === 'disabled' && port !== 465) {
    smtp.warn('starttls_policy', '"disabled": the password and every mail cross the network unencrypted');
  }
  return { host, port, username, password, startTlsPolicy };
}

function parseMailgun(mailgun: ConfigSection): MailgunConfig {
  const domain = mailgun.requireString('domain', { description: 'the Mailgun sending domain, e.g. "mg.example.com"' }).trim();
  const privateKey = mailgun.secret('private_key', { required: true, description: 'the Mailgun private API key' });
  if (!privateKey) throw mailgun.error('private_key', 'required: the Mailgun private API key (private_key, or private_key_file)');

  const raw = mailgun.string('api_base', { default: MAILGUN_US_API_BASE }) ?? MAILGUN_US_API_BASE;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw mailgun.error('api_base', `a URL such as ${MAILGUN_US_API_BASE} (or ${MAILGUN_EU_API_BASE} for EU-region domains)`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.search || url.hash) {
    throw mailgun.error('api_base', `an http(s) base URL without query, such as ${MAILGUN_US_API_BASE} (or ${MAILGUN_EU_API_BASE} for EU-region domains)`);
  }
  // Mailgun's own SDKs take the host only and add the version; accept that spelling too.
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v3';
  return { domain, privateKey, apiBase: url.toString().replace(/\/+$/, '') };
}

function parseRecipients(section: ConfigSection, delivery: ConfigSection, ctx: ConfigContext): Record<string, string[]> {
  const legacy = delivery.stringList('recipients', { deprecated: 'use role_to_recipients["*"] instead' }) ?? [];
  const own = section.section('role_to_recipients');
  const table = own.present ? own : ctx.root().section('role_to_recipients');
  const map = ctx.roleToRecipients(section);
  const hasMap = map !== undefined && Object.keys(map).length > 0;

  let out: Record<string, string[]>;
  if (legacy.length > 0) {
    if (hasMap) throw delivery.error('recipients', 'conflicts with role_to_recipients: provide either delivery.recipients or role_to_recipients, not both');
    for (const r of legacy) {
      if (!isEmail(r.trim())) throw delivery.error('recipients', `must list email addresses only, got "${r}": invalid email address in delivery.recipients`);
    }
    out = { '*': legacy.map((r) => r.trim()) };
  } else {
    if (!hasMap) {
      throw table.error('*', 'missing required value role_to_recipients: add a [role_to_recipients] table with "*" = ["reviewers@example.com"]');
    }
    out = {};
    for (const [role, list] of Object.entries(map)) {
      const cleaned = list.map((r) => r.trim()).filter((r) => r !== '');
      for (const r of cleaned) {
        if (!isEmail(r)) throw table.error(role, `must list email addresses only, got "${r}": invalid email address in role_to_recipients.${role}`);
      }
      out[role] = cleaned;
    }
  }
  if (!out['*'] || out['*'].length === 0) {
    throw table.error('*', 'missing required value role_to_recipients["*"]: the addresses that get requests for roles with no entry of their own');
  }
  return out;
}

function parseSender(delivery: ConfigSection, smtp: SmtpConfig | undefined, mailgun: MailgunConfig | undefined): { sender: string; senderAddress: string } {
  const configured = (delivery.string('sender') ?? '').trim();
  if (configured !== '') {
    const address = mailboxAddress(configured);
    if (!address) throw delivery.error('sender', `an email address such as "noreply@example.com" or "Teleport <noreply@example.com>", got "${configured}"`);
    return { sender: configured, senderAddress: address };
  }
  // Upstream loads without a sender, then every send fails (no From). Pick a From that can work.
  const fallback = smtp ? (isEmail(smtp.username) ? smtp.username : `noreply@${smtp.host}`) : `noreply@${mailgun?.domain ?? 'localhost'}`;
  delivery.warn('sender', `is empty: mails are sent from ${fallback}; set delivery.sender to the From address you want`);
  return { sender: fallback, senderAddress: fallback };
}

/** `teleport-plugin configure --plugin email`: the Go plugin's tables, commented. */
export function exampleConfig(): string {
  return `# Email adapter for teleport-plugin (same tables and keys as the Go teleport-email plugin).
# One mail per recipient for each new request; reviews, the decision and expiry follow as replies
# in the same thread. Use either [smtp] or [mailgun]; when both are present, [smtp] is used.

[smtp]
host = "smtp.example.com"
# 587 (submission, STARTTLS) by default; 465 means TLS from the first byte.
port = 587
username = "teleport-bot@example.com"
# The password, or password_file naming a file that holds it.
password_file = "/var/lib/teleport/plugins/email/smtp_password"
# mandatory (default): refuse to send unless the connection is upgraded with STARTTLS.
# opportunistic: upgrade when the server offers it. disabled: never (password sent in clear).
starttls_policy = "mandatory"

# [mailgun]
# domain = "mg.example.com"
# private_key_file = "/var/lib/teleport/plugins/email/mailgun_private_key"
# Domains in Mailgun's EU region need the EU endpoint:
# api_base = "${MAILGUN_EU_API_BASE}"

[delivery]
# The From address.
sender = "noreply@example.com"
# Also send an HTML part (same content) next to the plain text.
# html = false

[role_to_recipients]
# Who gets mail for each requested role; "*" (required) for roles without an entry.
"*" = ["security@example.com"]
# "dev" = ["dev-lead@example.com", "dev-manager@example.com"]
`;
}
