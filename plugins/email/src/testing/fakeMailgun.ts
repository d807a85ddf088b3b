import { randomBytes } from 'node:crypto';
import { HttpFake } from '@teleport-plugin/core/testing';
import type { FakeReply, Fault, RecordedCall } from '@teleport-plugin/core/testing';

export type MailgunRegion = 'us' | 'eu';

export interface FakeMailgunDomain {
  name: string;
  /** Where the domain lives; a fake of the other region answers 401 Forbidden for it, as Mailgun does. */
  region: MailgunRegion;
  state: 'active' | 'unverified' | 'disabled';
  /** A domain sending key: may POST messages for this domain only, nothing else. */
  sendingKey?: string | undefined;
}

/** One mail as Mailgun accepted it. */
export interface FakeMailgunMessage {
  /** The Message-ID Mailgun used, without brackets (ours from `h:Message-Id`, else generated). */
  id: string;
  domain: string;
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string | undefined;
  /** `h:` fields as sent, names lower-cased without the prefix (`message-id`, `in-reply-to`...). */
  headers: Record<string, string>;
  /** `o:` options (`require-tls`, `testmode`...). */
  options: Record<string, string>;
  /** `v:` user variables. */
  variables: Record<string, string>;
  testMode: boolean;
  at: number;
}

export interface FakeMailgunOptions {
  /** The account's private API key (Basic auth `api:<key>`). Default `key-test`. */
  apiKey?: string;
  /** Region this endpoint serves (default `us`). */
  region?: MailgunRegion;
  /** Domains of the account (default: one active `mg.example.com` in this fake's region). */
  domains?: Array<Partial<FakeMailgunDomain> & { name: string }>;
  tls?: { cert: string; key: string };
}

/**
 * A real-HTTP fake of the parts of Mailgun's API the adapter uses, at the same paths (`/v3/...`),
 * with the same auth (Basic `api:<key>`, 401 `Forbidden` otherwise) and answer shapes:
 * - POST /v3/<domain>/messages (form-encoded or multipart): `{id, message: "Queued. Thank you."}`;
 * - GET /v3/domains/<domain>: `{domain: {name, state, ...}}`, 404 `Domain not found: <name>`;
 * - GET /v3/<domain>/events?message-id=<id>&event=accepted: `{items, paging}`.
 * 429/5xx, latency and dropped answers come from HttpFake's `fail()` (see `http`).
 */
export class FakeMailgun {
  readonly http: HttpFake;
  readonly messages: FakeMailgunMessage[] = [];
  readonly domains = new Map<string, FakeMailgunDomain>();
  readonly apiKey: string;
  readonly region: MailgunRegion;

  constructor(options: FakeMailgunOptions = {}) {
    this.apiKey = options.apiKey ?? 'key-test';
    this.region = options.region ?? 'us';
    for (const d of options.domains ?? [{ name: 'mg.example.com' }]) this.addDomain(d.name, d);
    this.http = new HttpFake(`fake Mailgun (${this.region})`, options.tls);
    this.http.route('POST', '/v3/:domain/messages', (call, p) => this.postMessage(call, p['domain'] ?? ''));
    this.http.route('GET', '/v3/domains/:domain', (call, p) => this.getDomain(call, p['domain'] ?? ''));
    this.http.route('GET', '/v3/:domain/events', (call, p) => this.getEvents(call, p['domain'] ?? ''));
  }

  /** Base URL to configure as `mailgun.api_base` (ends in `/v3`). Available after start(). */
  get apiBase(): string {
    return `${this.http.url}/v3`;
  }

  async start(): Promise<string> {
    await this.http.start();
    return this.apiBase;
  }

  close(): Promise<void> {
    return this.http.close();
  }

  addDomain(name: string, options: Partial<FakeMailgunDomain> = {}): FakeMailgunDomain {
    const domain: FakeMailgunDomain = { name, region: options.region ?? this.region, state: options.state ?? 'active', sendingKey: options.sendingKey };
    this.domains.set(name, domain);
    return domain;
  }

  /** Inject a fault (429 with Retry-After, 5xx, drop, afterEffect...) for the next matching calls. */
  fail(fault: Fault): this {
    this.http.fail(fault);
    return this;
  }

  /** Delivered mails (test-mode ones excluded) to this address. */
  messagesTo(address: string): FakeMailgunMessage[] {
    const wanted = address.toLowerCase();
    return this.messages.filter((m) => !m.testMode && m.to.toLowerCase() === wanted);
  }

  /** Resolves once `predicate(messages)` holds (checked on every call the fake answers). */
  async waitFor(predicate: (messages: readonly FakeMailgunMessage[]) => boolean, timeoutMs = 10_000): Promise<void> {
    await this.http.waitFor(() => predicate(this.messages), timeoutMs);
  }

  private authorize(call: RecordedCall, domain: FakeMailgunDomain | undefined, sending: boolean): FakeReply | undefined {
    const header = String(call.headers.authorization ?? '');
    const m = /^Basic\s+(\S+)$/i.exec(header);
    const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
    const [user, ...rest] = decoded.split(':');
    const key = rest.join(':');
    const accountKey = user === 'api' && key === this.apiKey;
    const sendingKey = user === 'api' && sending && domain?.sendingKey !== undefined && key === domain.sendingKey;
    if (!accountKey && !sendingKey) return FORBIDDEN;
    // Mailgun keeps each region's domains apart: the other region's endpoint does not know them.
    if (domain && domain.region !== this.region) return FORBIDDEN;
    return undefined;
  }

  private async postMessage(call: RecordedCall, domainName: string): Promise<FakeReply> {
    const domain = this.domains.get(domainName);
    const denied = this.authorize(call, domain, true);
    if (denied) return denied;
    if (!domain) return { status: 404, body: { message: `Domain not found: ${domainName}` } };
    if (domain.state === 'disabled') return { status: 403, body: { message: `Domain ${domainName} is disabled` } };
    const fields = await formFields(call);
    if (!fields) return { status: 400, body: { message: 'Unsupported content type: send application/x-www-form-urlencoded or multipart/form-data' } };
    for (const required of ['from', 'to', 'subject']) {
      if (!fields.get(required)) return { status: 400, body: { message: `${required} parameter is missing` } };
    }
    if (!fields.get('text') && !fields.get('html')) return { status: 400, body: { message: "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified" } };
    const to = fields.get('to') ?? '';
    if (!/^[^\s@<>]+@[^\s@<>]+$/.test(to.replace(/^.*<([^>]*)>\s*$/, '$1'))) {
      return { status: 400, body: { message: `to parameter is not a valid address. please check documentation` } };
    }
    const headers: Record<string, string> = {};
    const options: Record<string, string> = {};
    const variables: Record<string, string> = {};
    for (const [k, v] of fields) {
      if (k.startsWith('h:')) headers[k.slice(2).toLowerCase()] = v;
      else if (k.startsWith('o:')) options[k.slice(2).toLowerCase()] = v;
      else if (k.startsWith('v:')) variables[k.slice(2)] = v;
    }
    const custom = headers['message-id']?.trim().replace(/^<|>$/g, '');
    const id = custom || `${new Date().toISOString().replace(/\D/g, '').slice(0, 14)}.${randomBytes(8).toString('hex')}@${domainName}`;
    const testMode = /^(yes|true)$/i.test(options['testmode'] ?? '');
    this.messages.push({
      id,
      domain: domainName,
      from: fields.get('from') ?? '',
      to,
      subject: fields.get('subject') ?? '',
      text: fields.get('text') ?? '',
      html: fields.get('html') ?? undefined,
      headers,
      options,
      variables,
      testMode,
      at: Date.now(),
    });
    return { status: 200, body: { id: `<${id}>`, message: 'Queued. Thank you.' } };
  }

  private getDomain(call: RecordedCall, domainName: string): FakeReply {
    const domain = this.domains.get(domainName);
    const denied = this.authorize(call, domain, false);
    if (denied) return denied;
    if (!domain) return { status: 404, body: { message: `Domain not found: ${domainName}` } };
    return {
      status: 200,
      body: {
        domain: { name: domain.name, state: domain.state, type: domain.state === 'unverified' ? 'sandbox' : 'custom', require_tls: false, created_at: new Date(0).toUTCString() },
        receiving_dns_records: [],
        sending_dns_records: [],
      },
    };
  }

  private getEvents(call: RecordedCall, domainName: string): FakeReply {
    const domain = this.domains.get(domainName);
    const denied = this.authorize(call, domain, false);
    if (denied) return denied;
    if (!domain) return { status: 404, body: { message: `Domain not found: ${domainName}` } };
    const messageId = call.query.get('message-id')?.replace(/^<|>$/g, '');
    const event = call.query.get('event');
    const limit = Math.min(300, Number(call.query.get('limit') ?? '100') || 100);
    const items = this.messages
      .filter((m) => m.domain === domainName && !m.testMode)
      .filter((m) => messageId === undefined || m.id === messageId)
      .filter(() => event === null || event === 'accepted')
      .slice(0, limit)
      .map((m) => ({
        event: 'accepted',
        id: randomBytes(8).toString('hex'),
        timestamp: m.at / 1000,
        recipient: m.to,
        'user-variables': m.variables,
        message: { headers: { 'message-id': m.id, to: m.to, from: m.from, subject: m.subject } },
      }));
    const page = `${this.apiBase}/${domainName}/events/page`;
    return { status: 200, body: { items, paging: { first: page, last: page, next: page, previous: page } } };
  }
}

const FORBIDDEN: FakeReply = { status: 401, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'Forbidden' };

/** The form as the client sent it: urlencoded (HttpFake parses it) or multipart. */
async function formFields(call: RecordedCall): Promise<URLSearchParams | undefined> {
  if (call.form) return call.form;
  const type = String(call.headers['content-type'] ?? '');
  if (!type.startsWith('multipart/form-data')) return undefined;
  const data = await new Response(call.rawBody, { headers: { 'content-type': type } }).formData();
  const out = new URLSearchParams();
  for (const [k, v] of data) if (typeof v === 'string') out.append(k, v);
  return out;
}
