/**
 * How hard one call to a service is tried before its failure goes up to the caller. One policy
 * for every client, so a rate-limited call is retried a known, bounded number of times here and
 * nowhere else: SDK retry loops are switched off, and the dispatcher only retries a handler after
 * this budget is spent.
 */
export interface OutboundPolicy {
  /** HTTP attempts per call, the first included. */
  attempts: number;
  /** Backoff after a 5xx or a network error (decorrelated jitter between these bounds). */
  baseMs: number;
  capMs: number;
  /** A 429 asking for a longer wait fails at once (as retryable) instead of holding the handler. */
  maxRetryAfterMs: number;
  /**
   * Attempts when the answer is 429, if fewer than `attempts`: for an SDK that already retries
   * rate-limited calls itself and cannot be told not to (pdjs), so its retries and ours do not
   * multiply.
   */
  rateLimitedAttempts?: number;
}

export const DEFAULT_OUTBOUND_POLICY: Readonly<OutboundPolicy> = Object.freeze({
  attempts: 4,
  baseMs: 250,
  capMs: 5_000,
  maxRetryAfterMs: 60_000,
});

/** One kind of call, as the policy and the logs see it. */
export interface OutboundCall {
  /** `Slack`, `PagerDuty`, `Jira`... */
  service: string;
  /** `chat.postMessage`, `POST /incidents`... */
  operation: string;
  /**
   * Safe to repeat when we cannot tell whether it took effect (reads, edits, state changes such
   * as "resolve"). A post, note or comment is not: it is retried only when it certainly never
   * reached the service, and otherwise fails with `outcomeUnknown` for the ledger to settle.
   */
  idempotent: boolean;
}
