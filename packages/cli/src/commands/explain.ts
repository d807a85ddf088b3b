import { parseArgs } from 'node:util';
import {
  FollowUpScheduler,
  Router,
  RuleCache,
  createCaptureLogger,
  createLogger,
  createPluginDataStore,
  createTeleportClient,
  errorMessage,
  explainRequest,
  formatExplanation,
  loadConfig,
  parseRoutingConfig,
  readInstances,
  selectPlugins,
  withDeadline,
  type Adapter,
  type AdapterContext,
  type AdapterHandlers,
  type ConnectedTeleportClient,
} from '@teleport-plugin/core';
import { BUILTIN_ADAPTERS, loadAdapter, tableOwners } from '../adapters.js';
import { usageError } from '../fatal.js';
import { DEFAULT_CONFIG } from '../main.js';
import { readOnlyActions } from './check.js';

const SETUP_TIMEOUT_MS = 20_000;

export interface ExplainFlags {
  config: string;
  plugins: string[];
  debug: boolean;
  json: boolean;
  requestId: string;
}

export function parseExplainFlags(args: string[]): ExplainFlags {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        plugin: { type: 'string', short: 'p', multiple: true },
        debug: { type: 'boolean', short: 'd' },
        json: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw usageError(`explain: ${err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err)}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw usageError('explain: expected one access request id: teleport-plugin explain <request-id> [-c PATH] [--plugin NAME]... [--json]');
  const plugin = values['plugin'];
  return {
    config: typeof values['config'] === 'string' ? values['config'] : DEFAULT_CONFIG,
    plugins: (Array.isArray(plugin) ? plugin : [])
      .flatMap((p) => String(p).split(','))
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    debug: values['debug'] === true,
    json: values['json'] === true,
    requestId: positionals[0]!,
  };
}

/**
 * `teleport-plugin explain <request-id>`: connects like `check` (nothing is posted, reviewed or
 * written), loads the Access Monitoring Rules once, sets each adapter up read-only (so its static
 * recipients and facts are known), and prints which rules match and in which schedule, whom each
 * adapter notifies and why, what the automatic review decides and why, and which reminders are
 * done or due. `--json` prints the same as /debug/requests/<id>.
 */
export async function runExplain(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const flags = parseExplainFlags(args);
  const config = await loadConfig(flags.config, { env, tableOwners: tableOwners(flags.plugins) });
  // Only warnings and worse on stderr: stdout is the explanation.
  const logger = createLogger({ ...config.log, output: 'stderr', severity: flags.debug ? 'debug' : 'warn' });
  config.useLogger(createCaptureLogger());
  let teleport: ConnectedTeleportClient | undefined;
  const closers: Array<() => Promise<void> | void> = [];
  const abort = new AbortController();
  try {
    const names = selectPlugins(flags.plugins, config, env);
    const instances = readInstances(config, BUILTIN_ADAPTERS);
    const parsed: Array<{ adapter: Adapter<unknown>; config: unknown }> = [];
    for (const name of names) {
      const { adapter } = await loadAdapter(name, instances);
      parsed.push({ adapter, config: adapter.parseConfig(config.section(adapter.name), config.context) });
    }
    const routingConfig = parseRoutingConfig(
      config,
      parsed.map((p) => p.adapter.name),
    );
    teleport = await createTeleportClient(config.teleport, logger);
    const client = teleport;
    const actions = readOnlyActions(client);
    const rules = new RuleCache({
      client,
      logger,
      notificationNames: parsed.map((p) => p.adapter.name),
      ...(routingConfig.automaticReview ? { integration: routingConfig.automaticReview.integration } : {}),
      ...(routingConfig.rules ? {} : { off: 'routing by Access Monitoring Rules is off ([routing] rules = false)' }),
    });
    if (routingConfig.rules) await rules.load();
    const router = new Router({ getUser: (name, signal) => client.getUser(name, signal), logger, adapters: parsed.map((p) => p.adapter.name), config: routingConfig, rules });

    const setupNotes: string[] = [];
    for (const p of parsed) {
      const name = p.adapter.name;
      const ctx: AdapterContext<unknown> = {
        name,
        config: p.config,
        mode: 'check',
        logger: logger.child({ adapter: name }),
        cluster: client.cluster,
        store: createPluginDataStore(client, name),
        teleport: actions,
        signal: abort.signal,
        resync: () => undefined,
        onClose: (fn) => {
          closers.push(fn);
        },
        reportHealth: () => undefined,
        routing: router.forAdapter(name),
      };
      try {
        const handlers: AdapterHandlers = await withDeadline(p.adapter.setup(ctx), SETUP_TIMEOUT_MS, `${name} setup`);
        closers.push(() => handlers.stop?.());
      } catch (err) {
        setupNotes.push(`[${name}] could not be set up (${errorMessage(err)}): its static recipients and facts are not known below`);
      }
    }

    const explanation = await explainRequest(
      {
        router,
        scheduler: new FollowUpScheduler({ config: routingConfig, teleport: actions, wake: () => undefined, logger }),
        getRequest: (id, signal) => client.getAccessRequest(id, signal),
        adapters: parsed.map((p) => ({ name: p.adapter.name, store: createPluginDataStore(client, p.adapter.name) })),
        signal: AbortSignal.timeout(60_000),
      },
      flags.requestId,
    );
    if (flags.json) {
      process.stdout.write(JSON.stringify({ ...explanation, ...(setupNotes.length > 0 ? { notes: setupNotes } : {}) }, null, 2) + '\n');
    } else {
      process.stdout.write(formatExplanation(explanation));
      if (setupNotes.length > 0) process.stdout.write('\n' + setupNotes.join('\n') + '\n');
    }
    return explanation.request ? 0 : 2;
  } finally {
    abort.abort();
    for (const fn of closers.reverse())
      await Promise.resolve()
        .then(fn)
        .catch(() => undefined);
    await teleport?.close().catch(() => undefined);
    await logger.close();
  }
}
