// End to end, the mission's headline setup: `teleport-plugin start --plugin slack --plugin pagerduty`
// as a real child process on ONE Teleport connection, against the gRPC FakeTeleport, FakeSlack and
// FakePagerDuty. An on-call requester's request is approved by the pagerduty adapter, and the Slack
// adapter, which knows nothing about PagerDuty, shows that review in its threads and ends APPROVED.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { FakePagerDuty } from '@teleport-plugin/pagerduty/testing';
import { FakeSlack, blocksText, type FakeSlackMessage } from '@teleport-plugin/slack/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');

const PLUGIN_USER = FakeTeleport.PLUGIN_USER;
const REQUESTER = 'alice@example.com';
const PD_KEY = 'pd-e2e-key';
const APPROVAL_REASON = 'Access requested by user Alice (alice@example.com) who is on call in service(s) Production';

describe('slack + pagerduty in one process (end to end)', { timeout: 60_000 }, () => {
  let tp: FakeTeleport;
  let slack: FakeSlack;
  let pd: FakePagerDuty;
  let dir: string;
  let plugin: CliProcess | undefined;
  let configText = '';
  let configFile = '';

  /** Waits for `predicate`; on timeout the error carries the plugin's log, which is what one needs then. */
  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  /** The Slack adapter's root messages for one request (the DM status notice has no blocks). */
  const rootsFor = (id: string): FakeSlackMessage[] => slack.rootMessages().filter((m) => m.blocks.length > 0 && blocksText(m.blocks).includes(id));

  before(async () => {
    tp = await FakeTeleport.start();
    // The requester's role carries the annotations Teleport copies into the request.
    tp.addRequester(REQUESTER, {
      requestRoles: ['editor'],
      requestAnnotations: { pagerduty_notify_service: ['Access Requests'], pagerduty_services: ['Production'] },
    });
    // Auto-approval submits a review as the plugin's own user: it needs review rights.
    tp.addPluginUser(PLUGIN_USER, { canReview: ['editor'] });

    slack = new FakeSlack();
    slack.addChannel({ id: 'C0ACCESS', name: 'access-requests' });
    slack.addUser({ id: 'U0ALICE', name: 'alice', email: REQUESTER });
    await slack.start();

    pd = new FakePagerDuty({ apiKey: PD_KEY });
    await pd.start();
    pd.addUser('teleport-bot@example.com', 'Teleport Bot');
    pd.addService('Access Requests');
    const production = pd.addEscalationPolicy('Production on-call');
    pd.addService('Production', production);
    pd.addOnCall(pd.addUser(REQUESTER, 'Alice'), production, 1);

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-slack-pd-'));
    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const keyFile = path.join(dir, 'pagerduty-api-key');
    await writeFile(keyFile, `${PD_KEY}\n`, { mode: 0o600 });
    configFile = path.join(dir, 'teleport-plugin.toml');
    configText = [
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
      `api_key = "${keyFile}"`,
      'user_email = "teleport-bot@example.com"',
      `api_endpoint = "${pd.url}"`,
      '',
      '[log]',
      'output = "stderr"',
      'severity = "debug"',
      '',
    ].join('\n');
    await writeFile(configFile, configText);

    // cwd = the test package, whose node_modules holds @teleport-plugin/slack and /pagerduty:
    // `--plugin slack` resolves from there exactly as from a user's install.
    plugin = await startWatching(tp, ['start', '-c', configFile, '--plugin', 'slack', '--plugin', 'pagerduty'], {
      cwd: testDir,
      env: { TELEPORT_PLUGIN_FAIL_FAST: '' },
    });
  });

  after(async () => {
    await plugin?.stop();
    await slack?.close();
    await pd?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('an on-call requester is approved by the pagerduty adapter; Slack shows it and ends APPROVED', async () => {
    // Both adapters run on one Teleport connection: a single watch stream.
    assert.equal(tp.openWatchCount, 1);

    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'prod hotfix' });

    // Teleport: the plugin user's APPROVED review, and nobody else's, decided the request.
    await waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 'the request to be APPROVED');
    const request = tp.admin.getRequest(id)!;
    assert.deepEqual(
      request.reviews.map((r) => [r.author, r.proposedState, r.reason]),
      [[PLUGIN_USER, 'APPROVED', APPROVAL_REASON]],
    );

    // Slack: the channel message and the requester's DM, each updated to ✅ APPROVED with the
    // plugin's review in its thread.
    const roots = await waitFor(() => {
      const r = rootsFor(id);
      return r.length === 2 && r.every((m) => /✅ APPROVED/.test(blocksText(m.blocks))) ? r : undefined;
    }, 'both Slack messages to show APPROVED');
    assert.deepEqual(roots.map((m) => m.channel).sort(), ['C0ACCESS', slack.imChannel('U0ALICE')].sort());
    for (const root of roots) {
      assert.ok(root.updates >= 1, `message in ${root.channel} was never updated`);
      assert.doesNotMatch(blocksText(root.blocks), /⏳ PENDING/);
      const update = slack.callsTo('POST', '/api/chat.update').find((c) => {
        const args = (c.json ?? Object.fromEntries(c.form ?? [])) as Record<string, unknown>;
        return args['ts'] === root.ts && /✅ APPROVED/.test(JSON.stringify(args['blocks'] ?? ''));
      });
      assert.ok(update, `no chat.update with the APPROVED status for ${root.channel}/${root.ts}`);
    }
    await waitFor(() => roots.every((m) => slack.replies(m.channel, m.ts).length === 1), 'the review in every thread');
    for (const root of roots) {
      const [reply] = slack.replies(root.channel, root.ts);
      assert.match(reply!.text, new RegExp(`^${PLUGIN_USER} reviewed the request at .+\\.\\nResolution: ✅ APPROVED\\.\\nReason: `));
      assert.ok(reply!.text.includes(APPROVAL_REASON), reply!.text);
    }

    // PagerDuty: exactly one incident for the request, resolved with the approval as its last note.
    const key = `teleport-access-request/${id}`;
    await waitFor(() => pd.incidentByKey(key)?.status === 'resolved', 'the incident to be resolved');
    const incidents = pd.incidents.filter((i) => i.incidentKey === key);
    assert.equal(incidents.length, 1);
    const incident = incidents[0]!;
    assert.equal(incident.title, `Access request from ${REQUESTER}`);
    assert.equal(incident.notes.at(-1)?.content, `Access request has been approved\nReason: ${APPROVAL_REASON}`);
    assert.equal(pd.http.callsTo('POST', '/incidents').filter((c) => c.status === 201).length, 1);

    // Plugin data: both namespaces, each in its Go plugin's layout and spelling.
    const resolvedData = (plugin: string) =>
      waitFor(() => {
        const d = tp.admin.pluginData(id, plugin);
        return d?.['resolution'] ? d : undefined;
      }, `${plugin} plugin data resolution`);
    const slackData = await resolvedData('slack');
    assert.equal(slackData['resolution'], 'APPROVED');
    assert.equal(slackData['user'], REQUESTER);
    assert.equal(slackData['reviews_count'], '1');
    assert.equal(slackData['messages']?.split(',').length, 2);

    const pdData = await resolvedData('pagerduty');
    assert.equal(pdData['resolution'], 'approved');
    assert.equal(pdData['resolve_reason'], APPROVAL_REASON);
    assert.equal(pdData['incident_id'], incident.id);
    assert.equal(pdData['service_id'], incident.serviceId);
    assert.equal(pdData['user'], REQUESTER);
    assert.equal(pdData['roles'], 'editor');
    assert.equal(pdData['request_reason'], 'prod hotfix');
    assert.equal(pdData['reviews_count'], '1');
    assert.match(pdData['created'] ?? '', /^\d+$/);

    // The reason for the decision is in the log at info.
    assert.match(plugin!.output, /Auto-approved: the requester is on call/);

    const code = await plugin!.stop();
    plugin = undefined;
    assert.equal(code, 0);
  });

  it("`teleport-plugin check --plugin pagerduty` reads the roles' annotations and names the services PagerDuty lacks", async () => {
    // A role with a typo and a trait template in its annotations, besides the requester's good one.
    tp.upsertRole({ name: 'db-requester', requestRoles: ['editor'], requestAnnotations: { pagerduty_services: ['Databasez', '{{external.pd_service}}'] } });
    const check = new CliProcess(['check', '-c', configFile, '--plugin', 'pagerduty'], { cwd: testDir });
    const code = await check.exited;
    const out = check.output;
    assert.equal(code, 1, out);
    assert.match(out, /PagerDuty API key\s+OK\s+accepted by http:\/\/127\.0\.0\.1/);
    assert.match(out, /PagerDuty user_email\s+OK/);
    assert.match(out, /PagerDuty services\s+OK\s+not checkable \(filled in from user traits at request time\): \{\{external\.pd_service\}\} \(role db-requester\)/);
    assert.match(out, /PagerDuty services\s+FAIL\s+not found in PagerDuty: Databasez \(role db-requester\)\. Fix the names/);
    assert.ok(
      tp.calls.some((c) => c.method === 'ListRoles'),
      'roles were listed',
    );

    // Without role access, check_services is what gets checked, and the report says why.
    tp.addPluginUser('pd-no-roles', { readRolesAndUsers: false });
    const noRolesId = await tp.writeIdentityFile(dir, { user: 'pd-no-roles', fileName: 'no-roles-identity' });
    const checkFile = path.join(dir, 'check.toml');
    await writeFile(
      checkFile,
      configText
        .replace(/identity = ".*"/, `identity = ${JSON.stringify(noRolesId)}`)
        .replace('[pagerduty]\n', '[pagerduty]\ncheck_services = ["Production", "Access Requests"]\n'),
    );
    const limited = new CliProcess(['check', '-c', checkFile, '--plugin', 'pagerduty'], { cwd: testDir });
    assert.equal(await limited.exited, 0, limited.output);
    assert.match(limited.output, /PagerDuty services\s+OK\s+found: Access Requests, Production \(from check_services; the plugin's Teleport role may not list roles/);
  });
});
