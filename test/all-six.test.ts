// End to end, the mission's promise: ONE `teleport-plugin start` process running all six adapters
// (slack, mattermost, email, jira, gitlab, pagerduty) on one Teleport connection, from one TOML
// file whose tables choose them (no --plugin), against the gRPC FakeTeleport, the five HTTP fakes
// and a real SMTP server (STARTTLS with a certificate of the testkit's PKI; Jira over HTTPS with
// the same CA). Jira and GitLab share the one [http] server for their webhooks.
//   1. three requests at once: each adapter announces each exactly once;
//   2. an approval made in Jira reaches every other adapter: messages and posts re-rendered,
//      mails in the threads, the GitLab issue closed with the outcome, the incident resolved;
//   3. PagerDuty answering 503 for a while and Mattermost answering slowly delay nobody else,
//      then catch up without a duplicate; a GitLab label denies that request everywhere.
import { freeLoopbackPort } from '@teleport-plugin/core';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport, TestPki } from '@teleport-plugin/testkit';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '@teleport-plugin/email/testing';
import { FakeGitLab, type FakeGlIssue, type FakeGlProject } from '@teleport-plugin/gitlab/testing';
import { FakeJira, type FakeJiraUser } from '@teleport-plugin/jira/testing';
import { FakeMattermost, type FakeMmPost } from '@teleport-plugin/mattermost/testing';
import { FakePagerDuty, type FakePdIncident } from '@teleport-plugin/pagerduty/testing';
import { FakeSlack, blocksText, type FakeSlackMessage } from '@teleport-plugin/slack/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');

const PLUGIN_USER = FakeTeleport.PLUGIN_USER;
const REQUESTER = 'alice@example.com';
const REVIEWERS = ['reviewers@example.com', 'security@example.com'];
const SMTP_USER = 'teleport-bot@example.com';
const SMTP_PASSWORD = 'all-six-smtp-password';
const PD_KEY = 'pd-all-six-key';
const JIRA_SECRET = 'all-six-jira-webhook-secret';
const GITLAB_SECRET = 'all-six gitlab webhook secret';
const ADAPTERS = ['slack', 'mattermost', 'email', 'jira', 'gitlab', 'pagerduty'] as const;
type AdapterName = (typeof ADAPTERS)[number];

describe('all six adapters in one process (end to end)', { timeout: 90_000 }, () => {
  let tp: FakeTeleport;
  let slack: FakeSlack;
  let mm: FakeMattermost;
  let smtp: TestSmtpServer;
  let jira: FakeJira;
  let jiraReviewer: FakeJiraUser;
  let gl: FakeGitLab;
  let project: FakeGlProject;
  let pd: FakePagerDuty;
  let channelId = '';
  let dir: string;
  let plugin: CliProcess | undefined;

  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  // What each adapter made for a request, read from its fake.
  const slackRoots = (id: string): FakeSlackMessage[] => slack.rootMessages('C0ACCESS').filter((m) => blocksText(m.blocks).includes(id));
  const mmRoots = (id: string): FakeMmPost[] => mm.postsFor(id).filter((p) => p.rootId === '' && p.channelId === channelId && p.props['teleport_kind'] === 'request');
  const mails = (id: string, to: string): ReceivedMail[] => smtp.mailsTo(to).filter((m) => m.headers['x-teleport-access-request'] === id);
  const firstMails = (id: string): ReceivedMail[] => REVIEWERS.flatMap((to) => mails(id, to).filter((m) => !m.inReplyTo));
  const glIssues = (id: string): FakeGlIssue[] => project.issues.filter((i) => i.description.includes(id));
  const incidents = (id: string): FakePdIncident[] => pd.incidents.filter((i) => i.incidentKey === `teleport-access-request/${id}`);
  /** How many times each adapter announced the request (1 = once, as it must be). */
  const announcements = (id: string): Record<AdapterName, number> => ({
    slack: slackRoots(id).length,
    mattermost: mmRoots(id).length,
    email: firstMails(id).length / REVIEWERS.length,
    jira: jira.issuesForRequest(id).length,
    gitlab: glIssues(id).length,
    pagerduty: incidents(id).length,
  });
  const announcedBy = (id: string): AdapterName[] => ADAPTERS.filter((a) => announcements(id)[a] >= 1);
  /** Each adapter's plugin data records the outcome (Go spellings: upper case for chat and mail, lower for tickets). */
  const recorded = (id: string, outcome: 'approved' | 'denied'): boolean => ADAPTERS.every((a) => (tp.admin.pluginData(id, a)?.['resolution'] ?? '').toLowerCase() === outcome);

  before(async () => {
    tp = await FakeTeleport.start();
    // The requester's role carries the PagerDuty annotation Teleport copies into each request.
    tp.addRequester(REQUESTER, { requestRoles: ['editor'], requestAnnotations: { pagerduty_notify_service: ['Access Requests'] } });
    // Jira and GitLab set requests' states: the plugin's role needs access_request update.
    tp.addPluginUser(PLUGIN_USER, { canSetState: true });

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-all-six-'));
    const pki = await TestPki.create({ clusterName: 'services.e2e' });
    const web = await pki.issueWebCert(['localhost'], ['127.0.0.1']);
    const caFile = path.join(dir, 'services-ca.pem');
    await writeFile(caFile, pki.webCa.certPem);

    slack = new FakeSlack();
    slack.addChannel({ id: 'C0ACCESS', name: 'access-requests' });
    slack.addUser({ id: 'U0ALICE', name: 'alice', email: REQUESTER });
    await slack.start();

    mm = new FakeMattermost({ token: 'mm-all-six-token' });
    channelId = mm.addChannel({ team: 'ops', name: 'access-requests' }).id;
    mm.addUser({ email: REQUESTER });
    await mm.start();

    smtp = await startSmtpServer({ cert: web.certPem, key: web.keyPem, auth: { user: SMTP_USER, pass: SMTP_PASSWORD } });

    jira = new FakeJira({ username: 'jira-bot@example.com', apiToken: 'jira-api-token', projectKey: 'ACCESS', tls: { cert: web.certPem, key: web.keyPem } });
    await jira.start();
    jiraReviewer = jira.addUser('jira-reviewer@example.com', { displayName: 'Jira Reviewer' });

    gl = new FakeGitLab();
    await gl.start();
    project = gl.addProject('ops/access-requests');

    pd = new FakePagerDuty({ apiKey: PD_KEY });
    await pd.start();
    pd.addUser('teleport-bot@example.com', 'Teleport Bot');
    pd.addService('Access Requests');

    const port = await freeLoopbackPort();
    // Jira's admin webhook, signed with its secret, at the adapter's route on the shared server.
    jira.addWebhook({ url: `http://127.0.0.1:${port}/jira/`, secret: JIRA_SECRET });

    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    const configFile = path.join(dir, 'teleport-plugins.toml');
    // One file: each adapter's Go-plugin section, one [http] for both webhooks, and recipients
    // per service where they differ (a Slack channel, a Mattermost team/channel, addresses).
    await writeFile(
      configFile,
      [
        '[teleport]',
        `addr = "${tp.addr}"`,
        `identity = "${identity}"`,
        '',
        '[http]',
        `public_addr = "http://127.0.0.1:${port}"`,
        `listen_addr = "127.0.0.1:${port}"`,
        '',
        '[slack]',
        `token = "${slack.token}"`,
        `api_url = "${slack.apiUrl}"`,
        '[slack.role_to_recipients]',
        '"*" = ["access-requests"]',
        '',
        '[mattermost]',
        `url = "${mm.url}"`,
        `token = "${mm.token}"`,
        '[mattermost.role_to_recipients]',
        '"*" = ["ops/access-requests"]',
        '',
        '[smtp]',
        'host = "127.0.0.1"',
        `port = ${smtp.port}`,
        `username = "${SMTP_USER}"`,
        `password = "${SMTP_PASSWORD}"`,
        'starttls_policy = "mandatory"',
        '[delivery]',
        'sender = "noreply@example.com"',
        '[role_to_recipients]',
        `"*" = ${JSON.stringify(REVIEWERS)}`,
        '',
        '[jira]',
        `url = "${jira.url}"`,
        'username = "jira-bot@example.com"',
        'api_token = "jira-api-token"',
        'project = "ACCESS"',
        `webhook_secret = "${JIRA_SECRET}"`,
        '',
        '[gitlab]',
        `url = "${gl.url}"`,
        `token = "${gl.token}"`,
        `project_id = "${project.pathWithNamespace}"`,
        `webhook_secret = "${GITLAB_SECRET}"`,
        '',
        '[pagerduty]',
        `api_key = "${PD_KEY}"`,
        'user_email = "teleport-bot@example.com"',
        `api_endpoint = "${pd.url}"`,
        '',
        '[log]',
        'output = "stderr"',
        'severity = "debug"',
        '',
      ].join('\n'),
    );
    // No --plugin: the file's tables choose the six ([smtp] names email). The reconciliation
    // runs every 2 s, so a step whose retries all fell into a fault window is taken up again soon.
    plugin = await startWatching(tp, ['start', '-c', configFile, '--insecure-no-tls'], {
      cwd: testDir,
      env: { NODE_EXTRA_CA_CERTS: caFile, TELEPORT_PLUGIN_FAIL_FAST: '', TELEPORT_PLUGIN_RECONCILE_INTERVAL: '2s' },
    });
  });

  after(async () => {
    await plugin?.stop();
    await slack?.close();
    await mm?.close();
    await smtp?.close();
    await jira?.close();
    await gl?.close();
    await pd?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let approvedId = '';

  it('one process, one watch stream: three requests at once, each announced exactly once by every adapter', async () => {
    assert.equal(tp.openWatchCount, 1);
    // GitLab registered one hook, on the server Jira's webhook calls too.
    assert.equal(project.hooks.length, 1);
    assert.match(project.hooks[0]!.url, /^http:\/\/127\.0\.0\.1:\d+\/gitlab\/webhook$/);

    const ids = await Promise.all(
      ['deploy the hotfix', 'rotate the keys', 'read the logs'].map((reason) => tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason })),
    );
    for (const id of ids) {
      await waitFor(
        () => announcedBy(id).length === ADAPTERS.length && ADAPTERS.every((a) => tp.admin.pluginData(id, a)?.['announced'] === 'ok'),
        `every adapter to announce ${id}`,
      );
    }
    // Settled: nothing more comes for these requests (a late duplicate would show here).
    await waitFor(() => ids.every((id) => ADAPTERS.every((a) => tp.admin.pluginData(id, a)?.['announced'] === 'ok')), 'announce steps recorded');
    for (const id of ids) assert.deepEqual(announcements(id), { slack: 1, mattermost: 1, email: 1, jira: 1, gitlab: 1, pagerduty: 1 }, id);
    assert.equal(pd.http.callsTo('POST', '/incidents').filter((c) => c.status === 201).length, 3);
    for (const m of firstMails(ids[0]!)) assert.ok(m.secure, 'mail over STARTTLS');
    approvedId = ids[0]!;
  });

  it('an approval made in Jira reaches every other adapter: re-rendered messages, closed tickets with the outcome', async () => {
    const id = approvedId;
    const [issue] = jira.issuesForRequest(id);
    const [delivery] = await jira.transitionAs(jiraReviewer, issue!.id, 'Approved', { comment: 'fine\nReason: approved in Jira' });
    assert.equal(delivery?.status, 200, `${delivery?.responseBody}\n${plugin?.output}`);
    await waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 'the request APPROVED by the Jira webhook');
    assert.equal(tp.admin.getRequest(id)?.resolveReason, 'approved in Jira');
    assert.equal(tp.admin.auditLog().find((e) => e.requestId === id && e.type === 'access_request.update')?.delegator, 'jira:jira-reviewer@example.com');

    await waitFor(() => recorded(id, 'approved'), 'every adapter to record the approval');
    // Slack: the channel message re-rendered APPROVED (chat.update), the requester told.
    const [root] = slackRoots(id);
    assert.match(blocksText(root!.blocks), /✅ APPROVED/);
    assert.ok(root!.updates >= 1);
    // Mattermost: the post edited to APPROVED.
    const [post] = mmRoots(id);
    assert.match(post!.message, /^\*\*Status\*\*: ✅ APPROVED/m);
    assert.ok(
      mm.updates.some((u) => u.postId === post!.id),
      'the post was edited',
    );
    // Email: the outcome as a reply in each reviewer's thread, and a mail to the requester.
    for (const to of REVIEWERS) {
      const [first, ...replies] = mails(id, to);
      const outcome = replies.find((m) => /^Role Request has been resolved:/.test(m.text));
      assert.ok(outcome, `the outcome mail to ${to}`);
      assert.equal(outcome.inReplyTo, first!.messageId);
      assert.match(outcome.text, /Status: ✅ APPROVED \(approved in Jira\)/);
    }
    assert.match(mails(id, REQUESTER)[0]?.text ?? '', /^Your Role Request has been approved:/);
    // Jira: the issue Approved with the outcome comment.
    assert.equal(issue!.status, 'Approved');
    assert.equal(issue!.comments.at(-1)?.body, 'Access request has been approved\nReason: approved in Jira');
    // GitLab: the issue closed with the outcome's label and note.
    const [glIssue] = glIssues(id);
    assert.equal(glIssue!.state, 'closed');
    assert.ok(glIssue!.labels.includes('Teleport: Approved') && !glIssue!.labels.includes('Teleport: Pending'), glIssue!.labels.join(', '));
    assert.match(
      gl
        .notesOf(glIssue!)
        .filter((n) => !n.system)
        .at(-1)?.body ?? '',
      /^Access request has been approved\n+Reason: approved in Jira$/,
    );
    // PagerDuty: the incident resolved with the outcome note.
    const [incident] = incidents(id);
    assert.equal(incident!.status, 'resolved');
    assert.equal(incident!.notes.at(-1)?.content, 'Access request has been approved\nReason: approved in Jira');
  });

  it('PagerDuty failing (503) and Mattermost slow delay no other adapter; both catch up once; a GitLab label denies it everywhere', async (t) => {
    const faultMs = 4_000;
    const faultEnds = Date.now() + faultMs;
    pd.fail({ status: 503, times: 100_000, until: faultEnds });
    mm.setLatency(2_500);
    try {
      const created = Date.now();
      const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'during the outage' });
      const healthy: AdapterName[] = ['slack', 'email', 'jira', 'gitlab'];
      await waitFor(() => healthy.every((a) => announcedBy(id).includes(a)), 'the healthy adapters to announce', faultMs);
      const took = Date.now() - created;
      t.diagnostic(`slack, email, jira and gitlab announced it ${took} ms after it was created, while PagerDuty answered 503 and Mattermost took 2.5 s per call`);
      // Done while PagerDuty still answers 503 and before Mattermost answered its first post.
      assert.ok(Date.now() < faultEnds, `the healthy adapters took ${took} ms: past the PagerDuty fault window`);
      assert.deepEqual(
        announcedBy(id).filter((a) => a === 'pagerduty' || a === 'mattermost'),
        [],
        `slow or failing adapters were already done after ${took} ms`,
      );
      assert.ok(
        pd.http.calls.some((c) => c.injected && c.status === 503),
        'PagerDuty was called and failed',
      );

      // After the fault: PagerDuty opens exactly one incident, Mattermost posts exactly once.
      await waitFor(
        () => incidents(id).length === 1 && mmRoots(id).length === 1 && tp.admin.pluginData(id, 'pagerduty')?.['announced'] === 'ok',
        'PagerDuty and Mattermost to catch up',
        30_000,
      );
      mm.setLatency(0);
      assert.deepEqual(announcements(id), { slack: 1, mattermost: 1, email: 1, jira: 1, gitlab: 1, pagerduty: 1 });

      // Denied from GitLab: the label's webhook denies it, and every adapter follows.
      const [glIssue] = glIssues(id);
      await waitFor(() => tp.admin.pluginData(id, 'gitlab')?.['issue_iid'] === String(glIssue!.iid), 'the GitLab issue recorded');
      const [delivery] = await gl.addLabelAs('dave', project, glIssue!.iid, 'Teleport: Denied');
      assert.equal(delivery?.status, 204);
      await waitFor(() => recorded(id, 'denied'), 'every adapter to record the denial', 30_000);
      assert.equal(tp.admin.auditLog().find((e) => e.requestId === id && e.type === 'access_request.update')?.delegator, 'gitlab:dave@example.com');
      assert.match(blocksText(slackRoots(id)[0]!.blocks), /❌ DENIED/);
      assert.match(mmRoots(id)[0]!.message, /^\*\*Status\*\*: ❌ DENIED/m);
      assert.equal(jira.issuesForRequest(id)[0]?.status, 'Denied');
      assert.equal(incidents(id)[0]?.status, 'resolved');
      assert.equal(glIssues(id)[0]?.state, 'closed');
      for (const to of REVIEWERS)
        assert.ok(
          mails(id, to).some((m) => /Status: ❌ DENIED/.test(m.text)),
          to,
        );
      assert.deepEqual(announcements(id), { slack: 1, mattermost: 1, email: 1, jira: 1, gitlab: 1, pagerduty: 1 }, 'still nothing twice');
    } finally {
      mm.setLatency(0);
      pd.http.clearFaults();
    }

    const code = await plugin!.stop();
    plugin = undefined;
    assert.equal(code, 0);
  });
});
