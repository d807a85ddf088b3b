// `npm run bench`: the runtime (`teleport-plugin start --plugin slack --plugin pagerduty`, a child
// process) against local fakes, beside a bare client making the same remote calls (bare.ts), and
// a restart with every request still pending. Prints figures; asserts nothing (no timed tests).
//   node test/dist/bench/runtime.bench.js [--requests N=1000] [--rate R=50] [--burst M=2000]
//     [--node-args '...' (node flags for the runtime only; default: the command's own; none: no flag)] [--bare no (skip the bare client)]
//     [--settle-ms S=30000 (time at rest before the 'idle' RSS, 2 s after start-up the 'start' one,
//     and after the burst before the 'after' one)]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakePagerDuty } from '@teleport-plugin/pagerduty/testing';
import { FakeSlack, type FakeSlackMessage } from '@teleport-plugin/slack/testing';
import type { RecordedCall } from '@teleport-plugin/core/testing';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { CLI_BIN, CLI_COMMAND } from '../lib/cli-process.js';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const N = Number(args.get('requests') ?? 1000);
const RATE = Number(args.get('rate') ?? 50);
const BURST = Number(args.get('burst') ?? 2000);
// Unset: the installed command (with its own Node flags); `none`: Node without any flag.
const NODE_ARGS = args.get('node-args');
const RUNTIME_NODE_ARGS = NODE_ARGS === undefined || NODE_ARGS === 'none' ? [] : NODE_ARGS.split(' ').filter(Boolean);
const WITH_BARE = args.get('bare') !== 'no';
const SETTLE_MS = Number(args.get('settle-ms') ?? 30_000);
const REQUESTERS = 25;
const here = path.dirname(fileURLToPath(import.meta.url));

interface Sample {
  cpuMs: number;
  rssMb: number;
}

/** CPU (user + system) and RSS of a process, from /proc (Linux). */
async function sample(pid: number): Promise<Sample> {
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuMs: (ticks * 1000) / 100, rssMb: rss / 1024 };
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The request id of a root request message (metadata kind `request`), from a JSON or form body. */
function postedRequestId(call: RecordedCall): string | undefined {
  if (call.path !== '/api/chat.postMessage') return undefined;
  const body = (call.json ?? Object.fromEntries(call.form ?? [])) as { metadata?: unknown; thread_ts?: unknown };
  if (body.thread_ts) return undefined;
  let meta = body.metadata as { event_payload?: { request_id?: string; kind?: string } } | string | undefined;
  if (typeof meta === 'string') meta = JSON.parse(meta) as { event_payload?: { request_id?: string; kind?: string } };
  return meta?.event_payload?.kind === 'request' ? meta.event_payload.request_id : undefined;
}

interface RunResult {
  label: string;
  callsPerRequest: { teleport: number; slack: number; pagerduty: number };
  cpuMsPerRequest: number;
  latencyMs: { p50: number; p99: number };
  burstPerSecond: number;
  rssMb: { started: number; idle: number; peak: number; after: number };
  /** Service calls between the spawn and the first request (the start-up checks), as `METHOD path`. */
  startServiceCalls: string[];
}

async function main(): Promise<void> {
  const tp = await FakeTeleport.start();
  const slack = new FakeSlack();
  slack.addChannel({ id: 'C0ACCESS01', name: 'access-requests' });
  slack.addUser({ id: 'U0LEAD0001', name: 'lead', email: 'lead@example.com' });
  const requesters: string[] = [];
  const requesterIds: Record<string, string> = {};
  for (let i = 0; i < REQUESTERS; i += 1) {
    const email = `requester${String(i).padStart(2, '0')}@example.com`;
    requesters.push(email);
    requesterIds[email] = `U0R${String(i).padStart(7, '0')}`;
    slack.addUser({ id: requesterIds[email]!, name: `r${i}`, email });
    tp.addRequester(email, { requestAnnotations: { pagerduty_notify_service: ['Access Requests'] } });
  }
  await slack.start();
  const pd = new FakePagerDuty({ apiKey: 'pd-bench-key' });
  await pd.start();
  pd.addUser('bot@example.com', 'Bot');
  const service = pd.addService('Access Requests');
  tp.addPluginUser(FakeTeleport.PLUGIN_USER, { readAccessMonitoringRules: true, readAccessLists: true });

  const dir = await mkdtemp(path.join(tmpdir(), 'tp-bench-'));
  const identity = await tp.writeIdentityFile(dir, { user: FakeTeleport.PLUGIN_USER });
  const configFile = path.join(dir, 'plugin.toml');
  await writeFile(
    configFile,
    [
      '[teleport]',
      `addr = "${tp.addr}"`,
      `identity = "${identity}"`,
      '[log]',
      'severity = "warn"',
      '[slack]',
      `token = "${slack.token}"`,
      `api_url = "${slack.apiUrl}"`,
      '[role_to_recipients]',
      '"*" = ["access-requests", "lead@example.com"]',
      '[pagerduty]',
      'api_key = "pd-bench-key"',
      'user_email = "bot@example.com"',
      `api_endpoint = "${pd.url}"`,
      '',
    ].join('\n'),
  );
  const issued = await tp.issueIdentity({ user: FakeTeleport.PLUGIN_USER });
  const bareConfig = path.join(dir, 'bare.json');
  await writeFile(
    bareConfig,
    JSON.stringify({
      addr: tp.addr,
      caPem: tp.pki.hostCaPem(),
      keyPem: issued.privateKeyPem,
      certPem: issued.tlsCertPem,
      slackApi: slack.apiUrl,
      slackToken: slack.token,
      pdApi: pd.url,
      pdKey: 'pd-bench-key',
      pdServiceId: service.id,
      recipients: ['C0ACCESS01', 'U0LEAD0001'],
      requesterIds,
    }),
  );

  const firstPost = new Map<string, number>();
  slack.on('call', (call: RecordedCall) => {
    const id = postedRequestId(call);
    if (id && !firstPost.has(id)) firstPost.set(id, call.at);
  });
  const watches = (): number => tp.calls.filter((c) => c.method === 'WatchEvents').length;
  const roots = (ids: Set<string>): number => slack.rootMessages().filter((m: FakeSlackMessage) => m.metadata && ids.has(String(m.metadata.event_payload['request_id']))).length;
  const incidents = (ids: Set<string>): number => pd.incidents.filter((i) => ids.has(i.incidentKey.replace('teleport-access-request/', ''))).length;

  let requestCounter = 0;
  const create = async (): Promise<{ id: string; at: number }> => {
    const user = requesters[requestCounter++ % REQUESTERS]!;
    const at = Date.now();
    return { id: await tp.admin.createRequest({ user, roles: ['editor'] }), at };
  };
  /** Creates `count` requests at `rate` per second (0: as fast as possible) and waits until each has its 3 messages and its incident. */
  const drive = async (count: number, rate: number, pid: number): Promise<{ created: Map<string, number>; ms: number; peak: number; cpuMs: number }> => {
    const created = new Map<string, number>();
    const ids = new Set<string>();
    let peak = 0;
    const sampler = setInterval(
      () =>
        void sample(pid).then(
          (s) => (peak = Math.max(peak, s.rssMb)),
          () => undefined,
        ),
      100,
    );
    const cpu0 = (await sample(pid)).cpuMs;
    const t0 = Date.now();
    if (rate > 0) {
      for (let i = 0; i < count; i += 1) {
        const due = t0 + (i * 1000) / rate;
        if (due > Date.now()) await wait(due - Date.now());
        void create().then(({ id, at }) => {
          created.set(id, at);
          ids.add(id);
        });
      }
    } else {
      for (let i = 0; i < count; i += 50) {
        const batch = await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => create()));
        for (const { id, at } of batch) {
          created.set(id, at);
          ids.add(id);
        }
      }
    }
    await tp.waitFor(() => ids.size === count && roots(ids) === count * 3 && incidents(ids) === count, 600_000, 'every request delivered');
    const ms = Date.now() - t0;
    const cpuMs = (await sample(pid)).cpuMs - cpu0;
    clearInterval(sampler);
    return { created, ms, peak, cpuMs };
  };

  const serviceCalls = (since: { s: number; p: number }): string[] => [...slack.calls.slice(since.s), ...pd.calls.slice(since.p)].map((c) => `${c.method} ${c.path}`);
  const measure = async (label: string, child: ChildProcess, warmUp: boolean, spawned: { s: number; p: number }): Promise<RunResult> => {
    const pid = child.pid!;
    await wait(2_000);
    const started = (await sample(pid)).rssMb;
    // Idle: at rest as long as after the burst (V8's memory reducer runs once allocation is quiet).
    await wait(Math.max(0, SETTLE_MS - 2_000));
    const idle = (await sample(pid)).rssMb;
    const startServiceCalls = serviceCalls(spawned);
    if (warmUp) await drive(REQUESTERS, 0, pid); // caches (requesters' Slack ids, the PagerDuty service)
    const calls0 = { t: tp.calls.length, s: slack.calls.length, p: pd.calls.length };
    const steady = await drive(N, RATE, pid);
    const teleportCalls = tp.calls.slice(calls0.t).filter((c) => c.caller === FakeTeleport.PLUGIN_USER && c.method !== 'WatchEvents').length;
    const slackCalls = slack.calls.length - calls0.s;
    const pdCalls = pd.calls.length - calls0.p;
    const latencies = [...steady.created]
      .map(([id, at]) => (firstPost.get(id) ?? NaN) - at)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const burst = await drive(BURST, 0, pid);
    // V8 gives memory back once allocation has been quiet for a while (its memory reducer).
    await wait(SETTLE_MS);
    const after = (await sample(pid)).rssMb;
    return {
      label,
      callsPerRequest: { teleport: teleportCalls / N, slack: slackCalls / N, pagerduty: pdCalls / N },
      cpuMsPerRequest: steady.cpuMs / N,
      latencyMs: { p50: pct(latencies, 50), p99: pct(latencies, 99) },
      burstPerSecond: BURST / (burst.ms / 1000),
      rssMb: { started, idle, peak: Math.max(steady.peak, burst.peak), after },
      startServiceCalls,
    };
  };

  // As users run it: the installed command (its Node flags included); with --node-args, Node
  // with exactly those flags instead.
  const startArgs = ['start', '-c', configFile, '--plugin', 'slack', '--plugin', 'pagerduty'];
  const spawnRuntime = (): ChildProcess =>
    NODE_ARGS !== undefined
      ? spawn(process.execPath, [...RUNTIME_NODE_ARGS, CLI_BIN, ...startArgs], { stdio: ['ignore', 'inherit', 'inherit'] })
      : spawn(CLI_COMMAND, startArgs, { stdio: ['ignore', 'ignore', 'inherit'] });
  const watching = async (before: number): Promise<void> => {
    await tp.waitFor(() => watches() > before && tp.openWatchCount > 0, 30_000, 'a watch');
  };
  const stop = async (child: ChildProcess): Promise<void> => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };

  process.stdout.write(`bench: ${N} requests at ${RATE}/s, then a burst of ${BURST}; slack (2 recipients + requester) + pagerduty\n`);
  // 1. The runtime.
  let w = watches();
  const spawned = { s: slack.calls.length, p: pd.calls.length };
  let runtime = spawnRuntime();
  await watching(w);
  const rt = await measure('runtime', runtime, true, spawned);
  await stop(runtime);

  // 2. A restart with every request still pending (all were announced above).
  const pending = tp.admin.listRequests({ state: 'PENDING' }).length;
  const callsBefore = { t: tp.calls.length, s: slack.calls.length, p: pd.calls.length };
  w = watches();
  const spawnedAt = Date.now();
  runtime = spawnRuntime();
  await watching(w);
  const watchAt = Date.now();
  let last = watchAt;
  let seen = tp.calls.length;
  while (Date.now() - last < 1_000) {
    await wait(50);
    if (tp.calls.length !== seen) {
      seen = tp.calls.length;
      last = tp.calls.at(-1)?.time.getTime() ?? Date.now();
    }
  }
  const restartTeleport = tp.calls.slice(callsBefore.t).filter((c) => c.caller === FakeTeleport.PLUGIN_USER).length;
  const restartServiceCalls = serviceCalls(callsBefore);
  // What the pending requests cost the services: the restart's calls beyond those the first start
  // made with nothing pending (its start-up checks), matched call for call.
  const forPending = [...restartServiceCalls];
  for (const call of rt.startServiceCalls) {
    const i = forPending.indexOf(call);
    if (i >= 0) forPending.splice(i, 1);
  }
  await stop(runtime);

  // 3. The bare client.
  let br: RunResult | undefined;
  if (WITH_BARE) {
    w = watches();
    const bareSpawned = { s: slack.calls.length, p: pd.calls.length };
    const bare = spawn(process.execPath, [path.join(here, 'bare.js'), bareConfig], { stdio: ['ignore', 'ignore', 'inherit'] });
    await watching(w);
    br = await measure('bare client', bare, true, bareSpawned);
    await stop(bare);
  }

  const row = (r: RunResult): string =>
    [
      r.label.padEnd(12),
      (r.callsPerRequest.teleport + r.callsPerRequest.slack + r.callsPerRequest.pagerduty).toFixed(1).padStart(6),
      `(${r.callsPerRequest.teleport.toFixed(1)} + ${r.callsPerRequest.slack.toFixed(1)} + ${r.callsPerRequest.pagerduty.toFixed(1)})`.padEnd(20),
      r.cpuMsPerRequest.toFixed(2).padStart(8),
      r.burstPerSecond.toFixed(0).padStart(8),
      `${r.latencyMs.p50.toFixed(0)} / ${r.latencyMs.p99.toFixed(0)}`.padStart(12),
      `${r.rssMb.started.toFixed(0)} / ${r.rssMb.idle.toFixed(0)} / ${r.rssMb.peak.toFixed(0)} / ${r.rssMb.after.toFixed(0)}`.padStart(21),
    ].join(' ');
  process.stdout.write('\n');
  process.stdout.write(
    `${'who'.padEnd(12)} ${'calls/request (teleport + slack + pd)'.padEnd(27)} ${'CPU ms/req'.padStart(8)} ${'burst/s'.padStart(8)} ${'ms p50/p99'.padStart(12)} ${'RSS MB start/idle/peak/after'.padStart(21)}\n`,
  );
  process.stdout.write(`${row(rt)}\n`);
  if (br) process.stdout.write(`${row(br)}\n`);
  if (br)
    process.stdout.write(
      `ratios     calls ${((rt.callsPerRequest.teleport + rt.callsPerRequest.slack + rt.callsPerRequest.pagerduty) / (br.callsPerRequest.teleport + br.callsPerRequest.slack + br.callsPerRequest.pagerduty)).toFixed(2)}x, ` +
        `CPU ${(rt.cpuMsPerRequest / br.cpuMsPerRequest).toFixed(2)}x (aim <= 1.3), p99 latency at ${RATE}/s ${(rt.latencyMs.p99 / br.latencyMs.p99).toFixed(2)}x (aim <= 1.5), burst ${(rt.burstPerSecond / br.burstPerSecond).toFixed(2)}x\n`,
    );
  process.stdout.write(
    `restart    ${pending} pending: watch open ${watchAt - spawnedAt} ms after spawn, idle ${Math.max(0, last - watchAt)} ms after the watch, ` +
      `${restartTeleport} Teleport calls (aim < 50); service calls for the pending requests ${forPending.length} (aim 0)${forPending.length ? `: ${forPending.join(', ')}` : ''}\n`,
  );
  process.stdout.write(
    `start-up   ${restartServiceCalls.length - forPending.length} service calls at every start, pending or not (a start with nothing pending made ${rt.startServiceCalls.length}: ${rt.startServiceCalls.join(', ') || 'none'})\n`,
  );
  process.stdout.write(`aims       <= 12 calls/request; idle RSS <= 90 MB; <= 150 MB after a 2000-request burst\n`);

  await slack.close();
  await pd.close();
  await tp.close();
  await rm(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
