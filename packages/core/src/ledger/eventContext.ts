import type { EffectOptions, EventContext } from '../adapter.js';
import type { Logger } from '../log/logger.js';
import type { RequestLedger } from './requestLedger.js';

/** What a handler attempt sees: its signal and attempt number, and the request's ledger. */
export function eventContext(ledger: RequestLedger, logger: Logger, signal: AbortSignal, attempt: number): EventContext {
  return {
    requestId: ledger.requestId,
    logger,
    signal,
    attempt,
    get data() {
      return ledger.data;
    },
    updateData: (modify) => ledger.update(modify),
    once: (name: string, run: (signal: AbortSignal | undefined) => Promise<string | void>, options: EffectOptions = {}) => ledger.once(name, run, { ...options, signal }),
  };
}
