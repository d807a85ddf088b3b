import { createHash, randomBytes } from 'node:crypto';
import { HttpFake, type FakeReply, type RecordedCall } from '@teleport-plugin/core/testing';

/*
 * A fake Mattermost server on a real HTTP listener: the API v4 paths the adapter uses, with
 * Mattermost's JSON shapes and error bodies (`{id, message, detailed_error, request_id,
 * status_code}`), its token auth, its permission rules for reading and posting (a bot posts only
 * where it is a channel member; Mattermost answers 403 even for a channel that does not exist),
 * ETags on user and channel lookups, and optionally its rate limiter. Every call is recorded
 * (HttpFake) and faults can be injected: 429s, 5xx, latency, dropped answers after the effect.
 */

export const FAKE_SERVER_VERSION = '10.5.0';

export interface FakeMmUser {
  id: string;
  username: string;
  email: string;
  isBot: boolean;
  /** System admins see every email and may post anywhere. */
  isAdmin: boolean;
  createAt: number;
}

export interface FakeMmTeam {
  id: string;
  name: string;
  displayName: string;
  /** `O` open (anyone may see it), `I` invite only. */
  type: 'O' | 'I';
  members: Set<string>;
}

export interface FakeMmChannel {
  id: string;
  /** '' for direct-message channels. */
  teamId: string;
  name: string;
  displayName: string;
  /** `O` public, `P` private, `D` direct message. */
  type: 'O' | 'P' | 'D';
  members: Set<string>;
  createAt: number;
}

export interface FakeMmPost {
  id: string;
  channelId: string;
  rootId: string;
  userId: string;
  message: string;
  props: Record<string, unknown>;
  createAt: number;
  updateAt: number;
  editAt: number;
  deleteAt: number;
  /** Every earlier text, oldest first (one entry per edit). */
  history: string[];
}

export interface FakeMattermostOptions {
  /** The bot's access token (default `mm-bot-token`). */
  token?: string;
  bot?: { username?: string; email?: string };
  /** PrivacySettings.ShowEmailAddress: when false only admins may look users up by email (403). */
  showEmailAddress?: boolean;
  /** Longest message in characters (Mattermost's default 16383; old servers 4000). */
  maxMessageRunes?: number;
  /** Send ETags and answer If-None-Match with 304 on user and channel lookups (default true). */
  etags?: boolean;
  /** RateLimitSettings (off by default, as in Mattermost): requests per second and burst, per token. */
  rateLimit?: { perSecond: number; burst: number };
  tls?: { cert: string; key: string };
}

export interface PostUpdate {
  postId: string;
  channelId: string;
  message: string;
  /** `put` replaced the whole post (props too); `patch` changed only what it sent. */
  via: 'put' | 'patch';
  at: number;
}

type Handler = (call: RecordedCall, params: Record<string, string>, user: FakeMmUser) => FakeReply | Promise<FakeReply>;

const API = '/api/v4';

/** Mattermost's 26-character ids. */
export function newMattermostId(): string {
  const alphabet = 'abcdefghijkmnopqrstuwxyz13456789';
  const bytes = randomBytes(26);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

export class FakeMattermost extends HttpFake {
  readonly token: string;
  readonly bot: FakeMmUser;
  readonly users = new Map<string, FakeMmUser>();
  readonly teams = new Map<string, FakeMmTeam>();
  readonly channels = new Map<string, FakeMmChannel>();
  /** Every post ever made (deleted ones too), in creation order. */
  readonly posts: FakeMmPost[] = [];
  /** Every edit, in order. */
  readonly updates: PostUpdate[] = [];
  showEmailAddress: boolean;
  maxMessageRunes: number;
  etags: boolean;
  private readonly tokens = new Map<string, string>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private rateLimit: { perSecond: number; burst: number } | undefined;
  private lastPostAt = 0;

  constructor(options: FakeMattermostOptions = {}) {
    super('fake-mattermost', options.tls);
    this.token = options.token ?? 'mm-bot-token';
    this.showEmailAddress = options.showEmailAddress ?? true;
    this.maxMessageRunes = options.maxMessageRunes ?? 16_383;
    this.etags = options.etags ?? true;
    this.rateLimit = options.rateLimit;
    this.bot = this.addUser({ username: options.bot?.username ?? 'teleport', email: options.bot?.email ?? 'teleport-bot@example.com', isBot: true });
    this.tokens.set(this.token, this.bot.id);
    this.registerRoutes();
  }

  // ---- state helpers --------------------------------------------------------------------

  addUser(user: { email: string; username?: string; isBot?: boolean; isAdmin?: boolean; id?: string }): FakeMmUser {
    const created: FakeMmUser = {
      id: user.id ?? newMattermostId(),
      username:
        user.username ??
        user.email
          .split('@')[0]!
          .toLowerCase()
          .replace(/[^a-z0-9._-]/g, '-'),
      email: user.email.toLowerCase(),
      isBot: user.isBot ?? false,
      isAdmin: user.isAdmin ?? false,
      createAt: Date.now(),
    };
    this.users.set(created.id, created);
    return created;
  }

  /** A token that authenticates as `user` (for tests acting as someone other than the bot). */
  addToken(token: string, user: FakeMmUser | string): this {
    this.tokens.set(token, typeof user === 'string' ? user : user.id);
    return this;
  }

  userByEmail(email: string): FakeMmUser | undefined {
    const wanted = email.toLowerCase();
    return [...this.users.values()].find((u) => u.email === wanted);
  }

  /** A team; the bot is a member unless `botMember: false`. */
  addTeam(team: { name: string; displayName?: string; type?: 'O' | 'I'; botMember?: boolean }): FakeMmTeam {
    const created: FakeMmTeam = {
      id: newMattermostId(),
      name: team.name,
      displayName: team.displayName ?? team.name,
      type: team.type ?? 'O',
      members: new Set(team.botMember === false ? [] : [this.bot.id]),
    };
    this.teams.set(created.id, created);
    return created;
  }

  teamByName(name: string): FakeMmTeam | undefined {
    return [...this.teams.values()].find((t) => t.name === name);
  }

  /**
   * A channel in a team (by team name or id; the team is created when missing). The bot is a
   * member (and so a team member) unless `botMember: false`.
   */
  addChannel(channel: { team: string; name: string; displayName?: string; type?: 'O' | 'P'; botMember?: boolean }): FakeMmChannel {
    const team = this.teams.get(channel.team) ?? this.teamByName(channel.team) ?? this.addTeam({ name: channel.team, botMember: channel.botMember });
    const created: FakeMmChannel = {
      id: newMattermostId(),
      teamId: team.id,
      name: channel.name,
      displayName: channel.displayName ?? channel.name,
      type: channel.type ?? 'O',
      members: new Set(),
      createAt: Date.now(),
    };
    this.channels.set(created.id, created);
    if (channel.botMember !== false) this.addChannelMember(created.id, this.bot.id);
    return created;
  }

  /** Adds a channel member (and makes them a member of the channel's team, as Mattermost requires). */
  addChannelMember(channelId: string, userId: string): this {
    const channel = this.mustChannel(channelId);
    channel.members.add(userId);
    if (channel.teamId) this.teams.get(channel.teamId)?.members.add(userId);
    return this;
  }

  removeChannelMember(channelId: string, userId: string): this {
    this.mustChannel(channelId).members.delete(userId);
    return this;
  }

  addTeamMember(team: string, userId: string): this {
    const found = this.teams.get(team) ?? this.teamByName(team);
    if (!found) throw new Error(`fake-mattermost: no team ${team}`);
    found.members.add(userId);
    return this;
  }

  /** Removes a user from a team and from every channel of it. */
  removeTeamMember(team: string, userId: string): this {
    const found = this.teams.get(team) ?? this.teamByName(team);
    if (!found) throw new Error(`fake-mattermost: no team ${team}`);
    found.members.delete(userId);
    for (const c of this.channels.values()) if (c.teamId === found.id) c.members.delete(userId);
    return this;
  }

  channelByName(team: string, name: string): FakeMmChannel | undefined {
    const t = this.teamByName(team);
    return t ? [...this.channels.values()].find((c) => c.teamId === t.id && c.name === name) : undefined;
  }

  /** The direct-message channel of two users, created on first use (as Mattermost does). */
  directChannelFor(a: FakeMmUser | string, b: FakeMmUser | string): FakeMmChannel {
    const ids = [typeof a === 'string' ? a : a.id, typeof b === 'string' ? b : b.id].sort();
    const name = `${ids[0]}__${ids[1]}`;
    const existing = [...this.channels.values()].find((c) => c.type === 'D' && c.name === name);
    if (existing) return existing;
    const created: FakeMmChannel = { id: newMattermostId(), teamId: '', name, displayName: '', type: 'D', members: new Set(ids), createAt: Date.now() };
    this.channels.set(created.id, created);
    return created;
  }

  /** The other member of a direct-message channel with the bot. */
  directChannelUser(channelId: string): FakeMmUser | undefined {
    const channel = this.channels.get(channelId);
    if (channel?.type !== 'D') return undefined;
    const other = [...channel.members].find((id) => id !== this.bot.id) ?? this.bot.id;
    return this.users.get(other);
  }

  /** Marks a post deleted (Mattermost keeps it, hidden). */
  deletePost(postId: string): this {
    const post = this.posts.find((p) => p.id === postId);
    if (post) post.deleteAt = Date.now();
    return this;
  }

  setRateLimit(limit: { perSecond: number; burst: number } | undefined): this {
    this.rateLimit = limit;
    this.buckets.clear();
    return this;
  }

  /**
   * The next `times` matching calls are refused as Mattermost's rate limiter refuses them:
   * 429, `limit exceeded` in plain text, Retry-After and X-RateLimit-* headers. `path` is the full
   * path, as for fail() (`/api/v4/posts`).
   */
  rateLimitNext(options: { times?: number; retryAfterSeconds?: number; method?: string; path?: string | RegExp } = {}): this {
    const seconds = options.retryAfterSeconds ?? 1;
    return this.fail({
      method: options.method,
      path: options.path,
      times: options.times ?? 1,
      status: 429,
      headers: rateLimitHeaders(10, seconds),
      body: 'limit exceeded\n',
    });
  }

  // ---- inspection -----------------------------------------------------------------------

  post(id: string): FakeMmPost | undefined {
    return this.posts.find((p) => p.id === id);
  }

  /** Live root posts, optionally in one channel, oldest first. */
  rootPosts(channelId?: string): FakeMmPost[] {
    return this.posts.filter((p) => p.rootId === '' && p.deleteAt === 0 && (channelId === undefined || p.channelId === channelId));
  }

  /** Live replies in a thread, oldest first. */
  replies(rootId: string): FakeMmPost[] {
    return this.posts.filter((p) => p.rootId === rootId && p.deleteAt === 0);
  }

  /** Live posts in a channel, oldest first. */
  postsIn(channelId: string): FakeMmPost[] {
    return this.posts.filter((p) => p.channelId === channelId && p.deleteAt === 0);
  }

  /** Live posts whose props name this request (any kind). */
  postsFor(requestId: string): FakeMmPost[] {
    return this.posts.filter((p) => p.deleteAt === 0 && p.props['teleport_request_id'] === requestId);
  }

  /** Resolves once the posts satisfy `predicate` (checked after every post and edit). */
  waitForPosts(predicate: (posts: readonly FakeMmPost[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.posts)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!predicate(this.posts)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.posts.map((p) => `${p.id} in ${p.channelId}${p.rootId ? ` (reply to ${p.rootId})` : ''}: ${p.message.split('\n')[0] ?? ''}`);
        reject(new Error(`fake-mattermost: posts not as expected within ${timeoutMs} ms; posts:\n  ${seen.join('\n  ')}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('post', check);
        this.off('post-updated', check);
      };
      this.on('post', check);
      this.on('post-updated', check);
    });
  }

  /** Recorded calls to one API v4 route: `apiCalls('POST', '/posts')` (path, or RegExp, after /api/v4). */
  apiCalls(method: string, path: string | RegExp): RecordedCall[] {
    return this.calls.filter((c) => {
      if (c.method !== method.toUpperCase() || !c.path.startsWith(API)) return false;
      const rest = c.path.slice(API.length);
      return typeof path === 'string' ? rest === path : path.test(rest);
    });
  }

  /**
   * What the bot posted, for `teleport-plugin demo`: each root post (where, its first line and
   * status), its replies, and the direct messages.
   */
  describe(): string[] {
    const lines: string[] = [];
    const where = (channelId: string): string => {
      const channel = this.channels.get(channelId);
      if (!channel) return channelId;
      if (channel.type === 'D') return `DM with ${this.directChannelUser(channelId)?.email ?? '?'}`;
      return `${this.teams.get(channel.teamId)?.name ?? '?'}/${channel.name}`;
    };
    for (const root of this.rootPosts().filter((p) => p.userId === this.bot.id)) {
      const field = (name: string): string | undefined => new RegExp(`^\\*\\*${name}\\*\\*: (.+)$`, 'm').exec(root.message)?.[1]?.trim();
      const id = field('Request ID');
      const text = id ? `request ${id} by ${field('User') ?? '?'} [${field('Status') ?? '?'}]` : (root.message.split('\n')[0] ?? '');
      lines.push(`Mattermost post in ${where(root.channelId)}: ${text}`);
      if (root.history.length > 0) lines.push(`  edited ${root.history.length} time(s)`);
      for (const reply of this.replies(root.id)) lines.push(`  reply: ${reply.message.split('\n')[0] ?? ''}`);
    }
    return lines.length > 0 ? lines : ['Mattermost: no posts yet'];
  }

  // ---- the API --------------------------------------------------------------------------

  private registerRoutes(): void {
    this.api('GET', '/users/me', (_call, _p, user) => this.ok(this.userJson(user, user), this.etagOf('me', user.id, user.username, user.email)));

    this.api('GET', '/users/email/:email', (_call, p, user) => {
      const email = (p.email ?? '').toLowerCase();
      if (!/^[^\s@]+@[^\s@]+$/.test(email)) return appError(400, 'api.context.invalid_url_param.app_error', 'Invalid or missing email parameter in request URL.');
      if (!this.showEmailAddress && !user.isAdmin) {
        return appError(403, 'api.user.get_user_by_email.permissions.app_error', 'Unable to get user by email.');
      }
      const found = this.userByEmail(email);
      if (!found) return appError(404, 'app.user.missing_account.const', 'Unable to find the user.');
      return this.ok(this.userJson(found, user), this.etagOf('user', found.id, found.username, found.email));
    });

    this.api('POST', '/channels/direct', (call, _p, user) => {
      const ids = call.json;
      if (!Array.isArray(ids) || ids.length !== 2 || !ids.every((id) => typeof id === 'string')) {
        return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing user_ids in request body.');
      }
      if (!ids.includes(user.id) && !user.isAdmin) {
        return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      }
      if (!ids.every((id: string) => this.users.has(id))) {
        return appError(400, 'api.channel.create_direct_channel.invalid_user.app_error', 'Invalid user ID for direct channel creation.');
      }
      return { status: 201, headers: this.headers(), body: this.channelJson(this.directChannelFor(ids[0] as string, ids[1] as string)) };
    });

    this.api('GET', '/teams/name/:team', (_call, p, user) => {
      const team = this.teamByName(p.team ?? '');
      if (!team) return appError(404, 'app.team.get_by_name.missing.app_error', 'Unable to find the existing team.');
      if (team.type !== 'O' && !team.members.has(user.id) && !user.isAdmin) {
        return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      }
      return this.ok(this.teamJson(team));
    });

    this.api('GET', '/teams/name/:team/channels/name/:channel', (_call, p, user) => {
      const team = this.teamByName(p.team ?? '');
      if (!team) return appError(404, 'app.team.get_by_name.missing.app_error', 'Unable to find the existing team.');
      const channel = [...this.channels.values()].find((c) => c.teamId === team.id && c.name === p.channel);
      const missing = (): FakeReply => appError(404, 'app.channel.get_by_name.missing.app_error', 'Channel does not exist.');
      if (!channel) return missing();
      const channelOk = channel.members.has(user.id) || user.isAdmin;
      const teamOk = team.members.has(user.id) || user.isAdmin;
      if (channel.type === 'O') {
        if (!teamOk && !channelOk) return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      } else if (!channelOk) {
        return missing();
      }
      return this.ok(this.channelJson(channel), this.etagOf('channel', channel.id, channel.name, channel.displayName));
    });

    this.api('GET', '/channels/:channel_id/members/:user_id', (_call, p, user) => {
      const channel = this.channels.get(p.channel_id ?? '');
      if (!channel || !this.canRead(channel, user)) return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      if (!channel.members.has(p.user_id ?? '')) return appError(404, 'app.channel.get_member.missing.app_error', 'No channel member found for that user ID and channel ID.');
      return this.ok({
        channel_id: channel.id,
        user_id: p.user_id,
        roles: 'channel_user',
        explicit_roles: '',
        last_viewed_at: 0,
        msg_count: 0,
        mention_count: 0,
        notify_props: { desktop: 'default', email: 'default', mark_unread: 'all', push: 'default' },
        last_update_at: channel.createAt,
        scheme_guest: false,
        scheme_user: true,
        scheme_admin: false,
      });
    });

    this.api('GET', '/channels/:channel_id/posts', (call, p, user) => {
      const channel = this.channels.get(p.channel_id ?? '');
      if (!channel || !this.canRead(channel, user)) return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      const live = this.postsIn(channel.id).sort((a, b) => b.createAt - a.createAt);
      const since = call.query.get('since');
      if (since !== null) {
        const time = Number(since);
        return this.ok(this.postListJson(live.filter((post) => post.updateAt > time).slice(0, 1000), false));
      }
      const page = Math.max(0, Number(call.query.get('page') ?? 0) || 0);
      const perPage = Math.min(200, Math.max(1, Number(call.query.get('per_page') ?? 60) || 60));
      const slice = live.slice(page * perPage, page * perPage + perPage);
      return this.ok(this.postListJson(slice, live.length > (page + 1) * perPage));
    });

    this.api('GET', '/posts/:post_id/thread', (_call, p, user) => {
      const root = this.post(p.post_id ?? '');
      const channel = root ? this.channels.get(root.channelId) : undefined;
      if (!root || root.deleteAt !== 0 || !channel) return appError(404, 'app.post.get.app_error', 'Unable to get the post.');
      if (!this.canRead(channel, user)) return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      const thread = [root, ...this.replies(root.id)].sort((a, b) => b.createAt - a.createAt);
      return this.ok(this.postListJson(thread, false));
    });

    this.api('GET', '/posts/:post_id', (_call, p, user) => {
      const post = this.post(p.post_id ?? '');
      const channel = post ? this.channels.get(post.channelId) : undefined;
      if (!post || post.deleteAt !== 0 || !channel) return appError(404, 'app.post.get.app_error', 'Unable to get the post.');
      if (!this.canRead(channel, user)) return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      return this.ok(this.postJson(post));
    });

    this.api('POST', '/posts', (call, _p, user) => {
      const body = call.json as { channel_id?: unknown; message?: unknown; root_id?: unknown; props?: unknown } | undefined;
      if (!body || typeof body !== 'object' || typeof body.channel_id !== 'string') {
        return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      }
      const channel = this.channels.get(body.channel_id);
      // Mattermost checks the permission first, so a channel that does not exist is a 403 too.
      if (!channel || !this.canPost(channel, user)) {
        return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
      }
      const message = typeof body.message === 'string' ? body.message : '';
      if ([...message].length > this.maxMessageRunes) {
        return appError(400, 'model.post.is_valid.message_length.app_error', `Message length is ${[...message].length} characters, more than the ${this.maxMessageRunes} allowed.`);
      }
      const rootId = typeof body.root_id === 'string' ? body.root_id : '';
      if (rootId) {
        const root = this.post(rootId);
        if (!root || root.deleteAt !== 0 || root.channelId !== channel.id || root.rootId !== '') {
          return appError(400, 'api.post.create_post.root_id.app_error', 'Invalid RootId parameter.');
        }
      }
      if (body.props !== undefined && (body.props === null || typeof body.props !== 'object' || Array.isArray(body.props))) {
        return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      }
      const at = this.nextPostTime();
      const post: FakeMmPost = {
        id: newMattermostId(),
        channelId: channel.id,
        rootId,
        userId: user.id,
        message,
        props: { ...((body.props as Record<string, unknown> | undefined) ?? {}) },
        createAt: at,
        updateAt: at,
        editAt: 0,
        deleteAt: 0,
        history: [],
      };
      this.posts.push(post);
      this.emit('post', post);
      return { status: 201, headers: this.headers(), body: this.postJson(post) };
    });

    // Upstream's update: the whole post is replaced, props included.
    this.api('PUT', '/posts/:post_id', (call, p, user) => {
      const body = call.json as { id?: unknown; message?: unknown; props?: unknown } | undefined;
      if (!body || typeof body !== 'object' || body.id !== p.post_id) {
        return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      }
      return this.edit(p.post_id ?? '', user, 'put', {
        message: typeof body.message === 'string' ? body.message : '',
        props: isRecord(body.props) ? body.props : {},
      });
    });

    this.api('PUT', '/posts/:post_id/patch', (call, p, user) => {
      const body = call.json as { message?: unknown; props?: unknown } | undefined;
      if (!body || typeof body !== 'object') return appError(400, 'api.context.invalid_body_param.app_error', 'Invalid or missing post in request body.');
      const change: { message?: string; props?: Record<string, unknown> } = {};
      if (typeof body.message === 'string') change.message = body.message;
      if (isRecord(body.props)) change.props = body.props;
      return this.edit(p.post_id ?? '', user, 'patch', change);
    });
  }

  private edit(postId: string, user: FakeMmUser, via: 'put' | 'patch', change: { message?: string; props?: Record<string, unknown> }): FakeReply {
    const post = this.post(postId);
    const channel = post ? this.channels.get(post.channelId) : undefined;
    // Mattermost checks edit permission by post first: a missing or deleted post is a 403.
    if (!post || post.deleteAt !== 0 || !channel || !this.canPost(channel, user) || (post.userId !== user.id && !user.isAdmin)) {
      return appError(403, 'api.context.permissions.app_error', 'You do not have the appropriate permissions.');
    }
    if (change.message !== undefined && [...change.message].length > this.maxMessageRunes) {
      return appError(
        400,
        'model.post.is_valid.message_length.app_error',
        `Message length is ${[...change.message].length} characters, more than the ${this.maxMessageRunes} allowed.`,
      );
    }
    if (change.message !== undefined && change.message !== post.message) {
      post.history.push(post.message);
      post.message = change.message;
      post.editAt = Date.now();
    }
    if (change.props !== undefined) post.props = { ...change.props };
    post.updateAt = this.nextPostTime();
    this.updates.push({ postId: post.id, channelId: post.channelId, message: post.message, via, at: Date.now() });
    this.emit('post-updated', post);
    return this.ok(this.postJson(post));
  }

  /** Registers an API v4 route behind Mattermost's rate limiter (when on) and token auth. */
  private api(method: string, path: string, handler: Handler): void {
    this.route(method, API + path, async (call, params) => {
      const limited = this.takeRateLimit(call);
      if (limited) return limited;
      const token = bearerToken(call.headers['authorization']);
      const userId = token === undefined ? undefined : this.tokens.get(token);
      const user = userId === undefined ? undefined : this.users.get(userId);
      if (!user) {
        return appError(401, 'api.context.session_expired.app_error', 'Invalid or expired session, please login again.', token === undefined ? '' : 'token=<redacted>');
      }
      const reply = await handler(call, params, user);
      // c.HandleEtag: the caller's copy is current.
      const etag = reply.headers?.['etag'];
      if (etag !== undefined && (reply.status ?? 200) === 200 && call.headers['if-none-match'] === etag) {
        return { status: 304, headers: { etag, 'x-request-id': newMattermostId(), 'x-version-id': `${FAKE_SERVER_VERSION}.1.0` } };
      }
      return reply;
    });
  }

  private takeRateLimit(call: RecordedCall): FakeReply | undefined {
    const limit = this.rateLimit;
    if (!limit) return undefined;
    const key = bearerToken(call.headers['authorization']) ?? 'anonymous';
    const now = Date.now();
    const bucket = this.buckets.get(key) ?? { tokens: limit.burst, at: now };
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return undefined;
    }
    const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
    return { status: 429, headers: rateLimitHeaders(limit.burst + 1, retryAfter), body: 'limit exceeded\n' };
  }

  private canRead(channel: FakeMmChannel, user: FakeMmUser): boolean {
    if (user.isAdmin || channel.members.has(user.id)) return true;
    return channel.type === 'O' && (this.teams.get(channel.teamId)?.members.has(user.id) ?? false);
  }

  /** Without the post:all / post:channels roles, a bot posts only where it is a member. */
  private canPost(channel: FakeMmChannel, user: FakeMmUser): boolean {
    return user.isAdmin || channel.members.has(user.id);
  }

  private nextPostTime(): number {
    this.lastPostAt = Math.max(Date.now(), this.lastPostAt + 1);
    return this.lastPostAt;
  }

  private mustChannel(id: string): FakeMmChannel {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`fake-mattermost: no channel ${id}`);
    return channel;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'content-type': 'application/json', 'x-request-id': newMattermostId(), 'x-version-id': `${FAKE_SERVER_VERSION}.1.0`, ...extra };
  }

  /** 200 with JSON, with an ETag when given and ETags are on (api() answers 304 to a current copy). */
  private ok(body: unknown, etag?: string): FakeReply {
    if (etag === undefined || !this.etags) return { status: 200, headers: this.headers(), body };
    return { status: 200, headers: this.headers({ etag }), body };
  }

  private etagOf(...parts: string[]): string {
    return `${FAKE_SERVER_VERSION}.${createHash('sha1').update(parts.join('\0')).digest('hex').slice(0, 16)}`;
  }

  private userJson(user: FakeMmUser, viewer: FakeMmUser): Record<string, unknown> {
    const showEmail = viewer.id === user.id || viewer.isAdmin || this.showEmailAddress;
    return {
      id: user.id,
      create_at: user.createAt,
      update_at: user.createAt,
      delete_at: 0,
      username: user.username,
      auth_service: '',
      email: showEmail ? user.email : '',
      nickname: '',
      first_name: '',
      last_name: '',
      position: '',
      roles: user.isAdmin ? 'system_user system_admin' : 'system_user',
      locale: 'en',
      is_bot: user.isBot,
      timezone: { automaticTimezone: '', manualTimezone: '', useAutomaticTimezone: 'true' },
    };
  }

  private teamJson(team: FakeMmTeam): Record<string, unknown> {
    return {
      id: team.id,
      create_at: 0,
      update_at: 0,
      delete_at: 0,
      display_name: team.displayName,
      name: team.name,
      description: '',
      email: '',
      type: team.type,
      company_name: '',
      allowed_domains: '',
      invite_id: '',
      allow_open_invite: team.type === 'O',
      scheme_id: null,
      group_constrained: null,
      policy_id: null,
    };
  }

  private channelJson(channel: FakeMmChannel): Record<string, unknown> {
    const posts = this.postsIn(channel.id);
    const last = posts.at(-1)?.createAt ?? 0;
    const lastRoot = posts.filter((p) => p.rootId === '').at(-1)?.createAt ?? 0;
    return {
      id: channel.id,
      create_at: channel.createAt,
      update_at: channel.createAt,
      delete_at: 0,
      team_id: channel.teamId,
      type: channel.type,
      display_name: channel.displayName,
      name: channel.name,
      header: '',
      purpose: '',
      last_post_at: last,
      last_root_post_at: lastRoot,
      total_msg_count: posts.length,
      total_msg_count_root: posts.filter((p) => p.rootId === '').length,
      extra_update_at: 0,
      creator_id: '',
      scheme_id: null,
      props: null,
      group_constrained: null,
      shared: null,
      policy_id: null,
    };
  }

  private postJson(post: FakeMmPost): Record<string, unknown> {
    const replies = post.rootId === '' ? this.replies(post.id) : [];
    return {
      id: post.id,
      create_at: post.createAt,
      update_at: post.updateAt,
      edit_at: post.editAt,
      delete_at: post.deleteAt,
      is_pinned: false,
      user_id: post.userId,
      channel_id: post.channelId,
      root_id: post.rootId,
      original_id: '',
      message: post.message,
      type: '',
      props: post.props,
      hashtags: '',
      pending_post_id: '',
      reply_count: replies.length,
      last_reply_at: replies.at(-1)?.createAt ?? 0,
      participants: null,
      metadata: {},
    };
  }

  /** A PostList: ids newest first in `order`, the posts by id. */
  private postListJson(posts: readonly FakeMmPost[], hasNext: boolean): Record<string, unknown> {
    const byId: Record<string, unknown> = {};
    for (const p of posts) byId[p.id] = this.postJson(p);
    return { order: posts.map((p) => p.id), posts: byId, next_post_id: '', prev_post_id: '', has_next: hasNext, first_inaccessible_post_time: 0 };
  }
}

/** The token of `Authorization: Bearer <t>` (any case, as Mattermost accepts) or `Token <t>`. */
function bearerToken(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  const m = /^(bearer|token)\s+(.+)$/i.exec(value.trim());
  return m?.[2]?.trim() || undefined;
}

function appError(status: number, id: string, message: string, detailed = ''): FakeReply {
  return {
    status,
    headers: { 'content-type': 'application/json', 'x-request-id': newMattermostId(), 'x-version-id': `${FAKE_SERVER_VERSION}.1.0` },
    body: { id, message, detailed_error: detailed, request_id: newMattermostId(), status_code: status },
  };
}

/** The headers Mattermost's rate limiter sends (X-RateLimit-Reset in seconds from now). */
function rateLimitHeaders(limit: number, retryAfterSeconds: number): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    'x-ratelimit-limit': String(limit),
    'x-ratelimit-remaining': '0',
    'x-ratelimit-reset': String(retryAfterSeconds),
    'retry-after': String(retryAfterSeconds),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
