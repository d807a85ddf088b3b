import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { AdapterHandlers, EventContext, Resolution } from '../adapter.js';
import { DecorrelatedBackoff, sleep } from '../backoff.js';
import { PluginError, errorMessage, isPluginError, isRetryable } from '../errors.js';
import type { RuntimeMetrics } from '../http/metrics.js';
import { leaseState, ownerName, parseEffectRecord, runningRecord } from '../ledger/effectRecord.js';
import { RESOLUTION_KEY, RESOLVE_REASON_KEY, REVIEWS_COUNT_KEY, formatReviewsCount, parseReviewsCount } from '../ledger/fields.js';
import { KnownData } from '../ledger/knownData.js';
import type { PluginDataStore } from '../ledger/pluginDataStoreTypes.js';
import { RequestLedger } from '../ledger/requestLedger.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest, AccessReview, PluginData } from '../teleport/types.js';
import type { WatcherEvent } from '../watcher/watcher.js';
import { eventContext } from '../ledger/eventContext.js';
import { KeyedQueue } from './keyedQueue.js';
import type { DispatchFollowUps } from '../routing/runtimeRouting.js';
import { ANNOUNCED_KEY, AUTO_REVIEW_KEY, UNDELIVERED_REVIEWS_KEY, decodeReviews, encodeReviews, requestFromData } from './lifecycle.js';

/** One adapter as the dispatcher sees it. */
export interface DispatchTarget {
  readonly name: string;
  readonly handlers: AdapterHandlers;
  /** This adapter's plugin data (namespace = adapter name). */
  readonly store: PluginDataStore;
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
  /** This runtime instance in write-ahead records (default: random). */
  owner?: string;
  /**
   * A stable name for this instance (a Kubernetes pod name): unique among running replicas and
   * kept across restarts, so a restarted process takes over what its crashed predecessor left
   * unfinished at once instead of waiting for the lease to run out.
   */
  instanceName?: string;
  /** A request whose step could not be finished (retries spent, or another instance holds it) is tried again then. */
  onUnfinished?(requestId: string, retryAt: number): void;
  /** How long another instance's started work is left to it (default 2 handler timeouts + 30 s). */
  leaseMs?: number;
  /** Plugin-data write retries (tests shorten the backoff). */
  ledgerWrites?: { attempts: number; baseMs: number; capMs: number };
  /** Reminders and escalation due for pending requests (routing/); each step recorded in plugin data once done. */
  followUps?: DispatchFollowUps;
}

type HandlerName = 'onPending' | 'onReviewed' | 'onResolved' | 'onExpired' | 'onFollowUp';

/** One handler call for invoke(): which handler, its logger, the call itself, and the step's record. */
interface HandlerCall {
  handler: HandlerName;
  logger: Logger;
  call: (ev: EventContext) => Promise<void>;
  /**
   * Records the step once the handler succeeded, inside the same attempt: it joins the effects'
   * records written behind (one compare-and-swap), and if any of them cannot be stored the
   * attempt counts as failed and is retried (the handler then finds its effects done).
   */
  record: () => Promise<void>;
}

export const RESOLVED_STATES: ReadonlySet<string> = new Set(['APPROVED', 'DENIED', 'PROMOTED']);

interface Lane {
  target: DispatchTarget;
  queue: KeyedQueue<WatcherEvent>;
  known: KnownData;
}

/**
 * Brings every adapter up to date with each request, one request at a time per adapter.
 *
 * A request's life for one adapter is three steps, each recorded in its plugin data only AFTER the
 * adapter's handler has done it, so a crash or a failure at any point leaves the step to be done
 * again (by a retry, the next event, or the reconciliation), never skipped:
 *
 *   announce   onPending     `announced` = run:<owner>:<time> written with the entry itself (the
 *                            compare-and-swap create decides which instance announces), `ok` after
 *   reviews    onReviewed    `reviews_count` = reviews delivered, after they are
 *   resolve    onResolved /  `resolution` + `resolve_reason` after the final delivery (EXPIRED when
 *              onExpired     the request was deleted unresolved)
 *
 * Handlers are therefore called again after crashes: they make each side effect exactly once
 * through `ev.once` (the ledger's write-ahead records), not through being called once.
 *
 * The input is state, not transitions: a put carries the request as it is now (live event, or a
 * listing by the reconciliation), a delete says it is gone. Older state arriving late is harmless,
 * because steps only move forward.
 *
 * Isolation: each adapter has its own keyed queue, so a slow, failing or hanging adapter never
 * delays or breaks another; it only delays its own later events for the same request.
 */
export class Dispatcher {
  readonly owner: string;
  private readonly options: DispatcherOptions;
  private readonly lanes: Lane[];
  private readonly retry: RetryPolicy;
  private readonly handlerTimeoutMs: number;
  private readonly leaseMs: number;
  /** Aborted when shutdown begins: no new retries. */
  private readonly stopping = new AbortController();
  /** Aborted when the shutdown budget is spent: in-flight handlers are told to give up. */
  private readonly halted = new AbortController();

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.owner = options.owner ?? ownerName(options.instanceName, randomBytes(4).toString('hex'));
    this.retry = { attempts: 5, baseMs: 1000, capMs: 30_000, ...options.retry };
    this.handlerTimeoutMs = options.handlerTimeoutMs ?? 30_000;
    this.leaseMs = options.leaseMs ?? 2 * this.handlerTimeoutMs + 30_000;
    // Every in-flight call listens on these two signals (up to maxConcurrency per adapter).
    setMaxListeners(0, this.stopping.signal, this.halted.signal);
    const concurrency = options.maxConcurrency ?? 128;
    this.lanes = options.targets.map((target) => {
      const lane: Lane = { target, known: new KnownData(), queue: undefined as unknown as KeyedQueue<WatcherEvent> };
      lane.queue = new KeyedQueue(concurrency, (key, event) => this.process(lane, key, event));
      return lane;
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
      metrics?.events.inc({ kind: event.source === 'list' ? 'list' : 'delete' });
    }
    const key = event.type === 'put' ? event.request.id : event.requestId;
    for (const { target, queue } of this.lanes) {
      queue.push(key, event);
      metrics?.queued.set({ adapter: target.name }, queue.queued);
    }
  }

  /**
   * Records a pending request in every adapter's plugin data as this instance's to announce (the
   * entry the announce step would create, with the coming `decision`), before the automatic
   * review decides it. A crash after the decision then leaves the announcement
   * owed, and it is made (showing the outcome) by whoever comes next.
   */
  async claim(request: AccessRequest, decision: string, signal?: AbortSignal): Promise<void> {
    await Promise.all(
      this.lanes.map(async ({ target, known }) => {
        signal?.throwIfAborted();
        const ledger = new RequestLedger(request.id, {
          store: target.store,
          known,
          owner: this.owner,
          leaseMs: this.leaseMs,
          signal: this.halted.signal,
          logger: target.logger,
          writeAttempts: this.options.ledgerWrites?.attempts,
          writeBackoff: this.options.ledgerWrites,
        });
        if (!ledger.isLoaded) ledger.assumeAbsent();
        if (ledger.data !== undefined) return;
        await ledger.create({ ...target.snapshot(request), [ANNOUNCED_KEY]: runningRecord(this.owner, Date.now()), [AUTO_REVIEW_KEY]: decision });
      }),
    );
  }

  /** Resolves when every adapter has processed everything dispatched so far. */
  async idle(): Promise<void> {
    await Promise.all(this.lanes.map(({ queue }) => queue.idle()));
  }

  /**
   * Stop accepting events, let queued and in-flight work finish within `budgetMs` (no new retries
   * start), then abort what is left. Resolves to whether everything finished in time. Whatever is
   * abandoned stays unrecorded and is picked up by the next start's reconciliation.
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
          target.logger.warn('shutdown budget spent; abandoning events (the next start picks them up)', { queued: dropped, inFlight: queue.active });
        }
      }
    }
    return drained;
  }

  private async process(lane: Lane, requestId: string, event: WatcherEvent): Promise<void> {
    const { target } = lane;
    const logger = target.logger.child({ requestId });
    this.options.metrics?.queued.set({ adapter: target.name }, lane.queue.queued);
    const ledger = new RequestLedger(requestId, {
      store: target.store,
      known: lane.known,
      owner: this.owner,
      leaseMs: this.leaseMs,
      signal: this.halted.signal,
      logger,
      writeAttempts: this.options.ledgerWrites?.attempts,
      writeBackoff: this.options.ledgerWrites,
    });
    const known = event.known?.get(target.name);
    if (known !== undefined) ledger.seed(known ?? undefined);
    try {
      await this.sync(target, ledger, event.type === 'put' ? event.request : undefined, logger, event.type === 'put' && event.announce === true);
    } catch (err) {
      if (isPluginError(err, 'SHUTDOWN')) {
        logger.warn('event abandoned at shutdown', { event: describe(event) });
        return;
      }
      logger.error('event processing failed', { event: describe(event), error: errorMessage(err), code: isPluginError(err) ? err.code : undefined });
    }
  }

  /** The three steps, each only when the previous one is recorded. `request` undefined = gone. */
  private async sync(target: DispatchTarget, ledger: RequestLedger, request: AccessRequest | undefined, logger: Logger, announce = false): Promise<void> {
    if (!ledger.isLoaded) {
      if (request?.state === 'PENDING') ledger.assumeAbsent();
      else await ledger.load();
    }

    // Claim: the create decides who announces (a replica, or a Go plugin, that created it first announces).
    // `announce`: it arrived pending and was decided at once (automatic review); announced decided.
    if (ledger.data === undefined) {
      if (request?.state !== 'PENDING' && !(announce && request)) {
        // Never seen pending (as upstream): nothing was announced, so nothing is owed.
        logger.debug('no plugin data and not pending; nothing to do', { state: request?.state ?? 'deleted' });
        return;
      }
      let created: boolean;
      try {
        created = await ledger.create({ ...target.snapshot(request), [ANNOUNCED_KEY]: runningRecord(this.owner, Date.now()) });
      } catch (err) {
        if (!isPluginError(err, 'NOT_FOUND')) throw err;
        logger.debug('request is gone before it could be announced');
        return;
      }
      if (created) logger.debug('new access request');
    }

    if (!(await this.announce(target, ledger, request, logger))) {
      // Another instance is announcing it, or the announcement failed: the reviews this event
      // shows are owed after it, and must survive the request's deletion meanwhile.
      if (request) await this.keepUndelivered(ledger, request, logger);
      return;
    }
    // Gone: its reviews left with it; deliver the ones seen but not yet delivered first.
    const reviewed = request ?? this.goneWithReviews(ledger);
    if (reviewed && !(await this.deliverReviews(target, ledger, reviewed, logger))) return;
    if (request?.state === 'PENDING' && this.options.followUps && target.handlers.onFollowUp) await this.followUp(target, ledger, request, logger);
    await this.resolve(target, ledger, request, logger);
  }

  /** Reminders and escalation due for a pending request (routing/), each marked done once delivered. */
  private async followUp(target: DispatchTarget, ledger: RequestLedger, request: AccessRequest, logger: Logger): Promise<void> {
    const followUps = this.options.followUps!;
    const onFollowUp = target.handlers.onFollowUp!.bind(target.handlers);
    for (const step of followUps.due(target.name, request, ledger.data)) {
      // The step's record joins its effects' records (written behind) in one compare-and-swap.
      const record = async (): Promise<void> => {
        await ledger.update((current) => (current === undefined ? undefined : followUps.markDone(current, step)));
      };
      if (!(await this.invoke(target, ledger, { handler: 'onFollowUp', logger: logger.child({ step: step.id }), call: (ev) => onFollowUp(request, step, ev), record }))) return;
    }
  }

  /** A gone request rebuilt with the reviews this adapter saw but had not delivered, if any. */
  private goneWithReviews(ledger: RequestLedger): AccessRequest | undefined {
    const data = ledger.data;
    if (!data) return undefined;
    const reviews = decodeReviews(data[UNDELIVERED_REVIEWS_KEY]);
    if (reviews.length <= parseReviewsCount(data[REVIEWS_COUNT_KEY])) return undefined;
    return requestFromData(ledger.requestId, data, reviews);
  }

  /** Step 1. False when the step is not done (failed, or another instance is on it). */
  private async announce(target: DispatchTarget, ledger: RequestLedger, request: AccessRequest | undefined, logger: Logger): Promise<boolean> {
    for (;;) {
      const record = parseEffectRecord(ledger.data?.[ANNOUNCED_KEY]);
      // No record: announced by someone who does not keep one (a Go plugin) — theirs, and done.
      if (record.state !== 'running') return true;
      const lease = leaseState(record, this.owner, Date.now(), this.leaseMs);
      if (lease.state === 'busy') {
        logger.debug('another instance is announcing this request; leaving it to it', { owner: record.owner });
        this.options.onUnfinished?.(ledger.requestId, lease.until + 1_000);
        return false;
      }
      let claim = record.raw;
      if (record.owner !== this.owner) {
        // Its owner vanished: take the step over (the handler's effects ask the service first).
        claim = runningRecord(this.owner, Date.now());
        if (!(await ledger.claim(ANNOUNCED_KEY, record.raw, claim))) continue;
        logger.info('taking over the announcement of a request another instance left unfinished', { previousOwner: record.owner });
      }
      const markAnnounced = (): Promise<void> => ledger.settle(ANNOUNCED_KEY, claim, '');
      if (request && target.handlers.onPending) {
        const onPending = target.handlers.onPending.bind(target.handlers);
        if (!(await this.invoke(target, ledger, { handler: 'onPending', logger, call: (ev) => onPending(request, ev), record: markAnnounced }))) return false;
      } else {
        await markAnnounced();
      }
      return true;
    }
  }

  /** Step 2: reviews beyond `reviews_count`, then the count. */
  private async deliverReviews(target: DispatchTarget, ledger: RequestLedger, request: AccessRequest, logger: Logger): Promise<boolean> {
    const total = request.reviews.length;
    const delivered = parseReviewsCount(ledger.data?.[REVIEWS_COUNT_KEY]);
    if (total <= delivered) return true;
    const added: readonly AccessReview[] = request.reviews.slice(delivered);
    logger.debug('new reviews', { count: added.length });
    const record = async (): Promise<void> => {
      await ledger.update((current) => {
        if (current === undefined || parseReviewsCount(current[REVIEWS_COUNT_KEY]) >= total) return undefined;
        const next: PluginData = { ...current, [REVIEWS_COUNT_KEY]: formatReviewsCount(total) };
        if (next[UNDELIVERED_REVIEWS_KEY] !== undefined && decodeReviews(next[UNDELIVERED_REVIEWS_KEY]).length <= total) next[UNDELIVERED_REVIEWS_KEY] = '';
        return next;
      });
    };
    if (target.handlers.onReviewed) {
      const onReviewed = target.handlers.onReviewed.bind(target.handlers);
      // Write-ahead: the reviews are queued now, so they are stored with the first record the
      // handler writes (one compare-and-swap) and outlive the request should this process die
      // mid-delivery, or should another instance be the one delivering them.
      const kept = this.keepUndelivered(ledger, request, logger);
      const delivered = await this.invoke(target, ledger, { handler: 'onReviewed', logger, call: (ev) => onReviewed(request, added, ev), record });
      await kept;
      if (!delivered) {
        await this.keepUndelivered(ledger, request, logger);
        return false;
      }
    } else {
      await record();
    }
    return true;
  }

  /**
   * Keeps the request's reviews not yet delivered (beyond `reviews_count`) in plugin data: should
   * the request be deleted before they are delivered, they would otherwise be gone with it.
   */
  private async keepUndelivered(ledger: RequestLedger, request: AccessRequest, logger: Logger): Promise<void> {
    const total = request.reviews.length;
    if (ledger.data === undefined || total <= parseReviewsCount(ledger.data[REVIEWS_COUNT_KEY])) return;
    await ledger
      .update((current) => {
        if (current === undefined || total <= parseReviewsCount(current[REVIEWS_COUNT_KEY])) return undefined;
        const encoded = encodeReviews(request.reviews);
        return current[UNDELIVERED_REVIEWS_KEY] === encoded || decodeReviews(current[UNDELIVERED_REVIEWS_KEY]).length >= total
          ? undefined
          : { ...current, [UNDELIVERED_REVIEWS_KEY]: encoded };
      })
      .catch((err: unknown) => logger.debug('could not keep the undelivered reviews', { error: errorMessage(err) }));
  }

  /** Step 3: the final state, once. */
  private async resolve(target: DispatchTarget, ledger: RequestLedger, request: AccessRequest | undefined, logger: Logger): Promise<void> {
    const resolution: Resolution | undefined = request === undefined ? 'EXPIRED' : RESOLVED_STATES.has(request.state) ? (request.state as Resolution) : undefined;
    if (resolution === undefined) return;
    const tag = target.resolutionTag(resolution);
    const existing = ledger.data?.[RESOLUTION_KEY] ?? '';
    if (existing !== '') {
      if (existing !== tag && resolution !== 'EXPIRED') {
        logger.error('cannot change the resolution of an already resolved request', { existing, event: tag });
      } else {
        logger.debug('request already resolved', { resolution: existing });
      }
      return;
    }
    const reason = request?.resolveReason ?? '';
    const record = async (): Promise<void> => {
      await ledger.update((current) => {
        if (current === undefined || (current[RESOLUTION_KEY] ?? '') !== '') return undefined;
        return { ...current, [RESOLUTION_KEY]: tag, [RESOLVE_REASON_KEY]: reason };
      });
    };
    let ok = true;
    if (request === undefined) {
      const onExpired = target.handlers.onExpired?.bind(target.handlers);
      ok = onExpired ? await this.invoke(target, ledger, { handler: 'onExpired', logger, call: (ev) => onExpired(ledger.requestId, ev), record }) : (await record(), true);
    } else {
      const onResolved = target.handlers.onResolved?.bind(target.handlers);
      ok = onResolved ? await this.invoke(target, ledger, { handler: 'onResolved', logger, call: (ev) => onResolved(request, ev), record }) : (await record(), true);
    }
    if (ok) logger.debug('request resolved', { resolution: tag });
  }

  /**
   * Call one handler with a per-try timeout and bounded retries; true when it succeeded.
   *
   * A handler that ignores its signal is abandoned at the timeout, but the request stays held
   * (nothing else for it starts on this adapter) until the abandoned attempt settles: two attempts
   * of one handler never run at once, and neither does a later event's handler. That is why
   * adapters need no locks of their own.
   */
  private async invoke(target: DispatchTarget, ledger: RequestLedger, { handler, logger, call, record }: HandlerCall): Promise<boolean> {
    const metrics = this.options.metrics;
    const labels = { adapter: target.name, handler };
    const backoff = new DecorrelatedBackoff({ baseMs: this.retry.baseMs, capMs: this.retry.capMs });
    for (let attempt = 1; ; attempt++) {
      // Each retry starts from what Teleport holds now: a replica may have written meanwhile.
      if (attempt > 1) await ledger.load(true);
      // One controller (one signal, one timer) per attempt, aborted by the timeout or by a halt;
      // every service call of the attempt shares it.
      const abort = new AbortController();
      const ev = eventContext(ledger, logger, abort.signal, attempt);
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
              abort.abort(err);
              reject(err);
            }, this.handlerTimeoutMs);
          }),
          new Promise<never>((_, reject) => {
            onHalt = () => {
              abort.abort(this.halted.signal.reason);
              reject(this.halted.signal.reason);
            };
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
      if (!failed) {
        try {
          await record();
          return true;
        } catch (err) {
          failed = true;
          failure = err;
          logger.debug('the step could not be recorded; trying again', { handler, error: errorMessage(err) });
        }
      }
      if (this.halted.signal.aborted) throw new PluginError('SHUTDOWN', `${handler} abandoned at shutdown`, { cause: failure });
      await this.settled(running, handler, logger);
      const busy = isPluginError(failure, 'BUSY');
      // Another instance holds part of the work: it finishes it, or its lease runs out first.
      // Retrying here before then would only hold this request's later events back.
      const last = busy || attempt >= this.retry.attempts || !isRetryable(failure) || this.stopping.signal.aborted;
      if (last) {
        if (!busy) metrics?.handlerFailures.inc(labels);
        const fields = { handler, attempts: attempt, error: errorMessage(failure), code: isPluginError(failure) ? failure.code : undefined };
        if (busy) logger.info('another instance is still delivering this request; leaving it to it', fields);
        else logger.error('handler failed; the reconciliation will try again later', fields);
        const retryAt = busy && isPluginError(failure) && typeof failure.details?.['retryAt'] === 'number' ? failure.details['retryAt'] + 1_000 : Date.now() + this.retry.capMs;
        this.options.onUnfinished?.(ledger.requestId, retryAt);
        return false;
      }
      metrics?.handlerRetries.inc(labels);
      const delay = backoff.next();
      logger.warn('handler failed; retrying', { handler, attempt, delayMs: Math.round(delay), error: errorMessage(failure) });
      try {
        await sleep(delay, this.stopping.signal);
      } catch {
        metrics?.handlerFailures.inc(labels);
        logger.warn('handler failed; no retry during shutdown (the next start picks it up)', { handler, attempts: attempt, error: errorMessage(failure) });
        return false;
      }
    }
  }

  /** Waits for an abandoned attempt to end, so nothing else for this request overlaps it. */
  private async settled(attempt: Promise<void>, handler: HandlerName, logger: Logger): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const done = attempt.then(
      () => true,
      () => true,
    );
    const inTime = await Promise.race([
      done,
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.handlerTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (inTime) return;
    logger.warn('an abandoned handler attempt is still running; this request waits for it', { handler });
    await Promise.race([done, new Promise<void>((resolve) => this.halted.signal.addEventListener('abort', () => resolve(), { once: true }))]);
  }
}

function describe(event: WatcherEvent): string {
  return event.type === 'delete' ? `DELETE (${event.source})` : `PUT ${event.request.state} (${event.source})`;
}
