// The Slack adapter's handlers called directly (as the dispatcher would call them), each event
// with a real ledger over an in-memory Teleport (core/testing's adapterContext + handlerEvent),
// against the fake Slack Web API.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRetryable } from '@teleport-plugin/core';
import { IDS, blocksText, dmOf, hasButtons, makeReview, noticesFor, postCallsFor, refStrings, rootsFor, storedRefs, useFakeSlackSuite } from './helpers.js';

const suite = useFakeSlackSuite();
const messagesFor = (id: string) => rootsFor(suite.fake, id);

describe('onPending', () => {
  it('posts one message per resolved recipient and stores every ref', async () => {
    const t = await suite.open({
      roleToRecipients: { '*': ['access-requests'], dev: ['dev-access', 'alice@example.com', 'ghost@example.com', '#dev-access'] },
    });
    const request = t.newRequest({
      roles: ['dev', 'editor'],
      suggestedReviewers: ['bob@example.com', 'not an email', 'alice@example.com'],
    });
    await t.h.onPending!(request, await t.event(request.id));

    const posted = messagesFor(request.id);
    const channels = posted.map((m) => m.channel).sort();
    // dev-access (once), alice DM, access-requests (editor -> "*"), bob DM, requester DM; ghost skipped.
    assert.deepEqual(channels, [IDS.access, IDS.dev, dmOf(IDS.alice), dmOf(IDS.bob), dmOf(IDS.requester)].sort());
    const data = t.data(request.id)!;
    assert.deepEqual(storedRefs(data), refStrings(posted));
    assert.match(data.messages!, /^[A-Z0-9]+\/\d+\.\d+(,[A-Z0-9]+\/\d+\.\d+)*$/);
    // One write-ahead record per recipient, done, naming the message it posted; the requester's copy apart.
    const records = Object.keys(data)
      .filter((k) => k.startsWith('fx/post/'))
      .sort();
    assert.deepEqual(records, ['fx/post/U0ALICE', `fx/post/${IDS.bob}`, 'fx/post/access-requests', 'fx/post/dev-access', `fx/post/requester/${IDS.requester}`].sort());
    for (const k of records) assert.match(data[k]!, /^ok:[A-Z0-9]+\/\d+\.\d+$/, k);
    assert.ok(t.logger.entries.some((e) => e.level === 'warn' && e.fields.recipient === 'ghost@example.com'));
    assert.ok(t.logger.entries.some((e) => e.level === 'warn' && e.fields.reviewer === 'not an email'));

    const text = blocksText(posted[0]!.blocks);
    assert.match(text, /^You have a new Role Request:\n\*ID\*: req-\d+-\d+\n\*Cluster\*: test\.example\.com\n\*User\*: requester@example\.com\n/);
    assert.match(text, /\*Status\*: ⏳ PENDING/);
    assert.match(text, /tsh request review --approve/);
    // Reviews are off by default: no buttons anywhere.
    assert.ok(posted.every((m) => !hasButtons(m)));
    // Every message carries the metadata it is found again by.
    for (const m of posted) assert.deepEqual(m.metadata, { event_type: 'teleport_access_request', event_payload: { request_id: request.id, kind: 'request' } });

    // A retried handler posts nothing new, and asks Slack nothing (the records say it is done).
    const calls = suite.fake.calls.length;
    await t.h.onPending!(request, await t.event(request.id, { attempt: 2 }));
    assert.equal(messagesFor(request.id).length, 5);
    assert.deepEqual(
      suite.fake.calls.slice(calls).filter((c) => /chat\.postMessage|conversations\.history/.test(c.path)),
      [],
    );
  });

  it('keeps posting to other channels when one fails for good, logs which and why, and stores the rest', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['private-ops', 'missing-channel', 'access-requests'] } });
    const request = t.newRequest({ user: 'someone' });
    // Refusals that retrying cannot fix do not fail the step: nothing to retry.
    await t.h.onPending!(request, await t.event(request.id));
    assert.deepEqual(
      messagesFor(request.id).map((m) => m.channel),
      [IDS.access],
    );
    assert.equal(t.refs(request.id).length, 1);
    const errors = t.logger.entries.filter((e) => e.level === 'error' && /could not post the request message to; skipped/.test(e.message));
    assert.ok(errors.some((e) => e.fields.recipient === 'private-ops' && /not_in_channel/.test(String(e.fields.error))));
    assert.ok(errors.some((e) => e.fields.recipient === 'missing-channel' && /channel_not_found/.test(String(e.fields.error))));
    // Slack answered "no": nothing happened, so the write-ahead record is cleared, not left "maybe".
    assert.equal(t.data(request.id)!['fx/post/private-ops'], undefined);
  });

  it('fails the event on a transient error and a retry posts only the missing message', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = t.newRequest({ user: 'someone' });
    // A Retry-After beyond the policy's limit fails that one post at once, as a retryable error.
    suite.fake.fail({ path: '/api/chat.postMessage', status: 429, headers: { 'retry-after': '120' } });
    await assert.rejects(t.h.onPending!(request, await t.event(request.id)), (err) => isRetryable(err) && /could not post/.test(String(err)));
    assert.equal(messagesFor(request.id).length, 1);
    assert.equal(t.refs(request.id).length, 1);
    await t.h.onPending!(request, await t.event(request.id, { attempt: 2 }));
    assert.deepEqual(
      messagesFor(request.id)
        .map((m) => m.channel)
        .sort(),
      [IDS.access, IDS.dev],
    );
    assert.deepEqual(storedRefs(t.data(request.id)), refStrings(messagesFor(request.id)));
  });

  it('finds a post Slack made but did not answer in time, instead of posting it again', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['access-requests'] } }, { adapter: { policy: { baseMs: 5, capMs: 20 } } });
    const request = t.newRequest({ user: 'someone' });
    // Slack receives the post but answers after our timeout: the message exists, we never learn its ts.
    // The handler attempt's deadline (the dispatcher's handler timeout) ends the wait.
    suite.fake.slowDownPosts(1, 600);
    await assert.rejects(t.h.onPending!(request, await t.event(request.id, { signal: AbortSignal.timeout(250) })), (err) => isRetryable(err));
    // The outcome is unknown: the record stays "started" (it is neither cleared nor marked done).
    assert.match(t.data(request.id)!['fx/post/access-requests'] ?? '', /^run:test:\d+$/);
    await suite.fake.waitFor(() => messagesFor(request.id).length === 1);
    // The dispatcher's retry (or a restart) asks Slack (message metadata) and records what it finds.
    await t.h.onPending!(request, await t.event(request.id, { attempt: 2 }));
    const [message] = messagesFor(request.id);
    assert.equal(messagesFor(request.id).length, 1);
    assert.equal(postCallsFor(suite.fake, request.id).length, 1);
    assert.deepEqual(storedRefs(t.data(request.id)), [`${IDS.access}/${message!.ts}`]);
    assert.equal(t.data(request.id)!['fx/post/access-requests'], `ok:${IDS.access}/${message!.ts}`);
    assert.ok(t.logger.entries.some((e) => e.level === 'info' && /had happened already; recorded, not repeated/.test(e.message)));
  });

  it('reports the adapter unhealthy when Slack refuses the token, retries the post, and healthy again after', async () => {
    const t = await suite.open();
    const request = t.newRequest({ user: 'someone' });
    suite.fake.fail({ path: '/api/chat.postMessage', status: 200, body: { ok: false, error: 'token_revoked' } });
    // A refused token is not this channel refusing for good: the step fails and is tried again.
    await assert.rejects(t.h.onPending!(request, await t.event(request.id)), (err) => isRetryable(err));
    assert.deepEqual(t.health, [{ healthy: false, reason: 'Slack chat.postMessage: token_revoked: Slack rejected the bot token; update [slack] token' }]);
    assert.equal(t.data(request.id)!['fx/post/access-requests'], undefined);
    await t.h.onPending!(request, await t.event(request.id, { attempt: 2 }));
    assert.deepEqual(t.health.at(-1), { healthy: true });
    assert.equal(messagesFor(request.id).length, 1);
  });

  it('does not post again for data written by the Go plugin (messages without post records)', async () => {
    const t = await suite.open();
    const request = t.newRequest();
    t.teleport.setPluginData(request.id, 'slack', { ...t.data(request.id), messages: `${IDS.access}/1700000000.000001` });
    await t.h.onPending!(request, await t.event(request.id));
    assert.equal(messagesFor(request.id).length, 0);
    assert.equal(postCallsFor(suite.fake, request.id).length, 0);
  });

  it('shows logins per role from Teleport and remembers them for later re-renders', async () => {
    const t = await suite.open({}, { webProxyUrl: 'https://proxy.example.com' });
    t.teleport.addUser('requester@example.com', { logins: ['alice', 'ops'] });
    t.teleport.addRole('editor', { allowLogins: ['root', '{{internal.logins}}'] });
    const request = t.newRequest();
    await t.h.onPending!(request, await t.event(request.id));
    const text = blocksText(messagesFor(request.id)[0]!.blocks);
    assert.match(text, /\*Role\*: `editor` \*Login\(s\)\*: `root, alice, ops`\n/);
    assert.match(text, new RegExp(`\\*Link\\*: https://proxy\\.example\\.com/web/requests/${request.id}\\n`));
    assert.doesNotMatch(text, /tsh request review/);
    assert.equal(t.data(request.id)!.logins_by_role, '{"editor":["root","alice","ops"]}');

    // The request is gone: the message is rebuilt from plugin data alone, logins included.
    t.teleport.remove(request.id, false);
    await t.h.onExpired!(request.id, await t.event(request.id));
    for (const m of messagesFor(request.id)) assert.match(blocksText(m.blocks), /\*Login\(s\)\*: `root, alice, ops`[\s\S]*\*Status\*: ⌛ EXPIRED/);
  });

  it('skips logins silently when roles cannot be read', async () => {
    const t = await suite.open();
    const request = t.newRequest({ roles: ['editor', 'viewer'] });
    await t.h.onPending!(request, await t.event(request.id));
    assert.match(blocksText(messagesFor(request.id)[0]!.blocks), /\*Role\(s\)\*: `editor,viewer`/);
    assert.deepEqual(
      t.logger.entries.filter((e) => e.level === 'warn' || e.level === 'error'),
      [],
    );
  });

  it('adds approve/deny buttons for reviewers only when reviews are enabled', async () => {
    const review = { enabled: true, appToken: undefined, signingSecret: 'x', slackUserIdTrait: 'slack', allowEmailUsernameMatch: false };
    const t = await suite.open({ review });
    const request = t.newRequest();
    await t.h.onPending!(request, await t.event(request.id));
    const byChannel = new Map(messagesFor(request.id).map((m) => [m.channel, m]));
    assert.ok(hasButtons(byChannel.get(IDS.access)!), 'channel message has buttons');
    assert.equal(hasButtons(byChannel.get(dmOf(IDS.requester))!), false, 'the requester copy has no buttons');
  });
});

describe('onReviewed', () => {
  it('replies once per review in every thread, in order, even when retried', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = t.newRequest({ user: 'someone' });
    await t.h.onPending!(request, await t.event(request.id));
    const refs = t.refs(request.id);
    assert.equal(refs.length, 2);

    request.reviews.push(makeReview('alice', 'APPROVED', 'ok'), makeReview('bob', 'DENIED'));
    await t.h.onReviewed!(request, request.reviews.slice(0), await t.event(request.id));
    await t.h.onReviewed!(request, request.reviews.slice(0), await t.event(request.id, { attempt: 2 }));
    request.reviews.push(makeReview('carol', 'APPROVED'));
    await t.h.onReviewed!(request, request.reviews.slice(2), await t.event(request.id));
    for (const ref of refs) {
      const replies = suite.fake.replies(ref.channel, ref.id);
      assert.deepEqual(
        replies.map((m) => m.text.split(' ')[0]),
        ['alice', 'bob', 'carol'],
      );
      assert.deepEqual(
        replies.map((m) => m.metadata?.event_payload.kind),
        ['review:0', 'review:1', 'review:2'],
      );
    }
    assert.match(
      suite.fake.replies(refs[0]!.channel, refs[0]!.id)[0]!.text,
      /^alice reviewed the request at 25 Nov 26 10:05 UTC\.\nResolution: ✅ APPROVED\.\nReason: ```\nok```$/,
    );
    const data = t.data(request.id)!;
    for (const ref of refs) for (const i of [0, 1, 2]) assert.equal(data[`fx/reply/${i}/${ref.channel}/${ref.id}`], 'ok');
  });

  it('finds a review reply Slack made but did not answer in time, instead of replying again', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['access-requests'] } }, { adapter: { policy: { baseMs: 5, capMs: 20 } } });
    const request = t.newRequest({ user: 'someone' });
    await t.h.onPending!(request, await t.event(request.id));
    const [ref] = t.refs(request.id);
    request.reviews.push(makeReview('alice', 'APPROVED'));
    suite.fake.slowDownPosts(1, 600);
    await assert.rejects(t.h.onReviewed!(request, request.reviews.slice(0), await t.event(request.id, { signal: AbortSignal.timeout(250) })), (err) => isRetryable(err));
    await suite.fake.waitFor(() => suite.fake.replies(ref!.channel, ref!.id).length === 1);
    await t.h.onReviewed!(request, request.reviews.slice(0), await t.event(request.id, { attempt: 2 }));
    assert.equal(suite.fake.replies(ref!.channel, ref!.id).length, 1);
    assert.equal(postCallsFor(suite.fake, request.id, 'review:0').length, 1);
    assert.equal(t.data(request.id)![`fx/reply/0/${ref!.channel}/${ref!.id}`], 'ok:found');
  });
});

describe('resolution', () => {
  it('updates every message and DMs the requester once on approval', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = t.newRequest();
    await t.h.onPending!(request, await t.event(request.id));
    const resolved = { ...request, state: 'APPROVED' as const, resolveReason: 'all good' };
    await t.h.onResolved!(resolved, await t.event(request.id));
    await t.h.onResolved!(resolved, await t.event(request.id, { attempt: 2 }));
    assert.equal(messagesFor(request.id).length, 3);
    for (const m of messagesFor(request.id)) {
      const text = blocksText(m.blocks);
      assert.match(text, /\*Status\*: ✅ APPROVED\n\*Resolution reason\*: ```\nall good```/);
      assert.doesNotMatch(text, /tsh request review/);
      assert.ok(m.updates >= 1);
    }
    assert.deepEqual(
      noticesFor(suite.fake, request.id).map((m) => [m.channel, m.text]),
      [[dmOf(IDS.requester), `Request with ID "${request.id}" has been updated: *APPROVED*`]],
    );
    assert.equal(t.data(request.id)!['fx/notice/APPROVED'], 'ok');
  });

  it('marks expiry from plugin data alone and tells the requester', async () => {
    const t = await suite.open();
    const request = t.newRequest();
    await t.h.onPending!(request, await t.event(request.id));
    t.teleport.remove(request.id, false);
    await t.h.onExpired!(request.id, await t.event(request.id));
    assert.equal(messagesFor(request.id).length, 2);
    for (const m of messagesFor(request.id)) assert.match(blocksText(m.blocks), /\*Status\*: ⌛ EXPIRED$/);
    assert.deepEqual(
      noticesFor(suite.fake, request.id).map((m) => [m.channel, m.text]),
      [[dmOf(IDS.requester), `Request with ID "${request.id}" has been updated: *EXPIRED*`]],
    );
  });

  it('does not DM the requester on PROMOTED', async () => {
    const t = await suite.open();
    const request = t.newRequest();
    await t.h.onPending!(request, await t.event(request.id));
    await t.h.onResolved!({ ...request, state: 'PROMOTED' }, await t.event(request.id));
    assert.match(blocksText(messagesFor(request.id)[0]!.blocks), /\*Status\*: {2}PROMOTED/);
    assert.deepEqual(noticesFor(suite.fake, request.id), []);
  });

  it('updates a message stored with the legacy channel_id/timestamp keys', async () => {
    const t = await suite.open();
    const request = t.newRequest({ user: 'someone' });
    const old = await fetch(`${suite.fake.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${suite.fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel: IDS.access, text: 'legacy' }),
    }).then((r) => r.json() as Promise<{ ts: string }>);
    t.teleport.setPluginData(request.id, 'slack', { ...t.data(request.id), channel_id: IDS.access, timestamp: old.ts });
    await t.h.onResolved!({ ...request, state: 'DENIED' }, await t.event(request.id));
    const msg = suite.fake.findMessage(IDS.access, old.ts)!;
    assert.equal(msg.updates, 1);
    assert.match(blocksText(msg.blocks), /\*Status\*: ❌ DENIED/);
  });

  it('a message deleted in Slack is logged and skipped; the others are still updated', async () => {
    const t = await suite.open({ roleToRecipients: { '*': ['access-requests', 'dev-access'] } });
    const request = t.newRequest({ user: 'someone' });
    await t.h.onPending!(request, await t.event(request.id));
    const [gone, kept] = t.refs(request.id).sort((a, b) => a.channel.localeCompare(b.channel));
    suite.fake.messages.splice(
      suite.fake.messages.findIndex((m) => m.channel === gone!.channel && m.ts === gone!.id),
      1,
    );
    await t.h.onResolved!({ ...request, state: 'APPROVED' }, await t.event(request.id));
    assert.match(blocksText(suite.fake.findMessage(kept!.channel, kept!.id)!.blocks), /✅ APPROVED/);
    assert.ok(t.logger.entries.some((e) => e.level === 'error' && /could not update the message in; skipped/.test(e.message) && /message_not_found/.test(String(e.fields.error))));
  });
});
