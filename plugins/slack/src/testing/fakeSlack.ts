import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { HttpFake, type FakeReply, type RecordedCall } from '@teleport-plugin/core/testing';

export interface FakeSlackUser {
  id: string;
  name: string;
  email?: string;
}

export interface FakeSlackChannel {
  id: string;
  name: string;
  /** Whether the bot was invited (default true). Posting elsewhere answers `not_in_channel`. */
  isMember?: boolean;
  /** Direct-message channel of this user id. */
  imUser?: string;
}

/** A message as the fake stores it (root message or thread reply). */
export interface FakeSlackMessage {
  channel: string;
  ts: string;
  /** Set for thread replies. */
  threadTs: string | undefined;
  text: string;
  blocks: unknown[];
  /** How many times chat.update changed it. */
  updates: number;
  /** Message metadata (`event_type`, `event_payload`) as posted. */
  metadata: { event_type: string; event_payload: Record<string, unknown> } | undefined;
}

export interface FakeSlackEphemeral {
  channel: string;
  user: string;
  text: string;
}

export interface FakeSlackOptions {
  /** Bot token accepted on every Web API call (default `xoxb-test`). */
  token?: string;
  /** App-level token accepted by apps.connections.open (default `xapp-test`). */
  appToken?: string;
  /** Scopes reported in auth.test's `x-oauth-scopes` header. */
  scopes?: string[];
}

export interface BlockActionOptions {
  /** Slack user id of whoever clicked. */
  userId: string;
  requestId: string;
  action: 'approve' | 'deny';
  channel?: string;
  messageTs?: string;
}

const DEFAULT_SCOPES = ['chat:write', 'users:read', 'users:read.email', 'im:write', 'channels:read'];

/**
 * A fake Slack Web API on a real HTTP server: the paths under `/api/` that the Slack adapter
 * uses, with Slack's `ok: false` errors, channel/user/message state, recorded calls (HttpFake),
 * injectable 429/5xx (`fail`), signed interactivity payloads and a Socket Mode WebSocket.
 */
export class FakeSlack extends HttpFake {
  readonly token: string;
  readonly appToken: string;
  scopes: string[];
  readonly users = new Map<string, FakeSlackUser>();
  readonly channels = new Map<string, FakeSlackChannel>();
  /** Every root message and thread reply, in posting order. */
  readonly messages: FakeSlackMessage[] = [];
  readonly ephemerals: FakeSlackEphemeral[] = [];
  private tsCounter = 0;
  private wss: WebSocketServer | undefined;
  private wsUrl = '';
  private readonly sockets = new Set<WebSocket>();
  private readonly pendingAcks = new Map<string, (ack: unknown) => void>();
  private envelopeCounter = 0;
  private slowPosts = { remaining: 0, delayMs: 0 };

  constructor(options: FakeSlackOptions = {}) {
    super('fake-slack');
    this.token = options.token ?? 'xoxb-test';
    this.appToken = options.appToken ?? 'xapp-test';
    this.scopes = options.scopes ?? [...DEFAULT_SCOPES];
    this.registerRoutes();
  }

  /** Base URL of the Web API with the trailing slash the SDK expects (`http://127.0.0.1:P/api/`). */
  get apiUrl(): string {
    return `${this.url}/api/`;
  }

  addUser(user: FakeSlackUser): this {
    this.users.set(user.id, user);
    return this;
  }

  addChannel(channel: FakeSlackChannel): this {
    this.channels.set(channel.id, { isMember: true, ...channel });
    return this;
  }

  /**
   * The next `count` chat.postMessage calls are received, announced with a `post-received` event,
   * and only then held for `delayMs` before the message is stored and answered: a call that is
   * in flight when a test cancels or retries a handler.
   */
  slowDownPosts(count: number, delayMs: number): this {
    this.slowPosts = { remaining: count, delayMs };
    return this;
  }

  /** Root messages (not thread replies), optionally in one channel. */
  rootMessages(channel?: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.threadTs === undefined && (channel === undefined || m.channel === channel));
  }

  /** Replies in one thread. */
  replies(channel: string, threadTs: string): FakeSlackMessage[] {
    return this.messages.filter((m) => m.channel === channel && m.threadTs === threadTs);
  }

  findMessage(channel: string, ts: string): FakeSlackMessage | undefined {
    return this.messages.find((m) => m.channel === channel && m.ts === ts);
  }

  /** The DM channel id of a user (created on first use, like conversations.open). */
  imChannel(userId: string): string {
    for (const c of this.channels.values()) if (c.imUser === userId) return c.id;
    const id = `D${userId.replace(/^U/, '')}`;
    this.channels.set(id, { id, name: id, isMember: true, imUser: userId });
    return id;
  }

  /** Readable lines describing what was posted (for `teleport-plugin demo`). */
  describe(): string[] {
    const lines: string[] = [];
    for (const m of this.messages) {
      const where = this.channelLabel(m.channel);
      const text = m.text || blocksText(m.blocks);
      if (m.threadTs) lines.push(`reply in ${where} thread ${m.threadTs}: ${oneLine(text)}`);
      else lines.push(`message ${m.ts} in ${where}${m.updates ? ` (updated ${m.updates}x)` : ''}: ${oneLine(text)}`);
    }
    for (const e of this.ephemerals) lines.push(`ephemeral to ${e.user} in ${this.channelLabel(e.channel)}: ${oneLine(e.text)}`);
    return lines;
  }

  override async start(port = 0): Promise<string> {
    const url = await super.start(port);
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    this.wss = wss;
    this.wsUrl = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/link`;
    wss.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('message', (data) => {
        let msg: { envelope_id?: string; payload?: unknown };
        try {
          msg = JSON.parse(String(data)) as typeof msg;
        } catch {
          return;
        }
        if (msg.envelope_id) {
          const resolve = this.pendingAcks.get(msg.envelope_id);
          this.pendingAcks.delete(msg.envelope_id);
          resolve?.(msg.payload);
        }
      });
      socket.send(JSON.stringify({ type: 'hello', num_connections: this.sockets.size, debug_info: { host: 'fake-slack' } }));
      this.emit('socket', socket);
    });
    return url;
  }

  override async close(): Promise<void> {
    const wss = this.wss;
    this.wss = undefined;
    if (wss) {
      for (const s of this.sockets) s.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
    await super.close();
  }

  /** Resolves once a Socket Mode client is connected. */
  waitForSocket(timeoutMs = 10_000): Promise<void> {
    if (this.sockets.size > 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('fake-slack: no Socket Mode connection')), timeoutMs);
      this.once('socket', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Sends an `interactive` envelope over Socket Mode; resolves with the client's ack payload. */
  sendSocketInteraction(payload: unknown, timeoutMs = 10_000): Promise<unknown> {
    const socket = [...this.sockets][0];
    if (!socket) return Promise.reject(new Error('fake-slack: no Socket Mode connection'));
    const envelopeId = `env-${++this.envelopeCounter}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAcks.delete(envelopeId);
        reject(new Error(`fake-slack: envelope ${envelopeId} not acknowledged`));
      }, timeoutMs);
      this.pendingAcks.set(envelopeId, (ack) => {
        clearTimeout(timer);
        resolve(ack);
      });
      socket.send(JSON.stringify({ envelope_id: envelopeId, type: 'interactive', accepts_response_payload: false, payload }));
    });
  }

  /** A `block_actions` payload as Slack sends it when a review button is clicked. */
  blockActionPayload(options: BlockActionOptions): Record<string, unknown> {
    const user = this.users.get(options.userId);
    return {
      type: 'block_actions',
      user: { id: options.userId, username: user?.name ?? options.userId, name: user?.name ?? options.userId, team_id: 'T0001' },
      api_app_id: 'A0001',
      token: 'verification-token',
      container: { type: 'message', message_ts: options.messageTs ?? '', channel_id: options.channel ?? '' },
      trigger_id: `trigger-${++this.envelopeCounter}`,
      team: { id: 'T0001', domain: 'fake' },
      channel: { id: options.channel ?? '', name: options.channel ?? '' },
      response_url: `${this.url}/response/${options.channel ?? 'none'}`,
      actions: [
        {
          type: 'button',
          block_id: 'review_block',
          action_id: options.action === 'approve' ? 'approve_button' : 'deny_button',
          value: options.requestId,
          action_ts: `${Date.now() / 1000}`,
        },
      ],
    };
  }

  /**
   * POSTs an interactivity payload the way Slack does (form `payload=<json>`, v0 signature) to
   * `url`. `timestamp` (unix seconds) and `signature` override the real ones to test rejection.
   */
  static async sendInteraction(
    url: string,
    payload: unknown,
    options: { signingSecret: string; timestamp?: number; signature?: string },
  ): Promise<{ status: number; body: string }> {
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const ts = String(options.timestamp ?? Math.floor(Date.now() / 1000));
    const signature = options.signature ?? slackSignature(options.signingSecret, ts, body);
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': ts,
        'x-slack-signature': signature,
      },
      body,
    });
    return { status: res.status, body: await res.text() };
  }

  private channelLabel(id: string): string {
    const c = this.channels.get(id);
    if (c?.imUser) return `DM with ${this.users.get(c.imUser)?.name ?? c.imUser}`;
    return c ? `#${c.name}` : id;
  }

  private nextTs(): string {
    this.tsCounter += 1;
    return `${Math.floor(Date.now() / 1000)}.${String(this.tsCounter).padStart(6, '0')}`;
  }

  /** Channel by id, `#name` or `name`; a user id means the DM with that user. */
  private resolveChannel(ref: string): FakeSlackChannel | undefined {
    if (this.users.has(ref)) return this.channels.get(this.imChannel(ref));
    const byId = this.channels.get(ref);
    if (byId) return byId;
    const name = ref.replace(/^#/, '');
    for (const c of this.channels.values()) if (c.name === name && !c.imUser) return c;
    return undefined;
  }

  private registerRoutes(): void {
    const api = (method: string, handler: (args: Record<string, unknown>, call: RecordedCall) => FakeReply | Promise<FakeReply>): void => {
      const wrapped = (call: RecordedCall): FakeReply | Promise<FakeReply> => {
        const args = readArgs(call);
        const auth = String(call.headers.authorization ?? '');
        const token = auth.startsWith('Bearer ') ? auth.slice(7) : typeof args.token === 'string' ? args.token : '';
        if (!token) return slackError('not_authed');
        const wanted = method === 'apps.connections.open' ? this.appToken : this.token;
        if (token !== wanted) return slackError('invalid_auth');
        return handler(args, call);
      };
      this.route('POST', `/api/${method}`, wrapped);
      this.route('GET', `/api/${method}`, wrapped);
    };

    api('auth.test', () => ({
      headers: { 'x-oauth-scopes': this.scopes.join(',') },
      body: { ok: true, url: 'https://fake.slack.com/', team: 'Fake', user: 'teleport', team_id: 'T0001', user_id: 'UBOT', bot_id: 'BBOT' },
    }));

    api('chat.postMessage', async (args) => {
      this.emit('post-received', args);
      if (this.slowPosts.remaining > 0) {
        this.slowPosts.remaining -= 1;
        await new Promise((r) => setTimeout(r, this.slowPosts.delayMs));
      }
      const channel = this.resolveChannel(str(args.channel));
      if (!channel) return slackError('channel_not_found');
      if (channel.isMember === false) return slackError('not_in_channel');
      const threadTs = str(args.thread_ts) || undefined;
      const msg: FakeSlackMessage = {
        channel: channel.id,
        ts: this.nextTs(),
        threadTs,
        text: str(args.text),
        blocks: blocksArg(args.blocks),
        updates: 0,
        metadata: metadataArg(args.metadata),
      };
      this.messages.push(msg);
      return ok({ channel: channel.id, ts: msg.ts, message: { text: msg.text, blocks: msg.blocks, ts: msg.ts, thread_ts: threadTs } });
    });

    api('chat.update', (args) => {
      const msg = this.findMessage(str(args.channel), str(args.ts));
      if (!msg) return slackError(this.channels.has(str(args.channel)) ? 'message_not_found' : 'channel_not_found');
      if (args.text !== undefined) msg.text = str(args.text);
      if (args.blocks !== undefined) msg.blocks = blocksArg(args.blocks);
      msg.updates += 1;
      return ok({ channel: msg.channel, ts: msg.ts, text: msg.text });
    });

    api('chat.postEphemeral', (args) => {
      const channel = this.resolveChannel(str(args.channel));
      if (!channel) return slackError('channel_not_found');
      if (!this.users.has(str(args.user))) return slackError('user_not_found');
      this.ephemerals.push({ channel: channel.id, user: str(args.user), text: str(args.text) });
      return ok({ message_ts: this.nextTs() });
    });

    api('users.lookupByEmail', (args) => {
      const email = str(args.email).toLowerCase();
      const user = [...this.users.values()].find((u) => u.email?.toLowerCase() === email);
      return user ? ok({ user: userJson(user) }) : slackError('users_not_found');
    });

    api('users.info', (args) => {
      const user = this.users.get(str(args.user));
      return user ? ok({ user: userJson(user) }) : slackError('user_not_found');
    });

    api('conversations.info', (args) => {
      const channel = this.resolveChannel(str(args.channel));
      return channel ? ok({ channel: channelJson(channel) }) : slackError('channel_not_found');
    });

    // Newest first, root messages only, as Slack; metadata only when asked for.
    api('conversations.history', (args) => {
      const channel = this.channels.get(str(args.channel));
      if (!channel) return slackError('channel_not_found');
      if (channel.isMember === false) return slackError('not_in_channel');
      const limit = Math.min(1000, Number(args.limit) || 100);
      const start = Number(str(args.cursor) || '0');
      const oldest = Number(str(args.oldest) || '0');
      const all = this.rootMessages(channel.id)
        .filter((m) => Number(m.ts) >= oldest)
        .reverse();
      const page = all.slice(start, start + limit);
      const more = start + limit < all.length;
      return ok({
        messages: page.map((m) => messageJson(m, args.include_all_metadata)),
        has_more: more,
        response_metadata: { next_cursor: more ? String(start + limit) : '' },
      });
    });

    api('conversations.replies', (args) => {
      const channel = this.channels.get(str(args.channel));
      if (!channel) return slackError('channel_not_found');
      const root = this.findMessage(channel.id, str(args.ts));
      if (!root) return slackError('thread_not_found');
      const thread = [root, ...this.replies(channel.id, root.ts)];
      return ok({ messages: thread.map((m) => messageJson(m, args.include_all_metadata)), has_more: false, response_metadata: { next_cursor: '' } });
    });

    api('conversations.open', (args) => {
      const user = str(args.users).split(',')[0] ?? '';
      if (!this.users.has(user)) return slackError('user_not_found');
      return ok({ channel: { id: this.imChannel(user) } });
    });

    api('conversations.list', () =>
      ok({
        channels: [...this.channels.values()].filter((c) => !c.imUser).map(channelJson),
        response_metadata: { next_cursor: '' },
      }),
    );

    api('apps.connections.open', () => (this.wsUrl ? ok({ url: this.wsUrl }) : slackError('internal_error')));

    // response_url target: accept and record (the call log keeps the body).
    this.route('POST', '/response/:channel', () => ({ body: 'ok' }));
  }
}

/** Slack's v0 request signature. */
export function slackSignature(secret: string, timestamp: string, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

function ok(body: Record<string, unknown>): FakeReply {
  return { body: { ok: true, ...body } };
}

function slackError(error: string): FakeReply {
  return { body: { ok: false, error } };
}

function readArgs(call: RecordedCall): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  for (const [k, v] of call.query) args[k] = v;
  if (call.form) for (const [k, v] of call.form) args[k] = v;
  if (call.json && typeof call.json === 'object') Object.assign(args, call.json as Record<string, unknown>);
  return args;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

/** Form bodies carry blocks as a JSON string; JSON bodies as an array. */
function blocksArg(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (typeof value === 'string' && value) {
    try {
      const parsed: unknown = JSON.parse(value);
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }
  return [];
}

/** chat.postMessage's `metadata`: an object in JSON bodies, a JSON string in form bodies. */
function metadataArg(value: unknown): FakeSlackMessage['metadata'] {
  let parsed: unknown = value;
  if (typeof value === 'string' && value) {
    try {
      parsed = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!parsed || typeof parsed !== 'object') return undefined;
  const m = parsed as { event_type?: unknown; event_payload?: unknown };
  if (typeof m.event_type !== 'string') return undefined;
  return { event_type: m.event_type, event_payload: (m.event_payload as Record<string, unknown>) ?? {} };
}

function messageJson(m: FakeSlackMessage, includeMetadata: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = { type: 'message', ts: m.ts, text: m.text, blocks: m.blocks, user: 'UBOT', bot_id: 'BBOT' };
  if (m.threadTs) out.thread_ts = m.threadTs;
  if (m.metadata && (includeMetadata === true || includeMetadata === 'true' || includeMetadata === '1')) out.metadata = m.metadata;
  return out;
}

function userJson(user: FakeSlackUser): Record<string, unknown> {
  return { id: user.id, name: user.name, real_name: user.name, profile: { email: user.email, real_name: user.name } };
}

function channelJson(c: FakeSlackChannel): Record<string, unknown> {
  return { id: c.id, name: c.name, is_member: c.isMember !== false, is_im: Boolean(c.imUser), is_channel: !c.imUser };
}

/** The mrkdwn text of a message's blocks, for readable summaries and assertions. */
export function blocksText(blocks: unknown[]): string {
  const parts: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if ((o.type === 'mrkdwn' || o.type === 'plain_text') && typeof o.text === 'string') parts.push(o.text);
      else for (const v of Object.values(o)) if (typeof v === 'object') visit(v);
    }
  };
  visit(blocks);
  return parts.join('\n');
}

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' | ');
  return flat.length > 160 ? `${flat.slice(0, 157)}...` : flat;
}
