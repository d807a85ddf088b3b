import { parseArgs } from 'node:util';
import { printFatal, usageError } from './fatal.js';

export const DEFAULT_CONFIG = '/etc/teleport-plugin.toml';

const USAGE = `Usage: teleport-plugin <command> [options]

Run Teleport Access Request adapters (slack, pagerduty, ...) in one process on one Teleport connection.

Commands:
  start      Run the adapters          -c/--config PATH (default ${DEFAULT_CONFIG}), --plugin NAME..., -d/--debug, --insecure-no-tls
  check      Validate config, connect to Teleport and run each adapter's live checks (same options as start)
  configure  Print an example config   --plugin NAME...
  version    Print versions of the CLI, core and adapters (--plugin NAME... or TELEPORT_PLUGINS)
  demo       Run adapters against local fakes of Teleport and their services; no account needed
  explain    What routing does for one request: explain <request-id> [-c PATH] [--plugin NAME]... [--json]

Adapters: --plugin slack loads @teleport-plugin/slack; a package name or a path loads a third-party
adapter. Without --plugin: TELEPORT_PLUGINS (comma-separated), else the plugin sections of the config.
`;

export interface CommonFlags {
  config: string;
  plugins: string[];
  debug: boolean;
  insecureNoTls: boolean;
}

/** Run one command; resolves to the process exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  let debug = rest.includes('--debug') || rest.includes('-d');
  try {
    if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    }
    if (command === 'explain') {
      debug = rest.includes('--debug') || rest.includes('-d');
      return await (await import('./commands/explain.js')).runExplain(rest, env);
    }
    if (command === 'version' || command === '--version' || command === '-v') {
      const { runVersion } = await import('./commands/version.js');
      return await runVersion(parseFlags(rest, command), env);
    }
    const flags = parseFlags(rest, command);
    debug = flags.debug;
    // Commands load lazily: `version` should not pay for gRPC, and only `demo` needs the testkit.
    switch (command) {
      case 'start':
        return await (await import('./commands/start.js')).runStart(flags, env);
      case 'check':
        return await (await import('./commands/check.js')).runCheck(flags, env);
      case 'configure':
        return await (await import('./commands/configure.js')).runConfigure(flags, env);
      case 'demo':
        return await (await import('./commands/demo.js')).runDemo(flags, env);
      default:
        throw usageError(`unknown command "${command}": expected start, check, configure, version, demo or explain (see teleport-plugin help)`);
    }
  } catch (err) {
    printFatal(err, { debug });
    return 1;
  }
}

function parseFlags(args: string[], command: string): CommonFlags {
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: 'string', short: 'c' },
        plugin: { type: 'string', short: 'p', multiple: true },
        debug: { type: 'boolean', short: 'd' },
        'insecure-no-tls': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw usageError(`${command}: ${message?.replace(/\. To specify a positional.*$/, '')}`);
  }
  if (values['help'] === true) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  return {
    config: typeof values['config'] === 'string' ? values['config'] : DEFAULT_CONFIG,
    plugins: (Array.isArray(values['plugin']) ? values['plugin'] : [])
      .flatMap((p) => p.split(','))
      .map((p) => p.trim())
      .filter((p) => p !== ''),
    debug: values['debug'] === true,
    insecureNoTls: values['insecure-no-tls'] === true,
  };
}
