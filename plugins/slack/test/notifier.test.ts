import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { accessRequestSnapshot, type AccessRequest, type AdapterHandlers } from '@teleport-plugin/core';
import { blocksText } from '@teleport-plugin/testkit';
import { setupSlack } from '../src/adapter.js';
import type { SlackConfig } from '../src/config.js';
import { parseMessageRefs } from '../src/plugin-data.js';
import { FAST_RETRY, baseConfig, makeEvent, makeRequest, makeReview, useFakeSlackSuite, type TestContext } from './helpers.js';

const suite = useFakeSlackSuite();
let counter = 0;

async function setup(
  over: Partial<SlackConfig> = {},
  options: { webProxyUrl?: string; timeoutMs?: number } = {},
): Promise<{ t: TestContext; h: AdapterHandlers }> {
  const t = suite.context(baseConfig(suite.fake, over), options);
  const h = await setupSlack(t.ctx, options.timeoutMs ? { retry: FAST_RETRY, timeoutMs: options.timeoutMs } : { retry: FAST_RETRY });
  return { t, h };
}

/** A fresh request id per test, its snapshot created as the dispatcher would. */
function newRequest(tc: TestContext, over: Partial<AccessRequest> = {}): AccessRequest {
  counter += 1;
  const request = makeRequest({ id: `req-n${counter}`, ...over });
  tc.store.entries.set(request.id, Object.fromEntries(Object.entries(accessRequestSnapshot(request)).filter(([, v]) => v !== '')));
  return request;
}

const messagesFor = (id: string) => suite.fake.rootMessages().filter((m) => blocksText(m.blocks).includes(`*ID*: ${id}\n`));

describe('onPending', () => {
  it('posts one message per resolved recipient and stores every ref', async () => {
    const { t, h } = await setup({
      roleToRecipients: { '*': ['access-requests'], dev: ['dev-access', 'alice@example.com', 'ghost@example.com', '#dev-access'] },
    });
    const request = newRequest(t, {
      roles: ['dev', 'editor'],
      suggestedReviewers: ['bob@example.com', 'not an email', 'alice@example.com'],
    });
    await h.onPending!(request, makeEvent(t, request.id));

    const posted = messagesFor(request.id);
    const channels = posted.map((m) => m.channel).sort();
    // dev-access (once), alice DM, access-requests (editor -> "*"), bob DM, requester DM; ghost skipped.
    assert.deepEqual(channels, ['C0ACCESS', 'C0DEV', 'D0ALICE', 'D0BOB', 'D0REQ']);
    const refs = parseMessageRefs(t.store.entries.get(request.id));
    assert.deepEqual(refs.map((r) => r.channel).sort(), channels);
    assert.match(t.store.entries.get(request.id)!.messages!, /^[A-Z0-9]+\/\d+\.\d+(,[A-Z0-9]+\/\d+\.\d+)*$/);
    assert.ok(t.logger.entries.some((e) => e.level === 'warn' && e.fields.recipient === 'ghost@example.com'));
    assert.ok(t.logger.entries.some((e) => e.level === 'warn' && e.fields.reviewer === 'not an email'));

    const text = blocksText(posted[0]!.blocks);
    assert.match(text, /^You have a new Role Request:\n\*ID\*: req-n\d+\n\*Cluster\*: test-cluster\n\*User\*: requester@example\.com\n/);
    assert.match(text, /\*Status\*: ⏳ PENDING/);
    assert.match(text, /tsh request review --approve/);
    // Reviews are off by default: no buttons anywhere.
    assert.ok(posted.every((m) => !m.blocks.some((b) => (b as { type?: string }).type === 'actions')));

    // A retried handler posts nothing new.
    await h.onPending!(request, makeEvent(t, request.id, { attempt: 2 }));
    assert.equal(messagesFor(request.id).length, 5);
  });

  it('keeps posting to other channels when one fails, logs how to fix it, and stores the rest', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['private-ops', 'missing-channel', 'access-requests'] } });
    const request = newRequest(t, { user: 'someone' });
    await h.onPending!(request, makeEvent(t, request.id));
    assert.deepEqual(messagesFor(request.id).map((m) => m.channel), ['C0ACCESS']);
    assert.equal(parseMessageRefs(t.store.entries.get(request.id)).length, 1);
    const errors = t.logger.entries.filter((e) => e.level === 'error');
    assert.ok(errors.some((e) => e.fields.channel === 'private-ops' && e.fields.slackError === 'not_in_channel' && /invite/.test(e.message)));
    assert.ok(errors.some((e) => e.fields.channel === 'missing-channel' && e.fields.slackError === 'channel_not_found'));
  });

  it('fails the event on a transient error and a retry posts only the missing message', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = newRequest(t, { user: 'someone' });
    // A Retry-After beyond the policy's limit fails that one post at once, as a retryable error.
    suite.fake.fail({ path: '/api/chat.postMessage', status: 429, headers: { 'retry-after': '120' } });
    await assert.rejects(h.onPending!(request, makeEvent(t, request.id)), /could not post/);
    assert.equal(messagesFor(request.id).length, 1);
    assert.equal(parseMessageRefs(t.store.entries.get(request.id)).length, 1);
    await h.onPending!(request, makeEvent(t, request.id, { attempt: 2 }));
    assert.deepEqual(messagesFor(request.id).map((m) => m.channel).sort(), ['C0ACCESS', 'C0DEV']);
  });

  it('never posts twice when a retry starts while the timed-out attempt is still in flight', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = newRequest(t, { user: 'someone' });
    suite.fake.slowDownPosts(2, 300);
    const first = new AbortController();
    const received = once(suite.fake, 'post-received');
    const attempt1 = h.onPending!(request, makeEvent(t, request.id, { signal: first.signal })).catch(() => undefined);
    await received;
    // The dispatcher's handler timeout: attempt 1 is abandoned with its posts in flight.
    first.abort(new Error('handler timeout'));
    await h.onPending!(request, makeEvent(t, request.id, { attempt: 2 }));
    await attempt1;
    assert.deepEqual(messagesFor(request.id).map((m) => m.channel).sort(), ['C0ACCESS', 'C0DEV']);
    assert.equal(parseMessageRefs(t.store.entries.get(request.id)).length, 2);
  });

  it('never posts twice when Slack does not answer in time: plugin data remembers the unanswered post', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['access-requests'] } }, { timeoutMs: 500 });
    const request = newRequest(t, { user: 'someone' });
    // Slack receives the post but answers after our timeout: the message exists, we never learn its ts.
    suite.fake.slowDownPosts(1, 1500);
    await h.onPending!(request, makeEvent(t, request.id));
    await suite.fake.waitFor(() => messagesFor(request.id).length === 1);
    assert.equal(t.store.entries.get(request.id)!.posting, 'access-requests');
    assert.ok(t.logger.entries.some((e) => e.level === 'error' && e.fields.channel === 'access-requests' && /not repeated/.test(e.message)));
    // The dispatcher's retry (or a restart) must not post it again.
    await h.onPending!(request, makeEvent(t, request.id, { attempt: 2 }));
    assert.equal(messagesFor(request.id).length, 1);
    assert.equal(suite.fake.callsTo('POST', '/api/chat.postMessage').filter((c) => String(c.form?.get('text') ?? '').includes(request.id)).length, 1);
  });

  it('reports the adapter unhealthy when Slack refuses the token, and healthy again after', async () => {
    const { t, h } = await setup();
    const request = newRequest(t, { user: 'someone' });
    suite.fake.fail({ path: '/api/chat.postMessage', status: 200, body: { ok: false, error: 'token_revoked' } });
    await assert.rejects(h.onPending!(request, makeEvent(t, request.id)));
    assert.deepEqual(t.health, [{ healthy: false, reason: 'Slack rejected the bot token (token_revoked); update [slack] token' }]);
    await h.onPending!(request, makeEvent(t, request.id, { attempt: 2 }));
    assert.deepEqual(t.health.at(-1), { healthy: true });
    assert.equal(messagesFor(request.id).length, 1);
  });

  it('does not post again for data written by the Go plugin (messages without posted_to)', async () => {
    const { t, h } = await setup();
    const request = newRequest(t);
    t.store.entries.get(request.id)!.messages = 'C0ACCESS/1700000000.000001';
    await h.onPending!(request, makeEvent(t, request.id));
    assert.equal(messagesFor(request.id).length, 0);
  });

  it('shows logins per role from Teleport and remembers them for later re-renders', async () => {
    const { t, h } = await setup({}, { webProxyUrl: 'https://proxy.example.com' });
    t.teleport.users.set('requester@example.com', { name: 'requester@example.com', roles: [], traits: { logins: ['alice', 'ops'] } });
    t.teleport.roles.set('editor', {
      name: 'editor',
      allowLogins: ['root', '{{internal.logins}}'],
      requestRoles: [],
      requestAnnotations: {},
      requestThresholds: [],
      requestSuggestedReviewers: [],
      reviewRoles: [],
    });
    const request = newRequest(t);
    await h.onPending!(request, makeEvent(t, request.id));
    const text = blocksText(messagesFor(request.id)[0]!.blocks);
    assert.match(text, /\*Role\*: `editor` \*Login\(s\)\*: `root, alice, ops`\n/);
    assert.match(text, new RegExp(`\\*Link\\*: https://proxy\\.example\\.com/web/requests/${request.id}\\n`));
    assert.doesNotMatch(text, /tsh request review/);
    assert.equal(t.store.entries.get(request.id)!.logins_by_role, '{"editor":["root","alice","ops"]}');

    await h.onExpired!(request.id, makeEvent(t, request.id));
    const updated = messagesFor(request.id)[0]!;
    assert.match(blocksText(updated.blocks), /\*Login\(s\)\*: `root, alice, ops`[\s\S]*\*Status\*: ⌛ EXPIRED/);
  });

  it('skips logins silently when roles cannot be read', async () => {
    const { t, h } = await setup();
    const request = newRequest(t, { roles: ['editor', 'viewer'] });
    await h.onPending!(request, makeEvent(t, request.id));
    assert.match(blocksText(messagesFor(request.id)[0]!.blocks), /\*Role\(s\)\*: `editor,viewer`/);
  });

  it('adds approve/deny buttons for reviewers only when reviews are enabled', async () => {
    const review = { enabled: true, appToken: undefined, signingSecret: 'x', slackUserIdTrait: 'slack', allowEmailUsernameMatch: false };
    const { t, h } = await setup({ review });
    const request = newRequest(t);
    await h.onPending!(request, makeEvent(t, request.id));
    const byChannel = new Map(messagesFor(request.id).map((m) => [m.channel, m]));
    const actions = (m: (typeof suite.fake.messages)[number] | undefined) => m?.blocks.find((b) => (b as { type?: string }).type === 'actions');
    assert.ok(actions(byChannel.get('C0ACCESS')), 'channel message has buttons');
    assert.equal(actions(byChannel.get('D0REQ')), undefined, 'the requester copy has no buttons');
  });
});

describe('onReviewed', () => {
  it('replies once per review in every thread, in order, even when retried', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = newRequest(t, { user: 'someone' });
    await h.onPending!(request, makeEvent(t, request.id));
    const refs = parseMessageRefs(t.store.entries.get(request.id));
    assert.equal(refs.length, 2);

    request.reviews.push(makeReview('alice', 'APPROVED', 'ok'), makeReview('bob', 'DENIED'));
    await h.onReviewed!(request, request.reviews.slice(0), makeEvent(t, request.id));
    await h.onReviewed!(request, request.reviews.slice(0), makeEvent(t, request.id, { attempt: 2 }));
    request.reviews.push(makeReview('carol', 'APPROVED'));
    await h.onReviewed!(request, request.reviews.slice(2), makeEvent(t, request.id));
    for (const ref of refs) {
      const replies = suite.fake.replies(ref.channel, ref.ts).map((m) => m.text.split(' ')[0]);
      assert.deepEqual(replies, ['alice', 'bob', 'carol']);
    }
    assert.match(suite.fake.replies(refs[0]!.channel, refs[0]!.ts)[0]!.text, /^alice reviewed the request at 25 Nov 26 10:05 UTC\.\nResolution: ✅ APPROVED\.\nReason: ```\nok```$/);
  });

  it('does not repeat a review reply that got no answer in time', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['access-requests'] } }, { timeoutMs: 500 });
    const request = newRequest(t, { user: 'someone' });
    await h.onPending!(request, makeEvent(t, request.id));
    const [ref] = parseMessageRefs(t.store.entries.get(request.id));
    request.reviews.push(makeReview('alice', 'APPROVED'));
    suite.fake.slowDownPosts(1, 1500);
    await h.onReviewed!(request, request.reviews.slice(0), makeEvent(t, request.id));
    await suite.fake.waitFor(() => suite.fake.replies(ref!.channel, ref!.ts).length === 1);
    await h.onReviewed!(request, request.reviews.slice(0), makeEvent(t, request.id, { attempt: 2 }));
    assert.equal(suite.fake.replies(ref!.channel, ref!.ts).length, 1);
  });
});

describe('resolution', () => {
  it('updates every message and DMs the requester once on approval', async () => {
    const { t, h } = await setup({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = newRequest(t);
    await h.onPending!(request, makeEvent(t, request.id));
    const resolved = { ...request, state: 'APPROVED' as const, resolveReason: 'all good' };
    await h.onResolved!(resolved, makeEvent(t, request.id));
    await h.onResolved!(resolved, makeEvent(t, request.id, { attempt: 2 }));
    for (const m of messagesFor(request.id)) {
      const text = blocksText(m.blocks);
      assert.match(text, /\*Status\*: ✅ APPROVED\n\*Resolution reason\*: ```\nall good```/);
      assert.doesNotMatch(text, /tsh request review/);
      assert.ok(m.updates >= 1);
    }
    const dms = suite.fake.messages.filter((m) => m.channel === 'D0REQ' && m.text.startsWith(`Request with ID "${request.id}"`));
    assert.deepEqual(dms.map((m) => m.text), [`Request with ID "${request.id}" has been updated: *APPROVED*`]);
  });

  it('marks expiry from plugin data alone and tells the requester', async () => {
    const { t, h } = await setup();
    const request = newRequest(t);
    await h.onPending!(request, makeEvent(t, request.id));
    await h.onExpired!(request.id, makeEvent(t, request.id));
    for (const m of messagesFor(request.id)) assert.match(blocksText(m.blocks), /\*Status\*: ⌛ EXPIRED$/);
    assert.ok(suite.fake.messages.some((m) => m.channel === 'D0REQ' && m.text === `Request with ID "${request.id}" has been updated: *EXPIRED*`));
  });

  it('does not DM the requester on PROMOTED', async () => {
    const { t, h } = await setup();
    const request = newRequest(t);
    await h.onPending!(request, makeEvent(t, request.id));
    await h.onResolved!({ ...request, state: 'PROMOTED' }, makeEvent(t, request.id));
    assert.match(blocksText(messagesFor(request.id)[0]!.blocks), /\*Status\*: {2}PROMOTED/);
    assert.ok(!suite.fake.messages.some((m) => m.text.includes(`"${request.id}" has been updated`)));
  });

  it('updates a message stored with the legacy channel_id/timestamp keys', async () => {
    const { t, h } = await setup();
    const request = newRequest(t, { user: 'someone' });
    const old = await fetch(`${suite.fake.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${suite.fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: 'C0ACCESS', text: 'legacy' }),
    }).then((r) => r.json() as Promise<{ ts: string }>);
    Object.assign(t.store.entries.get(request.id)!, { channel_id: 'C0ACCESS', timestamp: old.ts });
    await h.onResolved!({ ...request, state: 'DENIED' }, makeEvent(t, request.id));
    const msg = suite.fake.findMessage('C0ACCESS', old.ts)!;
    assert.equal(msg.updates, 1);
    assert.match(blocksText(msg.blocks), /\*Status\*: ❌ DENIED/);
  });
});
