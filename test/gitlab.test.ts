// End to end: `teleport-plugin start` as a real child process with the Go teleport-gitlab
// plugin's TOML (its [db] table included), against the gRPC FakeTeleport and the real-HTTP fake
// GitLab, which calls the plugin's webhook as GitLab does. A request is announced as an issue,
// reviewed (a note), resolved in Teleport; another is approved by a label in GitLab; a third
// expires. Then `check`, and a restart that must not add a second hook.
import { freeLoopbackPort } from '@teleport-plugin/core';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { FakeGitLab, type FakeGlIssue, type FakeGlProject } from '@teleport-plugin/gitlab/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');

const PLUGIN_USER = FakeTeleport.PLUGIN_USER;
const REQUESTER = 'alice@example.com';
const SECRET = 'e2e webhook passphrase';

describe('gitlab through the CLI (end to end)', { timeout: 90_000 }, () => {
  let tp: FakeTeleport;
  let gl: FakeGitLab;
  let project: FakeGlProject;
  let dir: string;
  let port: number;
  let configFile = '';
  let plugin: CliProcess | undefined;

  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  const issueFor = (id: string): FakeGlIssue | undefined => project.issues.find((i) => i.description.includes(id));
  const notes = (issue: FakeGlIssue): string[] => gl.notesOf(issue).map((n) => n.body);
  const start = (): Promise<CliProcess> =>
    // No --plugin: the file's tables choose gitlab ([db] belongs to it, as its package declares).
    startWatching(tp, ['start', '-c', configFile, '--insecure-no-tls'], { cwd: testDir, env: { TELEPORT_PLUGIN_FAIL_FAST: '' } });

  before(async () => {
    tp = await FakeTeleport.start();
    // Two approvals decide: the first review stays a note on a pending request.
    tp.addRequester(REQUESTER, { requestRoles: ['editor'], thresholds: [{ approve: 2, deny: 1 }] });
    tp.addReviewer('bob', { reviewRoles: ['editor'] });
    tp.addReviewer('dave', { reviewRoles: ['editor'] });
    // The Go plugin's role: access_request update, to set states decided by labels.
    tp.addPluginUser(PLUGIN_USER, { canSetState: true });

    gl = new FakeGitLab();
    await gl.start();
    project = gl.addProject('ops/access-requests');

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-gitlab-'));
    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const tokenFile = path.join(dir, 'gitlab-token');
    await writeFile(tokenFile, `${gl.token}\n`, { mode: 0o600 });
    port = await freeLoopbackPort();
    configFile = path.join(dir, 'teleport-gitlab.toml');
    // Upstream's example config, pointed at the fakes (and without its TLS files: --insecure-no-tls).
    await writeFile(
      configFile,
      [
        '[teleport]',
        `addr = "${tp.addr}"`,
        `identity = "${identity}"`,
        '',
        '[db]',
        `path = "${path.join(dir, 'database')}"`,
        '',
        '[gitlab]',
        `url = "${gl.url}"`,
        `token = "${tokenFile}"`,
        `project_id = "${project.pathWithNamespace}"`,
        `webhook_secret = "${SECRET}"`,
        '',
        '[http]',
        `public_addr = "http://127.0.0.1:${port}"`,
        `listen_addr = "127.0.0.1:${port}"`,
        '',
        '[log]',
        'output = "stderr"',
        'severity = "debug"',
        '',
      ].join('\n'),
    );
    plugin = await start();
  });

  after(async () => {
    await plugin?.stop();
    await gl?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('sets up the project: labels and one hook at <public_addr>/gitlab/webhook; [db] is accepted with a deprecation warning', () => {
    assert.deepEqual(
      project.labels.map((l) => l.name),
      ['Teleport: Pending', 'Teleport: Approved', 'Teleport: Denied', 'Teleport: Expired'],
    );
    assert.deepEqual(
      project.hooks.map((h) => [h.url, h.token, h.issuesEvents]),
      [[`http://127.0.0.1:${port}/gitlab/webhook`, SECRET, true]],
    );
    assert.match(plugin!.output, /\[db\] path: deprecated: all state lives in Teleport plugin data; \[db\] is ignored/);
  });

  it('announced as an issue, a review becomes a note, resolved in Teleport: closing note, approved label, closed', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'prod hotfix' });
    const issue = await waitFor(() => issueFor(id), 'the issue');
    assert.equal(issue.title, `Access request from ${REQUESTER}`);
    assert.deepEqual(issue.labels, ['Teleport: Pending']);
    assert.match(
      issue.description,
      /^alice@example\.com requested permissions for roles \*\*editor\*\* on Teleport at \*\*.+\*\*\. To approve or deny the request, please assign a corresponding label and close the issue\.\n\nReason: \*\*prod hotfix\*\*\.\n\nRequest ID is `[0-9a-f-]{36}`\.$/,
    );

    await tp.admin.review(id, { author: 'bob', state: 'APPROVED', reason: 'looks fine' });
    await waitFor(() => notes(issue).length === 1, 'the review note');
    assert.match(notes(issue)[0]!, /^\*\*bob\*\* reviewed the request at \*\*.+\*\*\.\n\nResolution: \*\*APPROVED\*\*\.\n\nReason: looks fine\.$/);
    assert.equal(issue.state, 'opened');

    await tp.admin.review(id, { author: 'dave', state: 'APPROVED', reason: 'second approval' });
    await waitFor(() => issue.state === 'closed', 'the issue closed');
    assert.equal(notes(issue).length, 3);
    assert.match(notes(issue)[2]!, /^Access request has been approved\n\n/);
    assert.deepEqual(issue.labels, ['Teleport: Approved']);

    const data = await waitFor(() => {
      const d = tp.admin.pluginData(id, 'gitlab');
      return d?.['resolution'] ? d : undefined;
    }, 'the resolution in plugin data');
    assert.equal(data['resolution'], 'approved');
    assert.equal(data['project_id'], String(project.id));
    assert.equal(data['issue_iid'], String(issue.iid));
    assert.equal(data['issue_id'], String(issue.id));
    assert.equal(data['user'], REQUESTER);
    assert.equal(data['roles'], 'editor');
    assert.equal(data['request_reason'], 'prod hotfix');
    assert.equal(data['reviews_count'], '2');
  });

  it('a reviewer adds "Teleport: Approved" in GitLab: approved with delegator gitlab:<email>, issue closed', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'debug' });
    const issue = await waitFor(() => issueFor(id), 'the issue');
    await waitFor(() => tp.admin.pluginData(id, 'gitlab')?.['issue_iid'], 'the issue recorded');

    // A wrong token first: refused, nothing changes.
    const [forged] = await gl.sendIssueHook({ project, token: 'guess', payload: gl.issueHookPayload(project, issue, gl.addUser({ username: 'mallory' }), 'update', []) });
    assert.equal(forged?.status, 401);

    const deliveries = await gl.addLabelAs('carol', project, issue.iid, 'Teleport: Approved');
    assert.deepEqual(
      deliveries.map((d) => d.status),
      [204],
    );
    await waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 'the request approved');
    const update = tp.admin.auditLog().find((e) => e.requestId === id && e.type === 'access_request.update');
    assert.equal(update?.delegator, 'gitlab:carol@example.com');
    assert.equal(update?.author, PLUGIN_USER);
    await waitFor(() => issue.state === 'closed', 'the issue closed');
    assert.deepEqual(issue.labels, ['Teleport: Approved']);
    assert.deepEqual(notes(issue), ['Access request has been approved\n\n']);
  });

  it('expiry: a note, the expired label, the issue closed', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'] });
    const issue = await waitFor(() => issueFor(id), 'the issue');
    await waitFor(() => tp.admin.pluginData(id, 'gitlab')?.['issue_iid'], 'the issue recorded');
    await tp.admin.expire(id);
    await waitFor(() => issue.state === 'closed', 'the issue closed');
    assert.deepEqual(issue.labels, ['Teleport: Expired']);
    assert.deepEqual(notes(issue), ['Access request has been expired\n\n']);
    await waitFor(() => tp.admin.pluginData(id, 'gitlab')?.['resolution'] === 'expired', 'the expiry in plugin data');
  });

  it('`check` reports the token, project, labels and hook; a restart adds no second hook', async () => {
    const code = await plugin!.stop();
    plugin = undefined;
    assert.equal(code, 0);

    const check = new CliProcess(['check', '-c', configFile, '--insecure-no-tls'], { cwd: testDir });
    assert.equal(await check.exited, 0, check.output);
    assert.match(check.output, /gitlab: token\s+OK\s+teleport-bot \(id \d+\), scopes api/);
    assert.match(check.output, new RegExp(`gitlab: project\\s+OK\\s+ops/access-requests \\(id ${project.id}\\)`));
    assert.match(check.output, /gitlab: labels\s+OK\s+found "Teleport: Pending", "Teleport: Approved", "Teleport: Denied", "Teleport: Expired"/);
    assert.match(check.output, new RegExp(`gitlab: webhook\\s+OK\\s+hook ${project.hooks[0]!.id} calls http://127\\.0\\.0\\.1:${port}/gitlab/webhook on issue events`));
    assert.match(check.output, /config\s+WARN\s+.*\[db\] path: deprecated/);

    plugin = await start();
    assert.equal(project.hooks.length, 1);
    assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/hooks`).length, 1);
    assert.equal(project.labels.length, 4);
  });
});

describe('teleport-plugin demo --plugin gitlab', { timeout: 60_000 }, () => {
  it('a GitLab user decides by label: the webhook approves and denies, the issues close with the outcome', async () => {
    const demo = new CliProcess(['demo', '--plugin', 'gitlab'], { cwd: testDir });
    const code = await demo.exited;
    const out = demo.output;
    assert.equal(code, 0, out);
    assert.match(
      out,
      /^1\. bob requests role editor.*\(to be approved with a GitLab label\)\n(.*\n)*? {3}-> Erin \(GitLab\) adds the label "Teleport: Approved" to issue #1 in GitLab; GitLab calls the plugin's webhook \(answered 204\)\n {3}state: APPROVED\n/m,
    );
    assert.match(
      out,
      /^2\. bob requests role dba.*\(to be denied with a GitLab label\)\n(.*\n)*? {3}-> Erin \(GitLab\) adds the label "Teleport: Denied" to issue #2 in GitLab; GitLab calls the plugin's webhook \(answered 204\)\n {3}state: DENIED\n/m,
    );
    assert.match(out, /^3\. bob requests role editor.*\n(.*\n)*? {3}state: deleted \(expired\)\n/m);
    assert.doesNotMatch(out, /did not (record|announce)/);
    assert.match(
      out,
      /issue #1 "Access request from bob" \[closed\] labels: Teleport: Approved\n {6}erin added the label "Teleport: Approved" -> webhook answered 204: the plugin asked Teleport to approve \(delegator gitlab:erin@example\.com\)\n {6}note: Access request has been approved/,
    );
    assert.match(out, /issue #2 "Access request from bob" \[closed\] labels: Teleport: Denied\n {6}erin added the label "Teleport: Denied"/);
    assert.match(out, /issue #3 "Access request from bob" \[closed\] labels: Teleport: Expired\n {6}note: Access request has been expired/);
    assert.match(out, /request 3 gitlab: .*resolution=expired/);
  });
});
