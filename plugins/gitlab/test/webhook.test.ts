import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueDescription } from '../src/render.js';
import { addedLabels, delegatorFor, readIssueHook, tokenMatches, type HookCall } from '../src/webhook.js';
import { makeRequest, REQUEST_ID } from './helpers.js';

const SECRET = 'hook-passphrase';

function label(id: number, title: string): Record<string, unknown> {
  return { id, title, color: '#428BCA', project_id: 7, type: 'ProjectLabel' };
}

/** An Issue Hook as GitLab sends it when `user` adds labels to the plugin's issue. */
function payload(overrides: { previous?: unknown[]; current?: unknown[]; action?: string; user?: unknown; description?: string; attrs?: Record<string, unknown> } = {}) {
  return {
    object_kind: 'issue',
    event_type: 'issue',
    user: overrides.user ?? { id: 42, name: 'Carol Reviewer', username: 'carol', avatar_url: null, email: 'carol@example.com' },
    project: { id: 7, path_with_namespace: 'ops/access' },
    object_attributes: {
      id: 5001,
      iid: 3,
      project_id: 7,
      action: overrides.action ?? 'update',
      description: overrides.description ?? issueDescription(makeRequest(), undefined),
      ...(overrides.attrs ?? {}),
    },
    changes: {
      labels: {
        previous: overrides.previous ?? [label(1, 'Teleport: Pending')],
        current: overrides.current ?? [label(1, 'Teleport: Pending'), label(2, 'Teleport: Approved')],
      },
    },
  };
}

function call(body: unknown, headers: Record<string, string> = {}): HookCall {
  return {
    headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Issue Hook', 'x-gitlab-token': SECRET, ...headers },
    rawBody: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)),
  };
}

test('adding the approved label is a decision with the ids, the request id and the delegator', () => {
  const reading = readIssueHook(call(payload()), { secret: SECRET });
  assert.equal(reading.kind, 'decision');
  assert.deepEqual(reading.kind === 'decision' && reading.decision, {
    decision: 'approved',
    label: 'Teleport: Approved',
    projectId: 7,
    issueId: 5001,
    issueIid: 3,
    requestId: REQUEST_ID,
    user: { id: 42, name: 'Carol Reviewer', username: 'carol', email: 'carol@example.com' },
    delegator: 'gitlab:carol@example.com',
  });
});

test('adding a denied label by any spelling that reduces to it denies', () => {
  const reading = readIssueHook(call(payload({ current: [label(1, 'Teleport: Pending'), label(9, ' teleport :DENIED ')] })), { secret: SECRET });
  assert.equal(reading.kind === 'decision' && reading.decision.decision, 'denied');
});

test('the first added deciding label (by label id, as upstream) wins', () => {
  const current = [label(1, 'Teleport: Pending'), label(12, 'Teleport: Approved'), label(11, 'Teleport: Denied'), label(3, 'bug')];
  const reading = readIssueHook(call(payload({ current })), { secret: SECRET });
  assert.equal(reading.kind === 'decision' && reading.decision.decision, 'denied');
  assert.deepEqual(
    addedLabels(
      [{ id: 1, title: 'a' }],
      [
        { id: 5, title: 'c' },
        { id: 1, title: 'a' },
        { id: 2, title: 'b' },
      ],
    ).map((l) => l.title),
    ['b', 'c'],
  );
});

test('a wrong, missing or repeated token is 401 whatever the rest looks like', () => {
  for (const headers of [{ 'x-gitlab-token': 'wrong' }, { 'x-gitlab-token': '' }, { 'x-gitlab-token': `${SECRET}x` }, { 'x-gitlab-token': SECRET.slice(0, -1) }]) {
    const reading = readIssueHook(call('not json', { ...headers, 'content-type': 'text/plain' }), { secret: SECRET });
    assert.deepEqual(reading, { kind: 'rejected', status: 401, reason: 'missing or wrong X-Gitlab-Token' });
  }
  const missing = call(payload());
  delete missing.headers['x-gitlab-token'];
  assert.equal(readIssueHook(missing, { secret: SECRET }).kind, 'rejected');
  const doubled = call(payload());
  doubled.headers['x-gitlab-token'] = [SECRET, SECRET] as unknown as string;
  assert.equal(readIssueHook(doubled, { secret: SECRET }).kind, 'rejected');
  assert.equal(tokenMatches('anything', ''), false, 'an empty secret matches nothing');
  assert.equal(tokenMatches(SECRET, SECRET), true);
});

test('Content-Type must be exactly application/json', () => {
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=utf-8', '']) {
    const reading = readIssueHook(call(payload(), { 'content-type': type }), { secret: SECRET });
    assert.equal(reading.kind === 'rejected' && reading.status, 400, type);
  }
});

test('bodies over the bound get 413', () => {
  const reading = readIssueHook(call(payload()), { secret: SECRET, maxBodyBytes: 100 });
  assert.equal(reading.kind === 'rejected' && reading.status, 413);
});

test('other events and other issue changes are acknowledged and ignored (204)', () => {
  const cases: Array<[HookCall, string]> = [
    [call(payload(), { 'x-gitlab-event': 'Push Hook' }), 'unsupported event'],
    [call(payload(), { 'x-gitlab-event': 'Note Hook' }), 'unsupported event'],
    [call(payload({ action: 'open' })), 'issue action'],
    [call(payload({ action: 'close' })), 'issue action'],
    [call({ ...payload(), changes: { title: { previous: 'a', current: 'b' } } }), 'labels did not change'],
    [call(payload({ current: [label(1, 'Teleport: Pending'), label(5, 'bug')] })), 'no approved or denied label'],
    [call(payload({ previous: [label(2, 'Teleport: Approved')], current: [label(2, 'Teleport: Approved')] })), 'no approved or denied label'],
    [call(payload({ current: [] })), 'no approved or denied label'],
    [call(payload({ description: 'An issue someone else wrote' })), 'names no access request'],
  ];
  for (const [c, reason] of cases) {
    const reading = readIssueHook(c, { secret: SECRET });
    assert.equal(reading.kind, 'ignored', reason);
    assert.ok(reading.kind === 'ignored' && reading.status === 204 && reading.reason.includes(reason), JSON.stringify(reading));
  }
});

test("label changes by the plugin's own user decide nothing", () => {
  const reading = readIssueHook(call(payload({ user: { id: 1, username: 'teleport-bot', name: 'Bot', email: 'bot@example.com' } })), { secret: SECRET, ignoreUserId: 1 });
  assert.deepEqual(reading, { kind: 'ignored', status: 204, reason: 'label changed by the plugin itself' });
});

test('malformed payloads with a valid token get 400', () => {
  const cases: Array<[HookCall, string]> = [
    [call('{not json'), 'not valid JSON'],
    [call('[1,2]'), 'not a JSON object'],
    [call({ changes: {} }), 'no object_attributes'],
    [call(payload({ attrs: { id: 'x' } })), 'lacks id'],
    [call(payload({ attrs: { project_id: 0 } })), 'lacks id'],
    [call(payload({ user: {} })), 'names no user'],
  ];
  for (const [c, reason] of cases) {
    const reading = readIssueHook(c, { secret: SECRET });
    assert.ok(reading.kind === 'rejected' && reading.status === 400 && reading.reason.includes(reason), JSON.stringify(reading));
  }
});

test('delegator: the email when GitLab sends one, else the username (GitLab 16+ redacts emails)', () => {
  assert.equal(delegatorFor({ email: 'carol@example.com', username: 'carol', name: 'Carol' }), 'gitlab:carol@example.com');
  assert.equal(delegatorFor({ email: '[REDACTED]', username: 'carol', name: 'Carol' }), 'gitlab:carol');
  assert.equal(delegatorFor({ email: undefined, username: '', name: 'Carol' }), 'gitlab:Carol');
  const reading = readIssueHook(call(payload({ user: { id: 42, name: 'Carol', username: 'carol', email: '[REDACTED]' } })), { secret: SECRET });
  assert.equal(reading.kind === 'decision' && reading.decision.delegator, 'gitlab:carol');
});

test('labels without ids are compared by title', () => {
  const reading = readIssueHook(call(payload({ previous: [{ title: 'Teleport: Pending' }], current: [{ title: 'Teleport: Pending' }, { title: 'Teleport: Approved' }] })), {
    secret: SECRET,
  });
  assert.equal(reading.kind === 'decision' && reading.decision.decision, 'approved');
});

test('a string body is read like a buffer', () => {
  const c = call(payload());
  const reading = readIssueHook({ headers: c.headers, rawBody: c.rawBody.toString('utf8') }, { secret: SECRET });
  assert.equal(reading.kind, 'decision');
});
