import { status } from '@grpc/grpc-js';

/** A failure queued for the next calls of one method. */
interface QueuedFailure {
  remaining: number;
  code: status;
  message: string;
}

/**
 * Fault injection for the fake Teleport. Methods are named as in the proto (`Ping`, `WatchEvents`,
 * `UpdatePluginData`, ...; the users service's methods are `UsersService.GetUser` and `UsersService.ListUsers`).
 */
export class FaultInjector {
  private latencyMs = 0;
  private refuseUntil = 0;
  private readonly failures = new Map<string, QueuedFailure>();

  constructor(private readonly dropStreams: (code: status, message: string) => number) {}

  /** Ends every open WatchEvents stream with UNAVAILABLE; returns how many were dropped. */
  dropWatchStreams(message = 'watch stream dropped by fault injection'): number {
    return this.dropStreams(status.UNAVAILABLE, message);
  }

  /** Refuses new WatchEvents streams with UNAVAILABLE for `ms` milliseconds. */
  refuseStreams(ms: number): void {
    this.refuseUntil = Date.now() + ms;
  }

  /** Adds `ms` of latency before every call is handled (0 turns it off). */
  latency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** The next `n` calls of `method` fail with `code` (default UNAVAILABLE). */
  failNext(method: string, n = 1, code: status = status.UNAVAILABLE, message?: string): void {
    this.failures.set(method, { remaining: n, code, message: message ?? `injected failure of ${method}` });
  }

  /** Clears every fault. */
  reset(): void {
    this.latencyMs = 0;
    this.refuseUntil = 0;
    this.failures.clear();
  }

  /** @internal */
  get currentLatencyMs(): number {
    return this.latencyMs;
  }

  /** @internal */
  streamsRefused(): boolean {
    return Date.now() < this.refuseUntil;
  }

  /** @internal Consumes one queued failure for `method`, if any. */
  takeFailure(method: string): { code: status; message: string } | undefined {
    const f = this.failures.get(method);
    if (!f) return undefined;
    f.remaining -= 1;
    if (f.remaining <= 0) this.failures.delete(method);
    return { code: f.code, message: f.message };
  }
}
