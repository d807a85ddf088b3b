// The webhook on the runtime's HTTP server: who may call it (secret, token, basic auth, the
// explicit opt-out), what it ignores, what it refuses, and that Jira's redeliveries and replays
// change nothing twice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PluginError } from '@teleport-plugin/core';
import { signBody } from '../src/webhook.js';
import type { FakeJiraIssue } from '../src/testing/index.js';
import { SECRET, TOKEN, answer, newRequest, startJiraTest, type JiraTest } from './helpers.js';

async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.text() };
}

function basic(user: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** A request with its issue, announced and waiting. */
async function pendingIssue(j: JiraTest): Promise<{ id: string; issue: FakeJiraIssue }> {
  const r = j.teleport.put(newRequest());
  await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
  return { id: r.id, issue: j.issueFor(r.id) };
}

/** The `jira:issue_updated` body for moving `issue` to `status` as `j.reviewer`, without delivering it. */
async function moveQuietly(j: JiraTest, issue: FakeJiraIssue, status: string): Promise<string> {
  await j.jira.transitionAs(j.reviewer, issue.id, status, { deliver: false });
  return JSON.stringify(j.jira.issueUpdatedPayload(issue, issue.changelog.at(-1), j.reviewer));
}

describe('jira webhook: authentication with the webhook secret (signed deliveries)', () => {
  let j: JiraTest;
  before(async () => {
    j = await startJiraTest({ noWebhook: true });
  });
  after(() => j.close());

  it('no credentials, a wrong signature or a wrong secret: 401 and nothing changes', async () => {
    const { id, issue } = await pendingIssue(j);
    const body = await moveQuietly(j, issue, 'Approved');
    const url = `${j.url}/jira/`;
    for (const headers of [
      {} as Record<string, string>,
      { 'x-hub-signature': 'sha256=' + '0'.repeat(64) },
      { 'x-hub-signature': signBody('another-secret', body) },
      { 'x-hub-signature': 'garbage' },
    ]) {
      const res = await post(url, body, headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
    }
    // A body changed after signing is refused too.
    const res = await post(url, body.replace('Approved', 'Denied'), { 'x-hub-signature': signBody(SECRET, body) });
    assert.equal(res.status, 401);
    await j.t.settled();
    assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
    assert.equal(j.teleport.decisions.length, 0);
    assert.ok(j.t.logger.entries.some((e) => e.message === 'webhook call refused'));
  });

  it('the right signature decides; replaying the same signed delivery changes nothing', async () => {
    const { id, issue } = await pendingIssue(j);
    const body = await moveQuietly(j, issue, 'Approved');
    const first = await post(`${j.url}/jira/`, body, { 'x-hub-signature': signBody(SECRET, body) });
    assert.equal(first.status, 200, first.body);
    assert.equal(JSON.parse(first.body).result, 'applied');
    await j.until(() => j.t.data(id)?.['resolution'] === 'approved', 'the resolution');
    const comments = j.issueFor(id).comments.length;
    for (let i = 0; i < 2; i++) {
      const replay = await post(`${j.url}/jira/`, body, { 'x-hub-signature': signBody(SECRET, body) });
      assert.equal(replay.status, 200);
      assert.equal(JSON.parse(replay.body).result, 'already');
    }
    await j.t.settled();
    assert.equal(j.teleport.decisions.filter((d) => d.requestId === id).length, 1);
    assert.equal(j.issueFor(id).comments.length, comments, 'no comment repeated');
  });

  it("the Go plugin's webhook URL (/) works too, and GET /status answers", async () => {
    const { id, issue } = await pendingIssue(j);
    const body = await moveQuietly(j, issue, 'Denied');
    const res = await post(`${j.url}/`, body, { 'x-hub-signature': signBody(SECRET, body) });
    assert.equal(res.status, 200, res.body);
    assert.equal(j.teleport.requests.get(id)?.state, 'DENIED');
    for (const path of ['/status', '/jira/status']) assert.equal((await fetch(`${j.url}${path}`)).status, 200, path);
    assert.equal((await post(`${j.url}/`, body)).status, 401, 'the legacy path checks callers as well');
  });

  it('bodies are bounded (25 MiB, 413) and must be JSON (400)', async () => {
    const big = Buffer.alloc(25 * 1024 * 1024 + 1, 0x20);
    assert.equal((await post(`${j.url}/jira/`, big, { 'x-hub-signature': signBody(SECRET, big) })).status, 413);
    const notJson = '{"webhookEvent":';
    assert.equal((await post(`${j.url}/jira/`, notJson, { 'x-hub-signature': signBody(SECRET, notJson) })).status, 400);
  });
});

describe('jira webhook: other ways to authenticate', () => {
  it('a token in the URL (jira.webhook_token): missing or wrong is 401, right decides', async () => {
    const j = await startJiraTest({ webhook: { secret: undefined, token: TOKEN }, target: { token: TOKEN } });
    try {
      const { id, issue } = await pendingIssue(j);
      const body = await moveQuietly(j, issue, 'Approved');
      assert.equal((await post(`${j.url}/jira/`, body)).status, 401);
      assert.equal((await post(`${j.url}/jira/?token=${TOKEN}x`, body)).status, 401);
      assert.equal((await post(`${j.url}/jira/?token=`, body)).status, 401);
      assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
      const ok = await post(`${j.url}/jira/?token=${TOKEN}`, body);
      assert.equal(ok.status, 200, ok.body);
      assert.equal(j.teleport.requests.get(id)?.state, 'APPROVED');
    } finally {
      await j.close();
    }
  });

  it('[http] basic auth alone: the shared server checks it (missing or wrong is 401)', async () => {
    const creds = { user: 'jira', password: 'jira-webhook-password' };
    const j = await startJiraTest({ webhook: { secret: undefined, basicAuth: creds }, target: { headers: basic(creds.user, creds.password) } });
    try {
      const { id, issue } = await pendingIssue(j);
      const body = await moveQuietly(j, issue, 'Approved');
      assert.equal((await post(`${j.url}/jira/`, body)).status, 401);
      assert.equal((await post(`${j.url}/jira/`, body, basic('jira', 'wrong'))).status, 401);
      assert.equal((await post(`${j.url}/`, body, basic('other', creds.password))).status, 401);
      assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
      const ok = await post(`${j.url}/jira/`, body, basic(creds.user, creds.password));
      assert.equal(ok.status, 200, ok.body);
      assert.equal(j.teleport.requests.get(id)?.state, 'APPROVED');
    } finally {
      await j.close();
    }
  });

  it('secret and basic auth: either proves the caller, but a wrong one present keeps it out', async () => {
    const creds = { user: 'jira', password: 'jira-webhook-password' };
    const j = await startJiraTest({ webhook: { basicAuth: creds }, noWebhook: true });
    try {
      const a = await pendingIssue(j);
      const bodyA = await moveQuietly(j, a.issue, 'Approved');
      assert.equal((await post(`${j.url}/jira/`, bodyA)).status, 401);
      assert.equal((await post(`${j.url}/jira/`, bodyA, { ...basic('jira', 'wrong'), 'x-hub-signature': signBody(SECRET, bodyA) })).status, 401);
      assert.equal((await post(`${j.url}/jira/`, bodyA, { ...basic(creds.user, creds.password), 'x-hub-signature': signBody('wrong-secret', bodyA) })).status, 401);
      assert.equal(j.teleport.requests.get(a.id)?.state, 'PENDING');
      assert.equal((await post(`${j.url}/jira/`, bodyA, basic(creds.user, creds.password))).status, 200);
      assert.equal(j.teleport.requests.get(a.id)?.state, 'APPROVED');

      const b = await pendingIssue(j);
      const bodyB = await moveQuietly(j, b.issue, 'Denied');
      assert.equal((await post(`${j.url}/jira/`, bodyB, { 'x-hub-signature': signBody(SECRET, bodyB) })).status, 200);
      assert.equal(j.teleport.requests.get(b.id)?.state, 'DENIED');
      // Other paths stay behind basic auth.
      assert.equal((await fetch(`${j.url}/metrics`)).status, 401);
    } finally {
      await j.close();
    }
  });

  it('only with the explicit opt-out does a call without credentials decide', async () => {
    const j = await startJiraTest({ webhook: { secret: undefined, allowUnauthenticated: true }, target: {} });
    try {
      const { id, issue } = await pendingIssue(j);
      const [delivery] = await j.jira.transitionAs(j.reviewer, issue.id, 'Approved');
      assert.equal(delivery?.status, 200, delivery?.responseBody);
      assert.equal(j.teleport.requests.get(id)?.state, 'APPROVED');
    } finally {
      await j.close();
    }
  });
});

describe('jira webhook: what is ignored and what changes nothing', () => {
  let j: JiraTest;
  before(async () => {
    const statuses = ['Pending', 'In Progress', 'Approved', 'Denied', 'Expired'];
    j = await startJiraTest({ fake: { workflow: { statuses, transitions: statuses.map((to, i) => ({ id: String(11 + i * 10), name: to, to })) } } });
  });
  after(() => j.close());

  it('every other event, and status changes that decide nothing, are acknowledged and ignored', async () => {
    const { id, issue } = await pendingIssue(j);
    const payloads = [
      { webhookEvent: 'jira:issue_created', issue: { id: issue.id } },
      { webhookEvent: 'comment_created', comment: { body: 'hi' } },
      j.jira.issueUpdatedPayload(issue, undefined, j.reviewer, 'issue_commented'),
      j.jira.issueUpdatedPayload(issue, undefined, j.reviewer),
    ];
    for (const payload of payloads) {
      const d = await j.jira.sendWebhook(j.target, payload);
      assert.equal(d.status, 200, d.responseBody);
      assert.equal(answer(d)['result'], 'ignored');
    }
    const [toProgress] = await j.jira.transitionAs(j.reviewer, issue.id, 'In Progress');
    assert.equal(answer(toProgress!)['result'], 'ignored');
    const [back] = await j.jira.transitionAs(j.reviewer, issue.id, 'Pending');
    assert.equal(answer(back!)['result'], 'ignored');
    await j.t.settled();
    assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
    assert.equal(j.teleport.decisions.length, 0);
  });

  it('an unknown issue, an issue without the property, or a request the plugin has no record of: nothing changes', async () => {
    const unknown = j.jira.issueUpdatedPayload(
      { ...j.jira.issues[0]!, id: '99999', key: 'REQ-999', status: 'Approved', changelog: [], comments: [] },
      { id: '1', author: j.reviewer, created: new Date(), items: [{ field: 'status', fieldtype: 'jira', from: '1', fromString: 'Pending', to: '2', toString: 'Approved' }] },
      j.reviewer,
    );
    const d1 = await j.jira.sendWebhook(j.target, unknown);
    assert.equal(d1.status, 200);
    assert.deepEqual(answer(d1), { result: 'ignored', reason: 'no such issue in Jira' });

    // Issues made by someone else: one without the property, one naming a request with no plugin data.
    const auth = { authorization: `Basic ${Buffer.from(`${j.jira.bot.emailAddress}:${j.jira.bot.apiToken}`).toString('base64')}`, 'content-type': 'application/json' };
    const create = async (properties: unknown[]): Promise<string> => {
      const res = await fetch(`${j.jira.url}/rest/api/2/issue`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ fields: { project: { key: 'REQ' }, issuetype: { name: 'Task' }, summary: 'hand made' }, properties }),
      });
      return ((await res.json()) as { id: string }).id;
    };
    const plain = await create([]);
    const [d2] = await j.jira.transitionAs(j.reviewer, plain, 'Approved');
    assert.deepEqual(answer(d2!), { result: 'ignored', reason: 'the issue has no teleportAccessRequestId property' });

    const stranger = j.teleport.put(newRequest(), false);
    const foreign = await create([{ key: 'teleportAccessRequestId', value: stranger.id }]);
    const [d3] = await j.jira.transitionAs(j.reviewer, foreign, 'Approved');
    assert.equal(answer(d3!)['result'], 'unknown');
    assert.equal(j.teleport.requests.get(stranger.id)?.state, 'PENDING');
    assert.equal(j.teleport.decisions.length, 0);
  });

  it("an issue whose id is not the one in the request's plugin data (a forged property) changes nothing", async () => {
    const { id, issue } = await pendingIssue(j);
    const res = await fetch(`${j.jira.url}/rest/api/2/issue`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${j.jira.bot.emailAddress}:${j.jira.bot.apiToken}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: { project: { key: 'REQ' }, issuetype: { name: 'Task' }, summary: 'copy' }, properties: [{ key: 'teleportAccessRequestId', value: id }] }),
    });
    const forged = ((await res.json()) as { id: string }).id;
    assert.notEqual(forged, issue.id);
    const [d] = await j.jira.transitionAs(j.reviewer, forged, 'Approved');
    assert.equal(d?.status, 200);
    assert.equal(answer(d!)['result'], 'mismatch');
    await j.t.settled();
    assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
    assert.equal(j.teleport.decisions.length, 0);
    assert.equal(j.jira.issue(issue.id)?.status, 'Pending');
  });

  it('a stale delivery (the issue has moved on since) is ignored; the newer one decides', async () => {
    const { id, issue } = await pendingIssue(j);
    const approved = await moveQuietly(j, issue, 'Approved');
    const denied = await moveQuietly(j, issue, 'Denied');
    const sign = (b: string) => ({ 'x-hub-signature': signBody(SECRET, b) });
    const stale = await post(`${j.url}/jira/`, approved, sign(approved));
    assert.equal(JSON.parse(stale.body).result, 'ignored');
    assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
    const fresh = await post(`${j.url}/jira/`, denied, sign(denied));
    assert.equal(JSON.parse(fresh.body).result, 'applied');
    assert.equal(j.teleport.requests.get(id)?.state, 'DENIED');
  });
});

describe('jira webhook: failures answer 5xx, redeliveries change nothing twice, Teleport is the truth', () => {
  let j: JiraTest;
  before(async () => {
    j = await startJiraTest();
  });
  after(() => j.close());

  it('Teleport failing: 503, nothing recorded; Jira delivers again and the request is decided once', async () => {
    const { id, issue } = await pendingIssue(j);
    j.teleport.failNext('setAccessRequestState', new PluginError('CONNECTION_PROBLEM', 'connection reset'));
    const [first] = await j.jira.transitionAs(j.reviewer, issue.id, 'Approved');
    assert.equal(first?.status, 503, first?.responseBody);
    assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
    const second = await j.jira.redeliver(first!, j.target);
    assert.equal(second.status, 200, second.responseBody);
    assert.equal(answer(second)['result'], 'applied');
    const third = await j.jira.redeliver(first!, j.target);
    assert.equal(answer(third)['result'], 'already');
    await j.until(() => j.t.data(id)?.['resolution'] === 'approved', 'the resolution');
    assert.equal(j.teleport.decisions.filter((d) => d.requestId === id).length, 1);
    assert.equal(j.issueFor(id).comments.filter((c) => c.body.startsWith('Access request has been')).length, 1);
  });

  it('Jira failing (5xx past the outbound policy): 503, then the redelivery decides', async () => {
    const { id, issue } = await pendingIssue(j);
    j.jira.fail({ method: 'GET', path: `/rest/api/2/issue/${issue.id}`, status: 502, times: 3 });
    const [first] = await j.jira.transitionAs(j.reviewer, issue.id, 'Denied');
    assert.equal(first?.status, 503);
    assert.equal(j.teleport.requests.get(id)?.state, 'PENDING');
    const again = await j.jira.redeliver(first!, j.target);
    assert.equal(answer(again)['result'], 'applied');
    assert.equal(j.teleport.requests.get(id)?.state, 'DENIED');
  });

  it('a 429 from Jira is waited out (Retry-After) within the delivery', async () => {
    const { id, issue } = await pendingIssue(j);
    j.jira.fail({ method: 'GET', path: `/rest/api/2/issue/${issue.id}/comment`, status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const [d] = await j.jira.transitionAs(j.reviewer, issue.id, 'Approved');
    assert.equal(answer(d!)['result'], 'applied');
    assert.ok(Date.now() - started >= 900, 'Retry-After was honoured');
    assert.equal(j.teleport.requests.get(id)?.state, 'APPROVED');
  });

  it('a request already resolved in Teleport: the webhook changes nothing and the issue is synced to Teleport', async () => {
    const { id, issue } = await pendingIssue(j);
    // Denied in Teleport, but the plugin has not seen it yet (no event).
    j.teleport.put({ ...j.teleport.requests.get(id)!, state: 'DENIED', resolveReason: 'no' }, false);
    const [d] = await j.jira.transitionAs(j.reviewer, issue.id, 'Approved');
    assert.equal(answer(d!)['result'], 'already');
    await j.until(() => j.issueFor(id).status === 'Denied', 'the issue to follow Teleport');
    assert.equal(j.teleport.requests.get(id)?.state, 'DENIED');
    assert.equal(j.teleport.decisions.filter((x) => x.requestId === id).length, 0);
    assert.equal(j.issueFor(id).comments.at(-1)?.body, 'Access request has been denied\nReason: no');
    assert.equal(j.t.data(id)?.['resolution'], 'denied');
  });

  it('a request that is gone: the issue is closed as expired', async () => {
    const { id, issue } = await pendingIssue(j);
    j.teleport.remove(id, false);
    const [d] = await j.jira.transitionAs(j.reviewer, issue.id, 'Approved');
    assert.equal(answer(d!)['result'], 'gone');
    await j.until(() => j.issueFor(id).status === 'Expired', 'the issue to be Expired');
    assert.equal(j.issueFor(id).comments.at(-1)?.body, 'Access request has been expired\n');
  });

  it('an issue moved before its id is recorded: 503 (not a forgery), and the redelivery decides', async () => {
    const r = newRequest();
    // The plugin's entry exists but the create's answer has not been recorded yet.
    j.teleport.setPluginData(r.id, 'jira', { issue_id: '', issue_key: '', user: r.user, roles: 'editor', 'fx/open': 'run:elsewhere:1', announced: 'run:elsewhere:1' });
    j.teleport.put(r, false);
    const res = await fetch(`${j.jira.url}/rest/api/2/issue`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${j.jira.bot.emailAddress}:${j.jira.bot.apiToken}`).toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: { project: { key: 'REQ' }, issuetype: { name: 'Task' }, summary: 'x' }, properties: [{ key: 'teleportAccessRequestId', value: r.id }] }),
    });
    const issueId = ((await res.json()) as { id: string }).id;
    const [first] = await j.jira.transitionAs(j.reviewer, issueId, 'Approved');
    assert.equal(first?.status, 503);
    assert.equal(j.teleport.requests.get(r.id)?.state, 'PENDING');
    j.teleport.setPluginData(r.id, 'jira', { ...j.teleport.pluginData(r.id, 'jira'), issue_id: issueId });
    const again = await j.jira.redeliver(first!, j.target);
    assert.equal(answer(again)['result'], 'applied');
    assert.equal(j.teleport.requests.get(r.id)?.state, 'APPROVED');
  });
});
