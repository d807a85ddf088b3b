import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import type { JiraChangelogEntry, JiraComment, JiraUser } from '../src/types.js';
import { WEBHOOK_BODY_LIMIT, lastStatusChange, parseWebhook, reasonIn, resolutionReason, sameJiraUser, sameSecret, signBody, verifyWebhookAuth } from '../src/webhook.js';

const body = Buffer.from(JSON.stringify({ webhookEvent: 'jira:issue_updated' }));
const SECRET = 'a-long-webhook-secret';
const TOKEN = '0123456789abcdefXYZ';

function delivery(headers: Record<string, string> = {}, query = '', raw: Buffer = body) {
  return { headers, query: new URLSearchParams(query), rawBody: raw };
}

test('signature: HMAC-SHA256 of the raw body, as Jira sends it in X-Hub-Signature', () => {
  const signature = `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`;
  assert.equal(signBody(SECRET, body), signature);
  assert.deepEqual(verifyWebhookAuth(delivery({ 'x-hub-signature': signature }), { secret: SECRET }), { ok: true, by: 'signature' });
  assert.deepEqual(verifyWebhookAuth(delivery({ 'x-hub-signature': signature.toUpperCase().replace('SHA256', 'sha256') }), { secret: SECRET }), { ok: true, by: 'signature' });
});

test('a wrong, malformed or missing signature is refused', () => {
  const good = signBody(SECRET, body);
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ 'x-hub-signature': signBody('another-secret', body) }, /does not match/],
    [{ 'x-hub-signature': good.slice(0, -2) }, /does not match/],
    [{ 'x-hub-signature': good.replace('sha256=', 'sha1=') }, /does not match/],
    [{ 'x-hub-signature': '' }, /does not match/],
    [{}, /no credentials.*x-hub-signature/],
  ];
  for (const [headers, reason] of cases) {
    const result = verifyWebhookAuth(delivery(headers), { secret: SECRET });
    assert.equal(result.ok, false, JSON.stringify(headers));
    assert.match((result as { reason: string }).reason, reason);
  }
  // The body is what is signed: a changed body fails.
  const tampered = Buffer.from(body.toString().replace('updated', 'deleted'));
  assert.equal(verifyWebhookAuth(delivery({ 'x-hub-signature': good }, '', tampered), { secret: SECRET }).ok, false);
});

test('URL token, constant-time, and a present signature must be right even with a good token', () => {
  assert.deepEqual(verifyWebhookAuth(delivery({}, `token=${TOKEN}`), { token: TOKEN }), { ok: true, by: 'token' });
  assert.equal(verifyWebhookAuth(delivery({}, `token=${TOKEN}x`), { token: TOKEN }).ok, false);
  assert.equal(verifyWebhookAuth(delivery({}, 'token='), { token: TOKEN }).ok, false);
  assert.match((verifyWebhookAuth(delivery(), { token: TOKEN }) as { reason: string }).reason, /\?token=/);
  // Both configured: either proves the caller...
  assert.deepEqual(verifyWebhookAuth(delivery({}, `token=${TOKEN}`), { secret: SECRET, token: TOKEN }), { ok: true, by: 'token' });
  assert.deepEqual(verifyWebhookAuth(delivery({ 'x-hub-signature': signBody(SECRET, body) }), { secret: SECRET, token: TOKEN }), { ok: true, by: 'signature' });
  // ...but a wrong signature is not rescued by the token.
  assert.equal(verifyWebhookAuth(delivery({ 'x-hub-signature': signBody('nope-nope', body) }, `token=${TOKEN}`), { secret: SECRET, token: TOKEN }).ok, false);
  // Nothing configured here: the server's basic auth or the opt-out decides.
  assert.deepEqual(verifyWebhookAuth(delivery(), {}), { ok: true, by: 'none' });
  assert.equal(sameSecret('a', 'a'), true);
  assert.equal(sameSecret('a', 'ab'), false);
});

function updated(overrides: Record<string, unknown> = {}): string {
  return JSON.stringify({
    timestamp: 1764061500000,
    webhookEvent: 'jira:issue_updated',
    issue_event_type_name: 'issue_generic',
    user: { accountId: 'acc-1', displayName: 'Rita Reviewer', emailAddress: 'rita@example.com' },
    issue: { id: '10001', key: 'REQ-1', fields: { status: { name: 'Approved', id: '10001' } } },
    changelog: { id: '30001', items: [{ field: 'status', fieldtype: 'jira', fieldId: 'status', fromString: 'Pending', toString: 'Approved' }] },
    ...overrides,
  });
}

test('a status change is classified with the issue and the new status (lower case)', () => {
  assert.deepEqual(parseWebhook(updated()), {
    kind: 'status-change',
    issueId: '10001',
    issueKey: 'REQ-1',
    status: 'approved',
    statusName: 'Approved',
    fromStatus: 'Pending',
    user: { accountId: 'acc-1', displayName: 'Rita Reviewer', emailAddress: 'rita@example.com' },
  });
  // Numeric ids, and a status taken from the changelog when the issue fields lack it.
  const event = parseWebhook(updated({ issue: { id: 10002, key: 'REQ-2', fields: {} } }));
  assert.equal(event.kind, 'status-change');
  assert.equal((event as { issueId: string }).issueId, '10002');
  assert.equal((event as { status: string }).status, 'approved');
});

test('every other event is acknowledged and ignored', () => {
  const ignored: Array<[string, RegExp]> = [
    [updated({ webhookEvent: 'jira:issue_created' }), /event "jira:issue_created"/],
    [updated({ webhookEvent: 'comment_created' }), /event/],
    [updated({ issue_event_type_name: 'issue_commented' }), /issue event type "issue_commented"/],
    [updated({ issue_event_type_name: undefined }), /issue event type missing/],
    [updated({ changelog: { id: '1', items: [{ field: 'summary', fieldtype: 'jira', toString: 'x' }] } }), /no status change/],
    [updated({ changelog: undefined }), /no status change/],
    [JSON.stringify({}), /event missing/],
  ];
  for (const [raw, reason] of ignored) {
    const event = parseWebhook(raw);
    assert.equal(event.kind, 'ignore', raw);
    assert.match((event as { reason: string }).reason, reason);
  }
});

test('bad bodies: 400 for what is not JSON or lacks the issue, 413 above 25 MB', () => {
  const invalid: Array<[string | Buffer, number]> = [
    ['not json', 400],
    ['[1,2]', 400],
    ['"a string"', 400],
    [updated({ issue: undefined }), 400],
    [updated({ issue: { key: 'REQ-1', fields: {} } }), 400],
    [updated({ issue: { id: '1', fields: {} }, changelog: { items: [{ field: 'status' }] } }), 400],
    [Buffer.alloc(WEBHOOK_BODY_LIMIT + 1, 0x20), 413],
  ];
  for (const [raw, status] of invalid) {
    const event = parseWebhook(raw);
    assert.equal(event.kind, 'invalid', String(raw).slice(0, 60));
    assert.equal((event as { status: number }).status, status);
  }
});

const rita = { accountId: 'acc-rita', displayName: 'Rita', emailAddress: 'rita@example.com' };
const bot = { accountId: 'acc-bot', displayName: 'Bot' };

function entry(id: string, author: JiraUser, created: string, to: string): JiraChangelogEntry {
  return { id, author, created, items: [{ field: 'status', fieldtype: 'jira', fromString: 'Pending', toString: to }] };
}

test('the reviewer is the author of the latest change to that status, whatever order Jira lists them in', () => {
  const earlier = entry('1', { ...rita, accountId: 'acc-old' }, '2026-11-25T09:00:00.000+0000', 'Approved');
  const later = entry('2', rita, '2026-11-25T10:30:00.000+0100', 'Approved');
  const other = entry('3', bot, '2026-11-25T11:00:00.000+0000', 'Denied');
  assert.equal(lastStatusChange([later, earlier, other], 'approved')?.id, '2', 'newest first (Cloud)');
  assert.equal(lastStatusChange([earlier, later, other], 'approved')?.id, '2', 'oldest first (Server)');
  assert.equal(lastStatusChange([other], 'approved'), undefined);
  const custom = { ...later, items: [{ field: 'status', fieldtype: 'custom', fromString: 'a', toString: 'Approved' }] };
  assert.equal(lastStatusChange([custom], 'approved'), undefined, 'only the Jira status field counts');
});

function comment(id: string, author: JiraUser | undefined, created: string, text: string): JiraComment {
  return { id, body: text, author, created, properties: {} };
}

test("the reason is in the reviewer's newest comment that has one (as upstream)", () => {
  const comments = [
    comment('1', rita, '2026-11-25T09:00:00.000+0000', 'Reason: old reason'),
    comment('2', bot, '2026-11-25T09:30:00.000+0000', 'Reason: the bot says so'),
    comment('3', rita, '2026-11-25T09:40:00.000+0000', 'just chatting'),
    comment('4', rita, '2026-11-25T09:50:00.000+0000', 'Looks good.\nreason:   on call this week  \nthanks'),
  ];
  assert.equal(resolutionReason(comments, rita), 'on call this week');
  assert.equal(resolutionReason([...comments].reverse(), rita), 'on call this week', 'order of the listing does not matter');
  assert.equal(resolutionReason(comments, bot), 'the bot says so');
  assert.equal(resolutionReason(comments, { accountId: 'nobody' }), '');
  assert.equal(resolutionReason([], rita), '');
});

test('reason formats: inline, Resolution:, and a Reason: line followed by text', () => {
  assert.equal(reasonIn('Reason: ship it'), 'ship it');
  assert.equal(reasonIn('  RESOLUTION :  fine by me'), 'fine by me');
  assert.equal(reasonIn('Approving.\nReason:\nline one\nline two\n'), 'line one\nline two\n');
  assert.equal(reasonIn('Reason:\r\nwindows line\r\n'), 'windows line\r\n');
  assert.equal(reasonIn('no reason here'), undefined);
  assert.equal(reasonIn('the reason: is inline but not at the start'), undefined);
});

test('users are the same by accountId (Cloud), else key or name (Server)', () => {
  assert.equal(sameJiraUser({ accountId: 'a' }, { accountId: 'a', displayName: 'x' }), true);
  assert.equal(sameJiraUser({ accountId: 'a' }, { accountId: 'b' }), false);
  assert.equal(sameJiraUser({ accountId: 'a' }, { name: 'a' }), false);
  assert.equal(sameJiraUser({ key: 'JIRAUSER1', name: 'rita' }, { key: 'JIRAUSER1', name: 'rita' }), true);
  assert.equal(sameJiraUser({ name: 'rita' }, { name: 'bob' }), false);
  assert.equal(sameJiraUser({}, {}), false, 'two anonymous users are not the same person');
  assert.equal(sameJiraUser(undefined, rita), false);
});
