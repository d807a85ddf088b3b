import * as os from 'node:os';
import { Readable } from 'node:stream';
import { PluginError, callService, isPluginError, registerSecret } from '@teleport-plugin/core';
import type { CheckItem, Logger, OutboundCall, OutboundPolicy } from '@teleport-plugin/core';
import MailComposer from 'nodemailer/lib/mail-composer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { mailboxAddress } from './address.js';
import type { Mailer, MailerOptions, OutgoingMail, SentMail } from './client.js';
import type { SmtpConfig } from './config.js';
import { bracketed } from './messageId.js';
import { smtpFailure } from './smtpFailure.js';
import type { SmtpPhase } from './smtpFailure.js';

/*
 * SMTP on nodemailer's own SMTPConnection (the connection its transports are built on), not its
 * transports, because exactly-once needs to know where an attempt failed: the pooled transport
 * requeues a message whose connection closed (a duplicate if the server had already queued it)
 * and reports every drop as `Connection closed unexpectedly`, before or after the message went
 * out. Here each step is ours: connect (+ STARTTLS per policy), AUTH, then the message, whose
 * stream is read only after the server answered DATA with 354. Nodemailer itself never retries a
 * send; core's outbound policy does, only for failures that sent nothing.
 *
 * Connections are kept open and reused after a successful mail (the next MAIL FROM starts a new
 * transaction), at most `maxConnections` at once, closed after `idleTimeoutMs` unused. A
 * connection that saw any error is closed, never reused.
 */

const SERVICE = 'SMTP';
const DEFAULT_TIMEOUT_MS = 10_000;
/** Inactivity while a command or the message is in flight. */
const SOCKET_TIMEOUT_MS = 60_000;

interface Pooled {
  conn: SMTPConnection;
  alive: boolean;
  timer: NodeJS.Timeout | undefined;
}

type StepCallback<T> = (err: Error | null | undefined, result?: T) => void;

export class SmtpMailer implements Mailer {
  readonly service = SERVICE;
  readonly canFindSent = false;
  private readonly senderAddress: string;
  private readonly idle: Pooled[] = [];
  private readonly waiters: Array<() => void> = [];
  private inUse = 0;
  private closed = false;
  private readonly maxConnections: number;
  private readonly idleTimeoutMs: number;
  private readonly timeoutMs: number;
  private readonly logger: Logger | undefined;
  private readonly policy: Partial<OutboundPolicy> | undefined;

  constructor(
    private readonly config: SmtpConfig,
    private readonly sender: string,
    private readonly options: MailerOptions = {},
  ) {
    this.senderAddress = mailboxAddress(sender) ?? sender;
    // What AUTH PLAIN / LOGIN put on the wire, in case a server echoes it in an error reply.
    registerSecret(config.password);
    registerSecret(Buffer.from(`\0${config.username}\0${config.password}`).toString('base64'));
    registerSecret(Buffer.from(config.password).toString('base64'));
    this.maxConnections = Math.max(1, options.maxConnections ?? 3);
    this.idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.logger = options.logger;
    this.policy = options.policy;
  }

  async send(mail: OutgoingMail, signal?: AbortSignal): Promise<SentMail> {
    const raw = await compose(this.sender, mail);
    const call: OutboundCall = { service: SERVICE, operation: 'send', idempotent: false };
    const envelope = { from: this.senderAddress, to: [mail.to] };
    return callService(call, (s) => this.sendOnce(call, envelope, mail, raw, s), {
      signal,
      logger: this.logger,
      policy: this.policy,
      classify: (err) => smtpFailure(err, call, this.context('connect', mail.to)),
    });
  }

  /** SMTP cannot be asked whether it accepted a mail: the Message-ID is the only safeguard. */
  async findSent(_messageId: string, _signal?: AbortSignal): Promise<boolean | undefined> {
    return undefined;
  }

  async verify(signal?: AbortSignal): Promise<CheckItem[]> {
    const where = `${this.config.host}:${this.config.port}`;
    const call: OutboundCall = { service: SERVICE, operation: 'connect', idempotent: true };
    const items: CheckItem[] = [];
    let pooled: Pooled;
    try {
      pooled = await callService(call, (s) => this.connectOnly(call, s), { signal, logger: this.logger, policy: this.policy });
    } catch (err) {
      const phase = isPluginError(err) ? (err.details?.['phase'] as SmtpPhase | undefined) : undefined;
      const detail = explanation(err);
      if (phase === 'starttls' || (isPluginError(err) && err.code === 'CERT_REFUSED')) {
        items.push({ name: 'SMTP connection', ok: true, detail: `connected to ${where}` });
        items.push({ name: 'SMTP STARTTLS', ok: false, detail });
      } else {
        items.push({ name: 'SMTP connection', ok: false, detail });
      }
      return items;
    }
    const { conn } = pooled;
    try {
      items.push({ name: 'SMTP connection', ok: true, detail: `connected to ${where}` });
      items.push(this.tlsItem(conn));
      if (!conn.allowsAuth) {
        items.push({
          name: 'SMTP login',
          ok: true,
          detail: `${where} offers no login on this connection; smtp.username and smtp.password are not used`,
        });
        return items;
      }
      const login: OutboundCall = { service: SERVICE, operation: 'login', idempotent: true };
      try {
        await callService(login, (s) => this.login(login, conn, s), { signal, logger: this.logger, policy: this.policy });
        items.push({ name: 'SMTP login', ok: true, detail: `logged in as "${this.config.username}"` });
      } catch (err) {
        items.push({ name: 'SMTP login', ok: false, detail: explanation(err) });
      }
      return items;
    } finally {
      pooled.alive = false;
      conn.quit();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.idle.splice(0)) {
      clearTimeout(p.timer);
      p.alive = false;
      p.conn.quit();
    }
    for (const wake of this.waiters.splice(0)) wake();
  }

  private tlsItem(conn: SMTPConnection): CheckItem {
    const where = `${this.config.host}:${this.config.port}`;
    if (this.config.port === 465) return { name: 'SMTP TLS', ok: conn.secure, detail: conn.secure ? 'TLS from the first byte (port 465)' : 'not encrypted' };
    switch (this.config.startTlsPolicy) {
      case 'mandatory':
        return { name: 'SMTP STARTTLS', ok: conn.secure, detail: conn.secure ? 'connection upgraded with STARTTLS (starttls_policy = "mandatory")' : 'not encrypted' };
      case 'opportunistic':
        return conn.secure
          ? { name: 'SMTP STARTTLS', ok: true, detail: 'connection upgraded with STARTTLS (starttls_policy = "opportunistic")' }
          : { name: 'SMTP STARTTLS', ok: true, warning: true, detail: `${where} offers no STARTTLS: the password and mails go unencrypted (starttls_policy = "opportunistic")` };
      case 'disabled':
        return { name: 'SMTP STARTTLS', ok: true, warning: true, detail: 'not used (starttls_policy = "disabled"): the password and mails go unencrypted' };
    }
  }

  private async sendOnce(call: OutboundCall, envelope: { from: string; to: string[] }, mail: OutgoingMail, raw: Buffer, signal: AbortSignal | undefined): Promise<SentMail> {
    const pooled = await this.acquire(call, mail.to, signal);
    const state: { phase: SmtpPhase } = { phase: 'envelope' };
    // Read only once the server said 354 to DATA: from then on the message is on its way.
    const body = new Readable({
      read() {
        if (state.phase === 'envelope') {
          state.phase = 'data';
          this.push(raw);
          this.push(null);
        }
      },
    });
    body.once('end', () => {
      state.phase = 'sent';
    });
    let ok = false;
    try {
      const info = await step<SMTPConnection.SentMessageInfo>(pooled.conn, signal, (done) => pooled.conn.send(envelope, body, done));
      ok = true;
      return { messageId: mail.messageId, response: info?.response ?? '' };
    } catch (err) {
      throw smtpFailure(err, call, this.context(state.phase, mail.to));
    } finally {
      this.release(pooled, ok);
    }
  }

  /** A connection ready for MAIL FROM: reused, or new (connected, upgraded, logged in). */
  private async acquire(call: OutboundCall, recipient: string, signal: AbortSignal | undefined): Promise<Pooled> {
    await this.permit(signal);
    try {
      if (this.closed) {
        throw new PluginError('SHUTDOWN', `${call.service} ${call.operation}: the mailer is closed`, {
          service: { service: call.service, operation: call.operation, retryable: false, outcomeUnknown: false },
        });
      }
      for (let p = this.idle.pop(); p; p = this.idle.pop()) {
        clearTimeout(p.timer);
        if (p.alive && !p.conn.destroyed) return p;
        p.conn.close();
      }
      const pooled = await this.connectOnly(call, signal, recipient);
      if (pooled.conn.allowsAuth) {
        try {
          await this.login(call, pooled.conn, signal, recipient);
        } catch (err) {
          pooled.alive = false;
          pooled.conn.close();
          throw err;
        }
      }
      return pooled;
    } catch (err) {
      this.inUse -= 1;
      this.waiters.shift()?.();
      throw err;
    }
  }

  private release(pooled: Pooled, reusable: boolean): void {
    this.inUse -= 1;
    if (reusable && pooled.alive && !this.closed && this.idle.length < this.maxConnections) {
      pooled.timer = setTimeout(() => {
        const i = this.idle.indexOf(pooled);
        if (i >= 0) this.idle.splice(i, 1);
        pooled.alive = false;
        pooled.conn.quit();
      }, this.idleTimeoutMs);
      pooled.timer.unref();
      this.idle.push(pooled);
    } else {
      pooled.alive = false;
      pooled.conn.close();
    }
    this.waiters.shift()?.();
  }

  private async permit(signal: AbortSignal | undefined): Promise<void> {
    while (this.inUse >= this.maxConnections && !this.closed) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason);
        };
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    }
    this.inUse += 1;
  }

  /** TCP (+ TLS from the start on 465), greeting, EHLO, STARTTLS per policy. */
  private async connectOnly(call: OutboundCall, signal: AbortSignal | undefined, recipient?: string): Promise<Pooled> {
    const { host, port, startTlsPolicy } = this.config;
    const implicitTls = port === 465;
    const conn = new SMTPConnection({
      host,
      port,
      secure: implicitTls,
      requireTLS: !implicitTls && startTlsPolicy === 'mandatory',
      ignoreTLS: !implicitTls && startTlsPolicy === 'disabled',
      name: this.options.clientName ?? os.hostname(),
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: SOCKET_TIMEOUT_MS,
      logger: false,
      ...(this.options.tls ? { tls: { ...this.options.tls } } : {}),
    });
    const pooled: Pooled = { conn, alive: true, timer: undefined };
    // Errors on an idle connection (the server's idle timeout) only retire it.
    conn.on('error', () => {
      pooled.alive = false;
    });
    conn.on('end', () => {
      pooled.alive = false;
    });
    try {
      await step<void>(conn, signal, (done) => conn.connect((err) => done(err)));
    } catch (err) {
      pooled.alive = false;
      conn.close();
      const phase: SmtpPhase = (err as { code?: string }).code === 'ETLS' ? 'starttls' : 'connect';
      throw smtpFailure(err, call, this.context(phase, recipient));
    }
    return pooled;
  }

  private async login(call: OutboundCall, conn: SMTPConnection, signal: AbortSignal | undefined, recipient?: string): Promise<void> {
    try {
      await step<boolean>(conn, signal, (done) => conn.login({ user: this.config.username, pass: this.config.password }, done));
    } catch (err) {
      throw smtpFailure(err, call, this.context('auth', recipient));
    }
  }

  private context(phase: SmtpPhase, recipient?: string): Parameters<typeof smtpFailure>[2] {
    return {
      host: this.config.host,
      port: this.config.port,
      username: this.config.username,
      startTlsPolicy: this.config.startTlsPolicy,
      phase,
      recipient,
      sender: this.senderAddress,
    };
  }
}

/**
 * One SMTPConnection step as a promise: settles with its callback, or with the connection's
 * 'error'/'end' (nodemailer reports handshake failures as events), or aborts by closing it.
 */
function step<T>(conn: SMTPConnection, signal: AbortSignal | undefined, start: (done: StepCallback<T>) => void): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve, reject) => {
    let settled = false;
    const finish = (err: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      conn.off('error', onError);
      conn.off('end', onEnd);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(value);
    };
    const onError = (err: Error): void => finish(err);
    const onEnd = (): void => finish(Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' }));
    const onAbort = (): void => {
      finish(signal?.reason ?? new Error('aborted'));
      conn.close();
    };
    if (signal?.aborted) return onAbort();
    conn.once('error', onError);
    conn.once('end', onEnd);
    signal?.addEventListener('abort', onAbort, { once: true });
    start((err, value) => finish(err ?? undefined, value));
  });
}

/** The MIME message: our Message-ID and thread headers, UTF-8 text (and HTML), nothing fetched. */
async function compose(sender: string, mail: OutgoingMail): Promise<Buffer> {
  const references = mail.references ?? (mail.inReplyTo ? [mail.inReplyTo] : []);
  const composer = new MailComposer({
    from: sender,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    ...(mail.html !== undefined ? { html: mail.html } : {}),
    messageId: bracketed(mail.messageId),
    ...(mail.inReplyTo ? { inReplyTo: bracketed(mail.inReplyTo) } : {}),
    ...(references.length > 0 ? { references: references.map(bracketed) } : {}),
    headers: mail.requestId ? { 'X-Teleport-Access-Request': mail.requestId } : {},
    disableFileAccess: true,
    disableUrlAccess: true,
  });
  return composer.compile().build();
}

function explanation(err: unknown): string {
  if (isPluginError(err)) {
    const e = err.details?.['explanation'];
    if (typeof e === 'string') return e;
  }
  return err instanceof Error ? err.message : String(err);
}
