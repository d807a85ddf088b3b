/**
 * teleport-plugin-webhook-example: a complete third-party adapter. It POSTs every access-request
 * event as JSON to one URL:
 *
 *   teleport-plugin start --plugin ./examples/custom-adapter/dist/index.js -c plugin.toml
 *
 *   [webhook]
 *   url = "https://hooks.example.com/teleport"
 *
 * It keeps no state of its own: the core records each step of a request (announced, reviews,
 * resolution) in Teleport's plugin data once its handler has succeeded, so a handler may run
 * again after a crash or a failure. Each POST therefore goes through `ev.once`: recorded before
 * and after it runs, so it is made at most once per event across retries, restarts and replicas.
 * A webhook cannot be asked whether a POST arrived, so a POST whose answer was lost is made again
 * (`ifUnknown: 'redo'`) with the same Idempotency-Key, for the receiver to drop the copy.
 * A failed POST throws, and the core retries that handler with backoff.
 */
import { PluginError, defineAdapter, type AccessRequest, type EventContext } from '@teleport-plugin/core';

interface WebhookConfig {
  url: string;
  timeoutMs: number;
}

type EventName = 'pending' | 'reviewed' | 'resolved' | 'expired';

export default defineAdapter<WebhookConfig>({
  name: 'webhook',
  version: '0.1.0',

  parseConfig(section) {
    const url = section.requireString('url');
    if (!/^https?:\/\/[^/]/.test(url)) throw section.error('url', 'an http:// or https:// URL');
    return { url, timeoutMs: section.duration('timeout', 10_000) };
  },

  exampleConfig: () => '[webhook]\n# Where every access-request event is POSTed as JSON.\nurl = "https://hooks.example.com/teleport"\n# timeout = "10s"\n',

  async setup(ctx) {
    const post = async (event: EventName, ev: EventContext, request?: AccessRequest, extra: object = {}, key: string = event): Promise<void> => {
      // After a deletion only the plugin data remains: it still knows who asked for what.
      const body = {
        event,
        request_id: ev.requestId,
        user: request?.user ?? ev.data?.user ?? '',
        roles: request?.roles ?? (ev.data?.roles ? ev.data.roles.split(',') : []),
        state: request?.state ?? 'EXPIRED',
        reason: request?.requestReason ?? ev.data?.request_reason ?? '',
        ...extra,
      };
      await ev.once(
        key,
        async () => {
          const response = await fetch(ctx.config.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'idempotency-key': `${ev.requestId}/${key}` },
            body: JSON.stringify(body),
            signal: AbortSignal.any([ev.signal, AbortSignal.timeout(ctx.config.timeoutMs)]),
          });
          if (!response.ok) {
            throw new PluginError('SERVICE_ERROR', `webhook answered HTTP ${response.status}`, { details: { url: ctx.config.url } });
          }
          ev.logger.info('webhook posted', { event });
        },
        { ifUnknown: 'redo' },
      );
    };

    return {
      onPending: (request, ev) => post('pending', ev, request),
      onReviewed: (request, added, ev) =>
        post('reviewed', ev, request, { reviews: added.map((r) => ({ author: r.author, state: r.proposedState, reason: r.reason })) }, `reviewed/${request.reviews.length}`),
      onResolved: (request, ev) => post('resolved', ev, request, { resolve_reason: request.resolveReason }),
      onExpired: (_id, ev) => post('expired', ev),
    };
  },
});
