import type { AccessListReminder } from '../accesslists/reminderText.js';
import type { FollowUpNote } from '../routing/types.js';
import type { AccessReview } from '../teleport/types.js';
import type { MessageRef } from './messageLayout.js';
import type { RequestMessage } from './requestMessage.js';

/** Where a request message goes, once a raw recipient from the config is resolved. */
export interface ChatRecipient {
  /** Stable identity of the destination (a channel id or name, a user id, an address): names its effect. */
  readonly id: string;
  /** The raw recipient it came from, for logs. */
  readonly label: string;
  /** The requester's own copy (never with review buttons). */
  readonly requester?: boolean;
}

/** One review, as a reply in every thread. `index` is its position among the request's reviews. */
export interface ReviewReply {
  index: number;
  review: AccessReview;
}

/**
 * What a chat or mail adapter does for the messaging kit. The kit owns everything else:
 * recipients, the plugin-data layout, write-ahead records, retries, re-rendering, the requester's
 * outcome notice. Every verb may throw a PluginError with service facts (core's outbound policy):
 * a refusal that retrying cannot fix (a missing channel) skips that recipient; anything retryable
 * fails the step so it is tried again; an unknown outcome is settled by the `find` verbs.
 *
 * Each `find*` verb answers "did this already happen?" for a verb that is not idempotent; it is
 * called only after a crash or an ambiguous failure, with `since` (ms since the epoch) = when the
 * effect was started, so only what is newer needs searching. Without it, the effect is not
 * repeated (at most once) unless the adapter says repeating is harmless.
 */
export interface MessagingBot {
  /** `Slack`, `Mattermost`, `email`: for logs. */
  readonly service: string;
  /** A raw recipient from the config (channel, email, team/channel); undefined when it does not exist (logged, skipped). */
  resolveRecipient(raw: string, signal?: AbortSignal): Promise<ChatRecipient | undefined>;
  /** The requester as a recipient of their own request message (Slack sends them a copy). */
  resolveRequester?(user: string, signal?: AbortSignal): Promise<ChatRecipient | undefined>;
  post(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal): Promise<MessageRef>;
  findPost?(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal, since?: number): Promise<MessageRef | undefined>;
  /** One review as a reply in one thread. */
  reply(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal): Promise<void>;
  findReply?(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal, since?: number): Promise<boolean>;
  /**
   * Re-render a posted message (repeatable). `requesterCopy`: the message is the requester's own
   * copy (render it without review buttons). Absent for media that cannot be edited (mail).
   */
  update?(thread: MessageRef, message: RequestMessage, requesterCopy: boolean, signal?: AbortSignal): Promise<void>;
  /** Media that cannot be edited: the final state as one more message in each thread. */
  postOutcome?(thread: MessageRef, message: RequestMessage, signal?: AbortSignal): Promise<void>;
  findOutcome?(thread: MessageRef, message: RequestMessage, signal?: AbortSignal, since?: number): Promise<boolean>;
  /**
   * A reminder or an escalation note as a reply in one thread (`[reminders]`). Without it the kit
   * sends no reminders for this service (escalation still posts to the new recipients).
   */
  remind?(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal): Promise<void>;
  findReminder?(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal, since?: number): Promise<boolean>;
  /** Tell the requester the final state (APPROVED, DENIED, EXPIRED), once. */
  notifyRequester?(message: RequestMessage, signal?: AbortSignal): Promise<void>;
  findRequesterNotice?(message: RequestMessage, signal?: AbortSignal, since?: number): Promise<boolean>;
  /**
   * An Access List review reminder to one owner (resolved with resolveRecipient from their user
   * name, an email address). Without it the adapter sends no such reminders.
   */
  remindListOwner?(to: ChatRecipient, reminder: AccessListReminder, signal?: AbortSignal): Promise<void>;
  /** Whether the reminder with `reminder.id` reached `to` since `since` (ms). */
  findListOwnerReminder?(to: ChatRecipient, reminder: Pick<AccessListReminder, 'id' | 'owner'>, signal?: AbortSignal, since?: number): Promise<boolean>;
}
