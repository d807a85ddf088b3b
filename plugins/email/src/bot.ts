import { sleep } from '@teleport-plugin/core';
import { followUpText } from '@teleport-plugin/core';
import type { AccessListReminder, ChatRecipient, FollowUpNote, Logger, MessageRef, MessagingBot, RequestMessage, ReviewReply } from '@teleport-plugin/core';
import { isEmail } from './address.js';
import type { Mailer, OutgoingMail } from './client.js';
import { mailMessageId, reviewKind } from './messageId.js';
import type { MailKind } from './messageId.js';
import { isEncodableThread, threadTimestamp } from './pluginData.js';
import { accessListReminderMail, followUpMail, newRequestMail, requesterOutcomeMail, resolutionMail, reviewReplyMail } from './render.js';
import type { MailCluster, MailRequestFields, MailResolution, RenderedMail } from './render.js';

export interface EmailBotOptions {
  /** Right-hand side of every Message-ID (the sender's domain). */
  domain: string;
  /** Add an HTML part next to the plain text. */
  html: boolean;
  logger: Logger;
  /**
   * Mailgun's events show a mail within seconds, not at once: after "not found", ask again after
   * each of these waits before the kit sends the mail again (default 2 s, then 5 s).
   */
  findRetryDelaysMs?: readonly number[] | undefined;
  now?: (() => Date) | undefined;
}

const DEFAULT_FIND_RETRY_DELAYS_MS = [2_000, 5_000];

/**
 * Email as the messaging kit sees it. One mail per recipient starts a thread; every later mail of
 * the request (a review, the outcome) is a reply in it: `In-Reply-To` and `References` name the
 * first mail's Message-ID. Mail cannot be edited, so there is no `update`: the outcome is one
 * more mail per thread (`postOutcome`), and the requester gets one of their own
 * (`notifyRequester`).
 *
 * Every Message-ID is deterministic (request, kind, recipient), so a mail sent again after a crash
 * threads with the first copy and receivers that de-duplicate by Message-ID drop it. Where the
 * service can be asked (Mailgun's events), the `find*` verbs ask whether a mail with that id was
 * accepted, so nothing is sent twice; over SMTP they are absent and the kit re-sends (at least
 * once, see the README).
 */
export class EmailBot implements MessagingBot {
  readonly service: string;
  readonly findPost?: (to: ChatRecipient, message: RequestMessage, signal?: AbortSignal) => Promise<MessageRef | undefined>;
  readonly findReply?: (thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal) => Promise<boolean>;
  readonly findOutcome?: (thread: MessageRef, message: RequestMessage, signal?: AbortSignal) => Promise<boolean>;
  readonly findRequesterNotice?: (message: RequestMessage, signal?: AbortSignal) => Promise<boolean>;
  readonly findReminder?: (thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal) => Promise<boolean>;
  readonly findListOwnerReminder?: (to: ChatRecipient, reminder: Pick<AccessListReminder, 'id' | 'owner'>, signal?: AbortSignal) => Promise<boolean>;
  private readonly now: () => Date;
  private readonly findRetryDelaysMs: readonly number[];

  constructor(
    private readonly mailer: Mailer,
    private readonly options: EmailBotOptions,
  ) {
    this.service = `email (${mailer.service})`;
    this.now = options.now ?? (() => new Date());
    this.findRetryDelaysMs = options.findRetryDelaysMs ?? DEFAULT_FIND_RETRY_DELAYS_MS;
    if (mailer.canFindSent) {
      this.findPost = async (to, message, signal) => {
        const id = this.idOf(message.id, 'first', to.id);
        return (await this.wasSent(id, signal)) ? { channel: to.id, id, extra: threadTimestamp(this.now()) } : undefined;
      };
      this.findReply = (thread, reply, message, signal) => this.wasSent(this.idOf(message.id, reviewKind(reply.index + 1), thread.channel), signal);
      this.findOutcome = (thread, message, signal) => this.wasSent(this.idOf(message.id, 'outcome', thread.channel), signal);
      this.findReminder = (thread, note, message, signal) => this.wasSent(this.idOf(message.id, followUpKind(note), thread.channel), signal);
      this.findRequesterNotice = async (message, signal) => !isEmail(message.user) || (await this.wasSent(this.idOf(message.id, 'requester', message.user), signal));
      this.findListOwnerReminder = (to, reminder, signal) => this.wasSent(this.idOf(reminder.id, 'access-list-reminder', to.id), signal);
    }
  }

  /**
   * A configured address (already validated) or a suggested reviewer. Addresses with `/` or `,`
   * are legal but cannot be stored in the Go plugin's `email_threads` layout (its separators), so
   * they get no thread.
   */
  async resolveRecipient(raw: string): Promise<ChatRecipient | undefined> {
    const address = raw.trim();
    if (!isEmail(address)) {
      this.options.logger.warn('not an email address; no mail sent to it', { recipient: raw });
      return undefined;
    }
    if (!isEncodableThread({ email: address, timestamp: '', messageId: '' })) {
      this.options.logger.warn('addresses with "/" or "," cannot be kept in the Go plugin data layout; no mail sent to it', { recipient: address });
      return undefined;
    }
    return { id: address, label: address };
  }

  async post(to: ChatRecipient, message: RequestMessage, signal?: AbortSignal): Promise<MessageRef> {
    const messageId = this.idOf(message.id, 'first', to.id);
    const rendered = newRequestMail(fields(message), cluster(message), { html: this.options.html, resolution: resolutionOf(message) });
    const sent = await this.send(to.id, rendered, { messageId, requestId: message.id }, signal);
    return { channel: to.id, id: sent, extra: threadTimestamp(this.now()) };
  }

  async reply(thread: MessageRef, reply: ReviewReply, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    const messageId = this.idOf(message.id, reviewKind(reply.index + 1), thread.channel);
    const rendered = reviewReplyMail(message.id, reply.review, cluster(message), { html: this.options.html, now: this.now });
    await this.send(thread.channel, rendered, { messageId, requestId: message.id, ...inThread(thread) }, signal);
  }

  /** A reminder or an escalation note, as a reply in the recipient's thread. */
  async remind(thread: MessageRef, note: FollowUpNote, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    const messageId = this.idOf(message.id, followUpKind(note), thread.channel);
    const rendered = followUpMail(message.clusterName, message.id, followUpText(note), this.options.html);
    await this.send(thread.channel, rendered, { messageId, requestId: message.id, ...inThread(thread) }, signal);
  }

  async postOutcome(thread: MessageRef, message: RequestMessage, signal?: AbortSignal): Promise<void> {
    const resolution = resolutionOf(message);
    if (!resolution) return;
    const messageId = this.idOf(message.id, 'outcome', thread.channel);
    const rendered = resolutionMail(fields(message), cluster(message), resolution, { html: this.options.html });
    await this.send(thread.channel, rendered, { messageId, requestId: message.id, ...inThread(thread) }, signal);
  }

  /** The requester's own mail about the outcome, when their Teleport username is an address. */
  async notifyRequester(message: RequestMessage, signal?: AbortSignal): Promise<void> {
    const resolution = resolutionOf(message);
    if (!resolution) return;
    if (!isEmail(message.user)) {
      this.options.logger.debug('requester is not an email address; no outcome mail', { requestId: message.id, user: message.user });
      return;
    }
    const messageId = this.idOf(message.id, 'requester', message.user);
    const rendered = requesterOutcomeMail(fields(message), cluster(message), resolution, { html: this.options.html });
    await this.send(message.user, rendered, { messageId, requestId: message.id }, signal);
  }

  /**
   * An Access List review reminder to one owner. Its Message-ID comes from the reminder's id, so
   * the same reminder sent again after a crash is the same mail to receivers that de-duplicate.
   */
  async remindListOwner(to: ChatRecipient, reminder: AccessListReminder, signal?: AbortSignal): Promise<void> {
    const messageId = this.idOf(reminder.id, 'access-list-reminder', to.id);
    await this.send(to.id, accessListReminderMail(reminder, this.options.html), { messageId }, signal);
  }

  private idOf(requestId: string, kind: MailKind, recipient: string): string {
    return mailMessageId({ requestId, kind, recipient, domain: this.options.domain });
  }

  private async send(
    to: string,
    rendered: RenderedMail,
    headers: Pick<OutgoingMail, 'messageId' | 'inReplyTo' | 'references' | 'requestId'>,
    signal?: AbortSignal,
  ): Promise<string> {
    const sent = await this.mailer.send({ to, subject: rendered.subject, text: rendered.text, html: rendered.html, ...headers }, signal);
    return sent.messageId;
  }

  /** Whether the service accepted a mail with this id, asking again after short waits (events lag). */
  private async wasSent(messageId: string, signal?: AbortSignal): Promise<boolean> {
    for (let i = 0; ; i += 1) {
      if ((await this.mailer.findSent(messageId, signal)) === true) return true;
      const wait = this.findRetryDelaysMs[i];
      if (wait === undefined) return false;
      await sleep(wait, signal);
    }
  }
}

function followUpKind(note: FollowUpNote): MailKind {
  return note.kind === 'reminder' ? `reminder-${note.index}` : 'escalation';
}

/** Thread headers for a reply; a legacy Go thread has no Message-ID to refer to. */
function inThread(thread: MessageRef): Pick<OutgoingMail, 'inReplyTo' | 'references'> {
  return thread.id === '' ? {} : { inReplyTo: thread.id, references: [thread.id] };
}

function fields(message: RequestMessage): MailRequestFields {
  return { id: message.id, user: message.user, roles: message.roles, requestReason: message.reason };
}

function cluster(message: RequestMessage): MailCluster {
  return { clusterName: message.clusterName, webLink: message.link };
}

function resolutionOf(message: RequestMessage): MailResolution | undefined {
  return message.status === 'PENDING' ? undefined : { tag: message.status, reason: message.resolveReason };
}
