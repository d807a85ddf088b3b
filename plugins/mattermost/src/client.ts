import mm from '@mattermost/client';
import type { ServerChannel } from '@mattermost/types/channels';
import type { Post, PostList } from '@mattermost/types/posts';
import type { Team } from '@mattermost/types/teams';
import type { UserProfile } from '@mattermost/types/users';
import { API_FETCH_INIT, PluginError, callService, httpFailure, networkFailure, retryAfterMs, type Logger, type OutboundCall, type OutboundPolicy } from '@teleport-plugin/core';
import { effectProps, postEffect, type PostKind } from './postEffect.js';

// A CommonJS package: under ESM its named exports exist only on the default import
// (`import { Client4 }` type-checks but fails at run time).
const { Client4 } = mm;
type Client4 = InstanceType<typeof Client4>;

/*
 * Built on @mattermost/client's Client4 for what it is good at here: the API v4 routes and the
 * request headers (`Authorization: BEARER <token>`, `X-Requested-With`, JSON content type, user
 * agent), from `getOptions()`. The answers are read here rather than by Client4's own fetch
 * helpers, because those keep nothing we need: their error carries the status only when the body
 * was Mattermost JSON (a rate limiter's or proxy's 429/502 is plain text), drops Retry-After and
 * ETag, and no typed method takes an AbortSignal. Client4 has no retry loop of its own; every
 * call goes through core's outbound policy (callService); inside a handler attempt the attempt's
 * signal is the only deadline. Connections are kept alive by Node's fetch pool.
 */

export const SERVICE = 'Mattermost';

export interface MmUser {
  id: string;
  username: string;
  email: string;
  isBot: boolean;
}

export interface MmTeam {
  id: string;
  name: string;
  displayName: string;
  /** `O` open, `I` invite only. */
  type: string;
}

export interface MmChannel {
  id: string;
  /** '' for direct-message channels. */
  teamId: string;
  name: string;
  displayName: string;
  /** `O` public, `P` private, `D` direct, `G` group. */
  type: string;
}

export interface MmPost {
  id: string;
  channelId: string;
  /** '' for a root post. */
  rootId: string;
  userId: string;
  message: string;
  props: Record<string, unknown>;
  createAt: number;
  updateAt: number;
}

export interface NewPost {
  channelId: string;
  message: string;
  /** The root post's id, for a reply in its thread. */
  rootId?: string | undefined;
  /** Stored in the post's props (with `kind`) so findPost can tell whether it was made. */
  requestId: string;
  kind: PostKind;
}

export interface FindPostQuery {
  requestId: string;
  kind: PostKind;
  /** Look in this root post's thread (replies) instead of the channel's recent posts. */
  rootId?: string | undefined;
  /**
   * Only posts created or changed since this time (ms since the epoch), e.g. a little before the
   * post was first tried: one answer however busy the channel is.
   */
  since?: number | undefined;
}

export interface MattermostClientOptions {
  /** Server base URL, e.g. `https://mattermost.example.com` (`/api/v4` is added). */
  url: string;
  token: string;
  logger?: Logger | undefined;
  /** Core's outbound policy, overridden (tests use tiny backoffs). */
  policy?: Partial<OutboundPolicy> | undefined;
  /** Per call made outside a handler attempt, e.g. start-up checks (default 10 s, as upstream); inside one, the attempt's deadline applies. */
  timeoutMs?: number | undefined;
  /** findPost without `since` reads at most this many pages of the channel, newest first (default 5). */
  findPages?: number | undefined;
  /** Posts per page (default 200, Mattermost's maximum). */
  pageSize?: number | undefined;
  /** ETag answers remembered for GETs of users and channels (default 1024, as upstream). */
  etagCacheSize?: number | undefined;
}

/** Mattermost's error body (`model.AppError`). */
interface MmErrorBody {
  id?: string;
  message?: string;
  detailed_error?: string;
  request_id?: string;
  status_code?: number;
}

interface CallSpec {
  /** `GET users/me`: stable, without ids, for logs and metrics. */
  operation: string;
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  body?: unknown;
  idempotent: boolean;
  /** Remember the answer's ETag and send If-None-Match next time. */
  etagKey?: string;
  /** Statuses meaning "not there": the call resolves to undefined. */
  absentOn?: readonly number[];
  /** Plain words for a 403: what is not allowed and how to fix it. */
  forbidden?: string;
  /** Plain words for a 404 (when absentOn does not cover it). */
  notFound?: string;
}

const USER_AGENT = 'teleport-plugin-mattermost/0.1.0';
const TOKEN_FIX = "check [mattermost] token: it must be the bot account's access token (System Console > Integrations > Bot Accounts), or a /path to a file holding it";

/**
 * The Mattermost REST API v4 calls the adapter makes. Reads, the DM channel (Mattermost returns
 * the existing one) and post edits are idempotent; creating a post is not, and each post carries
 * its request id and kind in its props so that findPost can settle whether a post whose answer
 * was lost was made.
 */
export class MattermostClient {
  readonly sdk: Client4;
  readonly url: string;
  private readonly logger: Logger | undefined;
  private readonly policy: Partial<OutboundPolicy> | undefined;
  private readonly timeoutMs: number;
  private readonly findPages: number;
  private readonly pageSize: number;
  private readonly etags: EtagCache;
  private botId: string | undefined;

  constructor(options: MattermostClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    this.logger = options.logger;
    this.policy = options.policy;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.findPages = Math.max(1, options.findPages ?? 5);
    this.pageSize = Math.min(200, Math.max(1, options.pageSize ?? 200));
    this.etags = new EtagCache(options.etagCacheSize ?? 1024);
    this.sdk = new Client4();
    this.sdk.setUrl(this.url);
    this.sdk.setToken(options.token);
    this.sdk.setIncludeCookies(false);
    this.sdk.setUserAgent(USER_AGENT);
  }

  /** The bot's own user (`GET users/me`): the health check, and the bot's id for DM channels. */
  async me(signal?: AbortSignal): Promise<MmUser> {
    const user = await this.request<UserProfile>(
      {
        operation: 'GET users/me',
        method: 'GET',
        url: this.sdk.getUserRoute('me'),
        idempotent: true,
        etagKey: 'me',
        notFound: `no Mattermost API at ${this.url}/api/v4: check [mattermost] url (the server's base URL)`,
      },
      signal,
    );
    const me = toUser(required(user, 'GET users/me'));
    this.botId = me.id;
    return me;
  }

  /** The bot's user id, asked once. */
  async botUserId(signal?: AbortSignal): Promise<string> {
    return this.botId ?? (await this.me(signal)).id;
  }

  /** The user with this email, or undefined when Mattermost has none. */
  async userByEmail(email: string, signal?: AbortSignal): Promise<MmUser | undefined> {
    const user = await this.request<UserProfile>(
      {
        operation: 'GET users/email/{email}',
        method: 'GET',
        url: `${this.sdk.getUsersRoute()}/email/${encodeURIComponent(email)}`,
        idempotent: true,
        etagKey: `email:${email.toLowerCase()}`,
        absentOn: [404],
        forbidden: `Mattermost does not let the bot look up users by email (${email}): turn on System Console > Site Configuration > Users and Teams > Show Email Address, or make the bot a system admin; email recipients need it`,
      },
      signal,
    );
    return user === undefined ? undefined : toUser(user);
  }

  /**
   * The direct-message channel between two users (`POST channels/direct`). Mattermost creates it
   * once and answers with the same channel afterwards, so this is safe to repeat.
   */
  async directChannel(botId: string, userId: string, signal?: AbortSignal): Promise<string> {
    const channel = await this.request<ServerChannel>(
      {
        operation: 'POST channels/direct',
        method: 'POST',
        url: `${this.sdk.getChannelsRoute()}/direct`,
        body: [botId, userId],
        idempotent: true,
        forbidden: `the bot may not open a direct message with user ${userId}`,
      },
      signal,
    );
    return toChannel(required(channel, 'POST channels/direct')).id;
  }

  /**
   * A channel by its team's and its own URL names, or undefined when there is no such team or
   * channel (or it is private and the bot is not in it: Mattermost answers 404 then too).
   * Throws ACCESS_DENIED, in plain words, when the bot is not a member of the team.
   */
  async channelByTeamAndName(team: string, channel: string, signal?: AbortSignal): Promise<MmChannel | undefined> {
    const found = await this.request<ServerChannel>(
      {
        operation: 'GET teams/name/{team}/channels/name/{channel}',
        method: 'GET',
        url: `${this.sdk.getTeamNameRoute(encodeURIComponent(team))}/channels/name/${encodeURIComponent(channel)}`,
        idempotent: true,
        etagKey: `channel:${team}/${channel}`,
        absentOn: [404],
        forbidden: `the bot is not a member of team "${team}": add it to the team (team menu > Add people to the team), then to channel "${channel}"`,
      },
      signal,
    );
    return found === undefined ? undefined : toChannel(found);
  }

  /**
   * A team by URL name, or undefined when there is none. Throws ACCESS_DENIED when the team is
   * invite-only and the bot is not in it.
   */
  async teamByName(team: string, signal?: AbortSignal): Promise<MmTeam | undefined> {
    const found = await this.request<Team>(
      {
        operation: 'GET teams/name/{team}',
        method: 'GET',
        url: this.sdk.getTeamNameRoute(encodeURIComponent(team)),
        idempotent: true,
        absentOn: [404],
        forbidden: `team "${team}" is invite-only and the bot is not a member: add the bot to the team`,
      },
      signal,
    );
    return found === undefined ? undefined : { id: found.id, name: found.name, displayName: found.display_name, type: found.type };
  }

  /**
   * Whether the user is a member of the channel (`GET channels/{id}/members/{user}`): what lets a
   * bot post there. False also when the bot may not even read the channel.
   */
  async isChannelMember(channelId: string, userId: string, signal?: AbortSignal): Promise<boolean> {
    const member = await this.request<{ user_id?: string }>(
      {
        operation: 'GET channels/{id}/members/{user}',
        method: 'GET',
        url: this.sdk.getChannelMemberRoute(encodeURIComponent(channelId), encodeURIComponent(userId)),
        idempotent: true,
        absentOn: [403, 404],
      },
      signal,
    );
    return member !== undefined;
  }

  /**
   * Creates a post (a reply when `rootId` is set). Not idempotent: a post whose answer was lost
   * (outcomeUnknown) must be looked for with findPost before it is tried again.
   */
  async createPost(post: NewPost, signal?: AbortSignal): Promise<MmPost> {
    const body: Record<string, unknown> = {
      channel_id: post.channelId,
      message: post.message,
      props: effectProps({ requestId: post.requestId, kind: post.kind }),
    };
    if (post.rootId) body.root_id = post.rootId;
    const created = await this.request<Post>(
      {
        operation: 'POST posts',
        method: 'POST',
        url: this.sdk.getPostsRoute(),
        body,
        idempotent: false,
        forbidden: `the bot may not post in channel ${post.channelId}: add the bot to that channel (and its team)`,
      },
      signal,
    );
    return toPost(required(created, 'POST posts'));
  }

  /**
   * Replaces a post's text (`PUT posts/{id}/patch`). Upstream sends the whole post to
   * `PUT posts/{id}`, which also replaces its props: that would erase the request id findPost
   * relies on, so only the message is patched. Safe to repeat.
   */
  async updatePost(postId: string, channelId: string, message: string, signal?: AbortSignal): Promise<MmPost> {
    const updated = await this.request<Post>(
      {
        operation: 'PUT posts/{id}/patch',
        method: 'PUT',
        url: `${this.sdk.getPostRoute(encodeURIComponent(postId))}/patch`,
        body: { message },
        idempotent: true,
        // Mattermost answers 403, not 404, for a post that was deleted.
        forbidden: `the bot may not edit post ${postId} in channel ${channelId} (deleted, not the bot's own, or the server's post edit time limit has passed)`,
      },
      signal,
    );
    return toPost(required(updated, 'PUT posts/{id}/patch'));
  }

  /**
   * The bot's post for this effect in the channel (or in the thread of `rootId`), or undefined.
   * Without `since`, at most `findPages` pages of the channel's newest posts are read. When
   * several match (a duplicate made before this existed), the oldest is returned.
   */
  async findPost(channelId: string, query: FindPostQuery, signal?: AbortSignal): Promise<MmPost | undefined> {
    const botId = await this.botUserId(signal);
    const matches = (post: Post): boolean => {
      const effect = postEffect(post.props);
      return (
        effect !== undefined &&
        effect.requestId === query.requestId &&
        effect.kind === query.kind &&
        post.user_id === botId &&
        post.channel_id === channelId &&
        (post.delete_at ?? 0) === 0 &&
        (query.rootId === undefined || post.root_id === query.rootId)
      );
    };
    const found: Post[] = [];
    if (query.rootId !== undefined) {
      const thread = await this.request<PostList>(
        { operation: 'GET posts/{id}/thread', method: 'GET', url: `${this.sdk.getPostRoute(encodeURIComponent(query.rootId))}/thread`, idempotent: true, absentOn: [403, 404] },
        signal,
      );
      found.push(...listed(thread).filter(matches));
    } else if (query.since !== undefined) {
      const url = `${this.sdk.getChannelRoute(encodeURIComponent(channelId))}/posts?since=${Math.max(0, Math.floor(query.since))}&skipFetchThreads=true`;
      const list = await this.request<PostList>({ operation: 'GET channels/{id}/posts', method: 'GET', url, idempotent: true, absentOn: [403, 404] }, signal);
      found.push(...listed(list).filter(matches));
    } else {
      for (let page = 0; page < this.findPages && found.length === 0; page += 1) {
        const url = `${this.sdk.getChannelRoute(encodeURIComponent(channelId))}/posts?page=${page}&per_page=${this.pageSize}&skipFetchThreads=true`;
        const list = await this.request<PostList>({ operation: 'GET channels/{id}/posts', method: 'GET', url, idempotent: true, absentOn: [403, 404] }, signal);
        const posts = listed(list);
        found.push(...posts.filter(matches));
        if (posts.length < this.pageSize) break;
      }
    }
    if (found.length === 0) return undefined;
    found.sort((a, b) => a.create_at - b.create_at);
    return toPost(found[0]!);
  }

  /** One API call under the outbound policy; undefined when the status is in `absentOn`. */
  private async request<T>(spec: CallSpec, signal: AbortSignal | undefined): Promise<T | undefined> {
    const call: OutboundCall = { service: SERVICE, operation: spec.operation, idempotent: spec.idempotent };
    return callService(call, (attemptSignal) => this.attempt<T>(call, spec, attemptSignal), {
      signal,
      logger: this.logger,
      policy: this.policy,
      classify: (err, c) => networkFailure(c, err),
    });
  }

  private async attempt<T>(call: OutboundCall, spec: CallSpec, signal: AbortSignal | undefined): Promise<T | undefined> {
    // Inside a handler attempt its signal is the deadline (one timer per attempt, not per call);
    // calls outside one (start-up checks) get their own.
    const attemptSignal = signal ?? AbortSignal.timeout(this.timeoutMs);
    const cached = spec.etagKey === undefined ? undefined : this.etags.get(spec.etagKey);
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (cached) headers['If-None-Match'] = cached.etag;
    const init = this.sdk.getOptions({
      method: spec.method,
      headers,
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
    });
    let res: Response;
    let text: string;
    try {
      res = await fetch(spec.url, { ...API_FETCH_INIT, method: init.method, headers: init.headers, body: init.body as string | undefined, signal: attemptSignal });
      text = await res.text();
    } catch (err) {
      throw networkFailure(call, err);
    }

    if (res.status === 304 && cached) return cached.value as T;
    if (spec.absentOn?.includes(res.status)) return undefined;
    if (res.status < 200 || res.status >= 300) throw this.failure(call, spec, res, text);

    let data: unknown;
    try {
      data = text === '' ? undefined : JSON.parse(text);
    } catch {
      data = undefined;
    }
    if (data === undefined || data === null || typeof data !== 'object') {
      const type = res.headers.get('content-type') ?? 'no content type';
      throw new PluginError(
        'SERVICE_ERROR',
        `Mattermost ${call.operation} answered HTTP ${res.status} with ${type}, not JSON: is [mattermost] url (${this.url}) the Mattermost server's base URL?`,
        {
          userFacing: true,
          service: { service: SERVICE, operation: call.operation, status: res.status, retryable: false, outcomeUnknown: !call.idempotent },
        },
      );
    }
    const etag = res.headers.get('etag');
    if (spec.etagKey !== undefined && etag) this.etags.set(spec.etagKey, { etag, value: data });
    return data as T;
  }

  /** A non-2xx answer as a PluginError with facts; 401/403 (and a 404 with notFound) in plain words. */
  private failure(call: OutboundCall, spec: CallSpec, res: Response, text: string): PluginError {
    const body = parseErrorBody(text);
    const serverSays = body?.message || text.trim().slice(0, 200) || res.statusText;
    const base = httpFailure(call, {
      status: res.status,
      serviceCode: body?.id,
      detail: [body?.message, body?.request_id ? `request id ${body.request_id}` : undefined].filter(Boolean).join('; ') || text.trim().slice(0, 200) || undefined,
      retryAfterMs: retryAfterMs(res.headers),
      userFacing: res.status === 401,
    });
    const plain = (code: PluginError['code'], message: string): PluginError =>
      new PluginError(code, `${message} (Mattermost ${call.operation}: HTTP ${res.status}${serverSays ? `, ${serverSays}` : ''})`, {
        cause: base,
        userFacing: true,
        service: base.service,
      });
    if (res.status === 401) return plain('ACCESS_DENIED', `Mattermost rejected the bot token; ${TOKEN_FIX}`);
    if (res.status === 403)
      return plain('ACCESS_DENIED', spec.forbidden ?? `the bot is not allowed to call ${call.operation}; check the bot account's roles and [mattermost] token`);
    if (res.status === 404 && spec.notFound) return plain('NOT_FOUND', spec.notFound);
    return base;
  }
}

function parseErrorBody(text: string): MmErrorBody | undefined {
  if (!text.trim().startsWith('{')) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed !== null && typeof parsed === 'object' ? (parsed as MmErrorBody) : undefined;
  } catch {
    return undefined;
  }
}

function required<T>(value: T | undefined, operation: string): T {
  if (value === undefined) throw new PluginError('SERVICE_ERROR', `Mattermost ${operation} answered without a body`);
  return value;
}

function listed(list: PostList | undefined): Post[] {
  if (!list) return [];
  const posts = list.posts ?? {};
  const order = Array.isArray(list.order) ? list.order : Object.keys(posts);
  return order.map((id) => posts[id]).filter((p): p is Post => p !== undefined);
}

function toUser(user: UserProfile): MmUser {
  return { id: user.id, username: user.username ?? '', email: user.email ?? '', isBot: user.is_bot === true };
}

function toChannel(channel: ServerChannel): MmChannel {
  return { id: channel.id, teamId: channel.team_id ?? '', name: channel.name ?? '', displayName: channel.display_name ?? '', type: channel.type ?? '' };
}

function toPost(post: Post): MmPost {
  return {
    id: post.id,
    channelId: post.channel_id,
    rootId: post.root_id ?? '',
    userId: post.user_id,
    message: post.message ?? '',
    props: post.props ?? {},
    createAt: post.create_at,
    updateAt: post.update_at,
  };
}

interface EtagEntry {
  etag: string;
  value: unknown;
}

/** A small LRU of ETag answers (a Map keeps insertion order; a hit moves to the end). */
class EtagCache {
  private readonly entries = new Map<string, EtagEntry>();
  constructor(private readonly size: number) {}

  get(key: string): EtagEntry | undefined {
    const entry = this.entries.get(key);
    if (entry) {
      this.entries.delete(key);
      this.entries.set(key, entry);
    }
    return entry;
  }

  set(key: string, entry: EtagEntry): void {
    if (this.size <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }
}
