import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createLogger,
  createTeleportClient,
  errorMessage,
  PluginError,
  startRuntime,
  toToml,
  type Adapter,
  type DemoService,
  type Runtime,
  type TeleportClient,
} from '@teleport-plugin/core';
import { loadAdapter } from '../adapters.js';
import type { CommonFlags } from '../main.js';
import { prepare, SHUTDOWN_BUDGET_MS } from './start.js';

const DEFAULT_DEMO_ADAPTERS = ['slack', 'pagerduty'];
const STEP_TIMEOUT_MS = 15_000;
const REQUESTER_ON_CALL = 'alice@example.com';
const REQUESTER = 'bob';
const REVIEWER = 'carol';
const PLUGIN_USER = 'access-plugin';

interface Running {
  name: string;
  adapter: Adapter<any>;
  service: DemoService;
}

/**
 * `teleport-plugin demo`: a fake Teleport and a fake of each adapter's service on 127.0.0.1, the
 * real runtime in between, and three access requests (approved, denied, expired) to watch.
 */
export async function runDemo(flags: CommonFlags, env: NodeJS.ProcessEnv): Promise<number> {
  // `teleport-plugin demo | head` closes stdout early; finish (and clean up) quietly instead of crashing.
  let stdoutOpen = true;
  process.stdout.on('error', () => {
    stdoutOpen = false;
  });
  const out = (line = ''): void => {
    if (stdoutOpen) process.stdout.write(`${line}\n`);
  };
  // Loaded here, not at the top: only the demo needs the testkit (and its PKI and gRPC server).
  const testkit = await import('@teleport-plugin/testkit');
  const { FakeTeleport } = testkit;

  const explicit = flags.plugins.length > 0;
  const wanted = explicit ? flags.plugins : DEFAULT_DEMO_ADAPTERS;
  const logger = createLogger({ output: 'stderr', severity: flags.debug ? 'debug' : 'warn' });

  out('teleport-plugin demo: the real runtime against local fakes (no account, no network).');
  out();

  const candidates: Adapter<any>[] = [];
  for (const spec of wanted) {
    try {
      const { adapter } = await loadAdapter(spec);
      if (adapter.demo === undefined) {
        out(`  - skipping ${spec}: the adapter has no demo support`);
        continue;
      }
      candidates.push(adapter);
    } catch (err) {
      out(`  - skipping ${spec}: ${errorMessage(err)}`);
    }
  }
  if (candidates.length === 0) {
    await logger.close();
    throw new PluginError('ADAPTER_NOT_FOUND', `no adapter could be loaded for the demo (tried ${wanted.join(', ')})`, {
      userFacing: true,
    });
  }

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'teleport-plugin-demo-'));
  // Ctrl-C mid-demo: the fakes die with the process, but the temporary config and identity must go.
  const onInterrupt = (): void => {
    fsSync.rmSync(dir, { recursive: true, force: true });
    process.stderr.write('\ndemo interrupted\n');
    process.exit(130);
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  const tp = await FakeTeleport.start({ advancedWorkflows: true });
  const running: Running[] = [];
  let runtime: Runtime | undefined;
  let teleport: TeleportClient | undefined;
  let rootLogger: Awaited<ReturnType<typeof prepare>>['logger'] | undefined;
  try {
    out(`* Fake Teleport "${tp.clusterName}" (v${tp.version}) listening on ${tp.addr}`);
    tp.addPluginUser(PLUGIN_USER, { canReview: true, readAccessMonitoringRules: true });
    tp.addRequester(REQUESTER_ON_CALL, { requestRoles: ['editor'] });
    tp.addRequester(REQUESTER, { requestRoles: ['editor', 'dba'] });
    tp.addReviewer(REVIEWER, { reviewRoles: ['editor', 'dba'] });
    out(`  users: ${REQUESTER_ON_CALL} and ${REQUESTER} (requesters), ${REVIEWER} (reviewer), ${PLUGIN_USER} (this plugin)`);

    // Adapters' fakes start after the users exist: some read them (PagerDuty puts requesters on call).
    const topLevel: Record<string, unknown> = {};
    const sections: Record<string, unknown> = {};
    for (const adapter of candidates) {
      try {
        const service = await adapter.demo!.start({ testkit, teleport: tp, logger: logger.child({ adapter: adapter.name }) });
        running.push({ name: adapter.name, adapter, service });
        sections[adapter.name] = service.section;
        for (const [k, v] of Object.entries(service.topLevel ?? {})) {
          const prev = topLevel[k];
          topLevel[k] = isPlainObject(prev) && isPlainObject(v) ? { ...prev, ...v } : v;
        }
        const urls = Object.values(service.section).filter((v): v is string => typeof v === 'string' && /^https?:\/\//.test(v));
        out(`* ${adapter.name}: fake ${adapter.name} API started${urls.length > 0 ? ` at ${urls.join(', ')}` : ''}`);
      } catch (err) {
        out(`  - skipping ${adapter.name}: its demo service did not start: ${errorMessage(err)}`);
      }
    }
    if (running.length === 0) throw new PluginError('ADAPTER_FAILED', 'no demo service could be started', { userFacing: true });
    const names = running.map((r) => r.name);

    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const configFile = path.join(dir, 'teleport-plugin.toml');
    const toml = toToml({
      teleport: { addr: tp.addr, identity },
      log: { output: 'stderr', severity: flags.debug ? 'debug' : 'warn' },
      ...topLevel,
      ...sections,
    });
    await fs.writeFile(configFile, toml, { mode: 0o600 });
    out(`* Config written to ${configFile} (removed when the demo ends):`);
    out(indent(toml.trimEnd(), '    '));
    out();

    const prepared = await prepare(configFile, { plugins: names, debug: flags.debug }, env);
    rootLogger = prepared.logger;
    teleport = await createTeleportClient(prepared.config.teleport, prepared.logger);
    // Adapters that take webhooks (Jira, GitLab) serve them on the [http] their demo asked for,
    // in plain HTTP on 127.0.0.1: the demo never leaves this machine.
    runtime = await startRuntime({
      teleport,
      adapters: prepared.adapters,
      logger: prepared.logger,
      ...(prepared.config.http === undefined ? {} : { http: prepared.config.http }),
      insecureNoTls: true,
    });
    out(`* Runtime started: one Teleport connection, one watch stream, adapters ${names.join(', ')}`);
    out();

    const rt = runtime;
    // True once `predicate` holds, false at the step timeout: a slow adapter is reported, not fatal.
    const settled = (predicate: () => boolean): Promise<boolean> =>
      tp.waitFor(predicate, STEP_TIMEOUT_MS).then(
        () => true,
        () => false,
      );
    const pluginData = (id: string): Array<[string, Record<string, string> | undefined]> =>
      names.map((n) => [n, tp.admin.pluginData(id, n)]);
    const waitAll = async (id: string, test: (d: Record<string, string> | undefined) => boolean): Promise<string[]> => {
      await settled(() => pluginData(id).every(([, d]) => test(d)));
      await rt.idle();
      return pluginData(id).filter(([, d]) => !test(d)).map(([n]) => n);
    };
    const seen = (d: Record<string, string> | undefined): boolean => d !== undefined;
    const resolved = (d: Record<string, string> | undefined): boolean => (d?.['resolution'] ?? '') !== '';
    const report = (id: string, late: string[], what: string): void => {
      const req = tp.admin.getRequest(id);
      out(`   state: ${req?.state ?? 'deleted (expired)'}${req?.resolveReason ? ` (${req.resolveReason})` : ''}`);
      for (const r of req?.reviews ?? []) out(`   review: ${r.author} ${r.proposedState.toLowerCase()}${r.reason ? `: ${r.reason}` : ''}`);
      if (late.length > 0) out(`   (${late.join(', ')} did not record ${what} within ${STEP_TIMEOUT_MS / 1000} s)`);
    };

    // An adapter (PagerDuty's on-call auto-approval) may have decided already; then the demo
    // only reports it instead of reviewing a request that is no longer pending.
    const reviewUnlessDecided =
      (state: 'APPROVED' | 'DENIED', reason: string, verb: string, decidedNote = '') =>
      async (id: string): Promise<string> => {
        if (tp.admin.getRequest(id)?.state !== 'PENDING') return `decided by an adapter${decidedNote}`;
        await tp.admin.review(id, { author: REVIEWER, state, reason });
        return `${REVIEWER} ${verb}`;
      };
    // A service whose users decide requests themselves (a Jira transition) approves it there.
    const approveInService = async (id: string): Promise<string | undefined> => {
      for (const r of running) {
        if (tp.admin.getRequest(id)?.state !== 'PENDING' || !r.service.approve) continue;
        try {
          const line = await r.service.approve(id);
          if (line !== undefined) return line;
        } catch (err) {
          out(`   (${r.name} could not approve it: ${errorMessage(err)})`);
        }
      }
      return undefined;
    };

    const scenarios: Array<{ title: string; user: string; roles: string[]; reason: string; then: (id: string) => Promise<string> }> = [
      {
        title: 'approved',
        user: REQUESTER_ON_CALL,
        roles: ['editor'],
        reason: 'Investigate incident INC-42',
        then: async (id) => (await approveInService(id)) ?? reviewUnlessDecided('APPROVED', 'go ahead', 'approves', ' (on-call auto-approval)')(id),
      },
      {
        title: 'denied',
        user: REQUESTER,
        roles: ['dba'],
        reason: 'Drop the staging database',
        then: reviewUnlessDecided('DENIED', 'not during the freeze', 'denies'),
      },
      {
        title: 'expired',
        user: REQUESTER,
        roles: ['editor'],
        reason: 'Look at production logs',
        then: async (id) => {
          if (tp.admin.getRequest(id)?.state !== 'PENDING') return 'decided by an adapter before it could expire';
          await tp.admin.expire(id);
          return 'nobody answers; the request expires';
        },
      },
    ];

    const ids: string[] = [];
    for (const [i, s] of scenarios.entries()) {
      const id = await tp.admin.createRequest({ user: s.user, roles: s.roles, reason: s.reason });
      ids.push(id);
      out(`${i + 1}. ${s.user} requests role ${s.roles.join(', ')}: "${s.reason}"  (to be ${s.title})`);
      out(`   request ${id}`);
      const lateSeen = await waitAll(id, seen);
      out(`   seen by: ${names.filter((n) => !lateSeen.includes(n)).join(', ') || 'nobody yet'}`);
      const action = await s.then(id);
      out(`   -> ${action}`);
      // An expiry is recorded too: Teleport keeps the entry writable until it expires itself.
      const expired = tp.admin.getRequest(id) === undefined;
      const late = await waitAll(id, resolved);
      report(id, late, expired ? 'the expiry' : 'an outcome');
      out();
    }

    out('What each adapter did:');
    for (const r of running) {
      out(`  [${r.name}]`);
      let lines: string[];
      try {
        lines = r.service.describe();
      } catch (err) {
        lines = [`(describe failed: ${errorMessage(err)})`];
      }
      out(indent(lines.join('\n') || '(nothing)', '    '));
    }
    out();
    out('Plugin data stored in Teleport (what lets a Go plugin and this runtime take over from each other):');
    for (const [i, id] of ids.entries()) {
      for (const [name, data] of pluginData(id)) {
        out(`  request ${i + 1} ${name}: ${data === undefined ? '(none)' : formatData(data)}`);
      }
    }
    out();
  } finally {
    if (runtime !== undefined) await runtime.stop(SHUTDOWN_BUDGET_MS).catch((err: unknown) => logger.warn('runtime stop failed', { error: errorMessage(err) }));
    await teleport?.close().catch(() => undefined);
    for (const r of running.reverse()) await r.service.close().catch(() => undefined);
    await tp.close().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    await rootLogger?.close();
    await logger.close();
  }
  out('Successfully shut down. Next: "teleport-plugin configure --plugin slack" for a real config.');
  return 0;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((l) => (l === '' ? '' : prefix + l))
    .join('\n');
}

function formatData(data: Record<string, string>): string {
  return Object.entries(data)
    .map(([k, v]) => `${k}=${v.length > 60 ? `${v.slice(0, 57)}...` : v}`)
    .join(' ');
}

