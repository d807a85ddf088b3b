import {
  checkHttpTls,
  createCaptureLogger,
  createLogger,
  createPluginDataStore,
  createTeleportClient,
  errorMessage,
  isPluginError,
  loadConfig,
  parseRoutingConfig,
  PluginError,
  readInstances,
  reviewWindow,
  selectPlugins,
  type Adapter,
  type AdapterContext,
  type AdapterHandlers,
  type CheckItem,
  type ClusterInfo,
  type ConnectedTeleportClient,
  type LoadedConfig,
  type Logger,
  type RoutingConfig,
  type TeleportActions,
  type TeleportClient,
} from '@teleport-plugin/core';
import { BUILTIN_ADAPTERS, loadAdapter, tableOwners } from '../adapters.js';
import type { CommonFlags } from '../main.js';

const CHECK_TIMEOUT_MS = 20_000;

type Result = 'OK' | 'WARN' | 'FAIL';

interface Row {
  check: string;
  result: Result;
  detail: string;
}

/**
 * `teleport-plugin check`: validate the config, reach Teleport, and run each adapter's own live
 * checks (tokens, scopes, channels...), printing one OK/FAIL row per check. Nothing is posted.
 */
export async function runCheck(flags: CommonFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const rows: Row[] = [];
  const add = (check: string, ok: boolean, detail: string): void => {
    rows.push({ check, result: ok ? 'OK' : 'FAIL', detail });
  };
  const finish = (): number => {
    printTable(rows);
    return rows.every((r) => r.result !== 'FAIL') ? 0 : 1;
  };

  let config: LoadedConfig;
  try {
    config = await loadConfig(flags.config, { env, tableOwners: tableOwners(flags.plugins) });
  } catch (err) {
    add('config', false, errorMessage(err));
    return finish();
  }
  // Logs would interleave with the table: only warnings and worse, unless --debug. Config
  // warnings (deprecated and unknown keys) become rows of the table instead.
  const logger = createLogger({ ...config.log, output: 'stderr', severity: flags.debug ? 'debug' : 'warn' });
  config.useLogger(createCaptureLogger());

  let teleport: ConnectedTeleportClient | undefined;
  try {
    let names: string[];
    let instances: Map<string, string>;
    try {
      names = selectPlugins(flags.plugins, config, env);
      instances = readInstances(config, BUILTIN_ADAPTERS);
    } catch (err) {
      add('config', false, errorMessage(err));
      return finish();
    }

    const parsed: Array<{ name: string; adapter: Adapter<unknown>; config: unknown }> = [];
    let configOk = true;
    for (const name of names) {
      try {
        const { adapter } = await loadAdapter(name, instances);
        parsed.push({ name: adapter.name, adapter, config: adapter.parseConfig(config.section(adapter.name), config.context) });
      } catch (err) {
        configOk = false;
        add(`${name}: config`, false, errorMessage(err));
      }
    }
    try {
      checkHttpTls(config, flags.insecureNoTls);
    } catch (err) {
      configOk = false;
      add('config', false, errorMessage(err));
    }
    let routing: RoutingConfig | undefined;
    try {
      routing = parseRoutingConfig(
        config,
        parsed.map((p) => p.name),
      );
    } catch (err) {
      configOk = false;
      add('config', false, errorMessage(err));
    }
    config.reportUnknownKeys();
    const warnings = config.warnings.map((w): Row => ({ check: 'config', result: 'WARN', detail: w }));
    if (configOk) rows.unshift({ check: 'config', result: 'OK', detail: `${flags.config}: ${parsed.map((p) => p.name).join(', ')}` }, ...warnings);
    else rows.push(...warnings);

    let cluster: ClusterInfo;
    try {
      // The client Pinged during start-up; its answer is all this row needs.
      teleport = await createTeleportClient(config.teleport, logger);
      cluster = teleport.cluster;
      const web = cluster.webProxyUrl === undefined ? '' : `, web ${cluster.webProxyUrl}`;
      add('teleport', true, `cluster "${cluster.clusterName}", Teleport ${cluster.serverVersion} at ${config.teleport.addr}${web}`);
    } catch (err) {
      add('teleport', false, `${config.teleport.addr}: ${errorMessage(err)}`);
      return finish();
    }

    if (routing?.rules)
      rows.push(
        await checkRules(
          teleport,
          parsed.map((p) => p.name),
          routing,
        ),
      );

    const reminders = routing?.accessListReminders;
    const remindingAdapters: string[] = [];
    for (const p of parsed) {
      const remindsOwners = (): void => {
        if (reminders?.enabled && (reminders.adapters === undefined || reminders.adapters.includes(p.name))) remindingAdapters.push(p.name);
      };
      for (const item of await checkAdapter(p, teleport, cluster, logger, remindsOwners)) {
        if (item.ok && item.warning) rows.push({ check: `${p.name}: ${item.name}`, result: 'WARN', detail: item.detail ?? '' });
        else add(`${p.name}: ${item.name}`, item.ok, item.detail ?? '');
      }
    }
    if (remindingAdapters.length > 0) rows.push(await checkAccessLists(teleport, remindingAdapters));
    return finish();
  } finally {
    await teleport?.close().catch(() => undefined);
    await logger.close();
  }
}

async function checkAdapter(
  p: { name: string; adapter: { setup(ctx: AdapterContext<unknown>): Promise<AdapterHandlers> }; config: unknown },
  teleport: TeleportClient,
  cluster: ClusterInfo,
  logger: Logger,
  /** Called when the adapter sends Access List review reminders. */
  onReminders: () => void,
): Promise<CheckItem[]> {
  const abort = new AbortController();
  const closers: Array<() => Promise<void> | void> = [];
  const health: { healthy: boolean; reason?: string } = { healthy: true };
  const ctx: AdapterContext<unknown> = {
    name: p.name,
    config: p.config,
    mode: 'check',
    logger: logger.child({ adapter: p.name }),
    cluster,
    store: createPluginDataStore(teleport, p.name),
    teleport: readOnlyActions(teleport),
    signal: abort.signal,
    resync: () => undefined,
    onClose: (fn) => {
      closers.push(fn);
    },
    reportHealth: (healthy, reason) => {
      health.healthy = healthy;
      if (reason !== undefined) health.reason = reason;
    },
  };
  const items: CheckItem[] = [];
  let handlers: AdapterHandlers | undefined;
  try {
    handlers = await p.adapter.setup(ctx);
    items.push({ name: 'setup', ok: true, detail: 'client built' });
    if (handlers?.accessListReminders) onReminders();
    if (typeof handlers?.check === 'function') {
      items.push(...(await handlers.check(AbortSignal.any([abort.signal, AbortSignal.timeout(CHECK_TIMEOUT_MS)]))));
    } else {
      items.push({ name: 'live checks', ok: true, detail: 'the adapter has no live checks' });
    }
    if (!health.healthy) items.push({ name: 'health', ok: false, detail: health.reason ?? 'reported unhealthy' });
  } catch (err) {
    items.push({ name: handlers === undefined ? 'setup' : 'live checks', ok: false, detail: errorMessage(err) });
  } finally {
    abort.abort();
    await handlers?.stop?.().catch(() => undefined);
    for (const fn of closers.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
  }
  return items;
}

/** Whether the plugin may read Access Monitoring Rules, and which concern the adapters. */
async function checkRules(teleport: TeleportClient, adapters: readonly string[], routing: RoutingConfig): Promise<Row> {
  const integration = routing.automaticReview?.integration;
  try {
    const lists = await Promise.all([
      ...adapters.map((name) => teleport.listAccessMonitoringRules!({ subjects: ['access_request'], notificationName: name }, AbortSignal.timeout(CHECK_TIMEOUT_MS))),
      ...(integration ? [teleport.listAccessMonitoringRules!({ subjects: ['access_request'], automaticReviewName: integration }, AbortSignal.timeout(CHECK_TIMEOUT_MS))] : []),
    ]);
    const names = [...new Set(lists.flat().map((r) => r.name))].sort();
    return {
      check: 'access monitoring rules',
      result: 'OK',
      detail: names.length === 0 ? 'none name these adapters' + (integration ? ` or integration "${integration}"` : '') : names.join(', '),
    };
  } catch (err) {
    const why = isPluginError(err, 'ACCESS_DENIED')
      ? "the plugin's role may not read them (add access_monitoring_rule: [read, list]); notifications use role_to_recipients"
      : isPluginError(err, 'NOT_IMPLEMENTED')
        ? 'this Teleport has no Access Monitoring Rules (16 or newer has them); notifications use role_to_recipients'
        : errorMessage(err);
    // Not being allowed to look is a valid setup (static routing): said, not failed nor warned.
    return { check: 'access monitoring rules', result: 'OK', detail: `not used: ${why}` };
  }
}

/** Whether the plugin may read Access Lists for review reminders, and how many are due now. */
async function checkAccessLists(teleport: TeleportClient, adapters: readonly string[]): Promise<Row> {
  const check = 'access list reminders';
  try {
    const lists = await teleport.listAccessLists!(AbortSignal.timeout(CHECK_TIMEOUT_MS));
    const now = Date.now();
    const due = lists.filter((list) => reviewWindow(list, now).due).length;
    return { check, result: 'OK', detail: `${adapters.join(', ')} remind owners; ${lists.length} Access List(s), ${due} in a review window now` };
  } catch (err) {
    if (isPluginError(err, 'NOT_IMPLEMENTED')) return { check, result: 'OK', detail: 'not used: this cluster has no Access Lists (open source, or older)' };
    const why = isPluginError(err, 'ACCESS_DENIED')
      ? "the plugin's role may not list Access Lists, so owners get no review reminders: add access_list: [list, read], or set [access_list_reminders] enabled = false"
      : `cannot list Access Lists: ${errorMessage(err)}`;
    return { check, result: 'WARN', detail: why };
  }
}

/** `check` must not change anything in Teleport. */
export function readOnlyActions(teleport: TeleportClient): TeleportActions {
  const refuse = (): never => {
    throw new PluginError('NOT_IMPLEMENTED', 'teleport-plugin check does not submit reviews or change requests');
  };
  return {
    submitReview: async () => refuse(),
    setState: async () => refuse(),
    getRequest: (id, signal) => teleport.getAccessRequest(id, signal),
    getUser: (name, signal) => teleport.getUser(name, signal),
    getRole: (name, signal) => teleport.getRole(name, signal),
    listUsers: (signal) => teleport.listUsers(signal),
    listRoles: (signal) => teleport.listRoles(signal),
  };
}

function printTable(rows: Row[]): void {
  const width = Math.max(5, ...rows.map((r) => r.check.length));
  const lines = [`${'CHECK'.padEnd(width)}  RESULT  DETAIL`];
  for (const r of rows) lines.push(`${r.check.padEnd(width)}  ${r.result.padEnd(6)}  ${r.detail}`);
  const failed = rows.filter((r) => r.result === 'FAIL').length;
  const warned = rows.filter((r) => r.result === 'WARN').length;
  const warnNote = warned === 0 ? '' : ` (${warned} warning${warned === 1 ? '' : 's'})`;
  lines.push('', failed === 0 ? `All checks passed${warnNote}.` : `${failed} check${failed === 1 ? '' : 's'} failed${warnNote}.`);
  process.stdout.write(lines.join('\n') + '\n');
}
