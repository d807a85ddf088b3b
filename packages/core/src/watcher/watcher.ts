import { DecorrelatedBackoff, sleep } from '../backoff.js';
import { PluginError, errorMessage, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest, TeleportClient, WatchEvent, WatchStream } from '../teleport/types.js';

/** An event handed to the dispatcher: a live watch event or a PENDING request found by the re-list after INIT. */
export type WatcherEvent =
  | { type: 'put'; request: AccessRequest; source: 'watch' | 'list' }
  | { type: 'delete'; requestId: string; source: 'watch' };

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
  onReadyChange?(ready: boolean): void;
  onReconnect?(): void;
  onInit?(): void;
}

/** Errors that mean "the connection went away", worth a reconnect. Anything else is fatal. */
export function isConnectionProblem(err: unknown): boolean {
  return isPluginError(err, 'CONNECTION_PROBLEM') || isPluginError(err, 'UNREACHABLE') || isPluginError(err, 'TIMEOUT');
}

/**
 * One WatchEvents stream for every adapter. Teleport replays nothing after a reconnect (only a
 * new INIT), so after every INIT we list PENDING requests and feed them as PUTs: a request
 * created while we were disconnected is still announced (the Go plugins lose it). Duplicates are
 * harmless: the dispatcher's plugin-data CAS create decides who announces.
 */
export class Watcher {
  private readonly options: WatcherOptions;
  private readonly abort = new AbortController();
  private stream: WatchStream | undefined;
  private readyState = false;
  private loop: Promise<void> | undefined;

  constructor(options: WatcherOptions) {
    this.options = options;
  }

  get ready(): boolean {
    return this.readyState;
  }

  /** Starts watching; the promise settles when the watcher stops (rejects on a fatal error). */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loop;
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
    while (!signal.aborted) {
      try {
        await this.watchOnce(backoff);
        // A clean end of the stream (EOF) without our asking is a connection problem too.
        if (signal.aborted) break;
        throw new PluginError('CONNECTION_PROBLEM', 'watch stream ended');
      } catch (err) {
        this.setReady(false);
        if (signal.aborted) break;
        if (!isConnectionProblem(err)) {
          throw new PluginError(isPluginError(err) ? err.code : 'UNKNOWN', `watching access requests failed: ${errorMessage(err)}`, { cause: err });
        }
        if (this.options.failFast) {
          throw new PluginError('CONNECTION_PROBLEM', `lost the Teleport watch stream and fail-fast is on: ${errorMessage(err)}`, { cause: err });
        }
        const delay = backoff.next();
        logger.warn('watch stream lost; reconnecting', { error: errorMessage(err), delayMs: Math.round(delay) });
        this.options.onReconnect?.();
        try {
          await sleep(delay, signal);
        } catch {
          break;
        }
      }
    }
    this.setReady(false);
  }

  private async watchOnce(backoff: DecorrelatedBackoff): Promise<void> {
    const { client, logger } = this.options;
    const signal = this.abort.signal;
    const stream = client.watchAccessRequests({ signal });
    this.stream = stream;
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
      this.options.onInit?.();
      logger.info('watching access requests');
      await this.relistPending();
      if (signal.aborted) return;
      this.setReady(true);
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        this.deliver(next.value);
      }
    } finally {
      stream.close();
      if (this.stream === stream) this.stream = undefined;
    }
  }

  /** Feed the PENDING requests that exist now (see the class comment for why). */
  private async relistPending(): Promise<void> {
    const { client, logger, onEvent } = this.options;
    let pending: AccessRequest[];
    try {
      pending = await client.listAccessRequests({ state: 'PENDING' }, this.abort.signal);
    } catch (err) {
      if (isConnectionProblem(err) || this.abort.signal.aborted) throw err;
      // Without list permission we still work like the Go plugins (live events only).
      logger.warn('could not list pending access requests; requests created while disconnected may be missed', {
        error: errorMessage(err),
      });
      return;
    }
    logger.debug('pending access requests listed', { count: pending.length });
    for (const request of pending) onEvent({ type: 'put', request, source: 'list' });
  }

  private deliver(event: WatchEvent): void {
    switch (event.type) {
      case 'put':
        this.options.onEvent({ type: 'put', request: event.request, source: 'watch' });
        return;
      case 'delete':
        this.options.onEvent({ type: 'delete', requestId: event.requestId, source: 'watch' });
        return;
      case 'init':
        // A second INIT on the same stream would mean the server restarted the watch: treat it
        // like a reconnect so we re-list.
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
