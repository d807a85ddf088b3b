import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { isOutcomeUnknown, isPluginError, isRetryable, type PluginError } from '@teleport-plugin/core';
import { GitlabClient, sameHookTarget } from '../src/client.js';
import { issueDescription, issueTitle, resolutionNote, reviewNote } from '../src/render.js';
import { FakeGitLab, type FakeGlProject } from '../src/testing/index.js';
import { makeRequest, makeReview, REQUEST_ID } from './helpers.js';

const POLICY = { attempts: 3, baseMs: 1, capMs: 5, maxRetryAfterMs: 5_000 };

let gl: FakeGitLab;
let project: FakeGlProject;

before(async () => {
  gl = new FakeGitLab({ maxPerPage: 2 });
  await gl.start();
});
after(() => gl.close());
beforeEach(() => {
  gl.http.clearFaults();
  project = gl.addProject(`ops/access-${gl.projects.length + 1}`);
});

function client(extra: Partial<ConstructorParameters<typeof GitlabClient>[0]> = {}): GitlabClient {
  return new GitlabClient({ url: gl.url, token: gl.token, policy: POLICY, ...extra });
}

async function failure(p: Promise<unknown>): Promise<PluginError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(isPluginError(err), `expected a PluginError, got ${String(err)}`);
  return err;
}

function newIssue(requestId = REQUEST_ID) {
  const request = makeRequest({ id: requestId });
  return { title: issueTitle(request), description: issueDescription(request, undefined), labels: ['Teleport: Pending'] };
}

describe('calls and their wire format', () => {
  test('project by id and by path (URL-encoded), with PRIVATE-TOKEN', async () => {
    const c = client();
    const byId = await c.project(project.id);
    assert.deepEqual(byId, { id: project.id, name: project.name, pathWithNamespace: project.pathWithNamespace, webUrl: `${gl.url}/${project.pathWithNamespace}` });
    assert.deepEqual(await c.project(project.pathWithNamespace), byId);
    const call = gl.http.callsTo('GET', `/api/v4/projects/${encodeURIComponent(project.pathWithNamespace)}`).at(-1);
    assert.ok(call, 'the path is sent URL-encoded as one segment');
    assert.equal(call.headers['private-token'], gl.token);
  });

  test('current user and token introspection', async () => {
    const c = client();
    assert.deepEqual(await c.currentUser(), { id: gl.bot.id, username: 'teleport-bot', name: 'Teleport Bot' });
    const info = await c.tokenInfo();
    assert.deepEqual(info.scopes, ['api']);
    assert.equal(info.active, true);
    assert.equal(info.userId, gl.bot.id);
    assert.equal(gl.http.callsTo('GET', '/api/v4/personal_access_tokens/self').length >= 1, true);
  });

  test('labels: all pages, create, and "already exists" (409) counts as done', async () => {
    const c = client();
    for (const name of ['a', 'b', 'c', 'd', 'e']) gl.addLabel(project, name);
    const before = gl.http.callsTo('GET', `/api/v4/projects/${project.id}/labels`).length;
    assert.deepEqual(
      (await c.listLabels(project.id)).map((l) => l.name),
      ['a', 'b', 'c', 'd', 'e'],
    );
    assert.equal(gl.http.callsTo('GET', `/api/v4/projects/${project.id}/labels`).length - before, 3, 'three pages of two');
    assert.deepEqual(await c.createLabel(project.id, { name: 'Teleport: Pending', color: '#FFECDB' }), { name: 'Teleport: Pending', created: true });
    const posted = gl.http.callsTo('POST', `/api/v4/projects/${project.id}/labels`).at(-1);
    assert.deepEqual(posted?.json, { name: 'Teleport: Pending', color: '#FFECDB' });
    assert.deepEqual(await c.createLabel(project.id, { name: 'Teleport: Pending', color: '#FFECDB' }), { name: 'Teleport: Pending', created: false });
    assert.equal(project.labels.filter((l) => l.name === 'Teleport: Pending').length, 1);
  });

  test('hooks: add for issue events with the token, list all pages, find by URL, edit, remove', async () => {
    const c = client();
    for (let i = 0; i < 3; i += 1) gl.addHook(project, { url: `https://other.example.com/${i}` });
    const url = 'https://hook:pw@plugins.example.com/gitlab/webhook';
    const added = await c.addHook(project.id, { url, token: 's3cret' });
    assert.deepEqual(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/hooks`).at(-1)?.json, { url, token: 's3cret', issues_events: true, push_events: false });
    assert.equal(added.issuesEvents, true);
    assert.equal((await c.listHooks(project.id)).length, 4);
    assert.equal((await c.findHookByUrl(project.id, url))?.id, added.id);
    assert.equal((await c.findHookByUrl(project.id, 'https://plugins.example.com/gitlab/webhook/'))?.id, added.id, 'credentials and a trailing slash ignored');
    assert.equal(await c.findHookByUrl(project.id, 'https://plugins.example.com/webhook'), undefined);
    const hook = project.hooks.find((h) => h.id === added.id)!;
    hook.issuesEvents = false;
    hook.token = 'old';
    const edited = await c.editHook(project.id, added.id, { url, token: 'new' });
    assert.equal(edited.issuesEvents, true);
    assert.equal(hook.token, 'new');
    await c.removeHook(project.id, added.id);
    await c.removeHook(project.id, added.id); // 404: already gone
    assert.equal(
      project.hooks.some((h) => h.id === added.id),
      false,
    );
  });

  test('issues: create with the pending label, get, close with the outcome label', async () => {
    const c = client();
    const issue = await c.createIssue(project.id, newIssue());
    assert.deepEqual(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).at(-1)?.json, {
      title: 'Access request from alice@example.com',
      description: newIssue().description,
      labels: 'Teleport: Pending',
    });
    assert.equal(issue.iid, 1);
    assert.equal(issue.projectId, project.id);
    assert.deepEqual(issue.labels, ['Teleport: Pending']);
    assert.equal((await c.getIssue(project.id, issue.iid)).id, issue.id);
    const closed = await c.updateIssue(project.id, issue.iid, { stateEvent: 'close', removeLabels: ['Teleport: Pending'], addLabels: ['Teleport: Approved'] });
    assert.deepEqual(gl.http.callsTo('PUT', `/api/v4/projects/${project.id}/issues/1`).at(-1)?.json, {
      state_event: 'close',
      add_labels: 'Teleport: Approved',
      remove_labels: 'Teleport: Pending',
    });
    assert.equal(closed.state, 'closed');
    assert.deepEqual(closed.labels, ['Teleport: Approved']);
    // Idempotent: the same update again changes nothing.
    assert.deepEqual((await c.updateIssue(project.id, issue.iid, { stateEvent: 'close', removeLabels: ['Teleport: Pending'], addLabels: ['Teleport: Approved'] })).labels, [
      'Teleport: Approved',
    ]);
    const second = await c.createIssue(project.id, newIssue('0d3a4d9e-5b6c-4d7e-8f90-a1b2c3d4e5f6'));
    assert.equal(second.iid, 2, 'iids count per project');
  });

  test('findIssueByRequestId searches descriptions (open and closed), and trusts only the request id line', async () => {
    const c = client();
    const other = '0d3a4d9e-5b6c-4d7e-8f90-a1b2c3d4e5f6';
    // An issue whose reason quotes our id: found by the search, rejected by the check.
    await c.createIssue(project.id, {
      ...newIssue(other),
      description: issueDescription(makeRequest({ id: other, requestReason: `Request ID is \`${REQUEST_ID}\`` }), undefined),
    });
    assert.equal(await c.findIssueByRequestId(project.id, REQUEST_ID), undefined);
    const ours = await c.createIssue(project.id, newIssue());
    await c.updateIssue(project.id, ours.iid, { stateEvent: 'close' });
    const found = await c.findIssueByRequestId(project.id, REQUEST_ID);
    assert.equal(found?.iid, ours.iid);
    const search = gl.http.callsTo('GET', `/api/v4/projects/${project.id}/issues`).at(-1)!;
    assert.equal(search.query.get('search'), REQUEST_ID);
    assert.equal(search.query.get('in'), 'description');
    assert.equal((await c.findIssueByRequestId(project.id, other))?.iid, 1);
  });

  test('notes: create, and findNote by exact body (system notes never match)', async () => {
    const c = client();
    const issue = await c.createIssue(project.id, newIssue());
    const review = reviewNote(makeReview());
    const note = await c.createNote(project.id, issue.iid, review);
    assert.deepEqual(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues/${issue.iid}/notes`).at(-1)?.json, { body: review });
    await c.updateIssue(project.id, issue.iid, { addLabels: ['x'], removeLabels: ['Teleport: Pending'] });
    for (let i = 0; i < 4; i += 1) await c.createNote(project.id, issue.iid, `chatter ${i}`);
    assert.equal((await c.findNote(project.id, issue.iid, review))?.id, note.id, 'found across pages of two');
    assert.equal(await c.findNote(project.id, issue.iid, resolutionNote('approved', '')), undefined);
    assert.equal(await c.findNote(project.id, issue.iid, 'added ~1 label'), undefined);
    const resolution = await c.createNote(project.id, issue.iid, resolutionNote('expired', ''));
    assert.equal((await c.findNote(project.id, issue.iid, resolutionNote('expired', '')))?.id, resolution.id, 'trailing newlines do not matter');
  });
});

describe("outbound policy, with gitbeaker's own retries off", () => {
  test('an always-429 call makes exactly `attempts` requests and honours Retry-After', async () => {
    const c = client();
    gl.rateLimit({ times: 100, retryAfterS: 0.05, path: /\/issues$/ });
    const before = gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).length;
    const err = await failure(c.createIssue(project.id, newIssue()));
    gl.http.clearFaults();
    const calls = gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).slice(before);
    assert.equal(calls.length, POLICY.attempts, 'gitbeaker alone would have tried 10 times');
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.service?.status, 429);
    assert.equal(err.service?.retryAfterMs, 50);
    assert.equal(err.service?.outcomeUnknown, false, 'a 429 was not processed');
    assert.ok(isRetryable(err));
    for (let i = 1; i < calls.length; i += 1) assert.ok(calls[i]!.at - calls[i - 1]!.at >= 45, `waited ${calls[i]!.at - calls[i - 1]!.at} ms`);
    assert.equal(project.issues.length, 0);
  });

  test('a 429 then success: the create happens once', async () => {
    const c = client();
    gl.rateLimit({ times: 1, retryAfterS: 0, path: /\/issues$/ });
    const issue = await c.createIssue(project.id, newIssue());
    assert.equal(project.issues.length, 1);
    assert.equal(issue.iid, 1);
  });

  test('a non-idempotent call answered 5xx (502 included) is tried once and reports outcomeUnknown', async () => {
    const c = client();
    const issue = await c.createIssue(project.id, newIssue());
    for (const status of [500, 502, 503]) {
      gl.fail({ method: 'POST', path: /\/notes$/, status, times: 5 });
      const before = gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues/${issue.iid}/notes`).length;
      const err = await failure(c.createNote(project.id, issue.iid, 'hello'));
      gl.http.clearFaults();
      assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues/${issue.iid}/notes`).length - before, 1, `status ${status}`);
      assert.equal(err.service?.status, status);
      assert.ok(isOutcomeUnknown(err));
      assert.ok(isRetryable(err));
    }
  });

  test('an idempotent call answered 5xx is retried', async () => {
    const c = client();
    const issue = await c.createIssue(project.id, newIssue());
    gl.fail({ method: 'PUT', status: 502, times: 2 });
    const closed = await c.updateIssue(project.id, issue.iid, { stateEvent: 'close' });
    assert.equal(closed.state, 'closed');
    assert.equal(gl.http.callsTo('PUT', `/api/v4/projects/${project.id}/issues/${issue.iid}`).length, 3);
  });

  test('a 429 in the middle of a listing retries that page only', async () => {
    const c = client();
    for (const name of ['a', 'b', 'c', 'd']) gl.addLabel(project, name);
    const path = `/api/v4/projects/${project.id}/labels`;
    let seen = 0;
    gl.http.on('call', function onCall(call) {
      if (call.path !== path) return;
      seen += 1;
      if (seen === 1) gl.rateLimit({ times: 1, retryAfterS: 0, path });
      else gl.http.off('call', onCall);
    });
    assert.deepEqual(
      (await c.listLabels(project.id)).map((l) => l.name),
      ['a', 'b', 'c', 'd'],
    );
    assert.deepEqual(
      gl.http.callsTo('GET', path).map((x) => `${x.query.get('page')}:${x.status}`),
      ['1:200', '2:429', '2:200'],
    );
  });
});

describe('find verbs after a lost answer', () => {
  test('an issue created but whose answer was dropped is found again, not created twice', async () => {
    const c = client();
    gl.fail({ method: 'POST', path: /\/issues$/, afterEffect: true, drop: true });
    const err = await failure(c.createIssue(project.id, newIssue()));
    assert.ok(isOutcomeUnknown(err), err.message);
    assert.equal(project.issues.length, 1, 'the effect happened');
    const found = await c.findIssueByRequestId(project.id, REQUEST_ID);
    assert.equal(found?.iid, project.issues[0]!.iid);
    assert.deepEqual(found?.labels, ['Teleport: Pending']);
  });

  test('a note posted but answered 500 is found by its body', async () => {
    const c = client();
    const issue = await c.createIssue(project.id, newIssue());
    const body = reviewNote(makeReview());
    gl.fail({ method: 'POST', path: /\/notes$/, afterEffect: true, status: 500 });
    const err = await failure(c.createNote(project.id, issue.iid, body));
    assert.ok(isOutcomeUnknown(err));
    assert.ok(await c.findNote(project.id, issue.iid, body));
    assert.equal(gl.notesOf(gl.issue(project, issue.iid)!).length, 1);
  });

  test('a hook added but whose answer was dropped is found by its URL', async () => {
    const c = client();
    const url = 'https://plugins.example.com/gitlab/webhook';
    gl.fail({ method: 'POST', path: /\/hooks$/, afterEffect: true, drop: true });
    const err = await failure(c.addHook(project.id, { url, token: 't' }));
    assert.ok(isOutcomeUnknown(err));
    assert.equal((await c.findHookByUrl(project.id, url))?.id, project.hooks[0]!.id);
  });
});

describe('authentication and permissions, in plain words', () => {
  test('a wrong token: 401, not retried, names gitlab.token', async () => {
    const c = client({ token: 'glpat-wrong' });
    const before = gl.calls.length;
    const err = await failure(c.project(project.id));
    assert.equal(gl.calls.length - before, 1);
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.equal(err.userFacing, true);
    assert.equal(err.service?.status, 401);
    assert.equal(err.service?.retryable, false);
    assert.match(err.message, /HTTP 401 \(401 Unauthorized: GitLab rejected the token: check gitlab\.token/);
  });

  test('a revoked or expired token is refused the same way', async () => {
    gl.addToken('glpat-revoked', { revoked: true });
    gl.addToken('glpat-expired', { expiresAt: '2020-01-01' });
    for (const token of ['glpat-revoked', 'glpat-expired']) {
      const err = await failure(client({ token }).currentUser());
      assert.equal(err.service?.status, 401);
      assert.match(err.message, /gitlab\.token/);
    }
  });

  test('a read_api token cannot write: 403 insufficient_scope names the scope and the key', async () => {
    gl.addToken('glpat-read', { scopes: ['read_api'] });
    const c = client({ token: 'glpat-read' });
    assert.equal((await c.project(project.id)).id, project.id, 'reads work');
    const err = await failure(c.createIssue(project.id, newIssue()));
    assert.equal(err.service?.status, 403);
    assert.equal(err.userFacing, true);
    assert.match(err.message, /insufficient_scope/);
    assert.match(err.message, /gitlab\.token needs the api scope and the Maintainer role/);
    assert.deepEqual((await c.tokenInfo()).scopes, ['read_api']);
  });

  test('a Developer cannot manage hooks: 403', async () => {
    const dev = gl.addProject('ops/dev-only', { role: 'developer' });
    const err = await failure(client().listHooks(dev.id));
    assert.equal(err.service?.status, 403);
    assert.match(err.message, /Maintainer/);
  });

  test('an unknown project: NOT_FOUND naming gitlab.project_id', async () => {
    const err = await failure(client().project('nope/missing'));
    assert.equal(err.code, 'NOT_FOUND');
    assert.equal(err.userFacing, true);
    assert.match(err.message, /GitLab project "nope\/missing" not found at http:\/\/127\.0\.0\.1:\d+: check gitlab\.project_id/);
  });

  test('no token introspection on old GitLab: 404', async () => {
    const old = new FakeGitLab({ noTokenIntrospection: true });
    await old.start();
    try {
      const err = await failure(new GitlabClient({ url: old.url, token: old.token, policy: POLICY }).tokenInfo());
      assert.equal(err.service?.status, 404);
    } finally {
      await old.close();
    }
  });
});

describe('transport', () => {
  test('a URL that is not GitLab (HTML with 200) names gitlab.url', async () => {
    const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = new GitlabClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', policy: POLICY });
      const err = await failure(c.project(1));
      assert.equal(err.userFacing, true);
      assert.match(err.message, /check gitlab\.url/);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a refused connection is retried even for a create (it never left this host)', async () => {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const err = await failure(new GitlabClient({ url: `http://127.0.0.1:${port}`, token: 't', policy: POLICY }).createIssue(1, newIssue()));
    assert.equal(err.code, 'UNREACHABLE');
    assert.equal(isOutcomeUnknown(err), false);
  });

  test('a slow answer times out per attempt; a create is not repeated (outcome unknown)', async () => {
    const c = client({ timeoutMs: 100 });
    gl.fail({ method: 'POST', path: /\/issues$/, delayMs: 400 });
    const before = gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).length;
    const err = await failure(c.createIssue(project.id, newIssue()));
    assert.equal(err.code, 'TIMEOUT');
    assert.ok(isOutcomeUnknown(err));
    await gl.http.waitFor(() => gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).length > before);
    assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).length - before, 1);
  });

  test("the caller's signal cancels a call under way", async () => {
    const c = client();
    gl.fail({ method: 'GET', path: /\/labels$/, delayMs: 1_000 });
    const controller = new AbortController();
    const started = Date.now();
    const pending = failure(c.listLabels(project.id, controller.signal));
    await gl.http.waitFor(() => true);
    setImmediate(() => controller.abort());
    const err = await pending;
    assert.ok(Date.now() - started < 700, 'did not wait for the slow answer');
    assert.equal(err.service?.retryable, true);
    gl.http.clearFaults();
  });

  test('an aborted signal starts nothing', async () => {
    const before = gl.calls.length;
    await assert.rejects(client().currentUser(AbortSignal.abort()));
    assert.equal(gl.calls.length, before);
  });

  test('connections are kept alive and reused', async () => {
    const ports: number[] = [];
    const server = http.createServer((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 9, username: 'bot', name: 'Bot' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = new GitlabClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', policy: POLICY });
      for (let i = 0; i < 6; i += 1) await c.currentUser();
      assert.equal(ports.length, 6);
      // undici hands a connection back to its pool a moment after the body is read, so an
      // immediate next call may open a second one; after that they are reused.
      assert.ok(new Set(ports).size <= 2, `sequential calls reuse connections, saw ports ${ports.join(', ')}`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('sameHookTarget ignores credentials, case of the host and a trailing slash only', () => {
    assert.ok(sameHookTarget('https://u:p@Plugins.Example.com/gitlab/webhook/', 'https://plugins.example.com/gitlab/webhook'));
    assert.ok(!sameHookTarget('http://plugins.example.com/gitlab/webhook', 'https://plugins.example.com/gitlab/webhook'));
    assert.ok(!sameHookTarget('https://plugins.example.com/webhook', 'https://plugins.example.com/gitlab/webhook'));
    assert.ok(!sameHookTarget('not a url', 'not a url'));
  });
});
