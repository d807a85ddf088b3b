import type { AdapterContext, AdapterHandlers, EventContext } from '../adapter.js';
import { PluginError, affectsEveryCall, errorMessage, isPluginError, isRetryable } from '../errors.js';
import { healthTracker } from '../adapterHealth.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest, PluginData } from '../teleport/types.js';
import type { ChatRecipient, MessagingBot } from './bot.js';
import type { AccessListReminderSender, ReminderDestination } from '../accesslists/reminderJob.js';
import type { AccessListReminder } from '../accesslists/reminderText.js';
import { LoginsByRole } from './loginsByRole.js';
import { goMessagesLayout, type MessageLayout, type MessageRef } from './messageLayout.js';
import { isEmail, rawRecipients } from './recipients.js';
import { silentLogger } from '../log/create-logger.js';
import { followUpNote, type FollowUpStep } from '../routing/types.js';
import { LOGINS_BY_ROLE_KEY, messageFromData, messageFromRequest, parseLoginsByRole, type RequestMessage } from './requestMessage.js';

export interface MessagingOptions {
  /** role -> recipients (`*` is the fallback), as the adapter's config holds it. */
  roleToRecipients: Readonly<Record<string, readonly string[]>>;
  /** Where message references live in plugin data (default: the Go chat plugins' `messages`). */
  layout?: MessageLayout;
  /** Show the logins each role grants (reads users and roles; degrades without permission). Default true. */
  loginsByRole?: boolean;
  /**
   * Repeating a post whose outcome is unknown, when the service cannot be asked, is harmless
   * (a mail with a fixed Message-ID the receiver de-duplicates). Default false: not repeated.
   */
  redoUnknown?: boolean;
}

type MessagingHandlers = Required<Pick<AdapterHandlers, 'onPending' | 'onReviewed' | 'onResolved' | 'onExpired' | 'onFollowUp'>> & Pick<AdapterHandlers, 'accessListReminders'>;

/** A step's failures per destination: permanent ones are logged and skipped, the rest retried. */
interface Failure {
  label: string;
  what: string;
  err: unknown;
}

/**
 * The handlers of a chat or mail adapter, built from its bot (see MessagingBot):
 *
 * - announce: one message per recipient (role_to_recipients with `*`, valid suggested reviewers,
 *   the requester's copy when the bot offers one), each posted at most once, exactly once where the
 *   bot can find its posts again; message references kept in the Go layout;
 * - reviews: one reply per review in every thread, in order; then every message re-rendered while
 *   the request is pending (editable media);
 * - resolution and expiry: every message re-rendered to its final state (or, for media that
 *   cannot be edited, one outcome message per thread), and the requester told the outcome once.
 *
 * A destination that refuses for good (a deleted channel) is logged and skipped without holding up
 * the others; anything retryable fails the step, which is then retried for the rest only.
 */
export function messagingHandlers(ctx: AdapterContext<unknown>, bot: MessagingBot, options: MessagingOptions): MessagingHandlers {
  const layout = options.layout ?? goMessagesLayout;
  const logins = options.loginsByRole === false ? undefined : new LoginsByRole(ctx.teleport);
  const health = healthTracker(ctx);
  const unknownPolicy = options.redoUnknown ? ('redo' as const) : ('skip' as const);
  // Routing falls back to this (and dedupes people across adapters with it).
  ctx.routing?.declareRecipients({ static: (request) => rawRecipients(request, options.roleToRecipients, silentLogger), people: true });

  /** Runs one effect per destination in parallel; permanent failures logged, retryable ones rethrown together. */
  async function each<T>(items: readonly T[], label: (item: T) => string, what: string, work: (item: T) => Promise<void>, logger: Logger): Promise<void> {
    const failures: Failure[] = [];
    await Promise.all(
      items.map(async (item) => {
        try {
          await work(item);
          health.ok();
        } catch (err) {
          failures.push({ label: label(item), what, err });
        }
      }),
    );
    settle(failures, logger);
  }

  function settle(failures: readonly Failure[], logger: Logger): void {
    let retry: Failure | undefined;
    for (const f of failures) {
      health.failed(f.err);
      // A refused token breaks every destination alike: keep the work for when it is replaced.
      if (isPluginError(f.err, 'BUSY') || isRetryable(f.err) || affectsEveryCall(f.err)) {
        logger.warn(`${bot.service}: could not ${f.what}; will retry`, { recipient: f.label, error: errorMessage(f.err) });
        retry ??= f;
      } else {
        logger.error(`${bot.service}: could not ${f.what}; skipped`, { recipient: f.label, error: errorMessage(f.err) });
      }
    }
    if (retry) {
      throw new PluginError(isPluginError(retry.err, 'BUSY') ? 'BUSY' : 'SERVICE_ERROR', `${bot.service}: could not ${retry.what} ${retry.label}: ${errorMessage(retry.err)}`, {
        cause: retry.err,
      });
    }
  }

  /** Raw recipients: from Access Monitoring Rules when one names this adapter and matches, else the static config. */
  async function rawFor(request: AccessRequest, ev: EventContext): Promise<string[]> {
    if (!ctx.routing) return rawRecipients(request, options.roleToRecipients, ev.logger);
    const plan = await ctx.routing.recipients(request, ev.signal);
    if (plan.source === 'static') {
      for (const reviewer of request.suggestedReviewers) if (!isEmail(reviewer)) ev.logger.warn('suggested reviewer is not an email address; skipped', { reviewer });
    }
    ev.logger.debug('recipients', {
      source: plan.source,
      why: plan.why,
      recipients: plan.recipients.join(','),
      ...(plan.dropped.length > 0 ? { leftOut: plan.dropped.map((d) => `${d.recipient} (${d.reason})`).join(',') } : {}),
    });
    return plan.recipients;
  }

  async function recipients(request: AccessRequest, ev: EventContext): Promise<ChatRecipient[]> {
    const raw = await rawFor(request, ev);
    const found = await resolveAll(raw, ev);
    if (bot.resolveRequester) {
      const me = await bot.resolveRequester(request.user, ev.signal);
      // The requester sees the message too, but never as a reviewer (no buttons).
      if (me) found.set(me.id, { ...me, requester: true });
    }
    // Stable order (config order, requester last) keeps effect names and logs predictable.
    return [...found.values()];
  }

  async function resolveAll(raw: readonly string[], ev: EventContext): Promise<Map<string, ChatRecipient>> {
    const found = new Map<string, ChatRecipient>();
    const failures: Failure[] = [];
    await Promise.all(
      raw.map(async (r) => {
        try {
          const to = await bot.resolveRecipient(r, ev.signal);
          if (to) found.set(to.id, found.get(to.id) ?? to);
          else ev.logger.warn(`${bot.service}: recipient not found; skipped`, { recipient: r });
        } catch (err) {
          failures.push({ label: r, what: 'resolve recipient', err });
        }
      }),
    );
    settle(failures, ev.logger);
    return found;
  }

  /** The references of messages this adapter has posted for the request (ours or a Go plugin's). */
  const refsOf = (data: PluginData | undefined): MessageRef[] => layout.refs(data);

  async function announce(request: AccessRequest, ev: EventContext): Promise<void> {
    const data = ev.data;
    if (refsOf(data).length > 0 && !hasPostRecords(data)) {
      ev.logger.debug('messages already posted (by a Go plugin); not posting again');
      return;
    }
    const targets = await recipients(request, ev);
    if (targets.length === 0) {
      ev.logger.warn('No channel to post: no recipient resolved for this request (check role_to_recipients)');
      return;
    }
    const known = parseLoginsByRole(data);
    const loginsByRole = known ?? (data?.[LOGINS_BY_ROLE_KEY] === undefined ? await logins?.of(request, ev.logger, ev.signal) : undefined);
    const message = messageFromRequest(request, ctx.cluster, loginsByRole);
    await postAll(targets, message, loginsByRole, ev);
  }

  /** The request message to each target, at most once each (`post/<id>`), refs kept in the layout. */
  async function postAll(targets: readonly ChatRecipient[], message: RequestMessage, loginsByRole: Record<string, string[]> | undefined, ev: EventContext): Promise<void> {
    const record = (d: PluginData, result: string): PluginData => {
      const ref = layout.decode(result);
      let next = ref ? layout.withRef(d, ref) : d;
      // Kept so the message can be rebuilt as it was after the request is gone.
      if (loginsByRole && next[LOGINS_BY_ROLE_KEY] === undefined) next = { ...next, [LOGINS_BY_ROLE_KEY]: JSON.stringify(loginsByRole) };
      // Posted already showing the outcome (an automatic review decided it first).
      if (message.status !== 'PENDING' && next[POSTED_DECIDED_KEY] === undefined && ctx.routing?.decidedOnArrival(message.id, d)) {
        next = { ...next, [POSTED_DECIDED_KEY]: message.status };
      }
      return next;
    };
    await each(
      targets,
      (t) => t.label,
      'post the request message to',
      async (to) => {
        await ev.once(postEffect(to), async (signal) => layout.encode(await bot.post(to, message, signal)), {
          ifUnknown: unknownPolicy,
          record,
          ...(bot.findPost && {
            find: async (signal, since) => {
              const ref = await bot.findPost!(to, message, signal, since);
              return ref && layout.encode(ref);
            },
          }),
        });
      },
      ev.logger,
    );
  }

  async function replies(request: AccessRequest, added: readonly AccessRequest['reviews'][number][], ev: EventContext): Promise<void> {
    const refs = refsOf(ev.data);
    if (refs.length === 0) {
      ev.logger.debug('no messages for this request; reviews not posted');
      return;
    }
    if (ev.data?.[POSTED_DECIDED_KEY]) {
      // The messages went out already decided and say so (status, resolution reason): replying the
      // review that decided it would only repeat them.
      ev.logger.debug('messages were posted already decided; reviews not replied');
      return;
    }
    const first = request.reviews.length - added.length;
    const message = messageFromRequest(request, ctx.cluster, parseLoginsByRole(ev.data));
    // Threads in parallel; within a thread, reviews in order, and a thread that failed gets no
    // later reply until a retry resumes it.
    await each(
      refs,
      (ref) => layout.encode(ref),
      'post a review reply in',
      async (thread) => {
        for (const [k, review] of added.entries()) {
          const reply = { index: first + k, review };
          await ev.once(`reply/${reply.index}/${layout.encode(thread)}`, (signal) => bot.reply(thread, reply, message, signal), {
            ifUnknown: unknownPolicy,
            ...(bot.findReply && { find: async (signal, since) => ((await bot.findReply!(thread, reply, message, signal, since)) ? 'found' : undefined) }),
          });
        }
      },
      ev.logger,
    );
    if (message.status === 'PENDING' && bot.update) await rerenderPending(request, refs, ev);
  }

  /**
   * Re-render after reviews, from the request as Teleport holds it now: this event's copy may be
   * old (a retry, a replica that was kept waiting), and a pending render landing after the final
   * one would leave the message stale. Once the request is resolved the resolution step renders.
   */
  async function rerenderPending(request: AccessRequest, refs: readonly MessageRef[], ev: EventContext): Promise<void> {
    if ((ev.data?.resolution ?? '') !== '') return;
    const current = await ctx.teleport.getRequest(request.id, ev.signal).catch((err: unknown) => {
      ev.logger.debug('could not re-read the request before re-rendering; using the event', { error: errorMessage(err) });
      return request;
    });
    if (!current || current.state !== 'PENDING') return;
    await rerender(refs, messageFromRequest(current, ctx.cluster, parseLoginsByRole(ev.data)), ev);
    // Decided while that render was on its way (a rate-limit wait can hold it for seconds): the
    // final render, by this or another instance, may have landed before it. Rendered again from
    // what Teleport holds now, the outcome is what stays; the resolution step repeats it anyway.
    const after = await ctx.teleport.getRequest(request.id, ev.signal).catch(() => current);
    if (after?.state === 'PENDING') return;
    ev.logger.debug('decided while the pending render was sent; rendering the outcome', { state: after?.state ?? 'EXPIRED' });
    await rerender(refs, after ? messageFromRequest(after, ctx.cluster, parseLoginsByRole(ev.data)) : messageFromData(request.id, ev.data, ctx.cluster, 'EXPIRED'), ev);
  }

  async function rerender(refs: readonly MessageRef[], message: RequestMessage, ev: EventContext): Promise<void> {
    const update = bot.update!.bind(bot);
    const requesterCopies = requesterRefs(ev.data);
    await each(
      refs,
      (ref) => layout.encode(ref),
      'update the message in',
      (ref) => update(ref, message, requesterCopies.has(layout.encode(ref)), ev.signal),
      ev.logger,
    );
  }

  async function finish(message: RequestMessage, ev: EventContext): Promise<void> {
    const refs = refsOf(ev.data);
    if (refs.length === 0) ev.logger.debug('no messages to update for this request');
    if (bot.update) {
      await rerender(refs, message, ev);
    } else if (bot.postOutcome && ev.data?.[POSTED_DECIDED_KEY] === message.status) {
      ev.logger.debug('messages were posted already showing the outcome; no outcome message');
    } else if (bot.postOutcome) {
      const postOutcome = bot.postOutcome.bind(bot);
      await each(
        refs,
        (ref) => layout.encode(ref),
        'send the outcome in',
        async (thread) => {
          await ev.once(`outcome/${layout.encode(thread)}`, (signal) => postOutcome(thread, message, signal), {
            ifUnknown: unknownPolicy,
            ...(bot.findOutcome && { find: async (signal, since) => ((await bot.findOutcome!(thread, message, signal, since)) ? 'found' : undefined) }),
          });
        },
        ev.logger,
      );
    }
    if (bot.notifyRequester && (message.status === 'APPROVED' || message.status === 'DENIED' || message.status === 'EXPIRED')) {
      const notify = bot.notifyRequester.bind(bot);
      await each(
        [message.user],
        (user) => user,
        'tell the requester the outcome',
        async () => {
          await ev.once(`notice/${message.status}`, (signal) => notify(message, signal), {
            ifUnknown: unknownPolicy,
            ...(bot.findRequesterNotice && { find: async (signal, since) => ((await bot.findRequesterNotice!(message, signal, since)) ? 'found' : undefined) }),
          });
        },
        ev.logger,
      );
    }
  }

  /**
   * A reminder or an escalation (`[reminders]`): a note in every thread (not the requester's own
   * copy), and for an escalation the request message to the new recipients, each at most once.
   */
  async function followUp(request: AccessRequest, step: FollowUpStep, ev: EventContext): Promise<void> {
    const requesterCopies = requesterRefs(ev.data);
    const threads = refsOf(ev.data).filter((ref) => !requesterCopies.has(layout.encode(ref)));
    const message = messageFromRequest(request, ctx.cluster, parseLoginsByRole(ev.data));
    const note = followUpNote(request.id, step);
    const remind = bot.remind?.bind(bot);
    if (!remind) {
      if (step.kind === 'reminder') ev.logger.debug(`${bot.service} cannot post reminders; skipped`);
    } else if (threads.length === 0) {
      ev.logger.debug('no messages for this request; no reminder posted');
    } else {
      await each(
        threads,
        (ref) => layout.encode(ref),
        step.kind === 'reminder' ? 'post a reminder in' : 'post the escalation note in',
        async (thread) => {
          await ev.once(`${step.id}/${layout.encode(thread)}`, (signal) => remind(thread, note, message, signal), {
            ifUnknown: unknownPolicy,
            ...(bot.findReminder && { find: async (signal, since) => ((await bot.findReminder!(thread, note, message, signal, since)) ? 'found' : undefined) }),
          });
        },
        ev.logger,
      );
    }
    if (step.kind === 'escalation') {
      const me = request.user.toLowerCase();
      const raw = step.recipients.filter((r) => r.toLowerCase() !== me);
      const targets = [...(await resolveAll(raw, ev)).values()];
      if (targets.length === 0) {
        ev.logger.warn('Escalation: none of the escalation recipients could be resolved', { recipients: step.recipients.join(',') });
        return;
      }
      await postAll(targets, message, parseLoginsByRole(ev.data), ev);
      ev.logger.info('Escalated: request message posted to the escalation recipients', { recipients: targets.map((t) => t.label).join(',') });
    }
  }

  return {
    onFollowUp: (request, step, ev) => followUp(request, step, ev),
    onPending: (request, ev) => announce(request, ev),
    onReviewed: (request, added, ev) => replies(request, added, ev),
    onResolved: (request, ev) => finish(messageFromRequest(request, ctx.cluster, parseLoginsByRole(ev.data)), ev),
    onExpired: (requestId, ev) => finish(messageFromData(requestId, ev.data, ctx.cluster, 'EXPIRED'), ev),
    ...(bot.remindListOwner ? { accessListReminders: listOwnerReminders(bot, options.redoUnknown === true) } : {}),
  };
}

/**
 * Access List review reminders through a bot: an owner whose user name is an email address is
 * reached as that person (the Go Slack plugin's rule); other names are not guessed at.
 */
function listOwnerReminders(bot: MessagingBot, repeatable: boolean): AccessListReminderSender {
  const remind = bot.remindListOwner!.bind(bot);
  const find = bot.findListOwnerReminder?.bind(bot);
  return {
    resolveOwner: async (owner, signal) => (isEmail(owner) ? bot.resolveRecipient(owner, signal) : undefined),
    send: (to, reminder, signal) => remind(to as ChatRecipient, reminder, signal),
    repeatable,
    ...(find
      ? {
          find: (to: ReminderDestination, reminder: Pick<AccessListReminder, 'id' | 'owner'>, signal?: AbortSignal, since?: number) =>
            find(to as ChatRecipient, reminder, signal, since),
        }
      : {}),
  };
}

/** Set (to the state) when the request messages were posted already decided: no review replies, no outcome message. */
export const POSTED_DECIDED_KEY = 'posted_decided';

/** The effect of posting to one recipient; the requester's copy is named apart so later renders know it. */
function postEffect(to: ChatRecipient): string {
  return to.requester ? `post/requester/${to.id}` : `post/${to.id}`;
}

/** Encoded refs of the requester's own copies (from their post records). */
function requesterRefs(data: PluginData | undefined): Set<string> {
  const out = new Set<string>();
  for (const [key, value] of Object.entries(data ?? {})) {
    if (key.startsWith('fx/post/requester/') && value.startsWith('ok:')) out.add(value.slice(3));
  }
  return out;
}

/** Whether this adapter's plugin data holds our own post records (else existing messages are a Go plugin's). */
function hasPostRecords(data: PluginData | undefined): boolean {
  return data !== undefined && Object.keys(data).some((k) => k.startsWith('fx/post/'));
}
