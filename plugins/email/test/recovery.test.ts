// Crashes, restarts and replicas: the email adapter in the real runtime over a shared in-memory
// Teleport. Mailgun adopts a mail a dead process sent (its events log answers the find verbs);
// SMTP, which cannot be asked, sends it again with the same Message-ID (the documented window).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { MemoryTeleport } from '@teleport-plugin/core/testing';
import { MailgunMailer, decodeEmailThreads, emailPluginData, mailMessageId, newRequestMail } from '../src/index.js';
import { FakeMailgun } from '../src/testing/index.js';
import { MG_DOMAIN, MG_KEY, SENDER, expectedId, mailsOf, newRequest, startMailgunEnv, startSmtpEnv, startTlsSmtp } from './helpers.js';

const REVIEWER = 'reviewers@example.com';
const DEAD = 'run:crashed-instance:' + String(Date.now() - 3_600_000);

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** Plugin data as a process left it that died right after sending the first mail. */
function crashedData(request: ReturnType<typeof newRequest>): Record<string, string> {
  return { ...emailPluginData.snapshot!(request), announced: DEAD, [`fx/post/${REVIEWER}`]: DEAD };
}

describe('crash recovery', () => {
  it('Mailgun: a mail the dead process sent is found in the events log and adopted, not sent again', async () => {
    const mg = new FakeMailgun({ apiKey: MG_KEY, domains: [{ name: MG_DOMAIN }] });
    await mg.start();
    const teleport = new MemoryTeleport();
    const r = teleport.put(newRequest({ roles: ['ops'] }), false);
    // What the dead process did: the mail went out, only `run` records made it to plugin data.
    const id = mailMessageId({ requestId: r.id, kind: 'first', recipient: REVIEWER, domain: 'example.com' });
    const rendered = newRequestMail({ id: r.id, user: r.user, roles: r.roles, requestReason: r.requestReason }, { clusterName: 'test.example.com', webLink: undefined });
    await new MailgunMailer({ domain: MG_DOMAIN, privateKey: MG_KEY, apiBase: mg.apiBase }, SENDER).send({ to: REVIEWER, ...rendered, messageId: id, requestId: r.id });
    teleport.setPluginData(r.id, 'email', crashedData(r));

    const e = await startMailgunEnv({ mg, test: { teleport } });
    closers.push(e.close);
    await e.t.settled();
    assert.equal(mg.messagesTo(REVIEWER).length, 1, 'adopted, no duplicate');
    const data = e.t.data(r.id)!;
    assert.equal(data['announced'], 'ok');
    assert.match(data[`fx/post/${REVIEWER}`] ?? '', /^ok:reviewers@example\.com\/.+\/teleport-/);
    assert.deepEqual(
      decodeEmailThreads(data).map((t) => `<${t.messageId}>`),
      [expectedId(r.id, 'first', REVIEWER)],
    );
    // The thread goes on from the adopted mail.
    teleport.review(r.id, 'bob@example.com', 'APPROVED', '', true);
    await e.t.settled();
    assert.ok(
      mg
        .messagesTo(REVIEWER)
        .slice(1)
        .every((m) => m.headers['in-reply-to'] === expectedId(r.id, 'first', REVIEWER)),
    );
    assert.equal(mg.messagesTo(REVIEWER).length, 3);
  });

  it('SMTP: the mail is sent again with the same Message-ID, so it threads with the first copy', async () => {
    const server = await startTlsSmtp();
    const teleport = new MemoryTeleport();
    const r = teleport.put(newRequest({ roles: ['ops'] }), false);
    teleport.setPluginData(r.id, 'email', crashedData(r));
    const e = await startSmtpEnv({ server, test: { teleport } });
    closers.push(e.close);
    await e.t.settled();
    const [mail, ...more] = mailsOf(server, r.id, REVIEWER);
    assert.equal(more.length, 0);
    // The copy the dead process may have sent carried this same id: clients show one.
    assert.equal(mail?.messageId, expectedId(r.id, 'first', REVIEWER));
    assert.equal(e.t.data(r.id)?.['announced'], 'ok');
  });
});

describe('restarts and replicas', () => {
  it('a request resolved while the plugin was stopped is finished after restart', async () => {
    const server = await startTlsSmtp();
    closers.push(() => server.close());
    const teleport = new MemoryTeleport();
    const first = await startSmtpEnv({ server, test: { teleport } });
    const r = teleport.put(newRequest({ roles: ['ops'] }));
    await first.t.settled();
    assert.equal(mailsOf(server, r.id).length, 1);
    await first.t.close();

    // While stopped: reviewed and approved. Nobody is watching.
    teleport.review(r.id, 'bob@example.com', 'APPROVED', 'fine', true);

    const second = await startSmtpEnv({ server, test: { teleport } });
    closers.push(() => second.t.close());
    await second.t.settled();
    const thread = mailsOf(server, r.id, REVIEWER);
    assert.deepEqual(
      thread.map((m) => m.messageId),
      [expectedId(r.id, 'first', REVIEWER), expectedId(r.id, 'review-1', REVIEWER), expectedId(r.id, 'outcome', REVIEWER)],
    );
    assert.equal(mailsOf(server, r.id, 'alice@example.com').length, 1);
    assert.equal(second.t.data(r.id)?.['resolution'], 'APPROVED');
  });

  it('two runtimes on one Teleport (different instance ids) never send a mail twice', async () => {
    const server = await startTlsSmtp();
    closers.push(() => server.close());
    const teleport = new MemoryTeleport();
    const a = await startSmtpEnv({ server, test: { teleport, runtime: { instanceId: 'replica-a' } } });
    const b = await startSmtpEnv({ server, test: { teleport, runtime: { instanceId: 'replica-b' } } });
    closers.push(
      () => a.t.close(),
      () => b.t.close(),
    );
    const settled = async (): Promise<void> => {
      await Promise.all([a.t.settled(), b.t.settled()]);
      await Promise.all([a.t.settled(), b.t.settled()]);
    };
    const ids = [];
    for (let i = 0; i < 5; i += 1) ids.push(teleport.put(newRequest({ roles: i % 2 === 0 ? ['ops'] : ['dev'] })).id);
    await settled();
    for (const id of ids) teleport.review(id, 'bob@example.com', 'DENIED', 'no', true);
    await settled();
    // A replica that lost the race may still owe a retry: let reconciliation finish the rest.
    await Promise.all([a.t.runtime.reconcile(), b.t.runtime.reconcile()]);
    await settled();

    for (const id of ids) {
      const mails = mailsOf(server, id);
      const messageIds = mails.map((m) => m.messageId);
      assert.equal(new Set(messageIds).size, messageIds.length, `no mail twice for ${id}: ${messageIds.join(' ')}`);
      // Every thread complete: first, review, outcome; plus the requester's mail.
      const threads = decodeEmailThreads(teleport.pluginData(id, 'email')!);
      assert.equal(mails.length, threads.length * 3 + 1, `all mails of ${id}`);
    }
  });
});
