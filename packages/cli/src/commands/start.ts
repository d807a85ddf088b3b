import {
  checkHttpTls,
  createLogger,
  createTeleportClient,
  errorMessage,
  loadConfig,
  parseRoutingConfig,
  readInstances,
  selectPlugins,
  startRuntime,
  type Adapter,
  type LoadedConfig,
  type RootLogger,
  type RoutingConfig,
  type Runtime,
  type TeleportClient,
} from '@teleport-plugin/core';
import { BUILTIN_ADAPTERS, loadAdapters, tableOwners } from '../adapters.js';
import { printFatal } from '../fatal.js';
import { runtimeEnv } from '../runtimeEnv.js';
import type { CommonFlags } from '../main.js';

/** Graceful shutdown budget (the Go plugins' 15 s). */
export const SHUTDOWN_BUDGET_MS = 15_000;

export interface PreparedAdapters {
  config: LoadedConfig;
  logger: RootLogger;
  adapters: Array<{ adapter: Adapter<unknown>; config: unknown }>;
  /** `[routing]`, `[automatic_review]`, `[reminders]` and `[<adapter>.reminders]`. */
  routing: RoutingConfig;
}

/** Config, logger, adapters with parsed sections: everything `start` and `demo` share. */
export async function prepare(configFile: string, flags: Pick<CommonFlags, 'plugins' | 'debug'>, env: NodeJS.ProcessEnv): Promise<PreparedAdapters> {
  const config = await loadConfig(configFile, { env, tableOwners: tableOwners(flags.plugins) });
  const logger = createLogger({ ...config.log, debug: flags.debug });
  try {
    config.useLogger(logger);
    const names = selectPlugins(flags.plugins, config, env);
    const loaded = await loadAdapters(names, readInstances(config, BUILTIN_ADAPTERS));
    const adapters = loaded.map(({ adapter }) => ({
      adapter,
      config: adapter.parseConfig(config.section(adapter.name), config.context),
    }));
    const routing = parseRoutingConfig(
      config,
      adapters.map((a) => a.adapter.name),
    );
    config.reportUnknownKeys();
    for (const unused of config.unusedSections()) {
      logger.info('config section not used by any selected adapter', { section: unused });
    }
    logger.debug('adapters loaded', {
      adapters: loaded.map((l) => `${l.adapter.name}${l.version === undefined ? '' : `@${l.version}`}`).join(','),
    });
    return { config, logger, adapters, routing };
  } catch (err) {
    await logger.close();
    throw err;
  }
}

/**
 * `teleport-plugin start`: run until SIGTERM/SIGINT (graceful, 15 s budget; a second SIGINT
 * forces) or a fatal error (exit 1 with one line on stderr).
 */
export async function runStart(flags: CommonFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const { config, logger, adapters, routing } = await prepare(flags.config, flags, env);
  const logsToStderr = config.log.output === 'stderr';
  let teleport: TeleportClient | undefined;
  let runtime: Runtime | undefined;

  const fatal = async (err: unknown): Promise<number> => {
    // The stderr line is the one clear message; the log gets it too unless it is stderr itself.
    if (!logsToStderr) logger.error('Terminating with fatal error', { error: errorMessage(err) });
    await logger.close();
    printFatal(err, { debug: flags.debug });
    return 1;
  };

  const stopping = new Promise<string>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals === 1) {
        logger.info('Shutting down gracefully', { signal });
        resolve(signal);
        return;
      }
      if (signal === 'SIGINT' || signals > 2) {
        logger.warn('Forced shutdown');
        process.exit(1);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });

  try {
    checkHttpTls(config, flags.insecureNoTls);
    const tuning = runtimeEnv(env);
    teleport = await createTeleportClient(config.teleport, logger);
    const started = startRuntime({
      teleport,
      adapters,
      logger,
      routing,
      ...(config.http === undefined ? {} : { http: config.http }),
      insecureNoTls: flags.insecureNoTls,
      ...tuning,
    });
    // A signal during start-up still stops cleanly once start-up settles.
    runtime = await started;
  } catch (err) {
    await teleport?.close().catch(() => undefined);
    return fatal(err);
  }
  logger.info('Plugin is ready', { adapters: adapters.map((a) => a.adapter.name).join(',') });

  const outcome = await Promise.race([
    stopping.then((signal) => ({ kind: 'signal' as const, signal })),
    runtime.done.then(
      () => ({ kind: 'ended' as const }),
      (error: unknown) => ({ kind: 'fatal' as const, error }),
    ),
  ]);

  // Never hang past the budget: a stuck handler must not keep the process alive. The timer is
  // deliberately not unref'd: it also keeps the process up while a stuck stop() holds nothing
  // else open (otherwise Node would exit 13 on the unsettled await).
  const hardStop = setTimeout(() => {
    logger.error('Shutdown budget exceeded, exiting');
    process.exit(1);
  }, SHUTDOWN_BUDGET_MS + 2_000);

  let stopError: unknown;
  try {
    await runtime.stop(SHUTDOWN_BUDGET_MS);
  } catch (err) {
    stopError = err;
  }
  await teleport.close().catch((err: unknown) => logger.debug('closing the Teleport connection failed', { error: errorMessage(err) }));
  clearTimeout(hardStop);

  if (outcome.kind === 'fatal') return fatal(outcome.error);
  if (stopError !== undefined) return fatal(stopError);
  logger.info('Successfully shut down');
  await logger.close();
  return 0;
}
