// The soak run: FakeTeleport + FakeSlack + FakePagerDuty on 127.0.0.1, the plugin as real child
// processes (`teleport-plugin start`), a seeded workload of access requests with random
// lifecycles, a bounded fault timeline, then quiescence and the checker's verdict.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { checkSoak, formatReport, isClean, requestsFromAudit, type CheckInput, type CheckResult, type FaultEvent } from './checker.js';
import { FakePagerDuty, FakeSlack, blocksText } from './fakes.js';
import type { RecordedCall } from '@teleport-plugin/core/testing';
import { FAULT_KINDS, defaultFaultOptions, faultLabel, planFaults, planWorkload, seededRandom, type FaultKind, type PlannedFault, type PlannedRequest } from './plan.js';
import { PluginProcess, removeOnExit } from './processes.js';

export interface SoakOptions {
  /** Access requests created (default 2000). */
  requests: number;
  /** Created per second (default 40). */
  rate: number;
  /** Seeds the workload and the fault timeline. */
  seed: number;
  /** The second replica's lifetime (0: none). */
  replicaSeconds: number;
  /** SIGKILL + restart of the plugin, this many times. */
  kills: number;
  /** false: no faults at all (the baseline, which must always be clean). */
  faults: boolean;
  /** Only the bad requests and the summary. */
  quiet: boolean;
  /** Distinct requesters (each a Slack user by email). */
  requesters: number;
  /**
   * No lifecycle step sooner than this after a request's creation: longer than any one outage
   * of the schedule, so each request is pending while some plugin watches, and announcing it is
   * a fair expectation (a request created and resolved while nobody watched is never announced,
   * by design, as upstream).
   */
  minGapSeconds: number;
  /** Lifecycle steps spread over up to this long after minGap (default: half the creation span, 8–30 s). */
  spreadSeconds?: number;
  /** At least this long between a request's last review and its resolution (see WorkloadOptions). */
  resolveGapMs: number;
  /** After the last step: give up waiting for quiescence after this long. */
  settleSeconds: number;
  /** Settled without the expected end state once nothing has called any fake for this long. */
  idleSeconds: number;
  /** Settled once the expected end state is reached and nothing has called any fake for this long. */
  quietSeconds: number;
  /** Keep the temp dir (config, identity, plugin logs) and print its path. */
  keepTemp: boolean;
  /** Where lines go (default: console.log). */
  out?: (line: string) => void;
  /** Aborts the run (Ctrl-C); cleanup still happens. */
  signal?: AbortSignal;
}

export const DEFAULT_SOAK_OPTIONS: SoakOptions = {
  requests: 2000,
  rate: 40,
  seed: 1,
  replicaSeconds: 15,
  kills: 3,
  faults: true,
  quiet: false,
  requesters: 25,
  minGapSeconds: 8,
  resolveGapMs: 100,
  settleSeconds: 120,
  idleSeconds: 35,
  quietSeconds: 2,
  keepTemp: false,
};

export interface SoakOutcome {
  result: CheckResult;
  /** Bad requests, the summary line and the counts (what the test prints on failure). */
  report: string;
  faults: FaultEvent[];
  /** How the wait for quiescence ended. */
  settled: 'clean' | 'idle' | 'deadline';
  timings: { setupMs: number; workloadMs: number; settleMs: number; totalMs: number };
  /** Workload steps Teleport refused (a harness problem, not the plugin's). */
  workloadErrors: string[];
  /** Set with keepTemp. */
  tempDir: string | undefined;
}

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist/soak
/** The test package: `--plugin slack` resolves from its node_modules, as from a user's install. */
const TEST_DIR = path.resolve(here, '..', '..');

const PLUGIN_USER = FakeTeleport.PLUGIN_USER;
const PD_KEY = 'pd-soak-key';
const PD_SERVICE = 'Access Requests';
const PD_FROM = 'teleport-bot@example.com';
const CHANNEL = { id: 'C0ACCESS', name: 'access-requests' };
const LEAD = { id: 'U0LEAD', name: 'lead', email: 'lead@example.com' };
const REVIEWERS = ['reviewer1@example.com', 'reviewer2@example.com', 'reviewer3@example.com'];
const RESTART_DELAY_MS = 250;
const MAX_UNEXPECTED_EXITS = 5;

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** One soak run; always cleans up (children, fakes, temp dir), also when aborted or failing. */
export async function runSoak(partial: Partial<SoakOptions> = {}): Promise<SoakOutcome> {
  const o: SoakOptions = { ...DEFAULT_SOAK_OPTIONS, ...partial };
  const out = o.out ?? ((line: string) => console.log(line));
  const say = (line: string): void => {
    if (!o.quiet) out(line);
  };
  const startedAt = Date.now();

  // ---- the plan (pure, seeded) ----------------------------------------------------------------
  const random = seededRandom(o.seed);
  const requesters = Array.from({ length: o.requesters }, (_, i) => `requester${String(i).padStart(3, '0')}@example.com`);
  const creationSpanMs = Math.round((o.requests / o.rate) * 1000);
  const spreadMs = Math.round((o.spreadSeconds ?? Math.min(30, Math.max(8, creationSpanMs / 2000))) * 1000);
  const plan = planWorkload(
    { requests: o.requests, rate: o.rate, requesters, reviewers: REVIEWERS, minGapMs: o.minGapSeconds * 1000, spreadMs, pendingShare: 0.05, resolveGapMs: o.resolveGapMs },
    random,
  );
  const lastStepAt = Math.max(0, ...plan.flatMap((p) => [p.createAt, p.resolveAt ?? 0, ...p.reviews.map((r) => r.at)]));
  const faultPlan = o.faults ? planFaults(defaultFaultOptions(2000, lastStepAt, o.kills, o.replicaSeconds * 1000), random) : [];

  // Everything that must be undone, newest first.
  const cleanups: Array<() => Promise<void>> = [];
  let tempDir: string | undefined;
  let cancelRemoveOnExit: (() => void) | undefined;
  const deadlineMs = 60_000 + lastStepAt + o.settleSeconds * 1000 + 60_000;
  const signal = AbortSignal.any([AbortSignal.timeout(deadlineMs), ...(o.signal ? [o.signal] : [])]);

  try {
    // ---- fakes ---------------------------------------------------------------------------------
    const tp = await FakeTeleport.start();
    cleanups.push(() => tp.close());
    for (const user of requesters) {
      tp.addRequester(user, {
        requestRoles: ['editor'],
        // Reviews never decide: every request ends by our approve/deny/expire, after 0–2 reviews.
        thresholds: [{ name: 'soak', approve: 3, deny: 3 }],
        // An incident per request. No pagerduty_services annotation: on-call auto-approval stays
        // out of the way (it logs "no services annotation" and does nothing).
        requestAnnotations: { pagerduty_notify_service: [PD_SERVICE] },
      });
    }
    for (const reviewer of REVIEWERS) tp.addReviewer(reviewer, { reviewRoles: ['editor'] });

    const slack = new FakeSlack();
    slack.addChannel(CHANNEL);
    slack.addUser(LEAD);
    const requesterDm: Record<string, string> = {};
    requesters.forEach((email, i) => {
      const id = `U0R${String(i).padStart(3, '0')}`;
      slack.addUser({ id, name: email.split('@')[0]!, email });
      requesterDm[email] = slack.imChannel(id);
    });
    await slack.start();
    cleanups.push(() => slack.close());
    const recipientChannels = [CHANNEL.id, slack.imChannel(LEAD.id)];

    const pd = new FakePagerDuty({ apiKey: PD_KEY });
    pd.addUser(PD_FROM, 'Teleport Bot');
    pd.addService(PD_SERVICE);
    await pd.start();
    cleanups.push(() => pd.close());

    // ---- config ----------------------------------------------------------------------------------
    tempDir = await mkdtemp(path.join(tmpdir(), 'teleport-plugin-soak-'));
    const dir = tempDir;
    if (!o.keepTemp) {
      cancelRemoveOnExit = removeOnExit(dir);
      cleanups.push(() => rm(dir, { recursive: true, force: true }));
    }
    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const keyFile = path.join(dir, 'pagerduty-api-key');
    await writeFile(keyFile, `${PD_KEY}\n`, { mode: 0o600 });
    const configFile = path.join(dir, 'teleport-plugin.toml');
    await writeFile(
      configFile,
      [
        '[teleport]',
        `addr = "${tp.addr}"`,
        `identity = ${JSON.stringify(identity)}`,
        '',
        '[slack]',
        `token = "${slack.token}"`,
        `api_url = "${slack.apiUrl}"`,
        '',
        '[role_to_recipients]',
        `"*" = ["${CHANNEL.name}", "${LEAD.email}"]`,
        '',
        '[pagerduty]',
        `api_key = ${JSON.stringify(keyFile)}`,
        `user_email = "${PD_FROM}"`,
        `api_endpoint = "${pd.url}"`,
        '',
        '[log]',
        'output = "stderr"',
        `severity = "${o.keepTemp ? 'debug' : 'info'}"`,
        '',
      ].join('\n'),
    );

    // ---- the plugin processes ---------------------------------------------------------------------
    const faults: FaultEvent[] = [];
    let t0 = Date.now();
    const now = (): number => Date.now() - t0;
    const record = (kind: FaultKind, label: string, at = now(), until = at): FaultEvent => {
      const event = { kind, at, until, label };
      faults.push(event);
      say(`[${secs(at).padStart(7)}] ${kind}: ${label}`);
      return event;
    };
    const logs: string[] = [];
    let spawned = 0;
    const spawnPlugin = (role: string): PluginProcess => {
      spawned += 1;
      const logFile = path.join(dir, `${role}-${spawned}.log`);
      logs.push(logFile);
      return new PluginProcess(`${role}-${spawned}`, ['start', '-c', configFile, '--plugin', 'slack', '--plugin', 'pagerduty'], {
        cwd: TEST_DIR,
        // As in Kubernetes: a stable instance name per pod (the restarted main is the same pod),
        // and tighter delivery timings than the defaults so a vanished replica's leases expire
        // within the run.
        env: {
          TELEPORT_PLUGIN_FAIL_FAST: '',
          TELEPORT_PLUGIN_INSTANCE: role,
          TELEPORT_PLUGIN_HANDLER_TIMEOUT: '10s',
          TELEPORT_PLUGIN_LEASE: '15s',
          TELEPORT_PLUGIN_RECONCILE_INTERVAL: '10s',
        },
        logFile,
      });
    };
    const watchCalls = (): number => tp.calls.filter((c) => c.method === 'WatchEvents').length;
    /** Resolves once a watch opened after `before` (a count of WatchEvents calls) is open. */
    const watching = (before: number, timeoutMs: number): Promise<boolean> =>
      tp
        .waitFor(() => watchCalls() > before && tp.openWatchCount > 0, timeoutMs, 'the plugin to watch')
        .then(
          () => true,
          () => false,
        );

    let stopping = false;
    let unexpectedExits = 0;
    let main: PluginProcess | undefined;
    /** Set when the plugin keeps dying on its own: the run stops with this error. */
    const failure: { error?: Error } = {};
    const startMain = (): PluginProcess => {
      const p = spawnPlugin('main');
      main = p;
      void p.exited.then((exit) => {
        if (p.expectedExit || stopping || main !== p) return;
        unexpectedExits += 1;
        record('plugin-exit', `${faultLabel({ kind: 'plugin-exit', count: 0, durationMs: 0 })} (${exit.signal ?? `code ${exit.code}`}, ${p.name})`);
        if (unexpectedExits > MAX_UNEXPECTED_EXITS) {
          failure.error = new Error(`the plugin exited on its own ${unexpectedExits} times (--keep-temp keeps its logs)`);
          return;
        }
        setTimeout(() => {
          if (!stopping && main === p) startMain();
        }, RESTART_DELAY_MS).unref();
      });
      return p;
    };
    cleanups.push(async () => {
      stopping = true;
      // The verdict is in: no need for the whole 15 s graceful budget.
      await main?.stop(5000);
    });

    const before = watchCalls();
    const first = startMain();
    if (!(await watching(before, 30_000))) {
      const log = await readFile(first.options.logFile, 'utf8').catch(() => '');
      throw new Error(`the plugin did not start watching within 30 s:\n${log}`);
    }

    // ---- the timeline ------------------------------------------------------------------------------
    say(`soak: ${o.requests} requests at ${o.rate}/s, seed ${o.seed}, ${o.requesters} requesters, ${REVIEWERS.length} reviewers`);
    say(
      `  recipients: #${CHANNEL.name} (${CHANNEL.id}), ${LEAD.email} (DM ${recipientChannels[1]}), and the requester (DM); pagerduty: one incident per request on "${PD_SERVICE}"; on-call auto-approval: off`,
    );
    const outcomes = countOutcomes(plan);
    say(
      `  lifecycles: ${outcomes.approve} approved, ${outcomes.deny} denied, ${outcomes.expire} expired, ${outcomes.pending} left pending; ${outcomes.reviews} reviews; steps from ${o.minGapSeconds}s after creation, spread over ${secs(spreadMs)}, resolution >= ${o.resolveGapMs}ms after the last review; last step at ${secs(lastStepAt)}`,
    );
    if (faultPlan.length === 0) say('  faults: none (--no-faults)');
    else {
      say(`  fault timeline (${faultPlan.length} faults, ${summarizeKinds(faultPlan.map((f) => f.kind))}):`);
      for (const f of faultPlan) say(`    ${secs(f.at).padStart(7)}  ${f.kind.padEnd(16)} ${faultLabel(f)}`);
    }
    say(`  plugin: pid ${first.pid}, logs in ${o.keepTemp ? dir : 'a temp dir (--keep-temp keeps it)'}`);

    const setupMs = Date.now() - startedAt;
    t0 = Date.now();
    const ids: Array<string | undefined> = new Array(plan.length);
    const workloadErrors: string[] = [];
    const actions: Array<{ at: number; run: () => unknown }> = [];
    let created = 0;
    let steps = 0;
    for (const p of plan) {
      actions.push({
        at: p.createAt,
        run: async () => {
          ids[p.index] = await tp.admin.createRequest({ user: p.user, roles: ['editor'], reason: `soak request ${p.index}` });
          created += 1;
        },
      });
      p.reviews.forEach((r, k) =>
        actions.push({
          at: r.at,
          run: async () => {
            const id = ids[p.index];
            if (!id) return;
            await tp.admin.review(id, { author: r.author, state: r.state, reason: `soak review ${k + 1}` });
            steps += 1;
          },
        }),
      );
      if (p.resolveAt !== undefined) {
        actions.push({
          at: p.resolveAt,
          run: async () => {
            const id = ids[p.index];
            if (!id) return;
            if (p.outcome === 'approve') await tp.admin.approve(id, { reason: 'soak approval' });
            else if (p.outcome === 'deny') await tp.admin.deny(id, { reason: 'soak denial' });
            else await tp.admin.expire(id);
            steps += 1;
          },
        });
      }
    }
    const burstUntil = (f: PlannedFault): number => Date.now() + f.durationMs;
    let replica: PluginProcess | undefined;
    cleanups.push(async () => {
      await replica?.stop();
    });
    for (const f of faultPlan) {
      actions.push({
        at: f.at,
        run: async () => {
          const label = faultLabel(f);
          switch (f.kind) {
            case 'watch-drop': {
              const n = tp.faults.dropWatchStreams();
              record(f.kind, `${label} (${n} open)`);
              return;
            }
            case 'refuse-streams': {
              tp.faults.refuseStreams(f.durationMs);
              const n = tp.faults.dropWatchStreams();
              const at = now();
              record(f.kind, `${label} (${n} dropped)`, at, at + f.durationMs);
              return;
            }
            case 'slack-429':
              slack.fail({ status: 429, headers: { 'Retry-After': '1' }, body: { ok: false, error: 'ratelimited' }, times: f.count, until: burstUntil(f) });
              record(f.kind, label, now(), now() + f.durationMs);
              return;
            case 'slack-5xx':
              slack.fail({ status: f.status ?? 500, times: f.count, until: burstUntil(f) });
              record(f.kind, label, now(), now() + f.durationMs);
              return;
            case 'pagerduty-5xx':
              pd.fail({ status: f.status ?? 500, times: f.count, until: burstUntil(f) });
              record(f.kind, label, now(), now() + f.durationMs);
              return;
            case 'plugin-data-fail':
              tp.faults.failNext('UpdatePluginData', f.count);
              record(f.kind, label);
              return;
            case 'sigkill': {
              const victim = main;
              if (!victim) return;
              const event = record(f.kind, `${label} (${victim.name}, pid ${victim.pid})`);
              await victim.kill();
              await sleep(RESTART_DELAY_MS, undefined, { signal });
              const count = watchCalls();
              if (stopping) return;
              startMain();
              await watching(count, 30_000);
              event.until = now();
              return;
            }
            case 'replica': {
              const r = spawnPlugin('replica');
              replica = r;
              const event = record(f.kind, `${label} (${r.name}, pid ${r.pid})`, now(), now() + f.durationMs);
              void r.exited.then((exit) => {
                if (!r.expectedExit) record('plugin-exit', `replica exited on its own (${exit.signal ?? `code ${exit.code}`}, ${r.name})`);
              });
              await sleep(f.durationMs, undefined, { signal });
              await r.stop();
              event.until = now();
              say(`[${secs(now()).padStart(7)}] replica: stopped (${r.name})`);
              return;
            }
            case 'plugin-exit':
              return;
          }
        },
      });
    }

    const progress = setInterval(() => {
      say(
        `[${secs(now()).padStart(7)}] progress: ${created}/${plan.length} created, ${steps} reviews/resolutions; slack calls ${slack.calls.length}, pagerduty calls ${pd.calls.length}`,
      );
    }, 10_000);
    progress.unref();
    try {
      await runTimeline(
        actions,
        t0,
        signal,
        (err) => workloadErrors.push(err instanceof Error ? err.message : String(err)),
        () => failure.error,
      );
    } finally {
      clearInterval(progress);
    }
    const workloadMs = now();

    // ---- faults over; wait for quiescence --------------------------------------------------------
    slack.clearFaults();
    pd.http.clearFaults();
    tp.faults.reset();
    await replica?.stop();
    // Restarts after a SIGKILL were awaited by the timeline; one after an unexpected exit may still be due.
    await tp.waitFor(() => tp.openWatchCount > 0, 30_000, 'the plugin to watch after the faults').catch(() => undefined);
    say(`[${secs(now()).padStart(7)}] workload and faults done; waiting for quiescence (up to ${o.settleSeconds}s)`);

    const snapshot = (): CheckInput => ({
      requests: requestsFromAudit(tp.auditLog(), t0),
      slack: {
        messages: slack.messages.map((m) => ({ channel: m.channel, ts: m.ts, threadTs: m.threadTs, text: m.text, blocksText: blocksText(m.blocks) })),
        recipientChannels,
        requesterDm,
      },
      pagerduty: { incidents: pd.incidents.map((i) => ({ id: i.id, incidentKey: i.incidentKey, status: i.status, notes: i.notes.map((n) => n.content) })) },
      faults,
    });
    const settleStart = Date.now();
    const activity = (): number => slack.calls.length + pd.calls.length + tp.calls.length;
    let lastActivity = activity();
    let lastChange = Date.now();
    let settled: SoakOutcome['settled'] = 'deadline';
    while (Date.now() - settleStart < o.settleSeconds * 1000) {
      if (failure.error) throw failure.error;
      await sleep(250, undefined, { signal });
      const a = activity();
      if (a !== lastActivity) {
        lastActivity = a;
        lastChange = Date.now();
      }
      const idleFor = Date.now() - lastChange;
      if (idleFor >= o.quietSeconds * 1000 && isClean(checkSoak(snapshot()))) {
        settled = 'clean';
        break;
      }
      if (idleFor >= o.idleSeconds * 1000) {
        settled = 'idle';
        break;
      }
    }
    const settleMs = Date.now() - settleStart;
    const result = checkSoak(snapshot());
    const report = formatReport(result);

    // ---- the report --------------------------------------------------------------------------------
    for (const line of report.split('\n')) out(line);
    const injected = summarizeKinds(faults.map((f) => f.kind));
    const failedWrites = tp.calls.filter((c) => c.method === 'UpdatePluginData' && c.details?.startsWith('injected failure')).length;
    const answered = `slack answered ${slack.calls.filter((c) => c.injected).length} injected errors, pagerduty ${pd.calls.filter((c) => c.injected).length}, UpdatePluginData failed ${failedWrites}x`;
    out(`faults injected: ${injected || 'none'}${injected ? ` (${answered})` : ''}`);
    out(
      `seed ${o.seed}; settled: ${settled === 'clean' ? 'expected end state reached' : settled === 'idle' ? `no fake called for ${o.idleSeconds}s` : `deadline (${o.settleSeconds}s)`} after ${secs(settleMs)}; setup ${secs(setupMs)}, workload ${secs(workloadMs)}, total ${secs(Date.now() - startedAt)}`,
    );
    if (workloadErrors.length > 0) out(`workload steps refused by Teleport: ${workloadErrors.length} (first: ${workloadErrors[0]})`);
    if (!o.quiet || !isClean(result)) out(`plugin logs: ${await summarizeLogs(logs)}`);
    if (o.keepTemp) {
      // Every call each fake saw, one JSON line each, for reading a bad request's history.
      const line = (c: RecordedCall): string =>
        JSON.stringify({
          at: new Date(c.at).toISOString(),
          method: c.method,
          path: c.path,
          status: c.status,
          injected: c.injected,
          body: c.json ?? (c.form ? Object.fromEntries(c.form) : c.rawBody),
        });
      await writeFile(path.join(dir, 'slack-calls.jsonl'), slack.calls.map(line).join('\n'));
      await writeFile(path.join(dir, 'pagerduty-calls.jsonl'), pd.calls.map(line).join('\n'));
      await writeFile(path.join(dir, 'teleport-calls.jsonl'), tp.calls.map((c) => JSON.stringify(c)).join('\n'));
      out(`kept: ${dir} (plugin logs, and every call to each fake in *-calls.jsonl)`);
    }

    return {
      result,
      report,
      faults,
      settled,
      timings: { setupMs, workloadMs, settleMs, totalMs: Date.now() - startedAt },
      workloadErrors,
      tempDir: o.keepTemp ? dir : undefined,
    };
  } catch (err) {
    if (signal.aborted && !(o.signal?.aborted ?? false)) throw new Error(`soak: overall deadline (${secs(deadlineMs)}) passed`, { cause: err });
    throw err;
  } finally {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch {
        /* keep cleaning */
      }
    }
    cancelRemoveOnExit?.();
  }
}

/** Runs each action at its time (ms after t0); actions that take long (a restart) do not delay the rest. */
async function runTimeline(
  actions: Array<{ at: number; run: () => unknown }>,
  t0: number,
  signal: AbortSignal,
  onError: (err: unknown) => void,
  fatal: () => Error | undefined,
): Promise<void> {
  actions.sort((a, b) => a.at - b.at);
  const inFlight = new Set<Promise<void>>();
  for (const action of actions) {
    const wait = t0 + action.at - Date.now();
    if (wait > 0) await sleep(wait, undefined, { signal });
    signal.throwIfAborted();
    const failed = fatal();
    if (failed) throw failed;
    const p: Promise<void> = Promise.resolve()
      .then(action.run)
      .then(
        () => undefined,
        (err: unknown) => {
          if (!signal.aborted) onError(err);
        },
      )
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  signal.throwIfAborted();
}

function countOutcomes(plan: readonly PlannedRequest[]): Record<'approve' | 'deny' | 'expire' | 'pending' | 'reviews', number> {
  const c = { approve: 0, deny: 0, expire: 0, pending: 0, reviews: 0 };
  for (const p of plan) {
    c[p.outcome] += 1;
    c.reviews += p.reviews.length;
  }
  return c;
}

function summarizeKinds(kinds: readonly FaultKind[]): string {
  return FAULT_KINDS.map((k) => [k, kinds.filter((x) => x === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
}

/** Per plugin process: how many lines it logged at warn and error. */
async function summarizeLogs(files: readonly string[]): Promise<string> {
  const parts: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const lines = text.split('\n');
    const errors = lines.filter((l) => /^\S+ ERROR |"level":"error"/.test(l)).length;
    const warns = lines.filter((l) => /^\S+ WARN |"level":"warn"/.test(l)).length;
    parts.push(`${path.basename(file, '.log')} ${errors} error / ${warns} warn lines`);
  }
  return parts.join(', ');
}
