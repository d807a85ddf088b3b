import type { AdapterContext, AdapterHandlers, EventContext, Resolution } from '../adapter.js';
import { healthTracker, watchedTracker } from '../adapterHealth.js';
import { PluginError, errorMessage } from '../errors.js';
import { followUpNote } from '../routing/types.js';
import type { AccessRequest } from '../teleport/types.js';
import { decodeTicket, encodeTicket, type TicketNote, type TicketRef, type TicketTracker } from './tracker.js';

export interface TicketingOptions {
  /**
   * Runs when a request is announced, after the ticket is opened (or opening failed, or no ticket
   * was wanted): PagerDuty's on-call auto-approval. It runs again when the announcement is
   * retried, so it must be repeatable (Teleport answers "already reviewed").
   */
  afterOpen?(request: AccessRequest, ticket: TicketRef | undefined, ev: EventContext): Promise<void>;
}

type TicketingHandlers = Required<Pick<AdapterHandlers, 'onPending' | 'onReviewed' | 'onResolved' | 'onExpired' | 'onFollowUp'>>;

/**
 * The handlers of an incident or issue tracker, built from its TicketTracker:
 * - announce: one ticket per request, recorded as an intent before it is opened and with its keys
 *   (the Go layout) after, found again instead of opened twice; then `afterOpen`;
 * - reviews: one note per review, in order;
 * - resolution and expiry: one closing note, then the ticket brought to its final state.
 * A failure that breaks every call (a refused token) fails the step, to be retried later, and
 * marks the adapter unhealthy until a tracker call succeeds.
 */
export function ticketHandlers(ctx: AdapterContext<unknown>, service: TicketTracker, options: TicketingOptions = {}): TicketingHandlers {
  // A refused token shows on /readyz until a tracker call succeeds again (the step is retried later).
  const tracker = watchedTracker(service, healthTracker(ctx));
  async function note(ticket: TicketRef, n: TicketNote, name: string, ev: EventContext): Promise<void> {
    await ev.once(name, (signal) => tracker.note(ticket, n, signal), {
      ...(tracker.findNote && { find: async (signal, since) => ((await tracker.findNote!(ticket, n, signal, since)) ? 'found' : undefined) }),
    });
  }

  async function finish(requestId: string, resolution: Resolution, reason: string, ev: EventContext): Promise<void> {
    const ticket = tracker.ticketOf(ev.data);
    if (!ticket) {
      ev.logger.debug(`no ${tracker.service} ticket for this request; nothing to close`);
      return;
    }
    await note(ticket, { kind: 'resolution', requestId, resolution, reason }, 'note/resolution', ev);
    await tracker.close(ticket, { requestId, resolution, reason }, ev.signal);
    ev.logger.info(`${tracker.service} ticket closed`, { resolution, ...ticket });
  }

  return {
    async onPending(request, ev) {
      if (request.state !== 'PENDING' && ctx.routing?.decidedOnArrival(request.id, ev.data)) {
        // Decided the moment it arrived (an automatic review): nobody has anything to act on, so
        // no incident pages anyone and no issue waits for a decision.
        ev.logger.info(`request was decided before it was announced (${request.state}); no ${tracker.service} ticket opened`);
        return;
      }
      let ticket: TicketRef | undefined;
      let openError: unknown;
      if (await (tracker.wants?.(request, ev.signal) ?? true)) {
        try {
          const result = await ev.once('open', async (signal) => encodeTicket(await tracker.open(request, signal)), {
            record: (data, r) => ({ ...data, ...decodeTicket(r) }),
            ...(tracker.find && {
              find: async (signal, since) => {
                const found = await tracker.find!(request, signal, since);
                return found && encodeTicket(found);
              },
            }),
          });
          ticket = decodeTicket(result);
          ev.logger.info(`${tracker.service} ticket opened`, { ...ticket });
        } catch (err) {
          // Still run afterOpen: an on-call engineer should not wait because paging failed.
          openError = err;
        }
      }
      let afterError: unknown;
      if (options.afterOpen) {
        try {
          await options.afterOpen(request, ticket, ev);
        } catch (err) {
          afterError = err;
        }
      }
      if (openError !== undefined && afterError !== undefined) {
        throw new PluginError('SERVICE_ERROR', `opening the ${tracker.service} ticket failed: ${errorMessage(openError)}; then: ${errorMessage(afterError)}`, { cause: openError });
      }
      if (openError !== undefined) throw openError;
      if (afterError !== undefined) throw afterError;
    },

    async onReviewed(request, added, ev) {
      const ticket = tracker.ticketOf(ev.data);
      if (!ticket) {
        ev.logger.debug(`no ${tracker.service} ticket for this request; reviews not noted`);
        return;
      }
      const first = request.reviews.length - added.length;
      for (const [k, review] of added.entries()) {
        const index = first + k;
        await note(ticket, { kind: 'review', requestId: request.id, index, review }, `note/review/${index}`, ev);
      }
    },

    async onFollowUp(request, step, ev) {
      const ticket = tracker.ticketOf(ev.data);
      if (!ticket) return;
      if (!tracker.followUp) {
        ev.logger.debug(`${tracker.service} cannot post reminders; skipped`, { step: step.id });
        return;
      }
      const note = followUpNote(request.id, step);
      await ev.once(`note/${step.id}`, (signal) => tracker.followUp!(ticket, note, signal), {
        ...(tracker.findFollowUp && { find: async (signal, since) => ((await tracker.findFollowUp!(ticket, note, signal, since)) ? 'found' : undefined) }),
      });
    },

    onResolved: (request, ev) => finish(request.id, request.state as Resolution, request.resolveReason, ev),
    onExpired: (requestId, ev) => finish(requestId, 'EXPIRED', '', ev),
  };
}
