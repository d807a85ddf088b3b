import {
  LogLevel,
  WebAPIHTTPError,
  WebAPIPlatformError,
  WebAPIRateLimitedError,
  WebAPIRequestError,
  WebClient,
  type Logger as SlackLogger,
} from '@slack/web-api';
import { PluginError, errorMessage, sleep, type Logger } from '@teleport-plugin/core';
import type { Block } from './render.js';

export interface RetryPolicy {
  /** Total tries per call, first one included. */
  maxAttempts: number;
  /** Backoff before retrying a 5xx (doubles per try, with jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the call fails as RATE_LIMITED. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 4_000, maxRetryAfterMs: 60_000 };

export interface SlackClientOptions {
  token: string;
  apiUrl: string;
  logger: Logger;
  retry?: Partial<RetryPolicy>;
  /** Per HTTP request (default 10 s, as upstream). */
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

/** Slack's own error string (`channel_not_found`, …) carried by a SERVICE_ERROR. */
export function slackErrorCode(err: unknown): string | undefined {
  if (err instanceof PluginError && typeof err.details?.slackError === 'string') return err.details.slackError;
  return undefined;
}

/** Slack errors that mean "the token is wrong", not "this call was wrong". */
const AUTH_ERRORS = new Set(['not_authed', 'invalid_auth', 'account_inactive', 'token_revoked', 'token_expired', 'no_permission', 'org_login_required']);

/**
 * Connection errors raised before anything reached Slack: the call certainly did not happen and
 * may be repeated. Any other transport failure (timeout, reset, dropped connection) may have
 * happened after Slack acted on it.
 */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * True when a call failed without an answer from Slack, so it may or may not have taken effect.
 * For chat.postMessage that means "maybe posted": repeating it could post twice.
 */
export function isOutcomeUnknown(err: unknown): boolean {
  return err instanceof PluginError && err.details?.outcomeUnknown === true;
}

export function isAuthError(err: unknown): boolean {
  const code = slackErrorCode(err);
  return code !== undefined && AUTH_ERRORS.has(code);
}

/**
 * The Slack Web API calls the adapter makes, on @slack/web-api's WebClient. The SDK's own retry
 * loop is switched off: it retries timeouts and dropped connections of chat.postMessage too,
 * which can post a message twice, and it cannot be cancelled. Here 429 (Slack did not process
 * the call) waits for Retry-After and 5xx backs off, a bounded number of times; network errors
 * are retried only for calls that are safe to repeat.
 */
export class SlackClient {
  readonly web: WebClient;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger;

  constructor(options: SlackClientOptions) {
    this.logger = options.logger;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.web = new WebClient(options.token, {
      slackApiUrl: options.apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: options.timeoutMs ?? 10_000,
      logger: sdkLogger(options.logger),
      logLevel: LogLevel.ERROR,
    });
  }

  async authTest(signal?: AbortSignal): Promise<AuthInfo> {
    const res = await this.call('auth.test', {}, { idempotent: true, signal });
    const meta = res.response_metadata as { scopes?: string[] } | undefined;
    return {
      userId: String(res.user_id ?? ''),
      botId: String(res.bot_id ?? ''),
      team: String(res.team ?? ''),
      scopes: meta?.scopes,
    };
  }

  async postMessage(
    args: { channel: string; text: string; blocks?: Block[]; threadTs?: string },
    signal?: AbortSignal,
  ): Promise<PostedMessage> {
    const body: Record<string, unknown> = { channel: args.channel, text: args.text };
    if (args.blocks) body.blocks = args.blocks;
    if (args.threadTs) body.thread_ts = args.threadTs;
    const res = await this.call('chat.postMessage', body, { idempotent: false, signal });
    return { channel: String(res.channel ?? args.channel), ts: String(res.ts ?? '') };
  }

  async updateMessage(args: { channel: string; ts: string; text: string; blocks: Block[] }, signal?: AbortSignal): Promise<void> {
    await this.call('chat.update', { channel: args.channel, ts: args.ts, text: args.text, blocks: args.blocks }, { idempotent: true, signal });
  }

  async postEphemeral(args: { channel: string; user: string; text: string }, signal?: AbortSignal): Promise<void> {
    await this.call('chat.postEphemeral', args, { idempotent: false, signal });
  }

  /** The Slack user id for an email, or undefined (`users_not_found`). */
  async lookupByEmail(email: string, signal?: AbortSignal): Promise<string | undefined> {
    try {
      const res = await this.call('users.lookupByEmail', { email }, { idempotent: true, signal });
      const user = res.user as { id?: string } | undefined;
      return user?.id || undefined;
    } catch (err) {
      if (slackErrorCode(err) === 'users_not_found') return undefined;
      throw err;
    }
  }

  async userInfo(userId: string, signal?: AbortSignal): Promise<SlackUser | undefined> {
    try {
      const res = await this.call('users.info', { user: userId }, { idempotent: true, signal });
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
      const res = await this.call('conversations.info', { channel }, { idempotent: true, signal });
      return toChannel(res.channel);
    } catch (err) {
      if (slackErrorCode(err) === 'channel_not_found') return undefined;
      throw err;
    }
  }

  /** Public and private channels the token can see (all pages). */
  async listConversations(signal?: AbortSignal): Promise<SlackChannel[]> {
    const out: SlackChannel[] = [];
    let cursor = '';
    for (let page = 0; page < 100; page += 1) {
      const args: Record<string, unknown> = { limit: 1000, exclude_archived: true, types: 'public_channel,private_channel' };
      if (cursor) args.cursor = cursor;
      const res = await this.call('conversations.list', args, { idempotent: true, signal });
      for (const c of (res.channels as unknown[] | undefined) ?? []) {
        const channel = toChannel(c);
        if (channel) out.push(channel);
      }
      cursor = String((res.response_metadata as { next_cursor?: string } | undefined)?.next_cursor ?? '');
      if (!cursor) break;
    }
    return out;
  }

  /** One Web API method with bounded retries; throws PluginError (details.slackError for `ok: false`). */
  async call(
    method: string,
    args: Record<string, unknown>,
    options: { idempotent: boolean; signal?: AbortSignal | undefined },
  ): Promise<Record<string, unknown>> {
    const { signal } = options;
    for (let attempt = 1; ; attempt += 1) {
      signal?.throwIfAborted();
      try {
        // A call that must not be repeated is never abandoned half-way: it finishes (bounded by
        // the HTTP timeout) so the caller can record its outcome.
        const pending = this.web.apiCall(method, args);
        const res = options.idempotent ? await raceAbort(pending, signal) : await pending;
        return res as unknown as Record<string, unknown>;
      } catch (err) {
        const last = attempt >= this.retry.maxAttempts;
        if (err instanceof WebAPIRateLimitedError) {
          const waitMs = err.retryAfter * 1000;
          if (last || waitMs > this.retry.maxRetryAfterMs) {
            throw new PluginError('RATE_LIMITED', `Slack ${method}: rate limited (retry after ${err.retryAfter}s), gave up after ${attempt} tries`, {
              cause: err,
              details: { method, retryAfter: err.retryAfter },
            });
          }
          this.logger.warn('Slack rate limit, waiting before retrying', { method, retryAfterSeconds: err.retryAfter, attempt });
          await sleep(waitMs, signal);
          continue;
        }
        if (err instanceof WebAPIHTTPError && err.statusCode >= 500 && !last) {
          const delay = this.backoff(attempt);
          this.logger.warn('Slack server error, retrying', { method, status: err.statusCode, attempt, delayMs: delay });
          await sleep(delay, signal);
          continue;
        }
        // A call that must not be repeated is retried only when it never reached Slack.
        if (err instanceof WebAPIRequestError && (options.idempotent || NOT_SENT_CODES.has(networkCode(err.original) ?? '')) && !last) {
          const delay = this.backoff(attempt);
          this.logger.warn('Slack request failed, retrying', { method, error: err.original.message, attempt, delayMs: delay });
          await sleep(delay, signal);
          continue;
        }
        throw wrap(method, err);
      }
    }
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.round(exp / 2 + Math.random() * (exp / 2));
  }
}

/** The system/undici error code behind a fetch failure (`fetch failed` hides it in `cause`). */
function networkCode(err: Error): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function toChannel(value: unknown): SlackChannel | undefined {
  const c = value as { id?: string; name?: string; is_member?: boolean } | undefined;
  if (!c?.id) return undefined;
  return { id: c.id, name: c.name ?? c.id, isMember: c.is_member !== false };
}

function wrap(method: string, err: unknown): PluginError {
  if (err instanceof PluginError) return err;
  if (err instanceof WebAPIPlatformError) {
    return new PluginError('SERVICE_ERROR', `Slack ${method}: ${err.data.error}`, { cause: err, details: { method, slackError: err.data.error } });
  }
  if (err instanceof WebAPIHTTPError) {
    return new PluginError('SERVICE_ERROR', `Slack ${method}: HTTP ${err.statusCode} ${err.statusMessage}`, {
      cause: err,
      details: { method, status: err.statusCode },
    });
  }
  if (err instanceof WebAPIRequestError) {
    const code = networkCode(err.original);
    const outcomeUnknown = code === undefined || !NOT_SENT_CODES.has(code);
    const what = err.original.name === 'TimeoutError' ? 'no answer in time' : err.original.message;
    return new PluginError('CONNECTION_PROBLEM', `Slack ${method}: ${what}${code ? ` (${code})` : ''}`, {
      cause: err,
      details: { method, outcomeUnknown },
    });
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return new PluginError('TIMEOUT', `Slack ${method}: cancelled`, { cause: err, details: { method } });
  }
  return new PluginError('SERVICE_ERROR', `Slack ${method}: ${errorMessage(err)}`, { cause: err, details: { method } });
}

/**
 * Stops waiting when the handler is cancelled. The HTTP call itself may still complete; callers
 * that must not repeat it (postMessage) serialise per request, see adapter.ts.
 */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** The SDK logs through ours (debug noise stays at debug). */
export function sdkLogger(logger: Logger): SlackLogger {
  let level = LogLevel.INFO;
  return {
    // The SDK's debug/info lines repeat every request body; our own logs say what matters.
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
