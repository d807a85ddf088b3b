// Types only: the SDK (~19 MB resident) is loaded when Bolt is, for button clicks, not for these calls.
import type { LogLevel, Logger as SlackLogger } from '@slack/web-api';
import {
  API_FETCH_INIT,
  PluginError,
  callService,
  httpFailure,
  networkFailure,
  refusal,
  retryAfterMs,
  type Logger,
  type OutboundCall,
  type OutboundPolicy,
} from '@teleport-plugin/core';
import type { Block } from './render.js';

export interface SlackClientOptions {
  token: string;
  apiUrl: string;
  logger: Logger;
  /** Core's outbound policy, tuned (tests shorten the backoff). */
  policy?: Partial<OutboundPolicy>;
  /** Per HTTP request made outside a handler attempt, such as the start-up check (default 10 s, as upstream); inside one, the attempt's deadline applies. */
  timeoutMs?: number;
}

export interface AuthInfo {
  userId: string;
  botId: string;
  team: string;
  /** From the `x-oauth-scopes` header; undefined when Slack did not send it. */
  scopes: string[] | undefined;
}

export interface SlackUser {
  id: string;
  name: string;
  email: string | undefined;
}

export interface SlackChannel {
  id: string;
  name: string;
  isMember: boolean;
}

export interface PostedMessage {
  /** Slack answers with the real channel id (a DM channel when posted to a user id). */
  channel: string;
  ts: string;
}

/** What we attach to every message we post, so it can be found again (Slack message metadata). */
export interface MessageTag {
  requestId: string;
  /** `request`, `review:<index>`, `notice:<TAG>`. */
  kind: string;
}

export interface HistoryMessage {
  ts: string;
  threadTs: string | undefined;
  tag: MessageTag | undefined;
}

export const METADATA_EVENT_TYPE = 'teleport_access_request';

/** Slack's own error string (`channel_not_found`, ...) of a failed call. */
export function slackErrorCode(err: unknown): string | undefined {
  return err instanceof PluginError ? err.service?.serviceCode : undefined;
}

/** Slack errors that mean "the token is wrong", not "this call was wrong". */
const AUTH_ERRORS = new Set(['not_authed', 'invalid_auth', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'org_login_required']);
/** `ok: false` answers that are Slack's trouble, not ours: worth another try later. */
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

export function isAuthError(err: unknown): boolean {
  const code = slackErrorCode(err);
  return code !== undefined && AUTH_ERRORS.has(code);
}

const USER_AGENT = 'teleport-plugin-slack/0.1.0';

/**
 * The Slack Web API calls the adapter makes. Each is one HTTP POST (form-encoded, as Slack's own
 * SDK sends them) under core's outbound policy: 429 waits for `Retry-After`, 5xx and network
 * errors back off, and nothing is repeated whose outcome is unknown. It does not go through
 * @slack/web-api's WebClient: its queue, its retries (which would repeat a chat.postMessage
 * whose answer was lost) and its debug serialisation of every request and answer (done even
 * when debug is off) cost about 7 % of the runtime's CPU in `npm run bench` and bought nothing here.
 * Bolt, which receives button clicks, keeps the SDK. Connections are kept alive (fetch's pool).
 */
export class SlackClient {
  private readonly logger: Logger;
  private readonly policy: Partial<OutboundPolicy> | undefined;
  private readonly apiUrl: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;

  constructor(options: SlackClientOptions) {
    this.logger = options.logger;
    this.policy = options.policy;
    this.apiUrl = options.apiUrl.endsWith('/') ? options.apiUrl : `${options.apiUrl}/`;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.headers = {
      authorization: `Bearer ${options.token}`,
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      'user-agent': USER_AGENT,
    };
  }

  async authTest(signal?: AbortSignal): Promise<AuthInfo> {
    const res = await this.call('auth.test', {}, true, signal);
    const meta = res.response_metadata as { scopes?: string[] } | undefined;
    return {
      userId: String(res.user_id ?? ''),
      botId: String(res.bot_id ?? ''),
      team: String(res.team ?? ''),
      scopes: meta?.scopes,
    };
  }

  async postMessage(args: { channel: string; text: string; blocks?: Block[]; threadTs?: string; tag?: MessageTag }, signal?: AbortSignal): Promise<PostedMessage> {
    const body: Record<string, unknown> = { channel: args.channel, text: args.text };
    if (args.blocks) body.blocks = args.blocks;
    if (args.threadTs) body.thread_ts = args.threadTs;
    if (args.tag) body.metadata = { event_type: METADATA_EVENT_TYPE, event_payload: { request_id: args.tag.requestId, kind: args.tag.kind } };
    const res = await this.call('chat.postMessage', body, false, signal);
    return { channel: String(res.channel ?? args.channel), ts: String(res.ts ?? '') };
  }

  async updateMessage(args: { channel: string; ts: string; text: string; blocks: Block[] }, signal?: AbortSignal): Promise<void> {
    await this.call('chat.update', { channel: args.channel, ts: args.ts, text: args.text, blocks: args.blocks }, true, signal);
  }

  async postEphemeral(args: { channel: string; user: string; text: string }, signal?: AbortSignal): Promise<void> {
    await this.call('chat.postEphemeral', args, false, signal);
  }

  /** The Slack user id for an email, or undefined (`users_not_found`). */
  async lookupByEmail(email: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.call('users.lookupByEmail', { email }, true, signal);
      return (res.user as { id?: string } | undefined)?.id || undefined;
    } catch (err) {
      if (slackErrorCode(err) === 'users_not_found') return undefined;
      throw err;
    }
  }

  async userInfo(userId: string, signal?: AbortSignal): Promise<SlackUser | undefined> {
    try {
      const res = await this.call('users.info', { user: userId }, true, signal);
      const user = res.user as { id?: string; name?: string; profile?: { email?: string } } | undefined;
      if (!user?.id) return undefined;
      return { id: user.id, name: user.name ?? user.id, email: user.profile?.email || undefined };
    } catch (err) {
      if (slackErrorCode(err) === 'user_not_found') return undefined;
      throw err;
    }
  }

  async conversationInfo(channel: string, signal?: AbortSignal): Promise<SlackChannel | undefined> {
    try {
      const res = await this.call('conversations.info', { channel }, true, signal);
      return toChannel(res.channel);
    } catch (err) {
      if (slackErrorCode(err) === 'channel_not_found') return undefined;
      throw err;
    }
  }

  /** The DM channel with a user (Slack returns the existing one). */
  async openDm(userId: string, signal?: AbortSignal): Promise<string> {
    const res = await this.call('conversations.open', { users: userId }, true, signal);
    return String((res.channel as { id?: string } | undefined)?.id ?? '');
  }

  /** Public and private channels the token can see (all pages). */
  async listConversations(signal?: AbortSignal): Promise<SlackChannel[]> {
    const out: SlackChannel[] = [];
    let cursor = '';
    for (let page = 0; page < 100; page += 1) {
      const args: Record<string, unknown> = { limit: 1000, exclude_archived: true, types: 'public_channel,private_channel' };
      if (cursor) args.cursor = cursor;
      const res = await this.call('conversations.list', args, true, signal);
      for (const c of (res.channels as unknown[] | undefined) ?? []) {
        const channel = toChannel(c);
        if (channel) out.push(channel);
      }
      cursor = String((res.response_metadata as { next_cursor?: string } | undefined)?.next_cursor ?? '');
      if (!cursor) break;
    }
    return out;
  }

  /** Root messages of a channel since `oldest` (unix seconds), newest first, with our tags; at most `maxPages` pages. */
  async history(channel: string, oldest: number, signal?: AbortSignal, maxPages = 5): Promise<HistoryMessage[]> {
    const out: HistoryMessage[] = [];
    let cursor = '';
    for (let page = 0; page < maxPages; page += 1) {
      const args: Record<string, unknown> = { channel, limit: 200, include_all_metadata: true, oldest: String(oldest) };
      if (cursor) args.cursor = cursor;
      const res = await this.call('conversations.history', args, true, signal);
      for (const m of (res.messages as unknown[] | undefined) ?? []) out.push(toHistoryMessage(m));
      cursor = String((res.response_metadata as { next_cursor?: string } | undefined)?.next_cursor ?? '');
      if (!cursor) break;
    }
    return out;
  }

  /** A thread: its root and replies, with our tags. */
  async replies(channel: string, ts: string, signal?: AbortSignal): Promise<HistoryMessage[]> {
    const res = await this.call('conversations.replies', { channel, ts, include_all_metadata: true, limit: 1000 }, true, signal);
    return ((res.messages as unknown[] | undefined) ?? []).map(toHistoryMessage);
  }

  /** One Web API method under the outbound policy; failures carry Slack's error code as service facts. */
  async call(method: string, args: Record<string, unknown>, idempotent: boolean, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const call: OutboundCall = { service: 'Slack', operation: method, idempotent };
    // A refused token (invalid_auth...) carries affectsEveryCall: the messaging kit keeps the work for later.
    return callService(call, (attemptSignal) => this.send(call, method, args, attemptSignal), { signal, logger: this.logger, policy: this.policy });
  }

  /** One HTTP request. Inside a handler attempt its signal is the deadline; calls outside one (start-up checks) get their own. */
  private async send(call: OutboundCall, method: string, args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<Record<string, unknown>> {
    const deadline = signal ? undefined : AbortSignal.timeout(this.timeoutMs);
    let status: number;
    let headers: Headers;
    let text: string;
    try {
      const res = await fetch(this.apiUrl + method, { ...API_FETCH_INIT, method: 'POST', headers: this.headers, body: formBody(args), signal: signal ?? deadline });
      ({ status, headers } = res);
      text = await res.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      throw networkFailure(call, deadline?.aborted ? Object.assign(new Error('no answer in time'), { name: 'TimeoutError' }) : err);
    }
    const data = parseJson(text);
    if (status === 429) throw httpFailure(call, { status, retryAfterMs: retryAfterMs(headers) });
    if (status !== 200) throw httpFailure(call, { status, serviceCode: typeof data?.error === 'string' ? data.error : undefined });
    if (!data)
      throw new PluginError('SERVICE_ERROR', `Slack ${method} answered HTTP 200 without valid JSON`, {
        service: { service: call.service, operation: call.operation, retryable: true, outcomeUnknown: !call.idempotent },
      });
    if (data.ok !== true) throw platformRefusal(call, String(data.error ?? 'unknown_error'));
    const scopes = headers.get('x-oauth-scopes');
    if (scopes !== null)
      data.response_metadata = {
        ...(data.response_metadata as object | undefined),
        scopes: scopes
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      };
    const warnings = (data.response_metadata as { warnings?: unknown } | undefined)?.warnings;
    if (Array.isArray(warnings) && warnings.length > 0) this.logger.debug('Slack answered with warnings', { operation: method, warnings: warnings.map(String) });
    return data;
  }
}

/** Web API arguments as Slack's form encoding: objects and arrays as JSON, nothing for undefined or null. */
function formBody(args: Record<string, unknown>): string {
  const form = new URLSearchParams();
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || value === null) continue;
    form.append(key, typeof value === 'object' ? JSON.stringify(value) : String(value as string | number | boolean));
  }
  return form.toString();
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Slack's `{ok: false, error}`: final unless transient; a refused token says what to change. */
function platformRefusal(call: OutboundCall, code: string, cause?: unknown): PluginError {
  const auth = AUTH_ERRORS.has(code);
  const e = refusal(call, code, { retryable: TRANSIENT_ERRORS.has(code), cause, userFacing: auth, affectsEveryCall: auth });
  return auth ? new PluginError(e.code, `${e.message}: Slack rejected the bot token; update [slack] token`, { cause, userFacing: true, service: e.service }) : e;
}

function toChannel(value: unknown): SlackChannel | undefined {
  const c = value as { id?: string; name?: string; is_member?: boolean } | undefined;
  if (!c?.id) return undefined;
  return { id: c.id, name: c.name ?? c.id, isMember: c.is_member !== false };
}

function toHistoryMessage(value: unknown): HistoryMessage {
  const m = value as { ts?: string; thread_ts?: string; metadata?: { event_type?: string; event_payload?: { request_id?: unknown; kind?: unknown } } };
  const payload = m.metadata?.event_type === METADATA_EVENT_TYPE ? m.metadata.event_payload : undefined;
  const tag = payload && typeof payload.request_id === 'string' && typeof payload.kind === 'string' ? { requestId: payload.request_id, kind: payload.kind } : undefined;
  return { ts: String(m.ts ?? ''), threadTs: m.thread_ts, tag };
}

/** The SDK logs through ours (its debug/info lines repeat every request body; ours say what matters). */
export function sdkLogger(logger: Logger): SlackLogger {
  let level = 'info' as LogLevel;
  return {
    debug: () => {},
    info: () => {},
    warn: (...msg: unknown[]) => logger.warn(msg.map(String).join(' '), { sdk: 'slack' }),
    error: (...msg: unknown[]) => logger.error(msg.map(String).join(' '), { sdk: 'slack' }),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}
