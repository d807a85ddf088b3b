import { API_FETCH_INIT, PluginError, callService, httpFailure, isPluginError, networkFailure, registerSecret, retryAfterMs } from '@teleport-plugin/core';
import type { CheckItem, Logger, OutboundCall, OutboundPolicy } from '@teleport-plugin/core';
import { mailboxAddress } from './address.js';
import type { Mailer, MailerOptions, OutgoingMail, SentMail } from './client.js';
import { MAILGUN_EU_API_BASE } from './config.js';
import type { MailgunConfig } from './config.js';
import { bracketed, unbracketed } from './messageId.js';

/*
 * Mailgun's HTTP API on fetch (Node's undici: kept-alive connections, no retries of its own).
 * Messages go as form fields: from, to, subject, text, html, and `h:` headers for our
 * Message-ID and the thread (Mailgun copies `h:<Name>` into the mail). Upstream (mailgun-go) can
 * only talk to the US endpoint; `mailgun.api_base` picks the region.
 */

const SERVICE = 'Mailgun';
const DEFAULT_TIMEOUT_MS = 10_000;

interface MailgunAnswer {
  status: number;
  body: unknown;
}

export class MailgunMailer implements Mailer {
  readonly service = SERVICE;
  readonly canFindSent = true;
  private readonly base: string;
  private readonly authorization: string;
  private readonly senderAddress: string;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly policy: Partial<OutboundPolicy> | undefined;

  constructor(
    private readonly config: MailgunConfig,
    private readonly sender: string,
    options: MailerOptions = {},
  ) {
    this.base = config.apiBase.replace(/\/+$/, '');
    const credentials = Buffer.from(`api:${config.privateKey}`).toString('base64');
    registerSecret(config.privateKey);
    registerSecret(credentials);
    this.authorization = `Basic ${credentials}`;
    this.senderAddress = mailboxAddress(sender) ?? sender;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger;
    this.policy = options.policy;
  }

  get apiBase(): string {
    return this.base;
  }

  async send(mail: OutgoingMail, signal?: AbortSignal): Promise<SentMail> {
    const form = new URLSearchParams();
    form.set('from', this.sender);
    form.set('to', mail.to);
    form.set('subject', mail.subject);
    form.set('text', mail.text);
    if (mail.html !== undefined) form.set('html', mail.html);
    form.set('h:Message-Id', bracketed(mail.messageId));
    const references = mail.references ?? (mail.inReplyTo ? [mail.inReplyTo] : []);
    if (mail.inReplyTo) form.set('h:In-Reply-To', bracketed(mail.inReplyTo));
    if (references.length > 0) form.set('h:References', references.map(bracketed).join(' '));
    if (mail.requestId) {
      form.set('h:X-Teleport-Access-Request', mail.requestId);
      form.set('v:teleport-request-id', mail.requestId);
    }
    // As upstream: Mailgun must not hand the mail on without TLS.
    form.set('o:require-tls', 'true');

    const call: OutboundCall = { service: SERVICE, operation: 'POST /messages', idempotent: false };
    const answer = await this.call(call, 'POST', `/${encodeURIComponent(this.config.domain)}/messages`, { form, recipient: mail.to }, signal);
    const body = (answer.body ?? {}) as { id?: unknown; message?: unknown };
    const id = typeof body.id === 'string' && body.id.trim() !== '' ? unbracketed(body.id) : mail.messageId;
    return { messageId: id, response: typeof body.message === 'string' ? body.message : '' };
  }

  /**
   * Asks Mailgun's events log whether it accepted a mail with this Message-ID. Events appear
   * within seconds, not at once: a `false` right after a lost answer may still turn `true`, so a
   * caller settling an unknown outcome should ask again after a short wait before re-sending.
   */
  async findSent(messageId: string, signal?: AbortSignal): Promise<boolean> {
    const call: OutboundCall = { service: SERVICE, operation: 'GET /events', idempotent: true };
    const query = new URLSearchParams({ 'message-id': unbracketed(messageId), event: 'accepted', limit: '10' });
    const answer = await this.call(call, 'GET', `/${encodeURIComponent(this.config.domain)}/events?${query.toString()}`, {}, signal);
    const items = (answer.body as { items?: unknown } | undefined)?.items;
    return Array.isArray(items) && items.length > 0;
  }

  async verify(signal?: AbortSignal): Promise<CheckItem[]> {
    const domain = this.config.domain;
    const call: OutboundCall = { service: SERVICE, operation: 'GET /domains', idempotent: true };
    try {
      const answer = await this.call(call, 'GET', `/domains/${encodeURIComponent(domain)}`, {}, signal);
      const state = String(((answer.body as { domain?: { state?: unknown } } | undefined)?.domain?.state as string | undefined) ?? 'unknown');
      const items: CheckItem[] = [{ name: 'Mailgun API', ok: true, detail: `reached ${this.base} with mailgun.private_key` }];
      if (state === 'disabled') items.push({ name: 'Mailgun domain', ok: false, detail: `${domain} is disabled in Mailgun: mails would be refused` });
      else if (state === 'unverified')
        items.push({ name: 'Mailgun domain', ok: true, detail: `${domain} is unverified: Mailgun sends only to authorized recipients until its DNS records are verified` });
      else items.push({ name: 'Mailgun domain', ok: true, detail: `${domain} is ${state}` });
      return items;
    } catch (err) {
      if (!isPluginError(err) || (err.service?.status !== 401 && err.service?.status !== 403)) {
        const reached = isPluginError(err) && err.service?.status !== undefined;
        return [reached ? { name: 'Mailgun domain', ok: false, detail: explanation(err) } : { name: 'Mailgun API', ok: false, detail: explanation(err) }];
      }
    }
    // A domain sending key may send but not read the domain: what upstream's check did (a
    // test-mode send, delivered to no one) tells a sending key from a wrong one.
    try {
      await this.testModeSend(signal);
      return [
        { name: 'Mailgun API', ok: true, detail: `reached ${this.base}` },
        { name: 'Mailgun domain', ok: true, detail: `mailgun.private_key may send for ${domain} (a test-mode mail was accepted); it cannot read the domain's settings` },
      ];
    } catch (err) {
      return [{ name: 'Mailgun API', ok: false, detail: explanation(err) }];
    }
  }

  async close(): Promise<void> {
    // fetch's kept-alive sockets belong to the global agent and close when idle.
  }

  private async testModeSend(signal: AbortSignal | undefined): Promise<void> {
    const form = new URLSearchParams({
      from: this.sender,
      to: this.senderAddress,
      subject: 'Health Check',
      text: 'Testing Mailgun API connection...',
      'o:testmode': 'yes',
      'o:require-tls': 'true',
    });
    // Test mode delivers nothing, so repeating it is harmless.
    const call: OutboundCall = { service: SERVICE, operation: 'POST /messages (test mode)', idempotent: true };
    await this.call(call, 'POST', `/${encodeURIComponent(this.config.domain)}/messages`, { form }, signal);
  }

  private async call(
    call: OutboundCall,
    method: string,
    path: string,
    options: { form?: URLSearchParams; recipient?: string },
    signal: AbortSignal | undefined,
  ): Promise<MailgunAnswer> {
    const url = this.base + path;
    return callService(
      call,
      async (s) => {
        // Inside a handler attempt its signal is the deadline (one timer per attempt, not per
        // call); calls outside one (start-up checks) get their own.
        const deadline = s ?? AbortSignal.timeout(this.timeoutMs);
        let res: Response;
        try {
          res = await fetch(url, {
            ...API_FETCH_INIT,
            method,
            headers: {
              authorization: this.authorization,
              accept: 'application/json',
              ...(options.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
            },
            ...(options.form ? { body: options.form.toString() } : {}),
            signal: deadline,
          });
        } catch (err) {
          throw networkFailure(call, err);
        }
        const text = await res.text().catch(() => '');
        if (!res.ok) throw this.failure(call, res, text, options.recipient);
        try {
          return { status: res.status, body: text ? (JSON.parse(text) as unknown) : undefined };
        } catch {
          throw new PluginError('SERVICE_ERROR', `${call.service} ${call.operation}: HTTP ${res.status} without valid JSON`, {
            service: { service: call.service, operation: call.operation, status: res.status, retryable: false, outcomeUnknown: false },
          });
        }
      },
      { signal, logger: this.logger, policy: this.policy },
    );
  }

  /** A non-2xx answer in plain words: 401/403 name the key, 404 the domain, both the region. */
  private failure(call: OutboundCall, res: Response, text: string, recipient: string | undefined): PluginError {
    const status = res.status;
    const said = mailgunMessage(text);
    const domain = this.config.domain;
    // Upstream's classic failure: an EU-region domain asked at the US endpoint (401 or 404).
    const region =
      new URL(this.base).host === new URL(MAILGUN_EU_API_BASE).host ? '' : `; if ${this.config.domain} is in Mailgun's EU region, set mailgun.api_base = "${MAILGUN_EU_API_BASE}"`;
    let explanationText: string;
    let extra: Record<string, unknown> = {};
    if (status === 401 || status === 403) {
      explanationText = `Mailgun at ${this.base} refused the key for ${domain} (HTTP ${status}${said ? ` ${said}` : ''}): check mailgun.private_key (or mailgun.private_key_file)${region}`;
    } else if (status === 404) {
      explanationText = `Mailgun at ${this.base} does not know the domain ${domain}${said ? ` (${said})` : ''}: check mailgun.domain${region}`;
    } else if (status === 400 && recipient && /\bto\b|recipient/i.test(said)) {
      explanationText = `Mailgun refused the recipient ${recipient}${said ? ` (${said})` : ''}`;
      extra = { recipient, recipientRefused: true };
    } else {
      explanationText = said || `HTTP ${status}`;
    }
    const base = httpFailure(call, {
      status,
      serviceCode: said || undefined,
      retryAfterMs: retryAfterMs(res.headers),
      userFacing: status === 401 || status === 403 || status === 404,
    });
    const message = status === 429 || status >= 500 ? base.message : `${call.service} ${call.operation}: ${explanationText}`;
    // A refused key or an unknown domain fails every mail alike (not this recipient's).
    const everyCall = status === 401 || status === 403 || status === 404;
    return new PluginError(base.code, message, {
      userFacing: base.userFacing,
      service: everyCall && base.service ? { ...base.service, affectsEveryCall: true } : base.service,
      details: { explanation: explanationText, ...extra },
    });
  }
}

/** Mailgun's `{"message": "..."}` (or its plain-text `Forbidden`), one line. */
function mailgunMessage(text: string): string {
  let out = text.trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') out = parsed.message;
  } catch {
    // plain text
  }
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > 200 ? `${out.slice(0, 197)}...` : out;
}

function explanation(err: unknown): string {
  if (isPluginError(err)) {
    const e = err.details?.['explanation'];
    if (typeof e === 'string') return e;
  }
  return err instanceof Error ? err.message : String(err);
}
