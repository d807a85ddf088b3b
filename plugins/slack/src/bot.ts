import {
  TtlCache,
  isEmail,
  reminderText,
  type AccessListReminder,
  type ChatRecipient,
  type FollowUpNote,
  type MessageRef,
  type MessagingBot,
  type RequestMessage,
  type ReviewReply,
} from '@teleport-plugin/core';
import type { HistoryMessage, MessageTag, SlackClient } from './client.js';
import { followUpReply, messageBlocks, messageFallbackText, requesterUpdateText, reviewReply } from './render.js';

/** Slack ids of channels (C), private channels (G) and DMs (D); users are U or W. */
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;
const USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * Slack as the messaging kit sees it. Recipients: an email is the DM with that Slack user
 * (users.lookupByEmail), anything else a channel name or id, used as given (upstream's rule).
 * Every message carries Slack message metadata naming the request and what the message is, so
 * after a crash or a lost answer the kit can find it in the channel instead of posting again.
 */
export class SlackBot implements MessagingBot {
  readonly service = 'Slack';
  /** email -> Slack user id (users.lookupByEmail is rate limited at ~50/min: one look-up per address, not per request). */
  private readonly users = new TtlCache<string>({ max: 10_000, ttlMs: 10 * 60_000, negativeTtlMs: 60_000 });
  private readonly channels = new TtlCache<string>({ max: 2_000, ttlMs: 10 * 60_000, negativeTtlMs: 60_000 });

  constructor(
    private readonly client: SlackClient,
    private readonly options: { reviewButtons: boolean },
  ) {}

  userIdOf(email: string, signal?: AbortSignal): Promise<string | undefined> {
    return this.users.get(email.toLowerCase(), () => this.client.lookupByEmail(email, signal));
  }

  async resolveRecipient(raw: string, signal?: AbortSignal): Promise<ChatRecipient | undefined> {
    if (!isEmail(raw)) return { id: raw.replace(/^#/, ''), label: raw };
    const id = await this.userIdOf(raw, signal);
    return id ? { id, label: raw } : undefined;
  }

  async resolveRequester(user: string, signal?: AbortSignal): Promise<ChatRecipient | undefined> {
    if (!isEmail(user)) return undefined;
    const id = await this.userIdOf(user, signal);
    return id ? { id, label: user, requester: true } : undefined;
  }

  async post(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal): Promise<MessageRef> {
    const posted = await this.client.postMessage(
      {
        channel: to.id,
        text: messageFallbackText(message),
        blocks: this.blocks(message, to.requester === true),
        tag: { requestId: message.id, kind: 'request' },
      },
      signal,
    );
    return { channel: posted.channel, id: posted.ts };
  }

  async findPost(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal, since?: number): Promise<MessageRef | undefined> {
    const channel = await this.channelIdOf(to.id, signal);
    if (!channel) return undefined;
    const found = (await this.client.history(channel, oldest(since), signal)).find((m) => matches(m.tag, message.id, 'request'));
    return found ? { channel, id: found.ts } : undefined;
  }

  async reply(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    await this.client.postMessage(
      { channel: thread.channel, threadTs: thread.id, text: reviewReply(reply.review), tag: { requestId: message.id, kind: `review:${reply.index}` } },
      signal,
    );
  }

  async findReply(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal): Promise<boolean> {
    const replies = await this.client.replies(thread.channel, thread.id, signal);
    return replies.some((m) => m.ts !== thread.id && matches(m.tag, message.id, `review:${reply.index}`));
  }

  async remind(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    await this.client.postMessage({ channel: thread.channel, threadTs: thread.id, text: followUpReply(note), tag: { requestId: message.id, kind: followUpKind(note) } }, signal);
  }

  async findReminder(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal): Promise<boolean> {
    const replies = await this.client.replies(thread.channel, thread.id, signal);
    return replies.some((m) => m.ts !== thread.id && matches(m.tag, message.id, followUpKind(note)));
  }

  async update(thread: MessageRef, message: RequestMessage, requesterCopy: boolean, signal?: AbortSignal): Promise<void> {
    await this.client.updateMessage({ channel: thread.channel, ts: thread.id, text: messageFallbackText(message), blocks: this.blocks(message, requesterCopy) }, signal);
  }

  async notifyRequester(message: RequestMessage, signal?: AbortSignal): Promise<void> {
    const userId = isEmail(message.user) ? await this.userIdOf(message.user, signal) : undefined;
    if (!userId) return;
    await this.client.postMessage(
      { channel: userId, text: requesterUpdateText(message.id, message.status), tag: { requestId: message.id, kind: `notice:${message.status}` } },
      signal,
    );
  }

  async findRequesterNotice(message: RequestMessage, signal?: AbortSignal, since?: number): Promise<boolean> {
    const userId = isEmail(message.user) ? await this.userIdOf(message.user, signal) : undefined;
    if (!userId) return true;
    const channel = await this.client.openDm(userId, signal);
    return (await this.client.history(channel, oldest(since), signal)).some((m: HistoryMessage) => matches(m.tag, message.id, `notice:${message.status}`));
  }

  /** An Access List review reminder in the owner's DM: the Go plugin's text, one section block, tagged with the reminder's id. */
  async remindListOwner(to: ChatRecipient, reminder: AccessListReminder, signal?: AbortSignal): Promise<void> {
    const text = listReminderText(reminder);
    await this.client.postMessage(
      { channel: to.id, text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text } }], tag: { requestId: reminder.id, kind: LIST_REMINDER_KIND } },
      signal,
    );
  }

  async findListOwnerReminder(to: ChatRecipient, reminder: Pick<AccessListReminder, 'id'>, signal?: AbortSignal, since?: number): Promise<boolean> {
    const channel = await this.channelIdOf(to.id, signal);
    if (!channel) return false;
    return (await this.client.history(channel, oldest(since), signal)).some((m) => matches(m.tag, reminder.id, LIST_REMINDER_KIND));
  }

  private blocks(message: RequestMessage, requesterCopy: boolean): ReturnType<typeof messageBlocks> {
    // Long-term access is refused from Slack (as upstream), so such messages get no buttons, and
    // nobody reviews their own request.
    return messageBlocks(message, { withButtons: this.options.reviewButtons && !requesterCopy && !message.longTerm });
  }

  /** A channel id for history: ids as they are, users by their DM, names by listing channels. */
  private async channelIdOf(address: string, signal?: AbortSignal): Promise<string | undefined> {
    if (CHANNEL_ID.test(address)) return address;
    if (USER_ID.test(address)) return this.client.openDm(address, signal);
    const name = address.replace(/^#/, '');
    return this.channels.get(name, async () => (await this.client.listConversations(signal)).find((c) => c.name === name)?.id);
  }
}

/** Metadata kind of an Access List review reminder (its request_id is the reminder's id). */
const LIST_REMINDER_KIND = 'access_list_reminder';
/** A section block's text limit. */
const SECTION_LIMIT = 3000;

function listReminderText(reminder: AccessListReminder): string {
  const text = reminderText(reminder, { bold: (s) => `*${s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}*` });
  return text.length <= SECTION_LIMIT ? text : `${text.slice(0, SECTION_LIMIT - ' (truncated)'.length)} (truncated)`;
}

/** Slack's `oldest` (unix seconds): a minute before the effect started, for clock skew; 0 = everything. */
function oldest(since: number | undefined): number {
  return since === undefined ? 0 : Math.max(0, Math.floor((since - 60_000) / 1000));
}

/** Metadata kind of a follow-up reply: `reminder:<n>` or `escalation`. */
function followUpKind(note: FollowUpNote): string {
  return note.kind === 'reminder' ? `reminder:${note.index}` : 'escalation';
}

function matches(tag: MessageTag | undefined, requestId: string, kind: string): boolean {
  return tag !== undefined && tag.requestId === requestId && tag.kind === kind;
}
