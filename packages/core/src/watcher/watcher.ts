import { DecorrelatedBackoff, sleep } from '../backoff.js';
import { PluginError, errorMessage, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest, PluginData, TeleportClient, WatchEvent, WatchStream } from '../teleport/types.js';

/**
 * What the dispatcher is handed: the request as it is now (a live PUT, or a listing by the
 * reconciliation), or the news that it is gone (a live DELETE, or a reconciliation that found
 * plugin data for a request that no longer exists). `known` carries plugin data read in bulk by
 * the reconciliation, per adapter (null = none), so no adapter reads it again.
 */
export type WatcherEvent =
  | {
      type: 'put';
      request: AccessRequest;
      source: 'watch' | 'list';
      known?: ReadonlyMap<string, PluginData | null>;
      /**
       * The request was pending when it arrived and was decided right away (an automatic review):
       * announce it although it is no longer pending, so messages show the outcome.
       */
      announce?: boolean;
    }
  | { type: 'delete'; requestId: string; source: 'watch' | 'list'; known?: ReadonlyMap<string, PluginData | null> };

export interface WatcherOptions {
  client: TeleportClient;
  logger: Logger;
  onEvent(event: WatcherEvent): void;
  /** Exit on a lost connection instead of reconnecting (TELEPORT_PLUGIN_FAIL_FAST). */
  failFast?: boolean;
  /** How long to wait for INIT on a new stream (default 15 s, as upstream). */
  initTimeoutMs?: number;
  /** Reconnect backoff (default 20 ms .. 5 s, as upstream). */
  backoff?: { baseMs: number; capMs: number };
  /**
   * A stream that delivers nothing for this long is reopened on a rebuilt connection (default
   * 10 min). Teleport sends no heartbeats on a watch, so on a quiet cluster this costs one new
   * stream and one reconciliation per period; a stream that silently stopped delivering
   * (a half-dead connection) then costs at most this long, not forever.
   */
  silenceMs?: number;
  /** Failed watch attempts in a row after which the connection is rebuilt with re-read credentials (default 3). */
  rebuildAfterFailures?: number;
  onReadyChange?(ready: boolean): void;
  onReconnect?(): void;
  /** Every INIT: the caller reconciles (concurrently with reading the stream). `acceptedKinds`: what the stream carries. */
  onInit?(acceptedKinds: readonly string[]): void;
  /** Also watch Access Monitoring Rules (partial success: a refusal drops only that kind). */
  watchRules?: boolean;
  /** Rule events (`rule-put`, `rule-delete`), with watchRules. */
  onRuleEvent?(event: Extract<WatchEvent, { type: 'rule-put' | 'rule-delete' }>): void;
}

/** Errors that mean "the connection went away", worth a reconnect. Anything else is fatal. */
export function isConnectionProblem(err: unknown): boolean {
  return isPluginError(err, 'CONNECTION_PROBLEM') || isPluginError(err, 'UNREACHABLE') || isPluginError(err, 'TIMEOUT');
}

/**
 * One WatchEvents stream for every adapter. Teleport replays nothing after a reconnect (only a new
 * INIT), so every INIT triggers a reconciliation (onInit) that runs while the new stream is read:
 * whatever happened while no stream was open is found there, not lost.
 *
 * A watchdog reopens a stream that stays silent past `silenceMs`, and after repeated failures the
 * connection itself is rebuilt with freshly read credentials (a client broken by a closed
 * connection otherwise never recovers: teleport#67629).
 */
export class Watcher {
  private readonly options: WatcherOptions;
  private readonly abort = new AbortController();
  private stream: WatchStream | undefined;
  private readyState = false;
  private loop: Promise<void> | undefined;
  private firstInit: { resolve: () => void; reject: (err: unknown) => void; promise: Promise<void> };

  constructor(options: WatcherOptions) {
    this.options = options;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.firstInit = { resolve, reject, promise };
  }

  get ready(): boolean {
    return this.readyState;
  }

  /** Starts watching; the promise settles when the watcher stops (rejects on a fatal error). */
  start(): Promise<void> {
    this.loop ??= this.run().then(
      () => this.firstInit.resolve(),
      (err: unknown) => {
        this.firstInit.reject(err);
        throw err;
      },
    );
    return this.loop;
  }

  /** Resolves at the first INIT (or when connecting keeps failing past `withinMs`); rejects on a fatal error before it. */
  async initialised(withinMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), withinMs);
    });
    try {
      return await Promise.race([this.firstInit.promise.then(() => true), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    if (!this.abort.signal.aborted) this.abort.abort(new PluginError('SHUTDOWN', 'watcher stopped'));
    this.stream?.close();
    await this.loop?.catch(() => undefined);
  }

  private setReady(ready: boolean): void {
    if (this.readyState === ready) return;
    this.readyState = ready;
    this.options.onReadyChange?.(ready);
  }

  private async run(): Promise<void> {
    const { logger } = this.options;
    const signal = this.abort.signal;
    const backoff = new DecorrelatedBackoff(this.options.backoff ?? { baseMs: 20, capMs: 5000 });
    let failures = 0;
    while (!signal.aborted) {
      let silent = false;
      try {
        silent = await this.watchOnce(backoff, () => {
          failures = 0;
        });
        if (signal.aborted) break;
        if (!silent) throw new PluginError('CONNECTION_PROBLEM', 'watch stream ended');
      } catch (err) {
        this.setReady(false);
        if (signal.aborted) break;
        if (!isConnectionProblem(err)) throw this.fatal(err);
        if (this.options.failFast) {
          throw new PluginError('CONNECTION_PROBLEM', `lost the Teleport watch stream and fail-fast is on: ${errorMessage(err)}`, { cause: err });
        }
        failures += 1;
        const delay = backoff.next();
        logger.warn('watch stream lost; reconnecting', { error: errorMessage(err), delayMs: Math.round(delay), failures });
        this.options.onReconnect?.();
        if (failures >= (this.options.rebuildAfterFailures ?? 3)) {
          failures = 0;
          await this.rebuild('repeated watch failures');
        }
        try {
          await sleep(delay, signal);
        } catch {
          break;
        }
        continue;
      }
      // The watchdog fired: rebuild the connection and watch again at once.
      this.setReady(false);
      this.options.onReconnect?.();
      await this.rebuild('silent watch stream');
    }
    this.setReady(false);
  }

  /** New connection (and re-read credentials) for the next stream; streams in flight end on the old one. */
  private async rebuild(why: string): Promise<void> {
    const { client, logger } = this.options;
    if (!client.reconnect) return;
    try {
      if (client.refreshIdentity) await client.refreshIdentity();
    } catch (err) {
      logger.warn('could not re-read the identity', { error: errorMessage(err) });
    }
    client.reconnect();
    logger.info('rebuilt the Teleport connection', { reason: why });
  }

  /** Resolves true when the watchdog closed a silent stream, false when the stream ended by itself. */
  private async watchOnce(backoff: DecorrelatedBackoff, onInit: () => void): Promise<boolean> {
    const { client, logger } = this.options;
    const signal = this.abort.signal;
    const stream = client.watchAccessRequests(this.options.watchRules ? { signal, accessMonitoringRules: true } : { signal });
    this.stream = stream;
    const silenceMs = this.options.silenceMs ?? 10 * 60_000;
    let silent = false;
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        silent = true;
        logger.warn('watch stream silent; reopening it on a new connection', { silentForMs: silenceMs });
        stream.close();
      }, silenceMs);
      watchdog.unref();
    };
    try {
      const iterator = stream[Symbol.asyncIterator]();
      const first = await withTimeout(iterator.next(), this.options.initTimeoutMs ?? 15_000, () => stream.close());
      if (first.done) throw new PluginError('CONNECTION_PROBLEM', 'watch stream ended before INIT');
      if (first.value.type !== 'init') {
        throw new PluginError('CONNECTION_PROBLEM', `expected INIT as the first watch event, got ${first.value.type.toUpperCase()}`);
      }
      if (first.value.acceptedKinds.length > 0 && !first.value.acceptedKinds.includes('access_request')) {
        throw new PluginError('ACCESS_DENIED', `Teleport did not accept a watch on access_request (accepted: ${first.value.acceptedKinds.join(', ')})`);
      }
      backoff.reset();
      onInit();
      arm();
      logger.info('watching access requests');
      this.setReady(true);
      this.firstInit.resolve();
      this.options.onInit?.(first.value.acceptedKinds);
      for (;;) {
        const next = await iterator.next();
        if (next.done) return silent;
        arm();
        this.deliver(next.value);
      }
    } catch (err) {
      if (silent) return true;
      throw err;
    } finally {
      clearTimeout(watchdog);
      stream.close();
      if (this.stream === stream) this.stream = undefined;
    }
  }

  /** A watch failure no reconnect can fix, said in words a user can act on. */
  private fatal(err: unknown): PluginError {
    const identity = this.options.client.currentIdentity?.();
    const who = identity ? `user "${identity.username}"` : "the plugin's Teleport user";
    if (isPluginError(err, 'ACCESS_DENIED')) {
      return new PluginError(
        'ACCESS_DENIED',
        `Teleport refused to let ${who} watch access requests (${errorMessage(err)}): its role needs the rule resources [access_request], verbs [list, read] (see examples/roles/access-plugin.yaml)`,
        { cause: err, userFacing: true },
      );
    }
    return new PluginError(isPluginError(err) ? err.code : 'UNKNOWN', `watching access requests failed: ${errorMessage(err)}`, { cause: err });
  }

  private deliver(event: WatchEvent): void {
    switch (event.type) {
      case 'put':
        this.options.onEvent({ type: 'put', request: event.request, source: 'watch' });
        return;
      case 'delete':
        this.options.onEvent({ type: 'delete', requestId: event.requestId, source: 'watch' });
        return;
      case 'rule-put':
      case 'rule-delete':
        this.options.onRuleEvent?.(event);
        return;
      case 'init':
        // A second INIT on the same stream would mean the server restarted the watch: treat it
        // like a reconnect so we reconcile.
        throw new PluginError('CONNECTION_PROBLEM', 'unexpected second INIT on the watch stream');
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new PluginError('CONNECTION_PROBLEM', `no INIT on the watch stream within ${ms} ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
