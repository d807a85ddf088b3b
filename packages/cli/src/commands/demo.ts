import * as fsSync from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  createLogger,
  createTeleportClient,
  errorMessage,
  freeLoopbackPort,
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

/** `teleport-plugin demo` without --plugin: all six, in the order the story introduces them. */
export const DEFAULT_DEMO_ADAPTERS = ['slack', 'mattermost', 'email', 'jira', 'gitlab', 'pagerduty'];
const STEP_TIMEOUT_MS = 15_000;
const REQUESTER_ON_CALL = 'alice@example.com';
const REQUESTER = 'bob';
const REVIEWER = 'carol';
const PLUGIN_USER = 'access-plugin';

interface Running {
  name: string;
  adapter: Adapter<unknown>;
  service: DemoService;
}

/** Display names of the built-in adapters' services. */
const SERVICE: Record<string, string> = { slack: 'Slack', mattermost: 'Mattermost', email: 'email', jira: 'Jira', gitlab: 'GitLab', pagerduty: 'PagerDuty' };

/** Where an adapter shows a request, for the "announced" line of the story. */
const SHOWN_AS: Record<string, string> = {
  slack: 'a Slack message',
  mattermost: 'a Mattermost post',
  email: 'mails',
  jira: 'a Jira issue',
  gitlab: 'a GitLab issue',
  pagerduty: 'a PagerDuty incident',
};

/** The request fields every layout repeats (the Go plugins' snapshot), summarised in the report. */
const SNAPSHOT_KEYS = new Set(['user', 'roles', 'request_reason', 'system_annotations', 'logins_by_role', 'created', 'suggested_reviewers', 'resolve_annotations', 'max_duration']);

interface Scenario {
  user: string;
  roles: string[];
  reason: string;
  /** "(to be ...)" in the story. */
  title: string;
  then: (id: string) => Promise<string>;
}

/**
 * `teleport-plugin demo`: a fake Teleport and a fake of each adapter's service on 127.0.0.1 (a
 * real SMTP server for email), the real runtime in between on one Teleport connection, and a
 * story of four access requests: approved in Jira, denied with a GitLab label, auto-approved
 * because the requester is on call in PagerDuty, and expired (each decided in Teleport instead
 * when the adapter that would decide it is not running).
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

  // --plugin, else TELEPORT_PLUGINS (an image's adapters), else all six; told in the story's order.
  const fromEnv = (env['TELEPORT_PLUGINS'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '' && p !== 'all');
  const chosen = flags.plugins.length > 0 ? flags.plugins : fromEnv.length > 0 ? fromEnv : DEFAULT_DEMO_ADAPTERS;
  const rank = (name: string): number => (DEFAULT_DEMO_ADAPTERS.includes(name) ? DEFAULT_DEMO_ADAPTERS.indexOf(name) : DEFAULT_DEMO_ADAPTERS.length);
  const wanted = [...new Set(chosen)].sort((a, b) => rank(a) - rank(b));
  // The fakes run on loopback without TLS (plain-HTTP webhooks, SMTP without STARTTLS), which the
  // runtime rightly warns about; the story says so once instead. --debug shows the whole log.
  const severity = flags.debug ? 'debug' : 'error';
  const logger = createLogger({ output: 'stderr', severity });
  const started = Date.now();

  out('teleport-plugin demo: the real runtime against local fakes (no account, no network).');
  out();

  const candidates: Adapter<unknown>[] = [];
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
    tp.addPluginUser(PLUGIN_USER, { canReview: true, readAccessMonitoringRules: true, readAccessLists: true });
    tp.addRequester(REQUESTER_ON_CALL, { requestRoles: ['editor'] });
    tp.addRequester(REQUESTER, { requestRoles: ['editor', 'dba'] });
    tp.addReviewer(REVIEWER, { reviewRoles: ['editor', 'dba'] });
    out(`  users: ${REQUESTER} and ${REQUESTER_ON_CALL} (requesters), ${REVIEWER} (reviewer), ${PLUGIN_USER} (this plugin)`);

    // One HTTP server for every adapter that takes webhooks (Jira and GitLab share it, as in
    // production), in plain HTTP on 127.0.0.1: the demo never leaves this machine.
    const httpPort = await freeLoopbackPort();
    const http = { listenAddr: `127.0.0.1:${httpPort}`, url: `http://127.0.0.1:${httpPort}` };

    // Adapters' fakes start after the users exist: some read them (PagerDuty puts requesters on call).
    const topLevel: Record<string, unknown> = {};
    const sections: Record<string, unknown> = {};
    for (const adapter of candidates) {
      try {
        const service = await adapter.demo!.start({ testkit, teleport: tp, cluster: testkit.demoCluster(tp), logger: logger.child({ adapter: adapter.name }), http });
        running.push({ name: adapter.name, adapter, service });
        sections[adapter.name] = service.section;
        for (const [k, v] of Object.entries(service.topLevel ?? {})) {
          const prev = topLevel[k];
          topLevel[k] = isPlainObject(prev) && isPlainObject(v) ? { ...prev, ...v } : v;
        }
        out(`* ${adapter.name}: ${describeFake(adapter.name, service)}`);
      } catch (err) {
        out(`  - skipping ${adapter.name}: its demo service did not start: ${errorMessage(err)}`);
      }
    }
    if (running.length === 0) throw new PluginError('ADAPTER_FAILED', 'no demo service could be started', { userFacing: true });
    const names = running.map((r) => r.name);
    const has = (name: string): boolean => names.includes(name);

    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const configFile = path.join(dir, 'teleport-plugin.toml');
    const toml = toToml({
      teleport: { addr: tp.addr, identity },
      log: { output: 'stderr', severity },
      ...topLevel,
      ...sections,
    });
    await fs.writeFile(configFile, toml, { mode: 0o600 });
    const tables = [...toml.matchAll(/^\[([^\]]+)\]$/gm)].map((m) => m[1]);
    out(`* One config file for ${names.length === 1 ? 'the adapter' : `all ${names.length} adapters`}: ${tables.join(' ')}`);
    if (flags.debug) out(indent(toml.trimEnd(), '    '));
    else out(`  (${configFile}, removed at the end; --debug prints it and the runtime's log)`);
    if ('http' in topLevel)
      out(
        `  [http] ${http.listenAddr}: one server for the webhooks of ${names.filter((n) => n === 'jira' || n === 'gitlab').join(' and ') || 'the adapters'}, plain HTTP on loopback`,
      );
    out();

    const prepared = await prepare(configFile, { plugins: names, debug: flags.debug }, env);
    rootLogger = prepared.logger;
    teleport = await createTeleportClient(prepared.config.teleport, prepared.logger);
    runtime = await startRuntime({
      teleport,
      adapters: prepared.adapters,
      logger: prepared.logger,
      ...(prepared.config.http === undefined ? {} : { http: prepared.config.http }),
      insecureNoTls: true,
    });
    out(`* Runtime started: one Teleport connection, one watch stream, ${names.length} adapter${names.length === 1 ? '' : 's'}: ${names.join(', ')}`);
    out();

    const rt = runtime;
    // True once `predicate` holds, false at the step timeout: a slow adapter is reported, not fatal.
    const settled = (predicate: () => boolean): Promise<boolean> =>
      tp.waitFor(predicate, STEP_TIMEOUT_MS).then(
        () => true,
        () => false,
      );
    const pluginData = (id: string): Array<[string, Record<string, string> | undefined]> => names.map((n) => [n, tp.admin.pluginData(id, n)]);
    const waitAll = async (id: string, test: (d: Record<string, string> | undefined) => boolean): Promise<string[]> => {
      await settled(() => pluginData(id).every(([, d]) => test(d)));
      await rt.idle();
      return pluginData(id)
        .filter(([, d]) => !test(d))
        .map(([n]) => n);
    };
    const resolved = (d: Record<string, string> | undefined): boolean => (d?.['resolution'] ?? '') !== '';
    // Announced = the announce step recorded as done (or the request was already decided by then).
    const announced = (d: Record<string, string> | undefined): boolean => d?.['announced'] === 'ok' || resolved(d);
    const report = (id: string, late: string[], what: string): void => {
      const req = tp.admin.getRequest(id);
      out(`   state: ${req?.state ?? 'deleted (expired)'}${req?.resolveReason ? ` (${req.resolveReason})` : ''}`);
      for (const r of req?.reviews ?? []) out(`   review: ${r.author} ${r.proposedState.toLowerCase()}${r.reason ? `: ${r.reason}` : ''}`);
      const done = names.filter((n) => !late.includes(n));
      out(
        `   ${what} recorded by: ${done.length === names.length && names.length > 2 ? `all ${names.length}` : done.length === 2 && names.length === 2 ? 'both' : done.join(', ') || 'none yet'}`,
      );
      if (late.length > 0) out(`   (${late.join(', ')} did not record the ${what} within ${STEP_TIMEOUT_MS / 1000} s)`);
    };

    /** carol decides in Teleport (tsh request review), unless an adapter decided already. */
    const review = async (id: string, state: 'APPROVED' | 'DENIED', reason: string): Promise<string> => {
      if (tp.admin.getRequest(id)?.state !== 'PENDING') return 'already decided by an adapter';
      await tp.admin.review(id, { author: REVIEWER, state, reason });
      return `${REVIEWER} ${state === 'APPROVED' ? 'approves' : 'denies'} it in Teleport: "${reason}"`;
    };
    /** The first of `prefer` that runs and can decide in its service does (a Jira move, a GitLab label). */
    const inService = async (id: string, verb: 'approve' | 'deny', prefer: string[]): Promise<string | undefined> => {
      const order = [...prefer, ...names.filter((n) => !prefer.includes(n))];
      for (const name of order) {
        const r = running.find((x) => x.name === name);
        const decide = r?.service[verb];
        if (!r || !decide || tp.admin.getRequest(id)?.state !== 'PENDING') continue;
        try {
          const line = await decide.call(r.service, id);
          if (line !== undefined) return line;
        } catch (err) {
          out(`   (${r.name} could not ${verb} it: ${errorMessage(err)})`);
        }
      }
      return undefined;
    };
    const decider = (verb: 'approve' | 'deny', prefer: string[]): string | undefined =>
      [...prefer, ...names].find((n) => has(n) && running.find((r) => r.name === n)?.service[verb] !== undefined);
    const approver = decider('approve', ['jira', 'gitlab']);
    const denier = decider('deny', ['gitlab', 'jira']);
    const inWords = (name: string | undefined, verb: string): string =>
      name === 'jira' ? `${verb} in Jira` : name === 'gitlab' ? `${verb} with a GitLab label` : name ? `${verb} in ${name}` : `${verb} by ${REVIEWER} in Teleport`;

    const scenarios: Scenario[] = [
      {
        user: REQUESTER,
        roles: ['editor'],
        reason: 'Deploy the 1.4.2 hotfix',
        title: inWords(approver, 'approved'),
        then: async (id) => (await inService(id, 'approve', ['jira', 'gitlab'])) ?? review(id, 'APPROVED', 'go ahead'),
      },
      {
        user: REQUESTER,
        roles: ['dba'],
        reason: 'Drop the staging database',
        title: inWords(denier, 'denied'),
        then: async (id) => (await inService(id, 'deny', ['gitlab', 'jira'])) ?? review(id, 'DENIED', 'not during the freeze'),
      },
    ];
    if (has('pagerduty')) {
      scenarios.push({
        user: REQUESTER_ON_CALL,
        roles: ['editor'],
        reason: 'Investigate incident INC-42',
        title: 'auto-approved: the requester is on call in PagerDuty',
        then: async (id) => {
          // PagerDuty approves when it opens the incident; wait for it rather than decide.
          if (await settled(() => tp.admin.getRequest(id)?.state !== 'PENDING')) return 'nobody acts: the pagerduty adapter finds her on call and approves it';
          return `${await review(id, 'APPROVED', 'go ahead')} (the on-call approval did not come within ${STEP_TIMEOUT_MS / 1000} s)`;
        },
      });
    }
    scenarios.push({
      user: REQUESTER,
      roles: ['editor'],
      reason: 'Look at production logs',
      title: 'left to expire',
      then: async (id) => {
        if (tp.admin.getRequest(id)?.state !== 'PENDING') return 'decided by an adapter before it could expire';
        await tp.admin.expire(id);
        return 'nobody answers; the request expires (Teleport deletes it)';
      },
    });

    if (names.length > 1) {
      out(`${scenarios.length} access requests follow. Each is announced by every adapter, decided in one place, and`);
      out('every adapter brings its own message, mail, issue or incident to the outcome.');
    } else {
      out(`${scenarios.length} access requests follow: each announced, decided (or left to expire), and brought to its outcome.`);
    }
    out();
    const ids: string[] = [];
    for (const [i, s] of scenarios.entries()) {
      const id = await tp.admin.createRequest({ user: s.user, roles: s.roles, reason: s.reason });
      ids.push(id);
      out(`${i + 1}. ${s.user} requests role ${s.roles.join(', ')}: "${s.reason}"  (to be ${s.title})`);
      out(`   request ${id}`);
      const lateSeen = await waitAll(id, announced);
      const shown = names.filter((n) => !lateSeen.includes(n)).map((n) => (SHOWN_AS[n] ? `${n} (${SHOWN_AS[n]})` : n));
      out(`   announced by: ${shown.join(', ') || 'nobody yet'}`);
      if (lateSeen.length > 0) out(`   (${lateSeen.join(', ')} did not announce it within ${STEP_TIMEOUT_MS / 1000} s)`);
      const action = await s.then(id);
      out(`   -> ${action}`);
      // An expiry is recorded too: Teleport keeps the entry writable until it expires itself.
      const expired = tp.admin.getRequest(id) === undefined;
      const late = await waitAll(id, resolved);
      report(id, late, expired ? 'expiry' : 'outcome');
      out();
    }

    // Access List review reminders: run once now (the runtime's timer would wait 30 s).
    const due = new Date(Date.now() + 5 * 24 * 3600_000 + 3600_000);
    tp.admin.upsertAccessList({ name: 'prod-access', title: 'Production access', owners: [REQUESTER_ON_CALL], nextAuditDate: due, memberCount: 2 });
    out(`${scenarios.length + 1}. Access List "Production access" (owner ${REQUESTER_ON_CALL}) is due for its review on ${due.toISOString().slice(0, 10)}`);
    const reminded = await rt.remindAccessListOwners();
    if (reminded === undefined) {
      out('   -> no adapter here sends Access List reminders (Slack, Mattermost and email do)');
    } else {
      const by = Object.entries(reminded.sent).filter(([, n]) => n > 0);
      out(`   -> its owner is reminded by: ${by.map(([n]) => n).join(', ') || 'nobody'} (a direct message or a mail, once per window)`);
      for (const [name] of by) out(`   ${name} plugin data (kind access_list): ${formatData(tp.admin.pluginData('prod-access', name, 'access_list') ?? {})}`);
    }
    out();

    out('What each adapter did (as its fake service recorded it):');
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
    out("What each adapter stored in Teleport (plugin data, in its Go plugin's layout: a Go plugin and this runtime can take over from each other):");
    for (const [i, id] of ids.entries()) {
      for (const [name, data] of pluginData(id)) {
        out(`  request ${i + 1} ${name}: ${data === undefined ? '(none)' : formatData(data)}`);
      }
    }
    out();
    out(`Done in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
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
  out(`Successfully shut down. Next: "teleport-plugin configure --plugin ${wanted.join(',')}" for a real config.`);
  return 0;
}

/** One line about an adapter's fake: what it is and where it listens. */
function describeFake(name: string, service: DemoService): string {
  const values = [...Object.values(service.section), ...Object.values(service.topLevel ?? {}).flatMap((v) => (isPlainObject(v) ? Object.values(v) : [v]))];
  const urls = [...new Set(values.filter((v): v is string => typeof v === 'string' && /^https?:\/\//.test(v)))];
  const smtp = service.topLevel?.['smtp'];
  if (isPlainObject(smtp) && typeof smtp['host'] === 'string') return `a real SMTP server at ${smtp['host']}:${String(smtp['port'])}, in this process (loopback, so no STARTTLS)`;
  return `fake ${SERVICE[name] ?? name} API${urls.length > 0 ? ` at ${urls[0]}` : ''}`;
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

/** The adapter's own keys in full (values cut at 60 characters); the request fields and effect records counted. */
function formatData(data: Record<string, string>): string {
  const own: string[] = [];
  const snapshot: string[] = [];
  let effects = 0;
  for (const [k, v] of Object.entries(data)) {
    if (k.startsWith('fx/')) effects++;
    else if (SNAPSHOT_KEYS.has(k)) snapshot.push(k);
    else own.push(`${k}=${v.length > 60 ? `${v.slice(0, 57)}...` : v}`);
  }
  const extra = [snapshot.length > 0 ? `request fields ${snapshot.join(', ')}` : '', effects > 0 ? `${effects} effect record${effects === 1 ? '' : 's'} (fx/...)` : '']
    .filter(Boolean)
    .join('; ');
  return `${own.join(' ')}${extra ? `  [+ ${extra}]` : ''}`;
}
