import { DecorrelatedBackoff } from '../backoff.js';
import { PluginError, errorMessage, isOutcomeUnknown, isPluginError, isRetryable } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { PluginData } from '../teleport/types.js';
import { doneRecord, effectKey, leaseState, parseEffectRecord, runningRecord, type EffectRecord } from './effectRecord.js';
import type { KnownData } from './knownData.js';
import { storedData } from './pluginDataStore.js';
import type { PluginDataStore } from './pluginDataStoreTypes.js';

export interface LedgerOptions {
  store: PluginDataStore;
  /** Last read/written data per request (shared by every ledger of this adapter). */
  known: KnownData;
  /** This runtime instance in `run` records (see ownerName: random per start, or `<name>~<nonce>`). */
  owner: string;
  /** How long another instance's `run` record keeps us away from its work. */
  leaseMs: number;
  /** Shutdown: writes are bound to it, not to a handler attempt, so an outcome is still recorded after a timeout. */
  signal: AbortSignal;
  logger: Logger;
  now?: () => number;
  /** Tries of one write when Teleport fails transiently (default 8, 20 ms .. 2 s apart). */
  writeAttempts?: number;
  writeBackoff?: { baseMs: number; capMs: number };
  /**
   * Write effects' `ok` records behind (default true; see the class comment). False: `once`
   * resolves only once its record is stored (handlers called directly, outside a step).
   */
  writeBehind?: boolean;
}

export interface OnceOptions {
  /** The handler attempt's signal, passed to `run` and `find`. */
  signal?: AbortSignal;
  /**
   * Asks the service whether the effect already happened (a message with this request's metadata
   * in the channel, an incident with this key...): its result, or undefined when it did not.
   * Called only when a `run` record says it may have happened (a crash, an ambiguous failure, a
   * replica that vanished) — never on the normal path. `startedAt` (ms since the epoch) is when the
   * effect was started: nothing older than that needs to be searched.
   */
  find?: (signal: AbortSignal | undefined, startedAt: number) => Promise<string | undefined>;
  /**
   * Without `find`, what to do when the effect may have happened: `redo` it (at least once; right
   * when a repeat is harmless or de-duplicated by the receiver, e.g. a mail with a fixed
   * Message-ID) or `skip` it (at most once). Default `skip`.
   */
  ifUnknown?: 'redo' | 'skip';
  /** Layout keys written with the done record, in the same compare-and-swap (e.g. `messages`). */
  record?: (data: PluginData, result: string) => PluginData;
}

type Modify = (current: PluginData | undefined) => PluginData | undefined;

interface QueuedWrite {
  modify: Modify;
  /** Free of side effects: may be applied to the in-memory view before it is written. */
  pure: boolean;
  resolve: (data: PluginData | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * One request's plugin data for one adapter, and the write-ahead record of every side effect made
 * for it. This is where "exactly once" lives:
 *
 * - `once(name, run)` records `run:<owner>:<time>` before `run` and `ok[:result]` after it, each a
 *   compare-and-swap. Whoever wins the first write does the work; a replica that loses sees a
 *   fresh `run` record and backs off (BUSY). A record left as `run` (crash, timeout, unknown
 *   outcome, lost write) makes the next attempt ask the service (`find`) before doing it again.
 * - Writes go against the data last seen (no read before a write). Concurrent writes of one
 *   request are folded into one compare-and-swap; a conflict re-reads and re-applies them.
 * - Writes are bound to shutdown, not to the handler attempt that asked, and transient Teleport
 *   failures are retried here, so an effect that happened gets recorded whenever possible.
 * - The `ok` record of an effect is written behind: `once` resolves as soon as it is queued (the
 *   view shows it at once), so it shares a compare-and-swap with whatever is written next (the
 *   step's own record). A record that cannot be written poisons the ledger: every later write
 *   fails until the data is read again, so a step is never recorded over an effect that is not
 *   (the next attempt finds it, as after a crash).
 *
 * The request being gone does not stop recording: Teleport keeps an existing entry writable until
 * it expires (access expiry + 1 h). Only creating an entry for a request that no longer exists
 * fails (NOT_FOUND), which means: nothing was ever announced, nothing is owed.
 */
export class RequestLedger {
  /** What Teleport holds, as last read or written. */
  private base: PluginData | undefined;
  /** `base` with the pure writes still queued applied: what the handler sees. */
  private view: PluginData | undefined;
  /** A write that failed for good; later writes fail with it until the next read. */
  private failed: unknown;
  private loaded = false;
  private queue: QueuedWrite[] = [];
  private writing = false;
  private readonly now: () => number;

  constructor(
    readonly requestId: string,
    private readonly options: LedgerOptions,
  ) {
    this.now = options.now ?? Date.now;
    const known = options.known.get(requestId);
    if (known !== undefined) {
      this.base = known ?? undefined;
      this.view = this.base;
      this.loaded = true;
    }
  }

  /** The plugin data as last read or written (call load() first if nothing was known). */
  get data(): PluginData | undefined {
    return this.view;
  }

  get owner(): string {
    return this.options.owner;
  }

  /** Whether this process knows the data without reading it. */
  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Reads from Teleport unless already known (or `fresh` is asked for). */
  async load(fresh = false): Promise<PluginData | undefined> {
    if (this.loaded && !fresh) return this.view;
    const data = await this.retryTransient('read plugin data', () => this.options.store.get(this.requestId, this.options.signal));
    this.failed = undefined;
    this.remember(data);
    return this.view;
  }

  /** Takes data read elsewhere (a bulk read) as the current base. */
  seed(data: PluginData | undefined): void {
    this.remember(data);
  }

  /**
   * Assume there is no entry yet without reading (a request seen PENDING for the first time): the
   * create then costs one write, and a wrong guess only a failed compare-and-swap and a read.
   */
  assumeAbsent(): void {
    if (this.loaded) return;
    this.base = undefined;
    this.view = undefined;
    this.loaded = true;
  }

  /**
   * Creates the entry (compare-and-swap against "absent"). False when one exists already; the
   * ledger then holds what is there. NOT_FOUND when the request is gone.
   */
  async create(data: PluginData): Promise<boolean> {
    let created = false;
    await this.write((current) => {
      created = current === undefined;
      return created ? { ...data } : undefined;
    });
    return created;
  }

  /** A compare-and-swap update of any keys (`modify` gets a copy; undefined = no change). Pure functions only: a conflict re-applies it. */
  update(modify: Modify): Promise<PluginData | undefined> {
    return this.write((current) => modify(current === undefined ? undefined : { ...current }), true);
  }

  /** Resolves once every queued write is stored; rejects if one failed for good. */
  async flush(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (this.queue.length === 0 && !this.writing) return;
    await this.write(() => undefined, true);
  }

  /** The record of effect `name` as last seen. */
  effect(name: string): EffectRecord {
    return parseEffectRecord(this.view?.[effectKey(name)]);
  }

  /**
   * Runs a side effect at most once per `name` for this request and adapter, exactly once where
   * the service can be asked (`find`). Resolves to the effect's result (what `run` returned, or
   * what `find` found), also when it was done earlier.
   */
  async once(name: string, run: (signal: AbortSignal | undefined) => Promise<string | void>, options: OnceOptions = {}): Promise<string> {
    const key = effectKey(name);
    await this.load();
    for (let round = 0; ; round += 1) {
      const record = parseEffectRecord(this.view?.[key]);
      if (record.state === 'done') return record.result;
      if (record.state === 'running') {
        const lease = leaseState(record, this.options.owner, this.now(), this.options.leaseMs);
        if (lease.state === 'busy') {
          throw new PluginError('BUSY', `another instance (${record.owner}) is doing ${name} for request ${this.requestId}`, {
            details: { effect: name, owner: record.owner, retryAt: lease.until },
          });
        }
        // Ours from an earlier attempt, or a lease its owner never settled: it may have happened.
        if (options.find) {
          const found = await options.find(options.signal, record.at);
          if (found !== undefined) {
            this.options.logger.info('effect had happened already; recorded, not repeated', { requestId: this.requestId, effect: name });
            await this.settleBehind(key, record.raw, found, options.record);
            return found;
          }
        } else if ((options.ifUnknown ?? 'skip') === 'skip') {
          this.options.logger.warn('effect may have happened and the service cannot be asked; not repeated', { requestId: this.requestId, effect: name });
          await this.settleBehind(key, record.raw, '', options.record);
          return '';
        } else {
          this.options.logger.warn('effect may have happened and the service cannot be asked; doing it again', { requestId: this.requestId, effect: name });
        }
      }
      const claim = runningRecord(this.options.owner, this.now());
      const expected = record.state === 'none' ? undefined : record.raw;
      if (!(await this.claim(key, expected, claim))) {
        if (round >= 20) throw new PluginError('COMPARE_FAILED', `effect ${name} of request ${this.requestId} kept changing under us`);
        continue;
      }
      let result: string;
      try {
        result = (await run(options.signal)) ?? '';
      } catch (err) {
        if (!isOutcomeUnknown(err) && !(options.signal?.aborted ?? false)) {
          // The service answered "no": nothing happened, so a later attempt may simply do it.
          await this.release(key, claim).catch((e: unknown) => {
            this.options.logger.debug('could not clear an effect record; the next attempt will ask the service', { effect: name, error: errorMessage(e) });
          });
        }
        throw err;
      }
      await this.settleBehind(key, claim, result, options.record);
      return result;
    }
  }

  /** Records `ok` without waiting (see the class comment); a failure poisons later writes. */
  private async settleBehind(key: string, from: string, result: string, record?: (data: PluginData, result: string) => PluginData): Promise<void> {
    const stored = this.settle(key, from, result, record);
    if (this.options.writeBehind === false) return stored;
    stored.catch(() => undefined);
  }

  /** Writes `run` over `expected` (absent when undefined); false when someone else changed it first. */
  async claim(key: string, expected: string | undefined, value: string): Promise<boolean> {
    let won = false;
    await this.write((current) => {
      const now = current?.[key];
      won = (now ?? '') === (expected ?? '');
      return won ? { ...(current ?? {}), [key]: value } : undefined;
    });
    return won;
  }

  /** Marks `key` done (unless someone already did), with layout keys from `record`. */
  async settle(key: string, from: string, result: string, record?: (data: PluginData, result: string) => PluginData): Promise<void> {
    await this.write((current) => {
      const now = current?.[key] ?? '';
      if (now !== from && parseEffectRecord(now).state === 'done') return undefined;
      const base: PluginData = { ...(current ?? {}), [key]: doneRecord(result) };
      return record ? record(base, result) : base;
    }, true);
  }

  private async release(key: string, claim: string): Promise<void> {
    await this.write((current) => {
      if (current?.[key] !== claim) return undefined;
      return { ...current, [key]: '' };
    }, true);
  }

  private remember(data: PluginData | undefined): void {
    this.base = data;
    this.loaded = true;
    this.options.known.set(this.requestId, data ?? null);
    this.view = this.queue.reduce((view, w) => (w.pure ? (w.modify(view === undefined ? undefined : { ...view }) ?? view) : view), data);
  }

  /**
   * Queues a modification; the queue drains as one compare-and-swap per batch. `pure`
   * modifications (no side effects) show in the view at once.
   */
  private write(modify: Modify, pure = false): Promise<PluginData | undefined> {
    if (this.failed !== undefined) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queue.push({ modify, pure, resolve, reject });
      if (pure) this.view = modify(this.view === undefined ? undefined : { ...this.view }) ?? this.view;
      if (this.writing) return;
      this.writing = true;
      // Start on the next turn, so writes asked for together (parallel posts, an effect's record
      // and the step's) go as one.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          const stored = await this.applyBatch(batch);
          for (const w of batch) w.resolve(stored);
        } catch (err) {
          // Nothing queued behind a failed write may land without it (a step over a lost record).
          this.failed = err;
          const rest = this.queue;
          this.queue = [];
          this.view = this.base;
          for (const w of [...batch, ...rest]) w.reject(err);
        }
        // One more turn before the next batch: writes that arrive meanwhile join it.
        if (this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.writing = false;
    }
  }

  private async applyBatch(batch: readonly QueuedWrite[]): Promise<PluginData | undefined> {
    const backoff = new DecorrelatedBackoff(this.options.writeBackoff ?? { baseMs: 20, capMs: 2_000 });
    const attempts = this.options.writeAttempts ?? 8;
    for (let attempt = 1; ; attempt += 1) {
      if (!this.loaded) await this.load();
      const base = this.base;
      let next = base;
      let changed = false;
      for (const w of batch) {
        const out = w.modify(next === undefined ? undefined : { ...next });
        if (out !== undefined) {
          next = out;
          changed = true;
        }
      }
      if (!changed || next === undefined) return base;
      try {
        const stored = await this.options.store.swap(this.requestId, base, next, this.options.signal);
        this.remember(stored);
        return stored;
      } catch (err) {
        if (isPluginError(err, 'COMPARE_FAILED')) {
          // Someone else wrote: read what is there and apply the batch to that.
          this.loaded = false;
          if (attempt >= attempts * 3) throw err;
          if (attempt > 1) await backoff.wait(this.options.signal);
          continue;
        }
        if (attempt >= attempts || !isRetryable(err) || this.options.signal.aborted) throw err;
        this.options.logger.debug('plugin data write failed; retrying', { requestId: this.requestId, attempt, error: errorMessage(err) });
        await backoff.wait(this.options.signal);
      }
    }
  }

  private async retryTransient<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const backoff = new DecorrelatedBackoff(this.options.writeBackoff ?? { baseMs: 20, capMs: 2_000 });
    const attempts = this.options.writeAttempts ?? 8;
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || !isRetryable(err) || this.options.signal.aborted) {
          throw isPluginError(err) ? err : new PluginError('UNKNOWN', `${what}: ${errorMessage(err)}`, { cause: err });
        }
        await backoff.wait(this.options.signal);
      }
    }
  }
}

/** What a caller that holds `data` would see stored (undefined when nothing is left). */
export { storedData };
