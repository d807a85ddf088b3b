import {
  PluginError,
  TtlCache,
  followUpText,
  isEmail,
  isPluginError,
  reminderText,
  type AccessListReminder,
  type ChatRecipient,
  type FollowUpNote,
  type Logger,
  type MessageRef,
  type MessagingBot,
  type RequestMessage,
  type Resolution,
  type ReviewReply,
} from '@teleport-plugin/core';
import type { MattermostClient } from './client.js';
import type { PostKind } from './postEffect.js';
import { postText, requesterOutcomeText, reviewReplyText, type PostRenderOptions, type PostView } from './render.js';
import { resolveRecipient } from './resolveRecipient.js';

export interface MattermostBotOptions {
  logger: Logger;
  /** Enterprise web UI base (a link in posts instead of `tsh` commands). */
  webProxyUrl: string | undefined;
  /** DM the requester the outcome (`[mattermost] notify_requester`, default true). */
  notifyRequester: boolean;
  /** The bot's username, for the `/invite @<bot>` hint. */
  botUsername?: string | undefined;
}

/**
 * Mattermost as the messaging kit sees it. Recipients: an email is the direct-message channel
 * between the bot and that user, `team/channel` that channel; a recipient only a person can fix
 * (no such user, team or channel; the bot outside the team) is skipped with a warning saying what
 * to do. Every post carries the request id and which post it is in its props, so after a crash or
 * a lost answer the kit finds it (findPost, findReply, findRequesterNotice) instead of posting
 * twice. Posts are edited in place (message only), so no outcome posts are needed.
 */
export class MattermostBot implements MessagingBot {
  readonly service = 'Mattermost';
  /** Our addition: the requester's DM with the outcome. Absent when `notify_requester = false`. */
  readonly notifyRequester?: (message: RequestMessage, signal?: AbortSignal) => Promise<void>;
  readonly findRequesterNotice?: (message: RequestMessage, signal?: AbortSignal) => Promise<boolean>;

  /**
   * Raw recipient -> channel id, shared by every request: one look-up (user, DM channel, team
   * channel) per recipient every 10 minutes, and a broken recipient is looked at (and warned
   * about) again after a minute, not for every request.
   */
  private readonly channels = new TtlCache<string>({ max: 10_000, ttlMs: 10 * 60_000, negativeTtlMs: 60_000 });
  private readonly requesters = new TtlCache<string>({ max: 10_000, ttlMs: 10 * 60_000, negativeTtlMs: 60_000 });
  private readonly render: PostRenderOptions;
  private readonly logger: Logger;
  private readonly botMention: string;

  constructor(
    private readonly client: MattermostClient,
    options: MattermostBotOptions,
  ) {
    this.logger = options.logger;
    this.render = { webProxyUrl: options.webProxyUrl };
    this.botMention = options.botUsername ? `@${options.botUsername}` : '@<bot>';
    if (options.notifyRequester) {
      this.notifyRequester = (message, signal) => this.sendRequesterNotice(message, signal);
      this.findRequesterNotice = (message, signal) => this.hasRequesterNotice(message, signal);
    }
  }

  async resolveRecipient(raw: string, signal?: AbortSignal): Promise<ChatRecipient | undefined> {
    const channelId = await this.channels.get(raw, async () => {
      const resolved = await resolveRecipient(this.client, raw, signal);
      if (resolved.ok) return resolved.channelId;
      this.logger.warn('Mattermost recipient cannot be used; skipped (the other recipients still get their posts)', { recipient: raw, problem: resolved.problem });
      return undefined;
    });
    return channelId === undefined ? undefined : { id: channelId, label: raw };
  }

  async post(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal): Promise<MessageRef> {
    try {
      const post = await this.client.createPost({ channelId: to.id, message: this.postText(message), requestId: message.id, kind: 'request' }, signal);
      return { channel: post.channelId, id: post.id };
    } catch (err) {
      throw this.refused(err, to);
    }
  }

  async findPost(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal, since?: number): Promise<MessageRef | undefined> {
    // Only posts from a minute before the effect started (clock skew) need reading.
    const found = await this.client.findPost(to.id, { requestId: message.id, kind: 'request', ...(since !== undefined && { since: since - 60_000 }) }, signal);
    return found && { channel: found.channelId, id: found.id };
  }

  async reply(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    await this.client.createPost({ channelId: thread.channel, rootId: thread.id, message: reviewReplyText(reply.review), requestId: message.id, kind: reviewKind(reply) }, signal);
  }

  async findReply(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal): Promise<boolean> {
    return (await this.client.findPost(thread.channel, { requestId: message.id, kind: reviewKind(reply), rootId: thread.id }, signal)) !== undefined;
  }

  async remind(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    await this.client.createPost({ channelId: thread.channel, rootId: thread.id, message: followUpText(note), requestId: message.id, kind: followUpKind(note) }, signal);
  }

  async findReminder(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal): Promise<boolean> {
    return (await this.client.findPost(thread.channel, { requestId: message.id, kind: followUpKind(note), rootId: thread.id }, signal)) !== undefined;
  }

  /** An Access List review reminder in the DM with the owner (Markdown: the title in bold). */
  async remindListOwner(to: ChatRecipient, reminder: AccessListReminder, signal?: AbortSignal): Promise<void> {
    const message = reminderText(reminder, { bold: (s) => `**${s}**` });
    await this.client.createPost({ channelId: to.id, message, requestId: reminder.id, kind: 'access-list-reminder' }, signal);
  }

  async findListOwnerReminder(to: ChatRecipient, reminder: Pick<AccessListReminder, 'id'>, signal?: AbortSignal, since?: number): Promise<boolean> {
    const query = { requestId: reminder.id, kind: 'access-list-reminder' as const, ...(since !== undefined && { since: since - 60_000 }) };
    return (await this.client.findPost(to.id, query, signal)) !== undefined;
  }

  async update(thread: MessageRef, message: RequestMessage, _requesterCopy: boolean, signal?: AbortSignal): Promise<void> {
    await this.client.updatePost(thread.id, thread.channel, this.postText(message), signal);
  }

  private postText(message: RequestMessage): string {
    return postText(viewOf(message), this.render);
  }

  /** A 403 on posting names the recipient as configured, with what to do. */
  private refused(err: unknown, to: ChatRecipient): unknown {
    if (!isPluginError(err, 'ACCESS_DENIED') || err.service?.status !== 403) return err;
    return new PluginError(
      'ACCESS_DENIED',
      `the bot may not post to ${to.label}: add it to that channel (type /invite ${this.botMention} in the channel) and its team, or remove ${to.label} from the config`,
      { cause: err, userFacing: true, service: err.service },
    );
  }

  /** The DM channel with the requester, when their Teleport name is the email of a Mattermost user. */
  private async requesterChannel(user: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    if (!isEmail(user)) {
      this.logger.debug('requester is not an email; not told the outcome in Mattermost', { user });
      return undefined;
    }
    return this.requesters.get(user.toLowerCase(), async () => {
      const resolved = await resolveRecipient(this.client, user, signal);
      if (resolved.ok) return resolved.channelId;
      this.logger.info('requester cannot be told the outcome in Mattermost', { user, problem: resolved.problem });
      return undefined;
    });
  }

  private async sendRequesterNotice(message: RequestMessage, signal?: AbortSignal): Promise<void> {
    const resolution = finalState(message);
    const channelId = resolution && (await this.requesterChannel(message.user, signal));
    if (!resolution || !channelId) return;
    const text = requesterOutcomeText({ requestId: message.id, roles: message.roles, resolution, resolveReason: message.resolveReason }, this.render);
    await this.client.createPost({ channelId, message: text, requestId: message.id, kind: `requester-notice:${resolution}` }, signal);
  }

  private async hasRequesterNotice(message: RequestMessage, signal?: AbortSignal): Promise<boolean> {
    const resolution = finalState(message);
    const channelId = resolution && (await this.requesterChannel(message.user, signal));
    // Nobody to tell: nothing was (or will be) posted.
    if (!resolution || !channelId) return true;
    return (await this.client.findPost(channelId, { requestId: message.id, kind: `requester-notice:${resolution}` }, signal)) !== undefined;
  }
}

function followUpKind(note: FollowUpNote): PostKind {
  return note.kind === 'reminder' ? `reminder:${note.index}` : 'escalation';
}

function reviewKind(reply: ReviewReply): PostKind {
  return `review:${reply.index}`;
}

function finalState(message: RequestMessage): Resolution | undefined {
  return message.status === 'PENDING' ? undefined : message.status;
}

/** What upstream's post template shows of a request. */
export function viewOf(message: RequestMessage): PostView {
  return {
    id: message.id,
    user: message.user,
    roles: message.roles,
    reason: message.reason,
    resolution: message.status === 'PENDING' ? '' : message.status,
    resolveReason: message.resolveReason,
  };
}
