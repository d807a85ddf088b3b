// End to end: `teleport-plugin start --plugin jira` as a child process with the Go plugin's TOML
// (upstream's example config: [jira], [http] with TLS files, and [http.basic_auth] as the Helm
// chart sets it), against the gRPC FakeTeleport and a FakeJira served over HTTPS. A request is
// announced as an issue, a review is commented, a move to Approved in Jira approves it through
// the webhook (Go's URL, "/"), another is denied in Teleport and its issue follows, a third
// expires. Then `check` and `demo` as a user runs them.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '@teleport-plugin/core';
import { FakeTeleport, TestPki } from '@teleport-plugin/testkit';
import { FakeJira, type FakeJiraUser, type FakeJiraWebhookTarget } from '@teleport-plugin/jira/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');

const PLUGIN_USER = FakeTeleport.PLUGIN_USER;
const REQUESTER = 'requester1@example.com';
const WEBHOOK_USER = 'jira';
const WEBHOOK_PASSWORD = 'jira-webhook-password';

describe('jira end to end (Go plugin TOML, real CLI)', { timeout: 90_000 }, () => {
  let tp: FakeTeleport;
  let jira: FakeJira;
  let dir: string;
  let plugin: CliProcess | undefined;
  let configFile = '';
  let env: NodeJS.ProcessEnv = {};
  let target: FakeJiraWebhookTarget;
  let reviewer: FakeJiraUser;

  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  const issueOf = (id: string) => jira.issuesForRequest(id);
  const data = (id: string) => tp.admin.pluginData(id, 'jira');

  before(async () => {
    tp = await FakeTeleport.start();
    // Two approvals or denials decide (as upstream's Enterprise suite), so single reviews stay pending.
    tp.addRequester(REQUESTER, { requestRoles: ['editor'], thresholds: [{ approve: 2, deny: 2 }] });
    tp.addReviewer('reviewer1@example.com', { reviewRoles: ['editor'] });
    tp.addReviewer('reviewer2@example.com', { reviewRoles: ['editor'] });
    // The Jira plugin approves and denies: its role needs access_request update.
    tp.addPluginUser(PLUGIN_USER, { canSetState: true });

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-jira-'));
    const pki = await TestPki.create();
    const web = await pki.issueWebCert(['localhost'], ['127.0.0.1']);
    const caFile = path.join(dir, 'jira-ca.pem');
    await writeFile(caFile, pki.webCa.certPem);
    await writeFile(path.join(dir, 'server.crt'), web.certPem);
    await writeFile(path.join(dir, 'server.key'), web.keyPem, { mode: 0o600 });
    // The Jira site over HTTPS, as jira.url requires; the plugin trusts its CA through the environment.
    jira = new FakeJira({ username: 'jira-bot@example.com', apiToken: 'jira-api-token', projectKey: 'MYPROJ', tls: { cert: web.certPem, key: web.keyPem } });
    await jira.start();
    reviewer = jira.addUser('jira-reviewer@example.com', { displayName: 'Jira Reviewer 1' });

    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const tokenFile = path.join(dir, 'jira-api-token');
    await writeFile(tokenFile, 'jira-api-token\n', { mode: 0o600 });
    const port = await freeLoopbackPort();
    configFile = path.join(dir, 'teleport-jira.toml');
    // Upstream's example_config.toml, filled in, plus the Helm chart's basic auth.
    await writeFile(
      configFile,
      [
        '# example jira plugin configuration TOML file',
        '[teleport]',
        `addr = "${tp.addr}"`,
        `identity = "${identity}"`,
        '',
        '[jira]',
        `url = "${jira.url}"`,
        'username = "jira-bot"',
        `api_token = "${tokenFile}"`,
        'project = "MYPROJ"',
        'issue_type = "Task"',
        '',
        '[http]',
        'public_addr = "example.com" # URL on which callback server is accessible externally',
        `listen_addr = "127.0.0.1:${port}"`,
        `https_key_file = "${path.join(dir, 'server.key')}"`,
        `https_cert_file = "${path.join(dir, 'server.crt')}"`,
        '',
        '[http.basic_auth]',
        `user = "${WEBHOOK_USER}"`,
        `password = "${WEBHOOK_PASSWORD}"`,
        '',
        '[log]',
        'output = "stderr"',
        'severity = "DEBUG"',
        '',
      ].join('\n'),
    );
    env = { NODE_EXTRA_CA_CERTS: caFile, TELEPORT_PLUGIN_FAIL_FAST: '' };
    // Jira's webhook at the Go plugin's URL ("/"), with the basic-auth credentials in the request.
    target = {
      url: `http://127.0.0.1:${port}/`,
      headers: { authorization: `Basic ${Buffer.from(`${WEBHOOK_USER}:${WEBHOOK_PASSWORD}`).toString('base64')}` },
    };
    jira.addWebhook(target);

    // --insecure-no-tls: the webhook server speaks plain HTTP here (as upstream's own suite runs it).
    plugin = await startWatching(tp, ['start', '-c', configFile, '--plugin', 'jira', '--insecure-no-tls'], { cwd: testDir, env });
  });

  after(async () => {
    await plugin?.stop();
    await jira?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('announced as an issue, a review commented, approved by a move in Jira with the mover as delegator', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'because of' });
    await waitFor(() => data(id)?.['issue_id'], 'the issue id in plugin data');
    const [issue] = issueOf(id);
    assert.ok(issue);
    assert.equal(issueOf(id).length, 1);
    assert.equal(issue.projectKey, 'MYPROJ');
    assert.equal(issue.summary, `${REQUESTER} requested editor`);
    assert.ok(issue.description.includes('Reason: *because of*'));
    assert.equal(issue.creator, jira.bot);
    assert.equal(data(id)?.['issue_key'], issue.key);

    await tp.admin.review(id, { author: 'reviewer1@example.com', state: 'APPROVED', reason: 'okay' });
    await waitFor(() => data(id)?.['reviews_count'] === '1' && issue.comments.length === 1, 'the review comment');
    assert.match(issue.comments[0]!.body, /^\*reviewer1@example\.com\* reviewed the request at \*.+\*\.\nResolution: \*APPROVED\*\.\nReason: okay\.$/);

    const [delivery] = await jira.transitionAs(reviewer, issue.id, 'Approved', { comment: 'all good\nReason: on call this week' });
    assert.equal(delivery?.status, 200, `${delivery?.responseBody}\n${plugin?.output}`);
    await waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 'the request to be APPROVED');
    assert.equal(tp.admin.getRequest(id)?.resolveReason, 'on call this week');
    const update = tp.admin.auditLog().find((e) => e.requestId === id && e.type === 'access_request.update');
    assert.equal(update?.delegator, 'jira:jira-reviewer@example.com');
    assert.equal(update?.state, 'APPROVED');

    await waitFor(() => data(id)?.['resolution'] === 'approved', 'the resolution in plugin data');
    assert.equal(issue.status, 'Approved');
    assert.equal(issue.comments.at(-1)?.body, 'Access request has been approved\nReason: on call this week');
    assert.equal(data(id)?.['resolve_reason'], 'on call this week');

    // Jira redelivers (a retry after a timeout): nothing changes twice.
    const again = await jira.redeliver(delivery!, target);
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.responseBody).result, 'already');
    assert.equal(tp.admin.auditLog().filter((e) => e.requestId === id && e.type === 'access_request.update').length, 1);

    // Without the basic-auth credentials: 401, whatever the body says.
    const stranger = await jira.sendWebhook({ url: target.url }, JSON.parse(delivery!.body));
    assert.equal(stranger.status, 401);
  });

  it('denied in Teleport: the issue gets the comments and moves to Denied', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'please' });
    await waitFor(() => data(id)?.['issue_id'], 'the issue');
    await tp.admin.review(id, { author: 'reviewer1@example.com', state: 'DENIED', reason: 'not okay' });
    await tp.admin.review(id, { author: 'reviewer2@example.com', state: 'DENIED', reason: 'finally not okay' });
    await waitFor(() => data(id)?.['resolution'] === 'denied', 'the resolution');
    const [issue] = issueOf(id);
    assert.equal(issue?.status, 'Denied');
    assert.deepEqual(
      issue?.comments.map((c) => c.body.split('\n')[0]?.replace(/ at \*.*$/, '')),
      ['*reviewer1@example.com* reviewed the request', '*reviewer2@example.com* reviewed the request', 'Access request has been denied'],
    );
    assert.equal(issue?.comments.at(-1)?.body, 'Access request has been denied\nReason: finally not okay');
  });

  it('expiry: the issue moves to Expired; the plugin stops cleanly', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'later' });
    await waitFor(() => data(id)?.['issue_id'], 'the issue');
    await tp.admin.expire(id);
    await waitFor(() => issueOf(id)[0]?.status === 'Expired', 'the issue to be Expired');
    assert.equal(issueOf(id)[0]?.comments.at(-1)?.body, 'Access request has been expired\n');
    assert.equal(jira.issues.length, 3, 'one issue per request, no more');

    const code = await plugin!.stop();
    plugin = undefined;
    assert.equal(code, 0);
  });

  it('`teleport-plugin check --plugin jira` reports credentials, project, issue type, statuses, permissions and the webhook', async () => {
    const check = new CliProcess(['check', '-c', configFile, '--plugin', 'jira'], { cwd: testDir, env });
    const code = await check.exited;
    const out = check.output;
    assert.equal(code, 0, out);
    assert.match(out, /jira: credentials\s+OK\s+https:\/\/127\.0\.0\.1:\d+ as Teleport Jira bot \(jira-bot@example\.com\)/);
    assert.match(out, /jira: project\s+OK\s+MYPROJ/);
    assert.match(out, /jira: issue type\s+OK\s+Task/);
    assert.match(out, /jira: statuses\s+OK\s+Pending, Approved, Denied, Expired/);
    assert.match(out, /jira: permissions\s+OK\s+BROWSE_PROJECTS, CREATE_ISSUES, TRANSITION_ISSUES, ADD_COMMENTS/);
    assert.match(out, /jira: webhook authentication\s+OK\s+webhook calls must prove \[http\] basic auth/);
  });

  it('`teleport-plugin demo --plugin jira` shows an approval coming from a Jira transition', async () => {
    const demo = new CliProcess(['demo', '--plugin', 'jira'], { cwd: testDir });
    const code = await demo.exited;
    const out = demo.output;
    assert.equal(code, 0, out);
    assert.match(out, /-> Dana \(Jira\) moves ACCESS-1 to Approved in Jira; the webhook approves the request \(delegator jira:dana@example\.com\)/);
    assert.match(out, /state: APPROVED \(approved from the Jira board\)/);
    assert.match(out, /Jira issue ACCESS-1: bob requested editor \[Approved\]/);
    assert.match(out, /Jira issue ACCESS-2: .* \[Denied\]/);
    assert.match(out, /Jira issue ACCESS-3: .* \[Expired\]/);
  });
});
