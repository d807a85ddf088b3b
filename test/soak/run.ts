// `npm run soak`: the soak run from the command line.
//   node test/dist/soak/run.js [--requests N] [--rate R] [--seed S] [--replica-seconds S] [--kills N]
//                              [--no-faults] [--quiet] [--settle-seconds S] [--idle-seconds S] [--keep-temp]
// Exit code 0 only when every request ended lost 0 / duplicated 0 / stale 0.
import { parseArgs } from 'node:util';
import { DEFAULT_SOAK_OPTIONS, runSoak, type SoakOptions } from './harness.js';
import { isClean } from './checker.js';

const USAGE = `usage: npm run soak -- [options]
  --requests N          access requests to create (default ${DEFAULT_SOAK_OPTIONS.requests})
  --rate R              created per second (default ${DEFAULT_SOAK_OPTIONS.rate})
  --seed S              seeds the lifecycles and the fault timeline (default: random, printed)
  --replica-seconds S   a second replica runs this long mid-run (default ${DEFAULT_SOAK_OPTIONS.replicaSeconds}; 0: none)
  --kills N             SIGKILL + restart the plugin N times (default ${DEFAULT_SOAK_OPTIONS.kills})
  --no-faults           no faults at all (the baseline; must always end 0 / 0 / 0)
  --requesters N        distinct requesters (default ${DEFAULT_SOAK_OPTIONS.requesters})
  --resolve-gap-ms MS   at least this long between a request's last review and its resolution
                        (default ${DEFAULT_SOAK_OPTIONS.resolveGapMs}; short gaps race a review against an expiry, even without faults)
  --settle-seconds S    after the last step, wait at most this long for quiescence (default ${DEFAULT_SOAK_OPTIONS.settleSeconds})
  --idle-seconds S      ...or until nothing has called a fake for this long (default ${DEFAULT_SOAK_OPTIONS.idleSeconds})
  --keep-temp           keep the temp dir (config, plugin logs) and print its path
  --quiet               only the bad requests and the summary`;

function positive(name: string, value: string | undefined, fallback: number, allowZero = false): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
    console.error(`--${name}: expected a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(value)}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        requests: { type: 'string' },
        rate: { type: 'string' },
        seed: { type: 'string' },
        'replica-seconds': { type: 'string' },
        kills: { type: 'string' },
        'no-faults': { type: 'boolean' },
        requesters: { type: 'string' },
        'resolve-gap-ms': { type: 'string' },
        'settle-seconds': { type: 'string' },
        'idle-seconds': { type: 'string' },
        'keep-temp': { type: 'boolean' },
        quiet: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const d = DEFAULT_SOAK_OPTIONS;
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130); // the exit hook still kills the children
    console.error(`soak: ${sig}, stopping and cleaning up (again to force)`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const options: Partial<SoakOptions> = {
    requests: Math.floor(positive('requests', values.requests, d.requests)),
    rate: positive('rate', values.rate, d.rate),
    seed: Math.floor(positive('seed', values.seed, Math.floor(Math.random() * 1_000_000), true)),
    replicaSeconds: positive('replica-seconds', values['replica-seconds'], d.replicaSeconds, true),
    kills: Math.floor(positive('kills', values.kills, d.kills, true)),
    faults: !values['no-faults'],
    requesters: Math.floor(positive('requesters', values.requesters, d.requesters)),
    resolveGapMs: positive('resolve-gap-ms', values['resolve-gap-ms'], d.resolveGapMs, true),
    settleSeconds: positive('settle-seconds', values['settle-seconds'], d.settleSeconds),
    idleSeconds: positive('idle-seconds', values['idle-seconds'], d.idleSeconds),
    keepTemp: Boolean(values['keep-temp']),
    quiet: Boolean(values.quiet),
    signal: controller.signal,
  };
  try {
    const outcome = await runSoak(options);
    return isClean(outcome.result) ? 0 : 1;
  } catch (err) {
    console.error(`soak: ${controller.signal.aborted ? 'interrupted' : 'failed'}: ${err instanceof Error ? err.message : String(err)}`);
    return controller.signal.aborted ? 130 : 2;
  }
}

process.exitCode = await main();
