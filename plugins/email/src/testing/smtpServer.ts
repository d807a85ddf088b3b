import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';

/*
 * A real SMTP server for tests, in-process: smtp-server speaks the protocol (EHLO, STARTTLS,
 * AUTH, MAIL/RCPT/DATA), mailparser reads what arrived. Both are optional peer dependencies of
 * this package: they are loaded when startSmtpServer() runs, so `@teleport-plugin/email/testing`
 * (FakeMailgun) still works where they are not installed. None of their types appear in this
 * module's public API for the same reason.
 */

/** One mail as the server received and parsed it. */
export interface ReceivedMail {
  /** SMTP envelope: what MAIL FROM and RCPT TO said (not the headers). */
  envelope: { mailFrom: string; rcptTo: string[] };
  /** The user that authenticated on the connection, if any. */
  user: string | undefined;
  /** Whether the connection was encrypted (STARTTLS or implicit TLS) when the mail came in. */
  secure: boolean;
  /** Header values as parsed, `Message-ID` style ids with their angle brackets. */
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[];
  subject: string;
  from: string;
  to: string;
  text: string;
  html: string | undefined;
  /** Every header, lower-case names, values as received (unfolded). */
  headers: Record<string, string>;
  /** The message as received (CRLF lines). */
  raw: string;
  at: number;
}

/** Something the server did besides accepting a mail: what tests assert faults against. */
export interface SmtpServerEvent {
  type: 'connect' | 'starttls' | 'auth-ok' | 'auth-failed' | 'rcpt-rejected' | 'data-rejected' | 'dropped';
  at: number;
  /** The session (one per connection). */
  session: string;
  /** `rcpt-rejected`: the address; `auth-*`: the username. */
  detail?: string;
  /** Reply code sent, when one was. */
  code?: number;
}

/**
 * An injected fault. `times` (default: 1, `rejectRcpt` default: always) counts matching
 * occurrences before the fault is used up.
 */
export type SmtpFault =
  /** RCPT TO for this address is answered with `code` (default 550): permanent for that recipient. */
  | { kind: 'reject-rcpt'; address: string; code?: number; message?: string; times?: number }
  /** After the message data, answer `code` (e.g. 451, 421, 554) instead of 250; the mail is not kept. */
  | { kind: 'data-reply'; code: number; message?: string; times?: number }
  /**
   * Read the whole message and keep it (it was delivered), then drop the connection without a
   * reply: the client cannot know the mail went through.
   */
  | { kind: 'drop-after-data'; times?: number }
  /** Drop the connection in the middle of the message data; nothing is kept. */
  | { kind: 'drop-during-data'; times?: number }
  /** Answer AUTH with 454 (a temporary failure) instead of checking the password. */
  | { kind: 'auth-temporary'; times?: number }
  /** Answer AUTH with 535 whatever the password (it was changed on the server). */
  | { kind: 'auth-refused'; times?: number };

export interface SmtpServerOptions {
  /** Offer STARTTLS (needs cert and key). Default true when a cert is given. */
  starttls?: boolean;
  /** TLS from the first byte (port-465 style) instead of STARTTLS. Needs cert and key. */
  implicitTls?: boolean;
  /** Require AUTH with these credentials. Undefined: AUTH is not offered, anyone may send. */
  auth?: { user: string; pass: string };
  /** Accept AUTH on a connection that is not encrypted. Default: only when TLS is not offered. */
  allowInsecureAuth?: boolean;
  /** Server certificate and key (PEM), e.g. from the testkit's PKI. */
  cert?: string;
  key?: string;
  /** Name in the greeting and EHLO (default `smtp.test`). */
  name?: string;
  faults?: SmtpFault[];
  /** Default 0: any free port on 127.0.0.1. */
  port?: number;
}

type LiveFault = SmtpFault & { remaining: number };

// The parts of smtp-server this module touches, typed here so its types stay internal.
interface SessionLike {
  id: string;
  secure: boolean;
  user?: unknown;
  envelope: { mailFrom: false | { address: string }; rcptTo: Array<{ address: string }> };
}
type SmtpCallback = (err?: Error | null) => void;
interface ServerLike {
  listen(port: number, host: string, cb: () => void): unknown;
  close(cb: () => void): void;
  server: { address(): AddressInfo | string | null };
  connections: Set<{ session?: SessionLike; id?: string; _socket?: { destroy(): void } }>;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/** A running test SMTP server: every accepted mail parsed, faults injectable. */
export class TestSmtpServer extends EventEmitter {
  readonly mails: ReceivedMail[] = [];
  readonly events: SmtpServerEvent[] = [];
  private readonly faults: LiveFault[] = [];
  private server: ServerLike | undefined;
  private portValue = 0;

  constructor(readonly options: SmtpServerOptions) {
    super();
    this.setMaxListeners(0);
    for (const f of options.faults ?? []) this.fail(f);
  }

  get port(): number {
    return this.portValue;
  }

  get host(): string {
    return '127.0.0.1';
  }

  /** Inject a fault for the next matching occurrence(s). */
  fail(fault: SmtpFault): this {
    const times = fault.times ?? (fault.kind === 'reject-rcpt' ? Number.POSITIVE_INFINITY : 1);
    this.faults.push({ ...fault, remaining: times });
    return this;
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Mails whose envelope names this recipient. */
  mailsTo(address: string): ReceivedMail[] {
    const wanted = address.toLowerCase();
    return this.mails.filter((m) => m.envelope.rcptTo.some((r) => r.toLowerCase() === wanted));
  }

  /** Resolves once `predicate(mails, events)` holds; rejects after `timeoutMs` with what was seen. */
  waitFor(predicate: (mails: readonly ReceivedMail[], events: readonly SmtpServerEvent[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.mails, this.events)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (predicate(this.mails, this.events)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = [
          ...this.mails.map((m) => `mail to ${m.envelope.rcptTo.join(',')}: ${m.subject} ${m.messageId ?? ''}`),
          ...this.events.map((e) => `${e.type} ${e.detail ?? ''} ${e.code ?? ''}`),
        ].join('\n  ');
        reject(new Error(`test SMTP server: condition not met within ${timeoutMs} ms; seen:\n  ${seen}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('change', check);
      };
      this.on('change', check);
    });
  }

  async start(): Promise<this> {
    const { SMTPServer } = await loadPeer<typeof import('smtp-server')>('smtp-server');
    const { simpleParser } = await loadPeer<typeof import('mailparser')>('mailparser');
    const o = this.options;
    const tls = o.implicitTls === true || (o.starttls ?? o.cert !== undefined);
    if (tls && (o.cert === undefined || o.key === undefined)) {
      throw new Error('test SMTP server: STARTTLS and implicit TLS need a cert and key (PEM)');
    }
    const starttls = o.implicitTls !== true && (o.starttls ?? o.cert !== undefined);
    const disabledCommands: string[] = [];
    if (!starttls) disabledCommands.push('STARTTLS');
    if (!o.auth) disabledCommands.push('AUTH');

    const server = new SMTPServer({
      name: o.name ?? 'smtp.test',
      secure: o.implicitTls === true,
      ...(o.cert !== undefined && o.key !== undefined ? { cert: o.cert, key: o.key } : {}),
      disabledCommands,
      authOptional: !o.auth,
      authMethods: ['PLAIN', 'LOGIN'],
      allowInsecureAuth: o.allowInsecureAuth ?? !tls,
      disableReverseLookup: true,
      logger: false,
      onConnect: (session, callback) => {
        this.event({ type: 'connect', session: session.id });
        callback();
      },
      onSecure: (_socket, session, callback) => {
        if (o.implicitTls !== true) this.event({ type: 'starttls', session: session.id });
        callback();
      },
      onAuth: (auth, session, callback) => {
        const user = auth.username ?? '';
        if (this.takeFault((f) => f.kind === 'auth-temporary')) {
          this.event({ type: 'auth-failed', session: session.id, detail: user, code: 454 });
          callback(replyError(454, 'Temporary authentication failure'));
          return;
        }
        if (o.auth && user === o.auth.user && auth.password === o.auth.pass && !this.takeFault((f) => f.kind === 'auth-refused')) {
          this.event({ type: 'auth-ok', session: session.id, detail: user });
          callback(null, { user });
          return;
        }
        this.event({ type: 'auth-failed', session: session.id, detail: user, code: 535 });
        callback(replyError(535, 'Authentication credentials invalid'));
      },
      onRcptTo: (address, session, callback) => {
        const wanted = address.address.toLowerCase();
        const fault = this.takeFault((f) => f.kind === 'reject-rcpt' && f.address.toLowerCase() === wanted);
        if (fault?.kind === 'reject-rcpt') {
          const code = fault.code ?? 550;
          this.event({ type: 'rcpt-rejected', session: session.id, detail: address.address, code });
          callback(replyError(code, fault.message ?? (code >= 500 ? 'No such user here' : 'Mailbox busy, try again later')));
          return;
        }
        callback();
      },
      onData: (stream, session, callback) => {
        void this.receive(stream, session as SessionLike, callback, (raw) => simpleParser(raw) as Promise<ParsedLike>);
      },
    }) as unknown as ServerLike;
    server.on('error', () => undefined);
    await new Promise<void>((resolve) => server.listen(o.port ?? 0, '127.0.0.1', resolve));
    const address = server.server.address();
    this.portValue = typeof address === 'object' && address !== null ? address.port : 0;
    this.server = server;
    return this;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const c of server.connections) c._socket?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async receive(stream: Readable, session: SessionLike, callback: SmtpCallback, simpleParser: (input: Buffer) => Promise<ParsedLike>): Promise<void> {
    const dropping = this.takeFault((f) => f.kind === 'drop-during-data');
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of stream) {
        if (dropping) {
          this.event({ type: 'dropped', session: session.id, detail: 'during data' });
          this.socketOf(session)?.destroy();
          return;
        }
        chunks.push(chunk as Buffer);
      }
    } catch {
      return;
    }
    const rawBuffer = Buffer.concat(chunks);
    const reply = this.takeFault((f) => f.kind === 'data-reply');
    if (reply?.kind === 'data-reply') {
      this.event({ type: 'data-rejected', session: session.id, code: reply.code });
      callback(replyError(reply.code, reply.message ?? (reply.code >= 500 ? 'Message rejected' : 'Try again later')));
      return;
    }
    const mail = await parseMail(rawBuffer, session, simpleParser);
    if (this.takeFault((f) => f.kind === 'drop-after-data')) {
      // The whole message arrived and is kept: a real server may well deliver it. Only the
      // answer is lost.
      this.mails.push(mail);
      this.event({ type: 'dropped', session: session.id, detail: 'after data' });
      this.socketOf(session)?.destroy();
      return;
    }
    this.mails.push(mail);
    this.emit('change');
    callback(null);
  }

  private socketOf(session: SessionLike): { destroy(): void } | undefined {
    for (const c of this.server?.connections ?? []) {
      if (c.session?.id === session.id || c.id === session.id) return c._socket;
    }
    return undefined;
  }

  private takeFault(match: (f: LiveFault) => boolean): LiveFault | undefined {
    const index = this.faults.findIndex(match);
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private event(e: Omit<SmtpServerEvent, 'at'>): void {
    this.events.push({ ...e, at: Date.now() });
    this.emit('change');
  }
}

/** Starts a TestSmtpServer on 127.0.0.1 (a free port unless `port` says otherwise). */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  return new TestSmtpServer(options).start();
}

interface AddressLike {
  text?: string;
}
interface ParsedLike {
  headerLines: ReadonlyArray<{ key: string; line: string }>;
  messageId?: string;
  inReplyTo?: string;
  references?: string | string[];
  subject?: string;
  from?: AddressLike;
  to?: AddressLike | AddressLike[];
  text?: string;
  html?: string | false;
}

async function parseMail(raw: Buffer, session: SessionLike, simpleParser: (input: Buffer) => Promise<ParsedLike>): Promise<ReceivedMail> {
  const parsed = await simpleParser(raw);
  const headers: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    const value = line
      .slice(line.indexOf(':') + 1)
      .replace(/\r?\n[ \t]+/g, ' ')
      .trim();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  const references = parsed.references === undefined ? [] : Array.isArray(parsed.references) ? parsed.references : [parsed.references];
  const to = Array.isArray(parsed.to) ? parsed.to.map((a) => a.text ?? '').join(', ') : (parsed.to?.text ?? '');
  const mailFrom = session.envelope.mailFrom;
  const user = session.user;
  return {
    envelope: { mailFrom: mailFrom === false ? '' : mailFrom.address, rcptTo: session.envelope.rcptTo.map((r) => r.address) },
    user: typeof user === 'string' ? user : undefined,
    secure: session.secure,
    messageId: parsed.messageId,
    inReplyTo: parsed.inReplyTo,
    references,
    subject: parsed.subject ?? '',
    from: parsed.from?.text ?? '',
    to,
    text: parsed.text ?? '',
    html: typeof parsed.html === 'string' ? parsed.html : undefined,
    headers,
    raw: raw.toString('utf8'),
    at: Date.now(),
  };
}

function replyError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

async function loadPeer<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (err) {
    throw new Error(`startSmtpServer needs the optional peer dependencies smtp-server and mailparser (npm install --save-dev smtp-server mailparser): cannot load ${name}`, {
      cause: err,
    });
  }
}
