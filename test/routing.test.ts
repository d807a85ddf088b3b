// End to end: `teleport-plugin start --plugin slack --plugin pagerduty` with Access Monitoring
// Rules, the `[automatic_review]` integration fed by PagerDuty's on-call facts, and `[reminders]`;
// then `teleport-plugin explain <id>` as its own process. Real gRPC (FakeTeleport), FakeSlack,
// FakePagerDuty.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { FakePagerDuty } from '@teleport-plugin/pagerduty/testing';
import { FakeSlack, blocksText } from '@teleport-plugin/slack/testing';
import { CLI_BIN, CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');
const PLUGIN_USER = FakeTeleport.PLUGIN_USER;

function runExplain(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_BIN, 'explain', ...args], { cwd: testDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('routing end to end: rules, on-call automatic review, reminders, explain', { timeout: 90_000 }, () => {
  let tp: FakeTeleport;
  let slack: FakeSlack;
  let pd: FakePagerDuty;
  let dir: string;
  let configFile = '';
  let plugin: CliProcess | undefined;

  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  before(async () => {
    tp = await FakeTeleport.start();
    tp.addRequester('alice@example.com', { requestRoles: ['editor', 'admin'] });
    tp.addRequester('bob@example.com', { requestRoles: ['editor', 'db'] });
    tp.addPluginUser(PLUGIN_USER, { canReview: true, readAccessMonitoringRules: true });

    slack = new FakeSlack();
    slack.addChannel({ id: 'C0ACCESS', name: 'access-requests' });
    slack.addChannel({ id: 'C0DBA', name: 'dba' });
    slack.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
    slack.addUser({ id: 'U0BOB', name: 'bob', email: 'bob@example.com' });
    await slack.start();

    pd = new FakePagerDuty({ apiKey: 'pd-key' });
    await pd.start();
    pd.addUser('bot@example.com', 'Teleport Bot');
    const prod = pd.addEscalationPolicy('Production on-call');
    pd.addService('Production', prod);
    pd.addOnCall(pd.addUser('alice@example.com', 'Alice'), prod, 1);
    pd.addUser('bob@example.com', 'Bob');

    tp.admin.upsertAccessMonitoringRule({
      name: 'on-call-tier-1',
      condition: 'contains(user.traits["pagerduty.on_call"], "true") && contains_any(user.traits["pagerduty.on_call_tier"], set("1"))',
      desiredState: 'reviewed',
      automaticReview: { integration: 'oncall', decision: 'APPROVED', reason: 'on call' },
    });
    tp.admin.upsertAccessMonitoringRule({
      name: 'never-admin',
      condition: 'contains(access_request.spec.roles, "admin")',
      desiredState: 'reviewed',
      automaticReview: { integration: 'oncall', decision: 'DENIED', reason: 'admin is never granted automatically' },
    });
    tp.admin.upsertAccessMonitoringRule({ name: 'dba', condition: 'contains(access_request.spec.roles, "db")', notification: { name: 'slack', recipients: ['dba'] } });

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-routing-'));
    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    configFile = path.join(dir, 'teleport-plugin.toml');
    await writeFile(
      configFile,
      [
        '[teleport]',
        `addr = "${tp.addr}"`,
        `identity = "${identity}"`,
        '',
        '[slack]',
        `token = "${slack.token}"`,
        `api_url = "${slack.apiUrl}"`,
        '',
        '[role_to_recipients]',
        '"*" = ["access-requests"]',
        '',
        '[pagerduty]',
        'api_key = "pd-key"',
        'user_email = "bot@example.com"',
        `api_endpoint = "${pd.url}"`,
        '',
        '[automatic_review]',
        'integration = "oncall"',
        '',
        '[reminders]',
        'every = "1s"',
        'times = 2',
        '',
        '[log]',
        'output = "stderr"',
        'severity = "debug"',
        '',
      ].join('\n'),
    );
    plugin = await startWatching(tp, ['start', '-c', configFile, '--plugin', 'slack', '--plugin', 'pagerduty'], { cwd: testDir, env: { TELEPORT_PLUGIN_FAIL_FAST: '' } });
  });

  after(async () => {
    await plugin?.stop();
    await slack?.close();
    await pd?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an on-call requester is approved by a rule: Slack shows the outcome, asks nobody, PagerDuty pages nobody', async () => {
    const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'hotfix' });
    await waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 'approved by the rule');
    assert.deepEqual(
      tp.admin.getRequest(id)!.reviews.map((r) => [r.author, r.reason]),
      [[PLUGIN_USER, 'Approved automatically by access monitoring rule "on-call-tier-1": on call']],
    );
    const root = await waitFor(() => slack.rootMessages('C0ACCESS').find((m) => blocksText(m.blocks).includes(id)), 'the Slack message');
    assert.match(blocksText(root.blocks), /✅ APPROVED/);
    assert.doesNotMatch(JSON.stringify(root.blocks), /approve_button/);
    assert.equal(pd.incidents.length, 0);
    assert.match(plugin!.output, /Automatic review: APPROVED by access monitoring rule "on-call-tier-1".*pagerduty\.on_call_tier/);
  });

  it('deny beats approve: on call, but asking for admin', async () => {
    const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['admin'], reason: 'cleanup' });
    await waitFor(() => tp.admin.getRequest(id)?.state === 'DENIED', 'denied by the rule');
    assert.equal(tp.admin.getRequest(id)!.reviews[0]?.reason, 'Denied automatically by access monitoring rule "never-admin": admin is never granted automatically');
  });

  it('a pending request: routed by its rule, reminded twice in its thread, and explained', async () => {
    const id = await tp.admin.createRequest({ user: 'bob@example.com', roles: ['db'], reason: 'migration' });
    const root = await waitFor(() => slack.rootMessages('C0DBA').find((m) => blocksText(m.blocks).includes(id)), 'posted to #dba by the rule');
    assert.equal(slack.rootMessages('C0ACCESS').filter((m) => blocksText(m.blocks).includes(id)).length, 0, 'the static map is not used');
    const reminders = () => slack.replies('C0DBA', root.ts).filter((m) => /Reminder/.test(m.text));
    await waitFor(() => reminders().length === 2, 'two reminders', 10_000);
    await new Promise((r) => setTimeout(r, 1_500));
    assert.deepEqual(
      reminders().map((m) => /Reminder \(\d of \d\)/.exec(m.text)?.[0]),
      ['Reminder (1 of 2)', 'Reminder (2 of 2)'],
    );

    const r = await runExplain([id, '-c', configFile, '--plugin', 'slack', '--plugin', 'pagerduty']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^\[slack\]$/m);
    assert.match(r.stdout, /rule dba: match: condition is true/);
    assert.match(r.stdout, /recipients \(from rules\): dba\n {4}why: matching rule "dba"/);
    assert.match(r.stdout, /Automatic review \(integration "oncall"\): none/);
    assert.match(r.stdout, /rule on-call-tier-1: no-match: condition is false/);
    assert.match(r.stdout, /facts: pagerduty\.on_call=\[false\]/);
    assert.match(r.stdout, /remind 1: done/);
    assert.match(r.stdout, /remind 2: done/);
    const json = await runExplain([id, '-c', configFile, '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { requestId: string }).requestId, id);
  });
});
