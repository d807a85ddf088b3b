import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HttpException } from 'jira.js';
import { PluginError, isOutcomeUnknown, isPluginError, isRetryable } from '@teleport-plugin/core';
import { JiraClient, classifyJiraError, jiraErrorText, normalizeBody, type JiraClientOptions } from '../src/client.js';
import { COMMENT_MARKER_PROPERTY, REQUEST_ID_PROPERTY, resolutionComment } from '../src/render.js';
import { FakeJira } from '../src/testing/index.js';
import { lastStatusChange, resolutionReason } from '../src/webhook.js';

const FAST = { attempts: 4, baseMs: 5, capMs: 20, maxRetryAfterMs: 5_000 };
let seq = 0;
const requestId = (): string => `00000000-0000-4000-8000-${String(++seq).padStart(12, '0')}`;

function clientFor(jira: FakeJira, extra: Partial<JiraClientOptions> = {}): JiraClient {
  return new JiraClient({
    url: jira.url,
    username: jira.bot.emailAddress,
    apiToken: jira.bot.apiToken!,
    project: jira.projectKey,
    issueType: 'Task',
    policy: FAST,
    timeoutMs: 2_000,
    searchPollMs: 20,
    ...extra,
  });
}

function newIssue(id = requestId()) {
  return { requestId: id, summary: `alice requested editor (${id.slice(-4)})`, description: `Request ID: *${id}*` };
}

function errorOf(p: Promise<unknown>): Promise<PluginError> {
  return p.then(
    () => assert.fail('expected a failure'),
    (err: unknown) => {
      assert.ok(err instanceof PluginError, `not a PluginError: ${String(err)}`);
      return err;
    },
  );
}

describe('Jira client against the fake (Cloud)', () => {
  const jira = new FakeJira();
  let client: JiraClient;
  before(async () => {
    await jira.start();
    client = clientFor(jira);
  });
  after(async () => {
    client.close();
    await jira.close();
  });

  test('myself: basic auth through jira.js, kept-alive connections', async () => {
    const me = await client.myself();
    assert.equal(me.accountId, jira.bot.accountId);
    assert.equal(me.emailAddress, 'jira-bot@example.com');
    await client.myself();
    const calls = jira.http.callsTo('GET', '/rest/api/2/myself');
    const expected = `Basic ${Buffer.from('jira-bot@example.com:jira-api-token').toString('base64')}`;
    for (const c of calls) {
      assert.equal(c.headers['authorization'], expected);
      assert.equal(c.headers['connection'], 'keep-alive');
      assert.match(String(c.headers['user-agent']), /axios/, 'sent by jira.js (axios)');
    }
  });

  test('wrong credentials: one request, a plain-words error naming the keys to fix', async () => {
    const bad = clientFor(jira, { apiToken: 'wrong' });
    const before = jira.http.callsTo('GET', '/rest/api/2/myself').length;
    const err = await errorOf(bad.myself());
    assert.equal(jira.http.callsTo('GET', '/rest/api/2/myself').length - before, 1, '401 is not retried');
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.equal(err.userFacing, true);
    assert.equal(err.service?.status, 401);
    assert.equal(err.service?.retryable, false);
    assert.match(err.message, /check jira\.username and jira\.api_token/);
    assert.match(err.message, /Client must be authenticated/);
    bad.close();
  });

  test('403 names the permissions; a CAPTCHA refusal says what to do', async () => {
    jira.fail({ method: 'GET', path: '/rest/api/2/project/REQ', status: 403, body: { errorMessages: ['no'], errors: {} } });
    const err = await errorOf(client.getProject());
    assert.equal(err.userFacing, true);
    assert.match(err.message, /lacks a permission.*jira\.project/);
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', status: 403, headers: { 'x-authentication-denied-reason': 'CAPTCHA_CHALLENGE; login-url=https://x/login' } });
    assert.match((await errorOf(client.myself())).message, /CAPTCHA_CHALLENGE.*log in once in a browser/);
  });

  test('project, issue type statuses and permissions', async () => {
    const project = await client.getProject();
    assert.equal(project.key, 'REQ');
    assert.deepEqual(
      project.issueTypes.map((t) => t.name),
      ['Task', 'Bug'],
    );
    assert.deepEqual(await client.issueTypeStatuses(), ['Pending', 'Approved', 'Denied', 'Expired']);
    assert.deepEqual(await client.myPermissions(), { BROWSE_PROJECTS: true, CREATE_ISSUES: true, TRANSITION_ISSUES: true, ADD_COMMENTS: true });
    const call = jira.http.callsTo('GET', '/rest/api/2/mypermissions').at(-1)!;
    assert.equal(call.query.get('projectKey'), 'REQ');
    assert.equal(call.query.get('permissions'), 'BROWSE_PROJECTS,CREATE_ISSUES,TRANSITION_ISSUES,ADD_COMMENTS');
    const other = clientFor(jira, { issueType: 'Epic' });
    assert.equal(await other.issueTypeStatuses(), undefined);
    other.close();
  });

  test('createIssue sends the fields and the request id property; getIssue reads them back', async () => {
    const id = requestId();
    const ref = await client.createIssue(newIssue(id));
    assert.match(ref.key, /^REQ-\d+$/);
    const post = jira.http.callsTo('POST', '/rest/api/2/issue').at(-1)!;
    assert.deepEqual(post.json, {
      fields: { project: { key: 'REQ' }, issuetype: { name: 'Task' }, summary: newIssue(id).summary, description: `Request ID: *${id}*` },
      properties: [{ key: REQUEST_ID_PROPERTY, value: id }],
    });
    const issue = await client.getIssue(ref.id);
    assert.equal(issue.requestId, id);
    assert.equal(issue.status.name, 'Pending');
    assert.deepEqual(
      issue.transitions.map((t) => t.to.name),
      ['Approved', 'Denied', 'Expired'],
    );
    const get = jira.http.callsTo('GET', `/rest/api/2/issue/${ref.id}`).at(-1)!;
    assert.equal(get.query.get('fields'), 'status,comment');
    assert.equal(get.query.get('expand'), 'changelog,transitions');
    assert.equal(get.query.get('properties'), REQUEST_ID_PROPERTY);
    assert.equal(await client.getIssueProperty(ref.key), id);
    assert.equal(await client.getIssueProperty(ref.key, 'noSuchProperty'), undefined);
    await assert.rejects(client.getIssue('REQ-99999'), (err: unknown) => isPluginError(err, 'NOT_FOUND'));
  });

  test('an issue created with a lost answer is found again by its property, never created twice', async () => {
    const id = requestId();
    jira.fail({ method: 'POST', path: '/rest/api/2/issue', afterEffect: true, drop: true });
    const before = jira.http.callsTo('POST', '/rest/api/2/issue').length;
    const attemptedAt = new Date();
    const err = await errorOf(client.createIssue(newIssue(id)));
    assert.ok(isOutcomeUnknown(err), err.message);
    assert.equal(jira.http.callsTo('POST', '/rest/api/2/issue').length - before, 1, 'a write that may have happened is not repeated');
    const found = await client.findIssueByRequestId(id, { createdAfter: new Date(Date.now() - 60_000), attemptedAt });
    assert.ok(found, 'found');
    assert.equal(jira.issuesForRequest(id).length, 1);
    assert.equal(found.id, jira.issuesForRequest(id)[0]!.id);
    const search = jira.http.callsTo('GET', '/rest/api/2/search/jql').at(-1)!;
    assert.match(search.query.get('jql')!, /^project = "REQ" AND creator = currentUser\(\) AND created >= "-\d+m" ORDER BY created DESC$/);
    assert.equal(search.query.get('properties'), REQUEST_ID_PROPERTY);
    assert.equal(await client.findIssueByRequestId(requestId()), undefined, 'an id never used is not found');
  });

  test('a 5xx to a create is tried once and reports outcome unknown', async () => {
    const before = jira.http.callsTo('POST', '/rest/api/2/issue').length;
    jira.fail({ method: 'POST', path: '/rest/api/2/issue', status: 502 });
    const err = await errorOf(client.createIssue(newIssue()));
    assert.equal(jira.http.callsTo('POST', '/rest/api/2/issue').length - before, 1);
    assert.equal(err.service?.status, 502);
    assert.ok(isOutcomeUnknown(err));
    assert.ok(isRetryable(err));
  });

  test('an always-429 call makes exactly `attempts` requests, waiting what Retry-After asks', async () => {
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', status: 429, headers: { 'retry-after': '0.1' }, times: 10 });
    const before = jira.http.callsTo('GET', '/rest/api/2/myself').length;
    const err = await errorOf(client.myself());
    jira.http.clearFaults();
    const calls = jira.http.callsTo('GET', '/rest/api/2/myself').slice(before);
    assert.equal(calls.length, FAST.attempts);
    for (let i = 1; i < calls.length; i++) assert.ok(calls[i]!.at - calls[i - 1]!.at >= 95, `retried after ${calls[i]!.at - calls[i - 1]!.at} ms`);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.service?.retryAfterMs, 100);
    assert.equal(err.service?.outcomeUnknown, false);
  });

  test('a rate-limited create is repeated (Jira did nothing) and lands once', async () => {
    const id = requestId();
    jira.fail({ method: 'POST', path: '/rest/api/2/issue', status: 429, headers: { 'retry-after': '0' } });
    await client.createIssue(newIssue(id));
    assert.equal(jira.issuesForRequest(id).length, 1);
  });

  test('reads are retried after 5xx and timeouts', async () => {
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', status: 503, times: 2 });
    const before = jira.http.callsTo('GET', '/rest/api/2/myself').length;
    await client.myself();
    assert.deepEqual(
      jira.http
        .callsTo('GET', '/rest/api/2/myself')
        .slice(before)
        .map((c) => c.status),
      [503, 503, 200],
    );

    const slow = clientFor(jira, { timeoutMs: 150 });
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', delayMs: 1_000 });
    const started = Date.now();
    await slow.myself();
    assert.ok(Date.now() - started < 900, `answered by the second attempt after ${Date.now() - started} ms`);
    slow.close();
  });

  test('a cancelled call ends at once', async () => {
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', delayMs: 2_000 });
    const abort = new AbortController();
    const started = Date.now();
    const pending = client.myself(abort.signal);
    setTimeout(() => abort.abort(new PluginError('SHUTDOWN', 'shutting down')), 50);
    const err = await errorOf(pending);
    assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms`);
    assert.equal(err.code, 'SHUTDOWN');
    await assert.rejects(client.myself(abort.signal), 'an aborted signal starts nothing');
  });

  test('a redirect is reported with what to fix, not followed', async () => {
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', status: 301, headers: { location: 'https://new.example.com/rest/api/2/myself' } });
    const err = await errorOf(client.myself());
    assert.match(err.message, /redirected the call to https:\/\/new\.example\.com.*jira\.url/);
    assert.equal(err.userFacing, true);
  });

  test('comments carry a marker property and are found again after a lost answer', async () => {
    const ref = await client.createIssue(newIssue());
    const marker = { requestId: 'r-comments', kind: 'review' as const, index: 0 };
    const text = '*bob* reviewed the request at *25 Nov 26 09:05 UTC*.\nResolution: *APPROVED*.\nReason: ok.';
    jira.fail({ method: 'POST', path: `/rest/api/2/issue/${ref.id}/comment`, afterEffect: true, drop: true });
    const err = await errorOf(client.addComment(ref.id, text, marker));
    assert.ok(isOutcomeUnknown(err));
    assert.equal(jira.issue(ref.id)!.comments.length, 1);
    assert.deepEqual(jira.issue(ref.id)!.comments[0]!.properties, { [COMMENT_MARKER_PROPERTY]: marker });
    const found = await client.findComment(ref.id, marker, text);
    assert.equal(found?.id, jira.issue(ref.id)!.comments[0]!.id);
    assert.equal(await client.findComment(ref.id, { ...marker, index: 1 }, 'another text'), undefined);
    const post = jira.http.callsTo('POST', `/rest/api/2/issue/${ref.id}/comment`).at(-1)!;
    assert.deepEqual(post.json, { body: text, properties: [{ key: COMMENT_MARKER_PROPERTY, value: marker }] });
  });

  test('a 5xx to a comment is tried once (a second one could duplicate it)', async () => {
    const ref = await client.createIssue(newIssue());
    jira.fail({ method: 'POST', path: `/rest/api/2/issue/${ref.id}/comment`, status: 500, times: 3 });
    const err = await errorOf(client.addComment(ref.id, 'x', { requestId: 'r', kind: 'resolution' }));
    jira.http.clearFaults();
    assert.ok(isOutcomeUnknown(err));
    assert.equal(jira.http.callsTo('POST', `/rest/api/2/issue/${ref.id}/comment`).length, 1);
  });

  test('comments list newest first across pages', async () => {
    const ref = await client.createIssue(newIssue());
    const base = Date.now() - 1_000_000;
    for (let i = 0; i < 130; i++) jira.commentAs(jira.bot, ref.id, `comment ${i}`, new Date(base + i * 1000));
    const comments = await client.listComments(ref.id);
    assert.equal(comments.length, 130);
    assert.equal(comments[0]!.body, 'comment 129');
    assert.equal(comments.at(-1)!.body, 'comment 0');
    assert.equal(jira.http.callsTo('GET', `/rest/api/2/issue/${ref.id}/comment`).length, 2);
  });

  test('transitionTo moves once and is a no-op when already there; a lost answer is settled by reading', async () => {
    const ref = await client.createIssue(newIssue());
    assert.equal(await client.transitionTo(ref.id, 'approved'), 'moved');
    assert.equal(jira.issue(ref.id)!.status, 'Approved');
    assert.equal(await client.transitionTo(ref.id, 'Approved'), 'already');
    assert.equal(jira.http.callsTo('POST', `/rest/api/2/issue/${ref.id}/transitions`).length, 1);
    assert.deepEqual(jira.http.callsTo('POST', `/rest/api/2/issue/${ref.id}/transitions`)[0]!.json, { transition: { id: '21' } });

    const lost = await client.createIssue(newIssue());
    jira.fail({ method: 'POST', path: `/rest/api/2/issue/${lost.id}/transitions`, afterEffect: true, drop: true });
    assert.equal(await client.transitionTo(lost.id, 'denied'), 'moved');
    assert.equal(jira.issue(lost.id)!.status, 'Denied');
    assert.equal(jira.http.callsTo('POST', `/rest/api/2/issue/${lost.id}/transitions`).length, 1, 'not posted again');
    assert.equal(jira.issue(lost.id)!.changelog.length, 1);
  });

  test('a workflow without the target status gives a final error that says so', async () => {
    const ref = await client.createIssue(newIssue());
    const err = await errorOf(client.transitionTo(ref.id, 'promoted'));
    assert.match(err.message, /cannot move from "Pending" to "promoted"/);
    assert.equal(isRetryable(err), false);
  });

  test('what a Jira user did is read back: who moved the issue, and their reason', async () => {
    const ref = await client.createIssue(newIssue());
    const rita = jira.addUser('rita@example.com', { displayName: 'Rita Reviewer' });
    jira.commentAs(jira.bot, ref.id, 'Reason: not the reviewer');
    await jira.transitionAs(rita, ref.id, 'Approved', { comment: 'Looks right.\nReason: on call for this service' });
    const issue = await client.getIssue(ref.id);
    const change = lastStatusChange(issue.changelog, 'approved');
    assert.equal(change?.author?.accountId, rita.accountId);
    assert.equal(change?.author?.emailAddress, 'rita@example.com');
    assert.equal(resolutionReason(await client.listComments(ref.id), change?.author), 'on call for this service');
  });
});

describe('Jira client against the fake (Server/Data Center)', () => {
  const jira = new FakeJira({ flavor: 'server', username: 'jira-bot', apiToken: 'server-password', storeCommentBody: (b) => b.trimEnd() });
  jira.commentProperties = false;
  let client: JiraClient;
  before(async () => {
    await jira.start();
    client = new JiraClient({ url: jira.url, username: 'jira-bot', apiToken: 'server-password', project: 'REQ', issueType: 'task', policy: FAST, searchPollMs: 20 });
  });
  after(async () => {
    client.close();
    await jira.close();
  });

  test('users have key and name; basic auth with the user name', async () => {
    const me = await client.myself();
    assert.equal(me.accountId, undefined);
    assert.equal(me.name, 'jira-bot');
    assert.equal(me.key, jira.bot.key);
  });

  test('search falls back to /rest/api/2/search once, then uses it directly', async () => {
    const id = requestId();
    await client.createIssue(newIssue(id));
    assert.ok(await client.findIssueByRequestId(id));
    assert.ok(await client.findIssueByRequestId(id));
    assert.equal(jira.http.callsTo('GET', '/rest/api/2/search/jql').length, 1);
    assert.equal(jira.http.callsTo('GET', '/rest/api/2/search').length, 2);
  });

  test('without comment properties, a comment is found by its text and author (Jira re-renders whitespace)', async () => {
    const ref = await client.createIssue(newIssue());
    const text = resolutionComment('expired', '');
    assert.ok(text.endsWith('\n'));
    jira.fail({ method: 'POST', path: `/rest/api/2/issue/${ref.id}/comment`, afterEffect: true, status: 503 });
    await assert.rejects(client.addComment(ref.id, text, { requestId: 'r', kind: 'resolution' }));
    assert.equal(jira.issue(ref.id)!.comments[0]!.body, 'Access request has been expired');
    const found = await client.findComment(ref.id, { requestId: 'r', kind: 'resolution' }, text);
    assert.equal(found?.id, jira.issue(ref.id)!.comments[0]!.id);
    // The same words from someone else are not ours.
    const other = await client.createIssue(newIssue());
    jira.commentAs(jira.addUser('mallory@example.com'), other.id, text);
    assert.equal(await client.findComment(other.id, { requestId: 'r', kind: 'resolution' }, text), undefined);
  });
});

test('an issue still missing from the search index is waited for, within a bound', async () => {
  const jira = new FakeJira({ searchLagMs: 300 });
  await jira.start();
  const client = clientFor(jira, { searchSettleMs: 3_000 });
  try {
    const id = requestId();
    await client.createIssue(newIssue(id));
    assert.equal(await client.findIssueByRequestId(id), undefined, 'not searchable yet, and nothing says to wait');
    const searches = jira.http.callsTo('GET', '/rest/api/2/search/jql').length;
    const found = await client.findIssueByRequestId(id, { attemptedAt: new Date() });
    assert.ok(found, 'found once the index caught up');
    assert.ok(jira.http.callsTo('GET', '/rest/api/2/search/jql').length - searches >= 2, 'it searched again after a miss');

    const quick = clientFor(jira, { searchSettleMs: 100 });
    const beforeCalls = jira.http.callsTo('GET', '/rest/api/2/search/jql').length;
    const t0 = Date.now();
    assert.equal(await quick.findIssueByRequestId(requestId(), { attemptedAt: new Date() }), undefined);
    assert.ok(Date.now() - t0 < 1_000, 'the wait is bounded');
    assert.ok(jira.http.callsTo('GET', '/rest/api/2/search/jql').length - beforeCalls >= 2);
    quick.close();
  } finally {
    client.close();
    await jira.close();
  }
});

test('an unreachable Jira: a refused connection is retried (nothing was sent), then reported', async () => {
  const jira = new FakeJira();
  await jira.start();
  const url = jira.url;
  await jira.close();
  const client = new JiraClient({ url, username: 'u', apiToken: 't', project: 'REQ', issueType: 'Task', policy: FAST });
  const err = await errorOf(client.createIssue(newIssue()));
  assert.equal(err.code, 'UNREACHABLE');
  assert.equal(isOutcomeUnknown(err), false, 'a refused connection certainly did not create anything');
  assert.match(err.message, /ECONNREFUSED/);
  client.close();
});

test('Jira error bodies become one line', () => {
  assert.equal(jiraErrorText({ errorMessages: ['Issue does not exist'], errors: { summary: 'too long' } }), 'Issue does not exist; summary: too long');
  assert.equal(jiraErrorText({ errorMessages: [], errors: ['legacy one'] }), 'legacy one');
  assert.equal(jiraErrorText('<html>\n  Bad gateway </html>'), '<html> Bad gateway </html>');
  assert.equal(jiraErrorText(undefined), '');
  const call = { service: 'Jira', operation: 'GET /rest/api/2/myself', idempotent: true };
  const network = classifyJiraError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), call);
  assert.equal(network.code, 'CONNECTION_PROBLEM');
  assert.equal(network.service?.retryable, true);
  assert.equal(normalizeBody(' a  \r\nb\t\n\n'), 'a\nb');
  // jira.js wraps a failure that never reached Jira as an HttpException with status 500.
  const wrapped = classifyJiraError(new HttpException(new Error('could not sign the request')), call);
  assert.equal(wrapped.service?.status, undefined, 'not taken for an HTTP 500');
  assert.match(wrapped.message, /could not sign the request/);
  const answered = classifyJiraError(new HttpException({ status: 400, data: { errorMessages: ['bad jql'] } }, 400), call);
  assert.equal(answered.service?.status, 400);
  assert.match(answered.message, /HTTP 400 \(bad jql\)/);
});
