import { DecorrelatedBackoff, sleep } from '../backoff.js';
import { PluginError, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_OUTBOUND_POLICY, type OutboundCall, type OutboundPolicy } from './policy.js';
import { networkFailure } from './serviceFailure.js';

export interface CallServiceOptions {
  /** The handler's signal: ends waiting between attempts, and is passed to each attempt. */
  signal?: AbortSignal | undefined;
  policy?: Partial<OutboundPolicy> | undefined;
  logger?: Logger | undefined;
  /**
   * Turns what an attempt threw into a PluginError carrying service facts (httpFailure,
   * refusal, networkFailure). Errors that already carry facts are taken as they are; the default
   * treats anything else as a transport failure.
   */
  classify?: ((err: unknown, call: OutboundCall) => PluginError) | undefined;
}

/**
 * One call to a service under the outbound policy:
 * - 429: wait what the service asked (Retry-After / ratelimit-reset, else backoff), unless that is
 *   longer than `maxRetryAfterMs`;
 * - 5xx and network errors: backoff, but only when repeating cannot duplicate an effect (the call
 *   is idempotent, or it certainly never left this host);
 * - anything else, or the attempt budget spent: throw the classified error, whose facts tell the
 *   ledger whether the effect may have happened and the dispatcher whether to retry later.
 */
export async function callService<T>(call: OutboundCall, attempt: (signal: AbortSignal | undefined) => Promise<T>, options: CallServiceOptions = {}): Promise<T> {
  const policy = options.policy ? { ...DEFAULT_OUTBOUND_POLICY, ...options.policy } : DEFAULT_OUTBOUND_POLICY;
  const classify = options.classify ?? defaultClassify;
  const { signal } = options;
  let backoff: DecorrelatedBackoff | undefined;
  for (let n = 1; ; n += 1) {
    signal?.throwIfAborted();
    try {
      return await attempt(signal);
    } catch (raw) {
      if (signal?.aborted) throw abortedDuring(call, signal, raw);
      const err = isPluginError(raw) && raw.service ? raw : classify(raw, call);
      const facts = err.service;
      if (!facts || !facts.retryable || n >= policy.attempts) throw err;
      let waitMs: number;
      if (facts.status === 429) {
        if (policy.rateLimitedAttempts !== undefined && n >= policy.rateLimitedAttempts) throw err;
        backoff ??= new DecorrelatedBackoff({ baseMs: policy.baseMs, capMs: policy.capMs });
        waitMs = facts.retryAfterMs ?? backoff.next();
        if (waitMs > policy.maxRetryAfterMs) throw err;
      } else if (facts.outcomeUnknown) {
        // It may have happened: repeating could do it twice. The ledger settles it (find).
        throw err;
      } else {
        backoff ??= new DecorrelatedBackoff({ baseMs: policy.baseMs, capMs: policy.capMs });
        waitMs = backoff.next();
      }
      options.logger?.warn('service call failed; retrying', {
        service: call.service,
        operation: call.operation,
        status: facts.status,
        serviceCode: facts.serviceCode,
        attempt: n,
        waitMs: Math.round(waitMs),
        error: err.message,
      });
      try {
        await sleep(waitMs, signal);
      } catch (abort) {
        throw abortedDuring(call, signal!, abort);
      }
    }
  }
}

function defaultClassify(err: unknown, call: OutboundCall): PluginError {
  return networkFailure(call, err);
}

/** Cancelled by the caller mid-call: a write that was under way may still land. */
function abortedDuring(call: OutboundCall, signal: AbortSignal, raw: unknown): PluginError {
  const reason: unknown = signal.reason;
  const base = reason instanceof PluginError ? reason : undefined;
  return new PluginError(base?.code ?? 'TIMEOUT', `${call.service} ${call.operation}: ${base?.message ?? 'cancelled'}`, {
    cause: raw,
    service: { service: call.service, operation: call.operation, retryable: true, outcomeUnknown: !call.idempotent },
  });
}
