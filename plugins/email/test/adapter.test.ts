// The email adapter in the real runtime (watcher, dispatcher, ledger) on an in-memory Teleport,
// sending to a real SMTP server (STARTTLS with the testkit PKI's certificate, AUTH): what the
// server received, parsed, is what every assertion reads.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeEmailThreads } from '../src/index.js';
import { DEV, PASS, REVIEWERS, USER, expectedId, mailsOf, newRequest, startSmtpEnv } from './helpers.js';
import type { SmtpEnv } from './helpers.js';

const CLUSTER = 'test.example.com';

describe('email over SMTP in the real runtime', () => {
  let env: SmtpEnv;
  before(async () => {
    env = await startSmtpEnv();
  });
  after(async () => {
    await env?.close();
  });

  it('threads the first mail, the review replies and the resolution by their headers', async () => {
    const { server, t } = env;
    const r = t.teleport.put(newRequest({ suggestedReviewers: ['sam@example.com'] }));
    await t.settled();

    const recipients = [...DEV, 'sam@example.com'];
    for (const to of recipients) {
      const [first, ...more] = mailsOf(server, r.id, to);
      assert.ok(first, `no mail to ${to}`);
      assert.equal(more.length, 0, `one first mail to ${to}`);
      assert.equal(first.messageId, expectedId(r.id, 'first', to));
      assert.equal(first.inReplyTo, undefined);
      assert.equal(first.subject, `${CLUSTER} Role Request ${r.id}`);
      assert.match(first.from, /^"?Teleport"? <noreply@example\.com>$/);
      assert.deepEqual(first.envelope, { mailFrom: 'noreply@example.com', rcptTo: [to] });
      assert.ok(first.secure, 'sent over STARTTLS');
      assert.equal(first.user, USER);
      assert.equal(
        first.text.trim(),
        [
          'You have a new Role Request:',
          '',
          `ID: ${r.id}`,
          `Cluster: ${CLUSTER}`,
          'User: alice@example.com',
          'Role(s): dev',
          'Reason: fix the deploy',
          `Approve: tsh request review --approve ${r.id}`,
          `Deny: tsh request review --deny ${r.id}`,
          '',
          'Status: ⏳ PENDING',
        ].join('\n'),
      );
      assert.match(first.html ?? '', /<b>ID:<\/b> 7c4e9d2a-/, 'an HTML part next to the text');
    }
    // `*` only for roles without an entry of their own, as upstream.
    assert.equal(mailsOf(server, r.id, REVIEWERS[0]!).length, 0);

    // Plugin data in the Go layout: email/timestamp/messageID, comma-joined, ids without brackets.
    const data = t.data(r.id)!;
    const threads = decodeEmailThreads(data);
    assert.deepEqual(threads.map((th) => th.email).sort(), [...recipients].sort());
    for (const th of threads) {
      assert.equal(`<${th.messageId}>`, expectedId(r.id, 'first', th.email));
      assert.match(th.timestamp, /^\d{4}-\d\d-\d\dT/);
    }
    assert.equal(data['user'], 'alice@example.com');
    assert.equal(data['roles'], 'dev');
    assert.equal(data['request_reason'], 'fix the deploy');

    t.teleport.review(r.id, 'bob@example.com', 'APPROVED', 'looks fine');
    await t.settled();
    t.teleport.review(r.id, 'carol@example.com', 'DENIED', 'not during the freeze', true);
    await t.settled();

    for (const to of recipients) {
      const mails = mailsOf(server, r.id, to);
      const firstId = expectedId(r.id, 'first', to);
      assert.deepEqual(
        mails.map((m) => m.messageId),
        [firstId, expectedId(r.id, 'review-1', to), expectedId(r.id, 'review-2', to), expectedId(r.id, 'outcome', to)],
        `thread of ${to}`,
      );
      for (const reply of mails.slice(1)) {
        assert.equal(reply.inReplyTo, firstId);
        assert.deepEqual(reply.references, [firstId]);
        assert.equal(reply.subject, `${CLUSTER} Role Request ${r.id}`);
      }
      assert.match(mails[1]!.text, /^bob@example\.com reviewed the request at .+ UTC\.\nResolution: ✅ APPROVED\.\nReason: looks fine\./);
      assert.match(mails[2]!.text, /^carol@example\.com reviewed the request at .+ UTC\.\nResolution: ❌ DENIED\.\nReason: not during the freeze\./);
      assert.match(mails[3]!.text, /^Role Request has been resolved:\n/);
      assert.match(mails[3]!.text.trim(), /\nStatus: ❌ DENIED \(not during the freeze\)$/);
    }
    // The requester hears the outcome, with the reason (users ask for it).
    const notice = mailsOf(server, r.id, 'alice@example.com');
    assert.equal(notice.length, 1);
    assert.equal(notice[0]!.messageId, expectedId(r.id, 'requester', 'alice@example.com'));
    assert.match(notice[0]!.text, /^Your Role Request has been denied:\n/);
    assert.match(notice[0]!.text.trim(), /Status: ❌ DENIED \(not during the freeze\)$/);
    assert.equal(t.data(r.id)?.['resolution'], 'DENIED');
    assert.equal(t.data(r.id)?.['resolve_reason'], 'not during the freeze');

    // A replay (the reconciliation after a reconnect) sends nothing more.
    const before = server.mails.length;
    await t.runtime.reconcile();
    await t.settled();
    assert.equal(server.mails.length, before);
  });

  it('an approval: one outcome mail per thread and the requester told "approved" with the reason', async () => {
    const { server, t } = env;
    const r = t.teleport.put(newRequest({ roles: ['ops'] }));
    await t.settled();
    assert.equal(mailsOf(server, r.id, REVIEWERS[0]!).length, 1, 'roles without an entry go to "*"');
    t.teleport.review(r.id, 'bob@example.com', 'APPROVED', 'go ahead', true);
    await t.settled();
    const thread = mailsOf(server, r.id, REVIEWERS[0]!);
    assert.equal(thread.length, 3);
    assert.match(thread[2]!.text.trim(), /Status: ✅ APPROVED \(go ahead\)$/);
    const notice = mailsOf(server, r.id, 'alice@example.com');
    assert.equal(notice.length, 1);
    assert.match(notice[0]!.text, /^Your Role Request has been approved:\n/);
    assert.match(notice[0]!.text.trim(), /Status: ✅ APPROVED \(go ahead\)$/);
  });

  it('expiry: the thread gets "expired" (rebuilt from plugin data) and so does the requester', async () => {
    const { server, t } = env;
    const r = t.teleport.put(newRequest({ roles: ['ops'], requestReason: 'for the outage' }));
    await t.settled();
    t.teleport.remove(r.id);
    await t.settled();
    const thread = mailsOf(server, r.id, REVIEWERS[0]!);
    assert.deepEqual(
      thread.map((m) => m.messageId),
      [expectedId(r.id, 'first', REVIEWERS[0]!), expectedId(r.id, 'outcome', REVIEWERS[0]!)],
    );
    assert.equal(thread[1]!.inReplyTo, thread[0]!.messageId);
    assert.match(thread[1]!.text, /Reason: for the outage\n/);
    assert.match(thread[1]!.text.trim(), /Status: ⌛ EXPIRED$/);
    const notice = mailsOf(server, r.id, 'alice@example.com');
    assert.equal(notice.length, 1);
    assert.match(notice[0]!.text, /^Your Role Request has expired:\n/);
    assert.equal(t.data(r.id)?.['resolution'], 'EXPIRED');
  });

  it('a requester whose Teleport name is not an address gets no outcome mail; everything else goes out', async () => {
    const { server, t } = env;
    const r = t.teleport.put(newRequest({ user: 'bob', roles: ['ops'] }));
    await t.settled();
    t.teleport.review(r.id, 'carol@example.com', 'APPROVED', '', true);
    await t.settled();
    // First mail, the review's reply, the outcome: all to the reviewers, nothing to "bob".
    assert.deepEqual(
      mailsOf(server, r.id).map((m) => m.envelope.rcptTo.join(',')),
      [REVIEWERS[0], REVIEWERS[0], REVIEWERS[0]],
    );
    assert.equal(t.data(r.id)?.['fx/notice/APPROVED'], 'ok');
  });

  it("continues a Go plugin's threads: no new first mail; replies refer to its Message-IDs (legacy threads get none)", async () => {
    const { server, t } = env;
    const r = t.teleport.put(newRequest({ roles: ['ops'] }), false);
    t.teleport.setPluginData(r.id, 'email', {
      user: r.user,
      roles: 'ops',
      request_reason: 'fix the deploy',
      reviews_count: '',
      resolution: '',
      resolve_reason: '',
      // Go's layout: a bracketed Mailgun id, and the first plugin version's single thread.
      email_threads: 'reviewers@example.com/2024-05-07 13:05:00.123 +0000 UTC/<20240507130500.abc@mg.example.com>',
      email: 'old-list@example.com',
      timestamp: '2024-05-07 13:05:00 +0000 UTC',
    });
    t.teleport.review(r.id, 'bob@example.com', 'APPROVED', 'ok', true);
    await t.settled();
    const mails = mailsOf(server, r.id);
    assert.deepEqual(mails.map((m) => `${m.envelope.rcptTo.join(',')} ${m.inReplyTo ?? '-'}`).sort(), [
      'alice@example.com -',
      'old-list@example.com -',
      'old-list@example.com -',
      'reviewers@example.com <20240507130500.abc@mg.example.com>',
      'reviewers@example.com <20240507130500.abc@mg.example.com>',
    ]);
    assert.ok(!mails.some((m) => m.messageId === expectedId(r.id, 'first', 'reviewers@example.com')), 'no new first mail');
    assert.equal(t.data(r.id)?.['email_threads'], 'reviewers@example.com/2024-05-07 13:05:00.123 +0000 UTC/<20240507130500.abc@mg.example.com>');
  });

  it('never puts a credential in the logs', async () => {
    const { t } = env;
    const text = JSON.stringify(t.logger.entries);
    assert.ok(!text.includes(PASS));
    assert.ok(!text.includes(Buffer.from(PASS).toString('base64')));
    assert.ok(!text.includes(Buffer.from(`\0${USER}\0${PASS}`).toString('base64')));
  });
});
