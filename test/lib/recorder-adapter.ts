import { PluginError, defineAdapter, type AccessRequest, type EventContext } from '@teleport-plugin/core';

/** One handler call as the recorder saw it. */
export interface RecordedEvent {
  adapter: string;
  event: 'pending' | 'reviewed' | 'resolved' | 'expired';
  id: string;
  state: string;
  /** Authors of the reviews reported (reviewed only). */
  authors: string[];
  attempt: number;
  /** The plugin data the core handed to the handler. */
  data: Record<string, string> | undefined;
}

export interface RecorderConfig {
  /** POST each RecordedEvent as JSON here (used when it runs inside the CLI). */
  url?: string;
  /** Or call this (in-process tests). */
  record?: (event: RecordedEvent) => void;
  /** Submit an APPROVED review as the plugin user when the request reason contains this. */
  autoApproveMarker?: string;
}

/**
 * A test adapter that remembers nothing itself and makes its one side effect per handler call
 * (recording the event) through `ev.once`, as the adapter contract asks: every duplicate it
 * reports is a duplicate the core let through, which is what the end-to-end tests look for.
 * (Without `ev.once`, two replicas may both run a step's handler; only its effects are once.)
 */
export function createRecorderAdapter(name = 'recorder') {
  return defineAdapter<RecorderConfig>({
    name,
    parseConfig(section) {
      const url = section.requireString('url');
      const marker = section.string('auto_approve_marker');
      return marker ? { url, autoApproveMarker: marker } : { url };
    },
    async setup(ctx) {
      const emit = async (event: RecordedEvent['event'], ev: EventContext, request: AccessRequest | undefined, authors: string[] = []): Promise<void> => {
        const recorded: RecordedEvent = {
          adapter: name,
          event,
          id: ev.requestId,
          state: request?.state ?? 'EXPIRED',
          authors,
          attempt: ev.attempt,
          data: ev.data,
        };
        await ev.once(authors.length > 0 ? `${event}/${authors.join('+')}` : event, async (signal) => {
          ctx.config.record?.(recorded);
          if (ctx.config.url) {
            const res = await fetch(ctx.config.url, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify(recorded),
              signal,
            });
            if (!res.ok) throw new PluginError('SERVICE_ERROR', `recorder sink answered ${res.status}`);
          }
        });
      };
      return {
        async onPending(request, ev) {
          await emit('pending', ev, request);
          const marker = ctx.config.autoApproveMarker;
          if (marker && request.requestReason.includes(marker)) {
            const result = await ctx.teleport.submitReview(request.id, { proposedState: 'APPROVED', reason: 'auto-approved by the recorder' }, ev.signal);
            ev.logger.info('auto-review', { outcome: result.outcome });
          }
        },
        onReviewed: (request, added, ev) =>
          emit(
            'reviewed',
            ev,
            request,
            added.map((r) => r.author),
          ),
        onResolved: (request, ev) => emit('resolved', ev, request),
        onExpired: (_id, ev) => emit('expired', ev, undefined),
      };
    },
  });
}

export default createRecorderAdapter();
