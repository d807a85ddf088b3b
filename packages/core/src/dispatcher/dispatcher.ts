import { setMaxListeners } from 'node:events';
import type { AdapterHandlers, EventContext, Resolution } from '../adapter.js';
import { DecorrelatedBackoff, sleep } from '../backoff.js';
import { PluginError, errorMessage, isPluginError } from '../errors.js';
import type { RuntimeMetrics } from '../http/metrics.js';
import type { Logger } from '../log/logger.js';
import { RESOLUTION_KEY, RESOLVE_REASON_KEY, REVIEWS_COUNT_KEY, formatReviewsCount, parseReviewsCount } from '../plugindata/fields.js';
import { storedData, type CasPluginDataStore } from '../store/pluginDataStore.js';
import type { PluginDataStore } from '../store/types.js';
import type { AccessRequest, PluginData } from '../teleport/types.js';
import type { WatcherEvent } from '../watcher/watcher.js';
import { KeyedQueue } from './keyedQueue.js';

/** One adapter as the dispatcher sees it. */
export interface DispatchTarget {
  readonly name: string;
  readonly handlers: AdapterHandlers;
  /** This adapter's plugin data (namespace = adapter name); createAfterRead saves a read when present. */
  readonly store: PluginDataStore & Partial<Pick<CasPluginDataStore, 'createAfterRead'>>;
  readonly logger: Logger;
  /** Keys written when the adapter first sees a request. */
  snapshot(request: AccessRequest): PluginData;
  /** How `resolution` is spelled for this adapter. */
  resolutionTag(resolution: Resolution): string;
}

export interface RetryPolicy {
  /** Tries in total, the first included (default 5). */
  attempts: number;
  /** Backoff between tries (default 1 s .. 30 s, decorrelated jitter). */
  baseMs: number;
  capMs: number;
}

export interface DispatcherOptions {
  targets: readonly DispatchTarget[];
  logger: Logger;
  /** Per try of a handler (default 30 s). */
  handlerTimeoutMs?: number;
  /** Requests processed at the same time, per adapter (default 128). */
  maxConcurrency?: number;
  retry?: Partial<RetryPolicy>;
  metrics?: RuntimeMetrics;
}

type HandlerName = 'onPending' | 'onReviewed' | 'onResolved' | 'onExpired';

const RESOLVED_STATES: ReadonlySet<string> = new Set(['APPROVED', 'DENIED', 'PROMOTED']);

/**
 * Classifies watch events into pending / reviewed / resolved / expired for every adapter and calls
 * its handlers.
 *
 * Isolation: each adapter has its own keyed queue, so a slow, failing or hanging adapter never
 * delays or breaks another; it only delays its own later events for the same request.
 *
 * Idempotency: the adapter's plugin data is the only memory. Classification happens once per
 * event per adapter, by compare-and-swap: "created" (-> onPending), "reviews_count bumped"
 * (-> onReviewed for the reviews beyond the old count), "resolution set" (-> onResolved /
 * onExpired). Whoever wins the CAS announces; a replica or a re-listed duplicate loses and stays
 * quiet. A failed handler is retried (bounded) without re-classifying, so handlers must be
 * idempotent through their own plugin data keys (e.g. "messages already stored -> do not post").
 */
export class Dispatcher {
  private readonly options: DispatcherOptions;
  private readonly lanes: Array<{ target: DispatchTarget; queue: KeyedQueue<WatcherEvent> }>;
  private readonly retry: RetryPolicy;
  private readonly handlerTimeoutMs: number;
  /** Aborted when shutdown begins: no new retries. */
  private readonly stopping = new AbortController();
  /** Aborted when the shutdown budget is spent: in-flight handlers are told to give up. */
  private readonly halted = new AbortController();

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.retry = { attempts: 5, baseMs: 1000, capMs: 30_000, ...options.retry };
    this.handlerTimeoutMs = options.handlerTimeoutMs ?? 30_000;
    // Every in-flight call listens on these two signals (up to maxConcurrency per adapter).
    setMaxListeners(0, this.stopping.signal, this.halted.signal);
    const concurrency = options.maxConcurrency ?? 128;
    this.lanes = options.targets.map((target) => {
      const queue: KeyedQueue<WatcherEvent> = new KeyedQueue(concurrency, (key, event) => this.process(target, queue, key, event));
      return { target, queue };
    });
  }

  /** Events waiting or running, per adapter. */
  backlog(): Record<string, { queued: number; active: number }> {
    const out: Record<string, { queued: number; active: number }> = {};
    for (const { target, queue } of this.lanes) out[target.name] = { queued: queue.queued, active: queue.active };
    return out;
  }

  dispatch(event: WatcherEvent): void {
    if (this.stopping.signal.aborted) return;
    const metrics = this.options.metrics;
    if (event.type === 'put') {
      metrics?.events.inc({ kind: event.source === 'list' ? 'list' : 'put' });
      const state = event.request.state;
      if (state !== 'PENDING' && !RESOLVED_STATES.has(state)) {
        this.options.logger.warn('ignoring access request in an unexpected state', { requestId: event.request.id, state });
        return;
      }
    } else {
      metrics?.events.inc({ kind: 'delete' });
    }
    const key = event.type === 'put' ? event.request.id : event.requestId;
    for (const { target, queue } of this.lanes) {
      queue.push(key, event);
      metrics?.queued.set({ adapter: target.name }, queue.queued);
    }
  }

  /** Resolves when every adapter has processed everything dispatched so far. */
  async idle(): Promise<void> {
    await Promise.all(this.lanes.map(({ queue }) => queue.idle()));
  }

  /**
   * Stop accepting events, let queued and in-flight work finish within `budgetMs` (no new retries
   * start), then abort what is left. Resolves to whether everything finished in time.
   */
  async stop(budgetMs: number): Promise<boolean> {
    if (!this.stopping.signal.aborted) this.stopping.abort(new PluginError('SHUTDOWN', 'shutting down'));
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), Math.max(0, budgetMs));
      }),
    ]);
    clearTimeout(timer);
    if (!drained) {
      this.halted.abort(new PluginError('SHUTDOWN', 'shutdown budget spent'));
      for (const { target, queue } of this.lanes) {
        const dropped = queue.clear();
        if (dropped > 0 || queue.active > 0) {
          target.logger.warn('shutdown budget spent; abandoning events', { queued: dropped, inFlight: queue.active });
        }
      }
    }
    return drained;
  }

  private async process(target: DispatchTarget, queue: KeyedQueue<WatcherEvent>, requestId: string, event: WatcherEvent): Promise<void> {
    const logger = target.logger.child({ requestId });
    this.options.metrics?.queued.set({ adapter: target.name }, queue.queued);
    try {
      if (event.type === 'delete') await this.onDelete(target, requestId, logger);
      else if (event.request.state === 'PENDING') await this.onPendingPut(target, event.request, logger);
      else await this.onResolvedPut(target, event.request, logger);
    } catch (err) {
      if (isPluginError(err, 'SHUTDOWN')) {
        logger.warn('event abandoned at shutdown', { event: describe(event) });
        return;
      }
      logger.error('event processing failed', { event: describe(event), error: errorMessage(err), code: isPluginError(err) ? err.code : undefined });
    }
  }

  private async onPendingPut(target: DispatchTarget, request: AccessRequest, logger: Logger): Promise<void> {
    const id = request.id;
    let data = await this.step(target, 'read plugin data', (signal) => target.store.get(id, signal));
    if (data === undefined) {
      const snapshot = target.snapshot(request);
      const store = target.store;
      const created = await this.step(target, 'create plugin data', (signal) =>
        store.createAfterRead ? store.createAfterRead(id, snapshot, signal) : store.create(id, snapshot, signal),
      );
      if (created) {
        data = storedData(snapshot) ?? {};
        logger.debug('new access request');
        // From here on only the handler is retried: the CAS create already decided that this
        // process announces the request, and re-classifying would now say "already seen".
        if (target.handlers.onPending) {
          const onPending = target.handlers.onPending.bind(target.handlers);
          await this.invoke(target, id, 'onPending', data, logger, (ev) => onPending(request, ev));
        }
      } else {
        // Someone else (a replica, or a duplicate event) created it first.
        data = await this.step(target, 'read plugin data', (signal) => target.store.get(id, signal));
        if (data === undefined) return;
      }
    }
    // The review step re-reads by CAS, so keys the handler just stored are not lost.
    await this.outstandingReviews(target, request, data, logger);
  }

  private async onResolvedPut(target: DispatchTarget, request: AccessRequest, logger: Logger): Promise<void> {
    const id = request.id;
    const data = await this.step(target, 'read plugin data', (signal) => target.store.get(id, signal));
    if (data === undefined) {
      // Never seen pending (as upstream): nothing was announced, so there is nothing to resolve.
      logger.debug('no plugin data for resolved request; ignoring', { state: request.state });
      return;
    }
    const afterReviews = await this.outstandingReviews(target, request, data, logger);
    const onResolved = target.handlers.onResolved?.bind(target.handlers);
    await this.resolve(target, id, request.state as Resolution, request.resolveReason, afterReviews ?? data, logger, onResolved && ((ev) => onResolved(request, ev)));
  }

  private async onDelete(target: DispatchTarget, requestId: string, logger: Logger): Promise<void> {
    const data = await this.step(target, 'read plugin data', (signal) => target.store.get(requestId, signal));
    if (data === undefined) {
      logger.debug('no plugin data for deleted request; ignoring');
      return;
    }
    if (data[RESOLUTION_KEY]) {
      logger.debug('deleted request was already resolved');
      return;
    }
    const onExpired = target.handlers.onExpired?.bind(target.handlers);
    await this.resolve(target, requestId, 'EXPIRED', '', data, logger, onExpired && ((ev) => onExpired(requestId, ev)));
  }

  /** Bump `reviews_count` by CAS; the winner reports the reviews beyond the old count. */
  private async outstandingReviews(target: DispatchTarget, request: AccessRequest, data: PluginData, logger: Logger): Promise<PluginData | undefined> {
    const total = request.reviews.length;
    if (total <= parseReviewsCount(data[REVIEWS_COUNT_KEY])) return data;
    let counted: number | undefined;
    const stored = await this.step(target, 'count reviews', (signal) =>
      target.store.update(
        request.id,
        (current) => {
          counted = undefined;
          if (current === undefined) return undefined;
          const old = parseReviewsCount(current[REVIEWS_COUNT_KEY]);
          if (old >= total) return undefined;
          counted = old;
          return { ...current, [REVIEWS_COUNT_KEY]: formatReviewsCount(total) };
        },
        signal,
      ),
    );
    if (counted === undefined || stored === undefined) return stored;
    const added = request.reviews.slice(counted);
    logger.debug('new reviews', { count: added.length });
    if (target.handlers.onReviewed) {
      const onReviewed = target.handlers.onReviewed.bind(target.handlers);
      await this.invoke(target, request.id, 'onReviewed', stored, logger, (ev) => onReviewed(request, added, ev));
    }
    return stored;
  }

  /** Record the resolution once; only the writer that set it calls the handler. */
  private async resolve(
    target: DispatchTarget,
    requestId: string,
    resolution: Resolution,
    reason: string,
    known: PluginData,
    logger: Logger,
    handler: ((ev: EventContext) => Promise<void>) | undefined,
  ): Promise<void> {
    const tag = target.resolutionTag(resolution);
    let outcome: 'set' | 'same' | 'conflict' | 'missing' = 'missing';
    let existing = '';
    let stored: PluginData | undefined;
    try {
      stored = await this.step(target, 'record resolution', (signal) =>
        target.store.update(
          requestId,
          (current) => {
            if (current === undefined) {
              outcome = 'missing';
              return undefined;
            }
            existing = current[RESOLUTION_KEY] ?? '';
            if (existing === '') {
              outcome = 'set';
              return { ...current, [RESOLUTION_KEY]: tag, [RESOLVE_REASON_KEY]: reason };
            }
            outcome = existing === tag ? 'same' : 'conflict';
            return undefined;
          },
          signal,
        ),
      );
    } catch (err) {
      // Teleport refuses plugin-data writes once the request object is gone, and expiry is
      // exactly that. The entry itself outlives the request by an hour, so we still announce
      // the expiry; it just cannot be recorded (deletions are never replayed, so no repeat).
      if (resolution !== 'EXPIRED' || !isPluginError(err, 'NOT_FOUND')) throw err;
      logger.debug('request is gone; expiry not recorded in plugin data');
      outcome = 'set';
      stored = { ...known, [RESOLUTION_KEY]: tag };
    }
    switch (outcome as 'set' | 'same' | 'conflict' | 'missing') {
      case 'missing':
        logger.debug('plugin data vanished; ignoring resolution');
        return;
      case 'same':
        logger.debug('request already resolved; ignoring', { resolution: tag });
        return;
      case 'conflict':
        logger.error('cannot change the resolution of an already resolved request', { existing, event: tag });
        return;
      case 'set':
        logger.debug('request resolved', { resolution: tag });
        if (handler) await this.invoke(target, requestId, resolution === 'EXPIRED' ? 'onExpired' : 'onResolved', stored, logger, handler);
    }
  }

  /** A plugin-data step of classification, retried on transient errors (each try is a fresh CAS). */
  private async step<T>(target: DispatchTarget, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const backoff = new DecorrelatedBackoff({ baseMs: this.retry.baseMs, capMs: this.retry.capMs });
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn(this.halted.signal);
      } catch (err) {
        if (attempt >= this.retry.attempts || !isRetryable(err) || this.halted.signal.aborted) {
          throw new PluginError(isPluginError(err) ? err.code : 'UNKNOWN', `${what}: ${errorMessage(err)}`, { cause: err });
        }
        target.logger.debug('plugin data step failed; retrying', { step: what, attempt, error: errorMessage(err) });
        await backoff.wait(this.stopping.signal);
      }
    }
  }

  /**
   * Call one handler with a per-try timeout and bounded retries. A handler that ignores its
   * signal is abandoned at the timeout (its promise keeps running), so it cannot wedge the
   * adapter's queue.
   *
   * Two attempts of one handler never run at the same time: after a timeout the retry waits for
   * the abandoned attempt to settle (at most one more handler timeout). An attempt still running
   * by then may yet post something, so the handler is given up rather than risk a duplicate.
   * This is why adapters need no locks of their own against their own retries.
   */
  private async invoke(
    target: DispatchTarget,
    requestId: string,
    handler: HandlerName,
    data: PluginData | undefined,
    logger: Logger,
    call: (ev: EventContext) => Promise<void>,
  ): Promise<void> {
    const metrics = this.options.metrics;
    const labels = { adapter: target.name, handler };
    const backoff = new DecorrelatedBackoff({ baseMs: this.retry.baseMs, capMs: this.retry.capMs });
    for (let attempt = 1; ; attempt++) {
      const timeout = new AbortController();
      const signal = AbortSignal.any([timeout.signal, this.halted.signal]);
      const ev: EventContext = {
        requestId,
        logger,
        signal,
        attempt,
        data,
        updateData: (modify) => target.store.update(requestId, modify, signal),
      };
      const started = performance.now();
      let timer: NodeJS.Timeout | undefined;
      let onHalt: (() => void) | undefined;
      let failure: unknown;
      let failed = false;
      const running = Promise.resolve().then(() => call(ev));
      // A late rejection of an abandoned attempt must not become an unhandled rejection.
      running.catch(() => undefined);
      try {
        await Promise.race([
          running,
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              const err = new PluginError('TIMEOUT', `${handler} did not finish within ${this.handlerTimeoutMs} ms`);
              timeout.abort(err);
              reject(err);
            }, this.handlerTimeoutMs);
          }),
          new Promise<never>((_, reject) => {
            onHalt = () => reject(this.halted.signal.reason);
            if (this.halted.signal.aborted) onHalt();
            else this.halted.signal.addEventListener('abort', onHalt, { once: true });
          }),
        ]);
      } catch (err) {
        failed = true;
        failure = err;
      } finally {
        clearTimeout(timer);
        if (onHalt) this.halted.signal.removeEventListener('abort', onHalt);
        metrics?.handlerDuration.observe(labels, (performance.now() - started) / 1000);
      }
      if (!failed) return;
      if (this.halted.signal.aborted) throw new PluginError('SHUTDOWN', `${handler} abandoned at shutdown`, { cause: failure });
      const last = attempt >= this.retry.attempts || !isRetryable(failure) || this.stopping.signal.aborted;
      if (last) {
        metrics?.handlerFailures.inc(labels);
        logger.error('handler failed', {
          handler,
          attempts: attempt,
          error: errorMessage(failure),
          code: isPluginError(failure) ? failure.code : undefined,
        });
        return;
      }
      if (!(await this.settles(running))) {
        metrics?.handlerFailures.inc(labels);
        logger.error('handler still running after its timeout; not retried, so nothing runs twice', {
          handler,
          attempts: attempt,
          error: errorMessage(failure),
        });
        return;
      }
      metrics?.handlerRetries.inc(labels);
      const delay = backoff.next();
      logger.warn('handler failed; retrying', { handler, attempt, delayMs: Math.round(delay), error: errorMessage(failure) });
      try {
        await sleep(delay, this.stopping.signal);
      } catch {
        metrics?.handlerFailures.inc(labels);
        logger.error('handler failed; no retry during shutdown', { handler, attempts: attempt, error: errorMessage(failure) });
        return;
      }
    }
  }

  /** Whether an attempt settles within one more handler timeout (or already has). */
  private async settles(attempt: Promise<void>): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([
      attempt.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.handlerTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return settled;
  }
}

/** Errors a retry cannot fix: the user must (config, permissions) or the request is gone. */
function isRetryable(err: unknown): boolean {
  if (!isPluginError(err)) return true;
  if (err.userFacing) return false;
  return !['NOT_FOUND', 'ACCESS_DENIED', 'BAD_PARAMETER', 'CONFIG', 'NOT_IMPLEMENTED', 'SHUTDOWN', 'ALREADY_EXISTS'].includes(err.code);
}

function describe(event: WatcherEvent): string {
  return event.type === 'delete' ? 'DELETE' : `PUT ${event.request.state}`;
}
