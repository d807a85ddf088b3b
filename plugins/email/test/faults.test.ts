// Faults and policies of the email adapter over SMTP, in the real runtime against a real SMTP
// server: refused connections, 4xx and 5xx replies, lost answers, each starttls_policy against a
// server that offers or lacks STARTTLS, and a wrong password at start-up and in `check`.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isPluginError } from '@teleport-plugin/core';
import { adapterContext } from '@teleport-plugin/core/testing';
import { decodeEmailThreads, setupEmail } from '../src/index.js';
import type { StartTlsPolicy } from '../src/index.js';
import { startSmtpServer } from '../src/testing/index.js';
import type { TestSmtpServer } from '../src/testing/index.js';
import { DEV, FAST, PASS, USER, expectedId, mailsOf, newRequest, smtpEmailConfig, startSmtpEnv, startTlsSmtp, testTls } from './helpers.js';
import type { SmtpEnv } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const e of open.splice(0).reverse()) await e.close();
});

async function env(options: Parameters<typeof startSmtpEnv>[0] = {}): Promise<SmtpEnv> {
  const e = await startSmtpEnv(options);
  open.push(e);
  return e;
}

/** A server without STARTTLS (no certificate); AUTH over the plain connection. */
async function plainSmtp(): Promise<TestSmtpServer> {
  const s = await startSmtpServer({ auth: { user: USER, pass: PASS } });
  open.push(s);
  return s;
}

async function startupError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => assert.fail('expected start-up to fail'),
    (e: unknown) => e,
  );
  assert.ok(isPluginError(err), String(err));
  assert.ok(err.userFacing, 'a user-facing error (no stack)');
  assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
  assert.ok(!err.message.includes(PASS));
  return err.message;
}

const handlerRetries = (e: SmtpEnv): number => e.t.logger.entries.filter((l) => l.message === 'handler failed; retrying').length;

describe('SMTP faults through the adapter', () => {
  it('a permanent 5xx for one recipient is logged with the address and does not stop the others', async () => {
    const e = await env();
    e.server.fail({ kind: 'reject-rcpt', address: DEV[0]!, code: 550, message: 'No such user here' });
    const r = e.t.teleport.put(newRequest());
    await e.t.settled();
    assert.equal(mailsOf(e.server, r.id, DEV[0]!).length, 0);
    assert.equal(mailsOf(e.server, r.id, DEV[1]!).length, 1);
    const logged = e.t.logger.entries.find((l) => l.level === 'error' && l.fields['recipient'] === DEV[0]);
    assert.ok(logged, 'an error naming the address');
    assert.match(String(logged.fields['error']), new RegExp(`refused the recipient ${DEV[0]} \\(550`));
    // Settled, not retried: the request is announced, only the reachable thread is kept.
    assert.equal(e.t.data(r.id)?.['announced'], 'ok');
    assert.deepEqual(
      decodeEmailThreads(e.t.data(r.id)!).map((t) => t.email),
      [DEV[1]],
    );
    // Later mails go to the threads that exist, without complaint.
    e.t.teleport.review(r.id, 'bob@example.com', 'APPROVED', '', true);
    await e.t.settled();
    assert.equal(mailsOf(e.server, r.id, DEV[1]!).length, 3);
  });

  it('4xx after the message (451) is retried by the outbound policy: one mail, no handler retry', async () => {
    const e = await env();
    e.server.fail({ kind: 'data-reply', code: 451, times: 2 });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.equal(e.server.events.filter((ev) => ev.type === 'data-rejected' && ev.code === 451).length, 2);
    assert.equal(mailsOf(e.server, r.id).length, 1);
    assert.equal(handlerRetries(e), 0);
  });

  it('a temporary AUTH failure (454) is retried', async () => {
    const e = await env();
    // Start-up logged in already; a fresh connection is needed for the fault to bite.
    e.server.fail({ kind: 'auth-temporary' });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.equal(mailsOf(e.server, r.id).length, 1);
  });

  it('a login refused while running (password changed): the mail waits, the adapter shows unhealthy, sent once the login works', async () => {
    const e = await env();
    // Start-up logged in already; the next connection's AUTH is refused, for as long as it lasts.
    e.server.fail({ kind: 'auth-refused', times: 1_000 });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.equal(mailsOf(e.server, r.id).length, 0);
    assert.ok(
      e.t.logger.entries.some((l) => l.level === 'warn' && /will retry/.test(l.message) && /refused the login/.test(String(l.fields['error']))),
      'kept for later, not skipped',
    );
    assert.equal(e.t.runtime.readiness().ready, false);
    assert.notEqual(e.t.data(r.id)?.['announced'], 'ok');

    e.server.clearFaults();
    await e.t.runtime.reconcile();
    await e.t.settled();
    assert.equal(mailsOf(e.server, r.id).length, 1);
    assert.equal(e.t.data(r.id)?.['announced'], 'ok');
    assert.equal(e.t.runtime.readiness().ready, true);
  });

  it('a refused connection: retried under the policy, then by the runtime; sent once the server is back', async () => {
    const first = await startTlsSmtp();
    const port = first.port;
    const tls = await testTls();
    const e = await env({ server: first });
    await first.close();
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.ok(
      e.t.logger.entries.some((l) => l.level === 'warn' && /will retry/.test(l.message) && /cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)/.test(String(l.fields['error']))),
      'logged as retryable, in plain words',
    );
    assert.ok(handlerRetries(e) >= 1, 'the runtime retried the step');
    assert.notEqual(e.t.data(r.id)?.['announced'], 'ok');

    const back = await startSmtpServer({ cert: tls.server.certPem, key: tls.server.keyPem, auth: { user: USER, pass: PASS }, port });
    open.push(back);
    await e.t.runtime.reconcile();
    await e.t.settled();
    assert.equal(mailsOf(back, r.id).length, 1);
    assert.equal(e.t.data(r.id)?.['announced'], 'ok');
  });

  it('a connection lost while the message was streaming: nothing kept, sent again, one mail', async () => {
    const e = await env();
    e.server.fail({ kind: 'drop-during-data' });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.ok(e.server.events.some((ev) => ev.type === 'dropped' && ev.detail === 'during data'));
    assert.equal(mailsOf(e.server, r.id).length, 1);
  });

  it('the answer lost after the server kept the mail: sent again with the SAME Message-ID (the documented at-least-once window)', async () => {
    const e = await env();
    e.server.fail({ kind: 'drop-after-data' });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    const copies = mailsOf(e.server, r.id);
    assert.equal(copies.length, 2, 'SMTP cannot be asked: the mail is sent again');
    const id = expectedId(r.id, 'first', 'reviewers@example.com');
    assert.deepEqual(
      copies.map((m) => m.messageId),
      [id, id],
      'a receiver that de-duplicates by Message-ID keeps one',
    );
    assert.ok(e.t.logger.entries.some((l) => l.message === 'effect may have happened and the service cannot be asked; doing it again'));
    // Recorded once: later mails thread with that id.
    assert.equal(decodeEmailThreads(e.t.data(r.id)!).length, 1);
    e.t.teleport.review(r.id, 'bob@example.com', 'DENIED', 'no', true);
    await e.t.settled();
    const replies = mailsOf(e.server, r.id, 'reviewers@example.com').slice(2);
    assert.equal(replies.length, 2);
    assert.ok(replies.every((m) => m.inReplyTo === id));
  });
});

describe('starttls_policy against servers that offer or lack STARTTLS', () => {
  const cases: Array<{ policy: StartTlsPolicy; offers: boolean; outcome: 'tls' | 'plain' | RegExp; warns?: RegExp }> = [
    { policy: 'mandatory', offers: true, outcome: 'tls' },
    {
      policy: 'mandatory',
      offers: false,
      outcome: /^adapter "email" failed to start: SMTP STARTTLS: 127\.0\.0\.1:\d+ does not offer STARTTLS.* smtp\.starttls_policy is "mandatory"/,
    },
    { policy: 'opportunistic', offers: true, outcome: 'tls' },
    { policy: 'opportunistic', offers: false, outcome: 'plain', warns: /offers no STARTTLS: the password and mails go unencrypted/ },
    // A server that offers TLS usually takes no password without it: start-up says which key to change.
    { policy: 'disabled', offers: true, outcome: /^adapter "email" failed to start: SMTP login: .*accepts the login only over TLS.*smtp\.starttls_policy/ },
    { policy: 'disabled', offers: false, outcome: 'plain', warns: /not used \(starttls_policy = "disabled"\)/ },
  ];
  for (const c of cases) {
    const expect = typeof c.outcome === 'string' ? `mail sent ${c.outcome === 'tls' ? 'over TLS' : 'unencrypted'}` : 'start-up refused in one line';
    it(`${c.policy}, server ${c.offers ? 'offers' : 'lacks'} STARTTLS: ${expect}`, async () => {
      const server = c.offers ? await startTlsSmtp() : await plainSmtp();
      if (c.offers) open.push(server);
      if (c.outcome instanceof RegExp) {
        const message = await startupError(startSmtpEnv({ server, config: { policy: c.policy } }));
        assert.match(message, c.outcome);
        return;
      }
      const e = await env({ server, config: { policy: c.policy } });
      const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
      await e.t.settled();
      const [mail] = mailsOf(server, r.id);
      assert.ok(mail);
      assert.equal(mail.secure, c.outcome === 'tls');
      assert.equal(
        server.events.some((ev) => ev.type === 'starttls'),
        c.outcome === 'tls',
      );
      if (c.warns)
        assert.ok(
          e.t.logger.entries.some((l) => l.level === 'warn' && c.warns!.test(l.message)),
          'warned at start-up',
        );
    });
  }

  it('disabled against a server that allows a plain login: sent unencrypted, never upgraded', async () => {
    const tls = await testTls();
    const server = await startSmtpServer({ cert: tls.server.certPem, key: tls.server.keyPem, auth: { user: USER, pass: PASS }, allowInsecureAuth: true });
    open.push(server);
    const e = await env({ server, config: { policy: 'disabled' } });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.equal(mailsOf(server, r.id)[0]?.secure, false);
    assert.ok(!server.events.some((ev) => ev.type === 'starttls'));
  });
});

describe('start-up and check', () => {
  it('a wrong password fails start-up in one line naming the key, and nothing is sent', async () => {
    const server = await startTlsSmtp();
    open.push(server);
    const message = await startupError(startSmtpEnv({ server, config: { password: 'wrong-password' } }));
    assert.match(
      message,
      /^adapter "email" failed to start: SMTP login: 127\.0\.0\.1:\d+ refused the login for user "bot@example\.com" \(535 .*\): check smtp\.username and smtp\.password \(or smtp\.password_file\)$/,
    );
    assert.ok(!message.includes('wrong-password'));
    assert.equal(server.mails.length, 0);
  });

  it('check: connection, STARTTLS and login in plain words', async () => {
    const server = await startTlsSmtp();
    open.push(server);
    const tls = await testTls();
    const { ctx, close } = adapterContext('email', smtpEmailConfig(server.port));
    try {
      const handlers = await setupEmail(ctx, { policy: FAST, tls: { ca: tls.ca }, timeoutMs: 3_000 });
      const items = await handlers.check!(AbortSignal.timeout(10_000));
      assert.deepEqual(
        items.map((i) => [i.name, i.ok]),
        [
          ['SMTP connection', true],
          ['SMTP STARTTLS', true],
          ['SMTP login', true],
          ['email recipients', true],
        ],
      );
      assert.match(items[1]!.detail!, /upgraded with STARTTLS \(starttls_policy = "mandatory"\)/);
      assert.equal(items[2]!.detail, 'logged in as "bot@example.com"');
      assert.equal(items[3]!.detail, '3 addresses in role_to_recipients, mails from Teleport <noreply@example.com>');
    } finally {
      await close();
    }
  });

  it('an unreachable server fails start-up in one line naming smtp.host and smtp.port', async () => {
    const server = await startTlsSmtp();
    await server.close();
    const message = await startupError(startSmtpEnv({ server }));
    assert.match(message, /SMTP connection: cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\): check smtp\.host and smtp\.port$/);
  });
});
