import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The runtime's Prometheus metrics. One registry per runtime (not prom-client's global one), so
 * several runtimes in one process (tests, the demo) never clash over metric names.
 */
export interface RuntimeMetrics {
  readonly registry: Registry;
  /** Watch events by kind: init, put, delete, list (a PENDING request found by the re-list). */
  readonly events: Counter<'kind'>;
  readonly handlerDuration: Histogram<'adapter' | 'handler'>;
  readonly handlerFailures: Counter<'adapter' | 'handler'>;
  readonly handlerRetries: Counter<'adapter' | 'handler'>;
  readonly reconnects: Counter;
  readonly pluginDataConflicts: Counter<'adapter'>;
  readonly ready: Gauge;
  readonly queued: Gauge<'adapter'>;
  /** Access List review reminders by adapter and outcome: sent, failed (tried again next run), unknown (asked about next run). */
  readonly accessListReminders: Counter<'adapter' | 'outcome'>;
}

export function createRuntimeMetrics(registry: Registry = new Registry()): RuntimeMetrics {
  const registers = [registry];
  return {
    registry,
    events: new Counter({ name: 'teleport_plugin_events_total', help: 'Access request events received, by kind', labelNames: ['kind'], registers }),
    handlerDuration: new Histogram({
      name: 'teleport_plugin_handler_duration_seconds',
      help: 'Adapter handler latency (each try), by adapter and handler',
      labelNames: ['adapter', 'handler'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    handlerFailures: new Counter({
      name: 'teleport_plugin_handler_failures_total',
      help: 'Events an adapter handler failed for good (after retries)',
      labelNames: ['adapter', 'handler'],
      registers,
    }),
    handlerRetries: new Counter({
      name: 'teleport_plugin_handler_retries_total',
      help: 'Adapter handler retries after a failed try',
      labelNames: ['adapter', 'handler'],
      registers,
    }),
    reconnects: new Counter({ name: 'teleport_plugin_watch_reconnects_total', help: 'Watch stream reconnects', registers }),
    pluginDataConflicts: new Counter({
      name: 'teleport_plugin_plugin_data_conflicts_total',
      help: 'Plugin data compare-and-swap conflicts (another writer was first)',
      labelNames: ['adapter'],
      registers,
    }),
    ready: new Gauge({ name: 'teleport_plugin_ready', help: '1 when connected, watching and every adapter is healthy', registers }),
    queued: new Gauge({ name: 'teleport_plugin_queued_events', help: 'Events waiting per adapter', labelNames: ['adapter'], registers }),
    accessListReminders: new Counter({
      name: 'teleport_plugin_access_list_reminders_total',
      help: 'Access List review reminders by adapter and outcome (sent, failed, unknown)',
      labelNames: ['adapter', 'outcome'],
      registers,
    }),
  };
}
