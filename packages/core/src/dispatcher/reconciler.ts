import { errorMessage, isPluginError } from '../errors.js';
import type { PluginDataStore } from '../ledger/pluginDataStoreTypes.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest, PluginData, TeleportClient } from '../teleport/types.js';
import type { WatcherEvent } from '../watcher/watcher.js';
import { isUnfinished } from './lifecycle.js';

export interface ReconcilerOptions {
  client: TeleportClient;
  targets: ReadonlyArray<{ readonly name: string; readonly store: PluginDataStore }>;
  dispatch(event: WatcherEvent): void;
  logger: Logger;
  /** Between periodic runs (default 5 min); 0 turns the periodic run off. */
  intervalMs?: number;
  /** Also owed: something beyond the three steps (a follow-up due, routing/). */
  owed?(adapter: string, request: AccessRequest, data: PluginData): boolean;
  /** Every listing of what exists now (automatic reviews, follow-up timers: routing/). */
  onListed?(requests: readonly AccessRequest[]): void;
}

export interface ReconcileReport {
  /** Requests that exist now. */
  requests: number;
  /** Events handed to the dispatcher: pending requests, and requests some adapter is not done with. */
  dispatched: number;
  /** Of those, requests gone from Teleport with an adapter not done with them (delivered as expiry). */
  gone: number;
}

/**
 * Compares what Teleport holds now with what each adapter's plugin data says was delivered, and
 * hands the dispatcher every request where the two differ. Runs after every INIT (a new stream
 * replays nothing), at start-up (that is the first INIT) and periodically (a handler that gave up,
 * a replica that vanished). The dispatcher's steps only move forward, so a request that is in fact
 * up to date costs nothing but the comparison.
 *
 * Order matters: plugin data is read before requests are listed. An entry can only exist for a
 * request that existed when it was written, so an entry whose request is missing from the later
 * listing belongs to a request that is gone, never to one created in between.
 */
export class Reconciler {
  private readonly options: ReconcilerOptions;
  private running: Promise<ReconcileReport | undefined> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly warned = new Set<string>();
  private readonly abort = new AbortController();

  constructor(options: ReconcilerOptions) {
    this.options = options;
  }

  /** Periodic runs from now on. */
  start(): void {
    const interval = this.options.intervalMs ?? 5 * 60_000;
    if (interval <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.request(), interval);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.abort.abort();
  }

  /** Run now; a request made while one runs starts one more run after it (not one per request). */
  request(): Promise<ReconcileReport | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let report: ReconcileReport | undefined;
      do {
        this.again = false;
        report = await this.runOnce().catch((err: unknown) => {
          if (!this.stopped) this.options.logger.warn('reconciliation failed; it runs again at the next INIT or period', { error: errorMessage(err) });
          return undefined;
        });
      } while (this.again && !this.stopped);
      return report;
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  async runOnce(): Promise<ReconcileReport> {
    const { client, targets, logger } = this.options;
    const signal = this.abort.signal;
    // 1. What each adapter recorded (bulk; undefined when the client or Teleport cannot list it).
    const recorded = await Promise.all(
      targets.map(async (t) => {
        try {
          return await t.store.list(signal);
        } catch (err) {
          this.warnOnce(`list:${t.name}`, 'cannot read plugin data in bulk; requests that ended while this plugin was not watching are found only when they change again', {
            adapter: t.name,
            error: errorMessage(err),
          });
          return undefined;
        }
      }),
    );
    // 2. What exists now.
    let requests: AccessRequest[];
    try {
      requests = await client.listAccessRequests({}, signal);
    } catch (err) {
      if (isPluginError(err, 'ACCESS_DENIED')) {
        this.warnOnce(
          'requests',
          'cannot list access requests; requests created or changed while this plugin was not watching may be missed (role needs access_request [list, read])',
          {
            error: errorMessage(err),
          },
        );
        return { requests: 0, dispatched: 0, gone: 0 };
      }
      throw err;
    }

    this.options.onListed?.(requests);

    const knownFor = (id: string): Map<string, PluginData | null> => {
      const known = new Map<string, PluginData | null>();
      targets.forEach((t, i) => {
        const entries = recorded[i];
        if (entries) known.set(t.name, entries.get(id) ?? null);
      });
      return known;
    };

    let dispatched = 0;
    const existing = new Set<string>();
    for (const request of requests) {
      existing.add(request.id);
      const known = knownFor(request.id);
      // Owed: an adapter that could not list, a pending request an adapter has not seen, or one
      // whose delivery is behind the request.
      const owed = targets.some((_t, i) => {
        const entries = recorded[i];
        if (!entries) return true;
        const data = entries.get(request.id);
        if (data === undefined) return request.state === 'PENDING';
        return isUnfinished(data, request) || (this.options.owed?.(targets[i]!.name, request, data) ?? false);
      });
      if (!owed) continue;
      this.options.dispatch({ type: 'put', request, source: 'list', known });
      dispatched += 1;
    }

    let gone = 0;
    const goneIds = new Set<string>();
    targets.forEach((_t, i) => {
      for (const [id, data] of recorded[i] ?? []) {
        if (!existing.has(id) && isUnfinished(data, undefined)) goneIds.add(id);
      }
    });
    for (const id of goneIds) {
      this.options.dispatch({ type: 'delete', requestId: id, source: 'list', known: knownFor(id) });
      gone += 1;
    }
    dispatched += gone;
    const report = { requests: requests.length, dispatched, gone };
    logger.debug('reconciled', report);
    return report;
  }

  private warnOnce(key: string, message: string, fields: Record<string, unknown>): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.options.logger.warn(message, fields);
  }
}
