import { setMaxListeners } from 'node:events';
import type { Registry } from 'prom-client';
import type { Adapter, AdapterContext, AdapterHandlers } from './adapter.js';
import { Dispatcher, type DispatchTarget, type RetryPolicy } from './dispatcher/dispatcher.js';
import { Reconciler, type ReconcileReport } from './dispatcher/reconciler.js';
import { PluginError, errorMessage, isPluginError } from './errors.js';
import { withDeadline } from './deadline.js';
import { createRuntimeMetrics, type RuntimeMetrics } from './http/metrics.js';
import { startHttpServer, type ReadinessReport, type RuntimeHttpServer } from './http/server.js';
import { DEFAULT_LISTEN_ADDR, type HttpServerConfig } from './http/types.js';
import type { Logger } from './log/logger.js';
import { accessRequestSnapshot } from './ledger/accessRequestSnapshot.js';
import { upperResolutionTag } from './ledger/fields.js';
import { createPluginDataStore } from './ledger/pluginDataStore.js';
import type { ClusterInfo, TeleportClient } from './teleport/types.js';
import { Watcher } from './watcher/watcher.js';
import { AccessListReminderJob, type AccessListReminderJobOptions, type ReminderTickReport } from './accesslists/reminderJob.js';
import { teleportActions } from './teleport/actions.js';
import type { RoutingConfig } from './routing/config.js';
import type { Explanation } from './routing/explain.js';
import { debugRoute } from './routing/debugRoute.js';
import { RuntimeRouting } from './routing/runtimeRouting.js';

export interface RuntimeOptions {
  /** The one Teleport connection (the caller creates and closes it). */
  teleport: TeleportClient;
  /** Adapters with their parsed config (`adapter.parseConfig` output). */
  adapters: Array<{ adapter: Adapter<unknown>; config: unknown }>;
  logger: Logger;
  /** `[http]`; the server also starts (with defaults) when an adapter declares routes. */
  http?: HttpServerConfig;
  insecureNoTls?: boolean;
  /** TELEPORT_PLUGIN_FAIL_FAST: a lost watch stream ends the runtime instead of reconnecting. */
  failFast?: boolean;
  /** Per try of an adapter handler (default 30 s). */
  handlerTimeoutMs?: number;
  /** Requests handled at once, per adapter (default 128). */
  maxConcurrency?: number;
  /** Handler retries (default 5 tries, 1 s .. 30 s). */
  retry?: Partial<RetryPolicy>;
  /** Register metrics here instead of a registry of the runtime's own. */
  metrics?: Registry;
  /** Watch tuning (tests): INIT timeout, reconnect backoff, the silent-stream watchdog. */
  watch?: { initTimeoutMs?: number; backoff?: { baseMs: number; capMs: number }; silenceMs?: number };
  /** Between periodic reconciliations (default 5 min; 0 = only after each INIT). */
  reconcileIntervalMs?: number;
  /** How long another instance's started work is left to it (default: 2 handler timeouts + 30 s). */
  leaseMs?: number;
  /** This instance's name in write-ahead records (default: random per start). */
  instanceId?: string;
  /**
   * A stable name for this instance, unique among running replicas and kept across restarts (a
   * Kubernetes pod name): a restarted process then takes over what its predecessor left at once.
   */
  instanceName?: string;
  /** Plugin-data write retries (tests shorten the backoff). */
  ledgerWrites?: { attempts: number; baseMs: number; capMs: number };
  /** Access Monitoring Rules, automatic reviews, dedupe, reminders (`[routing]`, `[automatic_review]`, `[reminders]`). */
  routing?: RoutingConfig;
  /** How long a new pending request waits for its automatic review before it is announced anyway (default 10 s). */
  automaticReviewWaitMs?: number;
  /** Access List review reminder timing (tests): first run (default 30 s), then every 3 h; lease of another instance's reminder (5 min). */
  accessListReminders?: { firstDelayMs?: number; intervalMs?: number; leaseMs?: number };
}

export interface Runtime {
  /** Connected, watching, and every adapter healthy. */
  readonly ready: boolean;
  /** Local URL of the HTTP server, when one runs. */
  readonly httpUrl: string | undefined;
  readonly cluster: ClusterInfo;
  readonly metrics: RuntimeMetrics;
  /** Settles when the runtime has stopped; rejects on a fatal error (the caller should then stop()). */
  readonly done: Promise<void>;
  /** What /readyz reports. */
  readiness(): ReadinessReport;
  /** Resolves when every event dispatched so far has been handled (tests, benchmarks). */
  idle(): Promise<void>;
  /** Compare Teleport with every adapter's plugin data now and deliver what is owed. */
  reconcile(): Promise<ReconcileReport | undefined>;
  /** Run the Access List review reminders now (undefined when no adapter sends them). */
  remindAccessListOwners(): Promise<ReminderTickReport | undefined>;
  /** This instance's name in write-ahead records. */
  readonly instanceId: string;
  /** What routing and follow-up do for a request (`teleport-plugin explain`, `/debug/requests/<id>`). */
  explain(requestId: string, signal?: AbortSignal): Promise<Explanation>;
  /**
   * Graceful shutdown: stop watching, let queued and in-flight handlers finish within
   * `budgetMs`, then run adapters' stop() and onClose callbacks and close the HTTP server.
   */
  stop(budgetMs?: number): Promise<void>;
}

interface LoadedAdapter {
  name: string;
  adapter: Adapter<unknown>;
  handlers: AdapterHandlers;
  logger: Logger;
  health: { healthy: boolean; reason?: string };
  onClose: Array<() => Promise<void> | void>;
}

const PING_TIMEOUT_MS = 10_000;

/**
 * Start the runtime: ping Teleport, set up every adapter (a failing setup is fatal and names the
 * adapter), start the HTTP server when needed, then the one watch stream feeding the dispatcher.
 */
export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { teleport, logger } = options;
  const metrics = createRuntimeMetrics(options.metrics);
  const shutdown = new AbortController();
  // Adapters may hang many listeners on the shutdown signal (one per in-flight call).
  setMaxListeners(0, shutdown.signal);

  const names = new Set<string>();
  for (const { adapter } of options.adapters) {
    if (names.has(adapter.name)) {
      throw new PluginError('ADAPTER_INVALID', `adapter "${adapter.name}" is loaded twice`, { userFacing: true });
    }
    names.add(adapter.name);
  }

  let cluster: ClusterInfo;
  try {
    cluster = await teleport.ping(AbortSignal.timeout(PING_TIMEOUT_MS));
  } catch (err) {
    throw new PluginError(isPluginError(err) ? err.code : 'UNREACHABLE', `cannot reach Teleport: ${errorMessage(err)}`, {
      cause: err,
      userFacing: isPluginError(err) ? err.userFacing : false,
    });
  }
  logger.info('connected to Teleport', { cluster: cluster.clusterName, version: cluster.serverVersion });
  const actions = teleportActions(teleport);
  const routing = new RuntimeRouting({
    client: teleport,
    actions,
    logger,
    adapters: options.adapters.map((a) => a.adapter.name),
    config: options.routing,
    serverVersion: cluster.serverVersion,
    ...(options.automaticReviewWaitMs === undefined && options.routing?.automaticReview === undefined
      ? {}
      : { reviewWaitMs: options.automaticReviewWaitMs ?? options.routing?.automaticReview?.waitMs }),
  });

  // Set once the dispatcher exists; adapters only call resync() from handlers and routes.
  let resync: (requestId: string) => void = () => undefined;
  const loaded: LoadedAdapter[] = [];
  const targets: DispatchTarget[] = [];
  const closeLoaded = async (): Promise<void> => {
    for (const entry of [...loaded].reverse()) await runClose(entry);
  };

  for (const { adapter, config } of options.adapters) {
    const name = adapter.name;
    const adapterLogger = logger.child({ adapter: name });
    const store = createPluginDataStore(teleport, name, { onConflict: () => metrics.pluginDataConflicts.inc({ adapter: name }) });
    const entry: LoadedAdapter = { name, adapter, handlers: {}, logger: adapterLogger, health: { healthy: true }, onClose: [] };
    const ctx: AdapterContext<unknown> = {
      name,
      config,
      mode: 'run',
      logger: adapterLogger,
      cluster,
      store,
      teleport: actions,
      signal: shutdown.signal,
      routing: routing.forAdapter(name),
      onClose: (fn) => {
        entry.onClose.push(fn);
      },
      resync: (requestId) => resync(requestId),
      reportHealth: (healthy, reason) => {
        if (entry.health.healthy !== healthy) {
          if (healthy) adapterLogger.info('adapter healthy again');
          else adapterLogger.warn('adapter unhealthy', { reason });
        }
        entry.health = reason === undefined ? { healthy } : { healthy, reason };
      },
    };
    loaded.push(entry);
    try {
      entry.handlers = (await adapter.setup(ctx)) ?? {};
    } catch (err) {
      await closeLoaded();
      const userFacing = isPluginError(err) && err.userFacing;
      throw new PluginError(isPluginError(err) && userFacing ? err.code : 'ADAPTER_FAILED', `adapter "${name}" failed to start: ${errorMessage(err)}`, {
        cause: err,
        userFacing,
        details: { adapter: name },
      });
    }
    const layout = adapter.pluginData;
    targets.push({
      name,
      handlers: entry.handlers,
      store,
      logger: adapterLogger,
      snapshot: layout?.snapshot ? layout.snapshot.bind(layout) : accessRequestSnapshot,
      resolutionTag: layout?.resolutionTag ? layout.resolutionTag.bind(layout) : upperResolutionTag,
    });
  }

  const dispatcher = new Dispatcher({
    targets,
    logger,
    handlerTimeoutMs: options.handlerTimeoutMs,
    maxConcurrency: options.maxConcurrency,
    retry: options.retry,
    metrics,
    owner: options.instanceId,
    instanceName: options.instanceName,
    leaseMs: options.leaseMs,
    ledgerWrites: options.ledgerWrites,
    onUnfinished: (requestId, retryAt) => retries.schedule(requestId, retryAt),
    ...(routing.followUps ? { followUps: routing.followUps } : {}),
  });
  // Between every event source and the dispatcher: automatic reviews and follow-up timers.
  const intake = routing.intake(
    (event) => dispatcher.dispatch(event),
    (requestId) => resync(requestId),
    (request, decision, signal) => dispatcher.claim(request, decision, signal),
  );
  const reconciler = new Reconciler({
    client: teleport,
    targets,
    dispatch: (event) => intake.push(event),
    logger: logger.child({ component: 'reconcile' }),
    intervalMs: options.reconcileIntervalMs,
    owed: (adapter, request, data) => routing.owed(adapter, request, data),
    onListed: (requests) => routing.onListed(requests),
  });
  const retries = new RetryTimers((requestId) => resync(requestId));
  const listReminders = accessListReminderJob(options, loaded, {
    cluster,
    instanceId: dispatcher.owner,
    onOutcome: (adapter, outcome) => metrics.accessListReminders.inc({ adapter, outcome }),
  });
  resync = (requestId) => {
    void teleport
      .getAccessRequest(requestId)
      .then((request) => intake.push(request ? { type: 'put', request, source: 'list' } : { type: 'delete', requestId, source: 'list' }))
      .catch((err: unknown) => logger.warn('could not re-read an access request', { requestId, error: errorMessage(err) }));
  };

  let started = false;
  const startAdapters = async (): Promise<void> => {
    if (started) return;
    started = true;
    listReminders?.start();
    for (const entry of loaded) {
      if (!entry.handlers.start) continue;
      try {
        await entry.handlers.start();
      } catch (err) {
        entry.logger.error('adapter start() failed', { error: errorMessage(err) });
        entry.health = { healthy: false, reason: `start failed: ${errorMessage(err)}` };
      }
    }
  };

  const watcher = new Watcher({
    client: teleport,
    logger,
    failFast: options.failFast,
    initTimeoutMs: options.watch?.initTimeoutMs,
    backoff: options.watch?.backoff,
    silenceMs: options.watch?.silenceMs,
    onEvent: (event) => intake.push(event),
    watchRules: routing.watchRules,
    onRuleEvent: (event) => routing.onWatchEvent(event),
    onInit: (acceptedKinds) => {
      metrics.events.inc({ kind: 'init' });
      routing.onInit(acceptedKinds);
      // Read the new stream while this runs: a slow listing must not hold live events back.
      void reconciler.request();
    },
    onReconnect: () => metrics.reconnects.inc(),
    onReadyChange: (ready) => {
      if (ready) void startAdapters();
    },
  });

  const readiness = (): ReadinessReport => {
    const adapters: ReadinessReport['adapters'] = {};
    for (const entry of loaded) adapters[entry.name] = { ...entry.health };
    const watching = watcher.ready;
    const ready = watching && loaded.every((e) => e.health.healthy);
    metrics.ready.set(ready ? 1 : 0);
    return { ready, teleport: { connected: watching }, watch: { initialised: watching }, adapters };
  };

  let server: RuntimeHttpServer | undefined;
  const routes = loaded.map((e) => ({ adapter: e.name, routes: e.handlers.routes ?? [] }));
  if (options.http || routes.some((r) => r.routes.length > 0)) {
    try {
      server = await startHttpServer({
        config: options.http ?? { listenAddr: DEFAULT_LISTEN_ADDR },
        insecureNoTls: options.insecureNoTls,
        logger: logger.child({ component: 'http' }),
        routes,
        readiness,
        metrics,
        debug: debugRoute((requestId, signal) => routing.explain(requestId, targets, signal)),
      });
    } catch (err) {
      await closeLoaded();
      const serving = routes.filter((r) => r.routes.length > 0).map((r) => `"${r.adapter}"`);
      if (!options.http && serving.length > 0 && isPluginError(err)) {
        // The user never asked for a server: say which adapter needs one.
        throw new PluginError(err.code, `adapter ${serving.join(', ')} serves webhooks, so the HTTP server starts: ${err.message}`, {
          cause: err,
          userFacing: err.userFacing,
        });
      }
      throw err;
    }
  }

  let resolveDone!: () => void;
  let rejectDone!: (err: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // Callers that never await `done` must not crash the process on an unhandled rejection.
  done.catch(() => undefined);

  watcher.start().catch((err: unknown) => {
    logger.error('fatal: watching Teleport failed', { error: errorMessage(err) });
    rejectDone(err);
  });
  reconciler.start();
  // Start-up is not done before the first watch is open: a refused watch (missing permission) is
  // a start-up error, not a "ready" followed by a failure. A Teleport that is merely unreachable
  // for now does not block start-up past the INIT timeout; the watcher keeps trying.
  try {
    if (!(await watcher.initialised((options.watch?.initTimeoutMs ?? 15_000) + 5_000))) {
      logger.warn('no watch stream yet; still trying to open one');
    }
  } catch (err) {
    reconciler.stop();
    routing.stop();
    await watcher.stop();
    await server?.close();
    await closeLoaded();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (budgetMs = 15_000): Promise<void> => {
    stopping ??= (async () => {
      const deadline = Date.now() + budgetMs;
      logger.info('shutting down', { budgetMs });
      server?.stopAccepting();
      reconciler.stop();
      retries.stop();
      routing.stop();
      await watcher.stop();
      const drained = await dispatcher.stop(Math.max(0, deadline - Date.now()));
      await listReminders?.stop();
      if (!drained) logger.warn('shutdown budget spent before every handler finished');
      shutdown.abort(new PluginError('SHUTDOWN', 'runtime stopped'));
      // Adapter cleanup gets what is left of the budget (at least 2 s each): a hanging stop() or
      // onClose callback is abandoned with a warning instead of holding the process open.
      const cleanupBudget = (): number => Math.max(2_000, deadline - Date.now());
      for (const entry of [...loaded].reverse()) {
        const adapterStop = entry.handlers.stop?.bind(entry.handlers);
        if (!adapterStop) continue;
        try {
          await withDeadline(adapterStop(), cleanupBudget(), 'adapter stop()');
        } catch (err) {
          entry.logger.warn('adapter stop() failed', { error: errorMessage(err) });
        }
      }
      try {
        await withDeadline(closeLoaded(), cleanupBudget(), 'adapter onClose callbacks');
      } catch (err) {
        logger.warn('adapter cleanup did not finish', { error: errorMessage(err) });
      }
      await server?.close();
      logger.info('stopped');
      resolveDone();
    })();
    return stopping;
  };

  return {
    get ready() {
      return readiness().ready;
    },
    httpUrl: server?.url,
    cluster,
    metrics,
    done,
    readiness,
    idle: async () => {
      await intake.idle();
      await dispatcher.idle();
    },
    reconcile: () => reconciler.request(),
    remindAccessListOwners: async () => listReminders?.runOnce(),
    instanceId: dispatcher.owner,
    explain: (requestId, signal) => routing.explain(requestId, targets, signal),
    stop,
  };
}

/** The Access List reminder job over the adapters that send reminders and are switched on, if any. */
function accessListReminderJob(
  options: RuntimeOptions,
  loaded: readonly LoadedAdapter[],
  context: Pick<AccessListReminderJobOptions, 'cluster' | 'instanceId' | 'onOutcome'>,
): AccessListReminderJob | undefined {
  const config = options.routing?.accessListReminders ?? { enabled: true, adapters: undefined };
  if (!config.enabled) return undefined;
  const senders = loaded
    .filter((e) => e.handlers.accessListReminders && (config.adapters === undefined || config.adapters.includes(e.name)))
    .map((e) => ({ adapter: e.name, sender: e.handlers.accessListReminders!, logger: e.logger }));
  if (senders.length === 0) return undefined;
  const timing = options.accessListReminders ?? {};
  return new AccessListReminderJob({
    client: options.teleport,
    senders,
    logger: options.logger.child({ component: 'access-list-reminders' }),
    ...context,
    ...timing,
  });
}

/**
 * A request whose step could not be finished now is looked at again later, once per request at
 * the earliest time asked for; after a few rounds it is left to the periodic reconciliation.
 */
class RetryTimers {
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout; rounds: number }>();
  private readonly rounds = new Map<string, number>();
  private stopped = false;

  constructor(private readonly fire: (requestId: string) => void) {}

  schedule(requestId: string, at: number): void {
    if (this.stopped) return;
    const rounds = (this.rounds.get(requestId) ?? 0) + 1;
    if (rounds > 8) return;
    const existing = this.timers.get(requestId);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(requestId);
        this.fire(requestId);
      },
      Math.max(0, at - Date.now()),
    );
    timer.unref();
    this.timers.set(requestId, { at, timer, rounds });
    this.rounds.set(requestId, rounds);
    if (this.rounds.size > 10_000) this.rounds.clear();
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}

/** onClose callbacks in reverse registration order; each runs once even if stop() is retried. */
async function runClose(entry: LoadedAdapter): Promise<void> {
  for (const fn of entry.onClose.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      entry.logger.warn('onClose callback failed', { error: errorMessage(err) });
    }
  }
}
