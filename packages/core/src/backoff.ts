import { PluginError } from './errors.js';

export interface BackoffOptions {
  /** Smallest sleep (and the first one) in milliseconds. */
  baseMs: number;
  /** Largest sleep in milliseconds. */
  capMs: number;
  /** Source of randomness in [0, 1); injectable so tests can pin it. */
  random?: () => number;
}

/**
 * Decorrelated jitter (the scheme the Go plugins use for reconnects and CAS retries):
 * `sleep = min(cap, base + rand[0, 3·sleep − base))`. Each delay depends on the previous one
 * rather than on the attempt number, which spreads competing retriers apart quickly without the
 * long synchronized plateaus of plain exponential backoff.
 */
export class DecorrelatedBackoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;
  private last: number;

  constructor(options: BackoffOptions) {
    if (!(options.baseMs > 0) || !(options.capMs >= options.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs, got ${options.baseMs} and ${options.capMs}`);
    }
    this.baseMs = options.baseMs;
    this.capMs = options.capMs;
    this.random = options.random ?? Math.random;
    this.last = options.baseMs;
  }

  /** The next delay in milliseconds. */
  next(): number {
    const span = Math.max(0, 3 * this.last - this.baseMs);
    this.last = Math.min(this.capMs, this.baseMs + this.random() * span);
    return this.last;
  }

  /** Start over from the base delay (after a success). */
  reset(): void {
    this.last = this.baseMs;
  }

  /** Sleep for next(); rejects with a SHUTDOWN PluginError when `signal` aborts. */
  wait(signal?: AbortSignal): Promise<void> {
    return sleep(this.next(), signal);
  }
}

/**
 * An abortable sleep. Rejects with a `SHUTDOWN` PluginError (cause = the abort reason) as soon as
 * `signal` aborts, so retry loops end promptly at shutdown instead of finishing their wait.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): PluginError {
  const reason: unknown = signal.reason;
  if (reason instanceof PluginError) return reason;
  return new PluginError('SHUTDOWN', 'aborted', { cause: reason });
}
