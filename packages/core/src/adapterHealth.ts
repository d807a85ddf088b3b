import type { AdapterContext } from './adapter.js';
import { affectsEveryCall, errorMessage } from './errors.js';
import type { TicketTracker } from './ticketing/tracker.js';

export interface HealthTracker {
  /** A service call succeeded: healthy again if a refused credential had made it unhealthy. */
  ok(): void;
  /** A service call failed: unhealthy only if the failure breaks every call (affectsEveryCall). */
  failed(err: unknown): void;
}

/**
 * A refused credential (HTTP 401, Slack's invalid_auth, an SMTP login...) breaks every later call
 * too: show it on /readyz and in `check` until a call succeeds again. One destination refusing
 * (a channel the bot may not post in) is logged where it happens, not reported as the adapter's
 * health, or readiness would flap with every request.
 */
export function healthTracker(ctx: AdapterContext<unknown>): HealthTracker {
  let unhealthy = false;
  return {
    ok() {
      if (!unhealthy) return;
      unhealthy = false;
      ctx.reportHealth(true);
    },
    failed(err) {
      if (!affectsEveryCall(err)) return;
      unhealthy = true;
      ctx.reportHealth(false, errorMessage(err));
    },
  };
}

/** The tracker with every asynchronous verb reporting its outcome to `health`. */
export function watchedTracker(tracker: TicketTracker, health: HealthTracker): TicketTracker {
  return new Proxy(tracker, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.then(
          (answer: unknown) => {
            health.ok();
            return answer;
          },
          (err: unknown) => {
            health.failed(err);
            throw err;
          },
        );
      };
    },
  });
}
