import type { Adapter, AdapterContext, EventContext } from '../adapter.js';
import { eventContext } from '../ledger/eventContext.js';
import { KnownData } from '../ledger/knownData.js';
import { RequestLedger } from '../ledger/requestLedger.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../host.js';
import { createCaptureLogger, type CaptureLogger } from '../log/capture-logger.js';
import { createPluginDataStore } from '../ledger/pluginDataStore.js';
import { teleportActions } from '../teleport/actions.js';
import type { PluginData } from '../teleport/types.js';
import { MemoryTeleport } from './memoryTeleport.js';

export interface AdapterTest {
  readonly runtime: Runtime;
  readonly teleport: MemoryTeleport;
  readonly logger: CaptureLogger;
  /** This adapter's plugin data for a request. */
  data(requestId: string): PluginData | undefined;
  /** Resolves once every event sent so far (and what it caused) has been handled. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export interface AdapterTestOptions {
  teleport?: MemoryTeleport;
  /** Runtime tuning; tests usually shorten retries and timeouts. */
  runtime?: Partial<Omit<RuntimeOptions, 'teleport' | 'adapters' | 'logger'>>;
}

/**
 * The adapter in the real runtime (watcher, dispatcher, ledger, reconciliation) on an in-memory
 * Teleport: `t.teleport.put(request)` is a live PUT event, `t.teleport.remove(id)` an expiry, and
 * `await t.settled()` waits until everything they caused is done. Retries are fast by default.
 */
export async function startAdapterTest<TConfig>(adapter: Adapter<TConfig>, config: TConfig, options: AdapterTestOptions = {}): Promise<AdapterTest> {
  const teleport = options.teleport ?? new MemoryTeleport();
  const logger = createCaptureLogger();
  const runtime = await startRuntime({
    teleport,
    adapters: [{ adapter, config }],
    logger,
    retry: { attempts: 4, baseMs: 5, capMs: 20 },
    handlerTimeoutMs: 5_000,
    reconcileIntervalMs: 0,
    ledgerWrites: { attempts: 4, baseMs: 1, capMs: 5 },
    ...options.runtime,
  });
  const settled = async (): Promise<void> => {
    // Events travel stream -> watcher -> dispatcher through promise turns; wait until all three are quiet.
    for (let quiet = 0; quiet < 3;) {
      await new Promise((resolve) => setImmediate(resolve));
      const before = teleport.streams.reduce((n, s) => n + s.pending, 0);
      await runtime.idle();
      quiet = before === 0 ? quiet + 1 : 0;
    }
  };
  return {
    runtime,
    teleport,
    logger,
    data: (requestId) => teleport.pluginData(requestId, adapter.name),
    settled,
    close: async () => {
      await runtime.stop(2_000);
      await teleport.close();
    },
  };
}

/**
 * An AdapterContext over an in-memory Teleport, without a runtime: for setup() and check() tests.
 * `close()` aborts the context's signal and runs onClose callbacks.
 */
export function adapterContext<TConfig>(
  name: string,
  config: TConfig,
  options: { teleport?: MemoryTeleport; webProxyUrl?: string; mode?: 'run' | 'check' } = {},
): { ctx: AdapterContext<TConfig>; teleport: MemoryTeleport; logger: CaptureLogger; health: Array<{ healthy: boolean; reason?: string }>; close(): Promise<void> } {
  const teleport = options.teleport ?? new MemoryTeleport();
  const logger = createCaptureLogger();
  const abort = new AbortController();
  const closers: Array<() => Promise<void> | void> = [];
  const health: Array<{ healthy: boolean; reason?: string }> = [];
  const ctx: AdapterContext<TConfig> = {
    name,
    config,
    mode: options.mode ?? 'run',
    logger: logger.child({ adapter: name }),
    cluster: {
      ...teleport.cluster,
      ...(options.webProxyUrl ? { advancedAccessWorkflows: true, webProxyUrl: options.webProxyUrl } : {}),
    },
    store: createPluginDataStore(teleport, name),
    teleport: teleportActions(teleport),
    signal: abort.signal,
    resync: () => undefined,
    onClose: (fn) => {
      closers.push(fn);
    },
    reportHealth: (healthy, reason) => {
      health.push(reason === undefined ? { healthy } : { healthy, reason });
    },
  };
  return {
    ctx,
    teleport,
    logger,
    health,
    close: async () => {
      abort.abort();
      for (const fn of closers.reverse()) await fn();
    },
  };
}

/**
 * An EventContext like the dispatcher's for calling an adapter's handlers directly: a real ledger
 * over the context's plugin-data store (write-ahead records, leases, batched writes). `owner`
 * stands for the runtime instance (a different owner is another replica or a restart).
 */
export async function handlerEvent(
  ctx: AdapterContext<unknown>,
  requestId: string,
  options: { signal?: AbortSignal; attempt?: number; owner?: string; leaseMs?: number; known?: KnownData } = {},
): Promise<EventContext> {
  const ledger = new RequestLedger(requestId, {
    store: ctx.store,
    known: options.known ?? new KnownData(),
    owner: options.owner ?? 'test',
    leaseMs: options.leaseMs ?? 60_000,
    signal: ctx.signal,
    logger: ctx.logger,
    writeBackoff: { baseMs: 1, capMs: 5 },
    // Called outside a step, nothing would flush a record written behind: write through.
    writeBehind: false,
  });
  // As the dispatcher: a handler starts with the request's plugin data as Teleport holds it.
  await ledger.load(true);
  return eventContext(ledger, ctx.logger.child({ requestId }), options.signal ?? new AbortController().signal, options.attempt ?? 1);
}
