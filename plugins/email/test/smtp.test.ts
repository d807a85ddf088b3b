import assert from 'node:assert/strict';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, isOutcomeUnknown, isPluginError, isRetryable } from '@teleport-plugin/core';
import type { AccessReview, PluginError } from '@teleport-plugin/core';
import { SmtpMailer, assertVerified, isRecipientRefused, mailMessageId, newRequestMail, refusedRecipient, resolutionMail, reviewKind, reviewReplyMail } from '../src/index.js';
import type { MailCluster, MailRequestFields, StartTlsPolicy } from '../src/index.js';
import { startSmtpServer } from '../src/testing/index.js';
import type { SmtpServerOptions, TestSmtpServer } from '../src/testing/index.js';
import { FAST, PASS, SENDER, USER, smtpConfig, testTls } from './helpers.js';
import type { TestTls } from './helpers.js';

const REQUEST = '7c4e9d2a-1b3f-4a5e-8d6c-0f1e2d3c4b5a';
const FIELDS: MailRequestFields = { id: REQUEST, user: 'alice@example.com', roles: ['editor'], requestReason: 'because of' };
const CLUSTER: MailCluster = { clusterName: 'teleport.example.com', webLink: undefined };

let tls: TestTls;
before(async () => {
  tls = await testTls();
});

const servers: TestSmtpServer[] = [];
const mailers: SmtpMailer[] = [];
after(async () => {
  await Promise.all(mailers.map((m) => m.close()));
  await Promise.all(servers.map((s) => s.close()));
});

async function server(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const s = await startSmtpServer({ cert: tls.server.certPem, key: tls.server.keyPem, auth: { user: USER, pass: PASS }, ...options });
  servers.push(s);
  return s;
}

function mailer(port: number, policy: StartTlsPolicy = 'mandatory', extra: { password?: string; logger?: ReturnType<typeof createCaptureLogger> } = {}): SmtpMailer {
  const m = new SmtpMailer(smtpConfig(port, policy, extra.password), SENDER, { policy: FAST, tls: { ca: tls.ca }, logger: extra.logger, timeoutMs: 3_000 });
  mailers.push(m);
  return m;
}

function idFor(kind: Parameters<typeof mailMessageId>[0]['kind'], recipient: string): string {
  return mailMessageId({ requestId: REQUEST, kind, recipient, domain: 'example.com' });
}

function review(author: string, proposedState: 'APPROVED' | 'DENIED', reason: string): AccessReview {
  return { author, roles: [], proposedState, reason, created: new Date(Date.UTC(2024, 4, 7, 13, 5)), annotations: {}, assumeStartTime: undefined };
}

async function failure(p: Promise<unknown>): Promise<PluginError> {
  const err = await p.then(
    () => assert.fail('expected the send to fail'),
    (e: unknown) => e,
  );
  assert.ok(isPluginError(err), `expected a PluginError, got ${String(err)}`);
  return err;
}

function simpleMail(to: string, kind: Parameters<typeof mailMessageId>[0]['kind'] = 'first') {
  const rendered = newRequestMail(FIELDS, CLUSTER);
  return { to, subject: rendered.subject, text: rendered.text, messageId: idFor(kind, to), requestId: REQUEST };
}

describe('SMTP mailer against a real SMTP server (STARTTLS + AUTH)', () => {
  it('threads the first mail, review replies and the resolution by their headers', async () => {
    const s = await server();
    const m = mailer(s.port);
    const recipients = ['reviewer1@example.com', 'reviewer2@example.com'];
    const first = newRequestMail(FIELDS, CLUSTER, { html: true });
    for (const to of recipients) {
      const sent = await m.send({ to, subject: first.subject, text: first.text, html: first.html, messageId: idFor('first', to), requestId: REQUEST });
      assert.equal(sent.messageId, idFor('first', to));
      assert.match(sent.response, /^250 /);
    }
    const reviews = [review('reviewer1@example.com', 'APPROVED', 'okay'), review('reviewer2@example.com', 'APPROVED', 'finally okay')];
    for (const [i, r] of reviews.entries()) {
      const reply = reviewReplyMail(REQUEST, r, CLUSTER);
      for (const to of recipients) {
        const root = idFor('first', to);
        await m.send({ to, subject: reply.subject, text: reply.text, messageId: idFor(reviewKind(i + 1), to), inReplyTo: root, requestId: REQUEST });
      }
    }
    const resolved = resolutionMail(FIELDS, CLUSTER, { tag: 'APPROVED', reason: 'finally okay' });
    for (const to of recipients) {
      await m.send({ to, subject: resolved.subject, text: resolved.text, messageId: idFor('outcome', to), inReplyTo: idFor('first', to), requestId: REQUEST });
    }

    await s.waitFor((mails) => mails.length === 8);
    for (const to of recipients) {
      const thread = s.mailsTo(to);
      assert.equal(thread.length, 4);
      const [root, ...replies] = thread;
      assert.ok(root);
      const rootId = `<${idFor('first', to)}>`;
      assert.equal(root.messageId, rootId);
      assert.equal(root.inReplyTo, undefined);
      assert.deepEqual(root.references, []);
      assert.equal(root.subject, `teleport.example.com Role Request ${REQUEST}`);
      assert.equal(root.headers['from'], 'Teleport <noreply@example.com>');
      assert.equal(root.to, to);
      assert.deepEqual(root.envelope, { mailFrom: 'noreply@example.com', rcptTo: [to] });
      assert.equal(root.headers['x-teleport-access-request'], REQUEST);
      assert.equal(root.text.trim(), first.text);
      assert.match(root.html ?? '', /<b>Status:<\/b> ⏳ PENDING/);
      assert.ok(root.secure, 'STARTTLS was used');
      assert.equal(root.user, USER);
      for (const reply of replies) {
        assert.equal(reply.inReplyTo, rootId, 'In-Reply-To is the first mail');
        assert.deepEqual(reply.references, [rootId], 'References is the first mail');
        assert.equal(reply.subject, root.subject, 'same subject');
      }
      assert.deepEqual(
        replies.map((r) => r.messageId),
        [`<${idFor('review-1', to)}>`, `<${idFor('review-2', to)}>`, `<${idFor('outcome', to)}>`],
      );
      assert.match(replies[0]!.text, /^reviewer1@example\.com reviewed the request at 07 May 24 13:05 UTC\.\nResolution: ✅ APPROVED\.\nReason: okay\./);
      assert.match(replies[2]!.text, /Status: ✅ APPROVED \(finally okay\)/);
    }
  });

  it('reuses one connection for consecutive mails', async () => {
    const s = await server();
    const m = mailer(s.port);
    for (const to of ['a@example.com', 'b@example.com', 'c@example.com']) await m.send(simpleMail(to));
    assert.equal(s.mails.length, 3);
    assert.equal(s.events.filter((e) => e.type === 'connect').length, 1);
    assert.equal(s.events.filter((e) => e.type === 'auth-ok').length, 1);
  });

  it('verify (check): connection, STARTTLS and login in plain words', async () => {
    const s = await server();
    const items = await mailer(s.port).verify();
    assert.deepEqual(
      items.map((i) => [i.name, i.ok]),
      [
        ['SMTP connection', true],
        ['SMTP STARTTLS', true],
        ['SMTP login', true],
      ],
    );
    assert.match(items[0]!.detail ?? '', /^connected to 127\.0\.0\.1:\d+$/);
    assert.equal(items[1]!.detail, 'connection upgraded with STARTTLS (starttls_policy = "mandatory")');
    assert.equal(items[2]!.detail, `logged in as "${USER}"`);
    assertVerified('SMTP', items);
  });

  describe('starttls_policy against servers with and without STARTTLS', () => {
    it('mandatory + STARTTLS offered: sent encrypted', async () => {
      const s = await server({ starttls: true });
      await mailer(s.port, 'mandatory').send(simpleMail('a@example.com'));
      assert.equal(s.mails[0]?.secure, true);
    });

    it('mandatory + no STARTTLS: refused in plain words, nothing sent, not retried', async () => {
      const s = await server({ starttls: false });
      const m = mailer(s.port, 'mandatory');
      const err = await failure(m.send(simpleMail('a@example.com')));
      assert.ok(err.userFacing);
      assert.equal(isRetryable(err), false);
      assert.equal(isOutcomeUnknown(err), false);
      assert.match(
        err.message,
        /^SMTP send: 127\.0\.0\.1:\d+ does not offer STARTTLS \(500 .*\) and smtp\.starttls_policy is "mandatory": .*set smtp\.starttls_policy = "opportunistic"/,
      );
      assert.equal(s.mails.length, 0);
      assert.equal(s.events.filter((e) => e.type === 'connect').length, 1, 'one attempt');
      const items = await m.verify();
      assert.deepEqual(
        items.map((i) => [i.name, i.ok]),
        [
          ['SMTP connection', true],
          ['SMTP STARTTLS', false],
        ],
      );
      assert.throws(
        () => assertVerified('SMTP', items),
        (e: unknown) => isPluginError(e) && e.userFacing && /^SMTP STARTTLS: .*does not offer STARTTLS/.test(e.message) && !e.message.includes('\n'),
      );
    });

    it('opportunistic + STARTTLS offered: upgrades', async () => {
      const s = await server({ starttls: true });
      await mailer(s.port, 'opportunistic').send(simpleMail('a@example.com'));
      assert.equal(s.mails[0]?.secure, true);
    });

    it('opportunistic + no STARTTLS: sends unencrypted, and check says so', async () => {
      const s = await server({ starttls: false });
      const m = mailer(s.port, 'opportunistic');
      await m.send(simpleMail('a@example.com'));
      assert.equal(s.mails[0]?.secure, false);
      assert.equal(s.mails[0]?.user, USER);
      const items = await m.verify();
      assert.ok(items.every((i) => i.ok));
      assert.match(items[1]!.detail ?? '', /offers no STARTTLS: the password and mails go unencrypted/);
    });

    it('disabled + STARTTLS offered: never upgrades', async () => {
      const s = await server({ starttls: true, allowInsecureAuth: true });
      const m = mailer(s.port, 'disabled');
      await m.send(simpleMail('a@example.com'));
      assert.equal(s.mails[0]?.secure, false);
      assert.equal(s.events.filter((e) => e.type === 'starttls').length, 0);
      const items = await m.verify();
      assert.equal(items[1]!.detail, 'not used (starttls_policy = "disabled"): the password and mails go unencrypted');
    });

    it('disabled + no STARTTLS: sends', async () => {
      const s = await server({ starttls: false });
      await mailer(s.port, 'disabled').send(simpleMail('a@example.com'));
      assert.equal(s.mails.length, 1);
    });

    it('disabled against a server that wants TLS before login: plain words naming the key', async () => {
      const s = await server({ starttls: true, allowInsecureAuth: false });
      const err = await failure(mailer(s.port, 'disabled').send(simpleMail('a@example.com')));
      assert.ok(err.userFacing);
      assert.match(err.message, /accepts the login only over TLS \(538 .*\): set smtp\.starttls_policy to "mandatory" or "opportunistic"/);
    });

    it('an untrusted certificate is a plain-words error, not retried', async () => {
      const s = await server();
      const m = new SmtpMailer(smtpConfig(s.port), SENDER, { policy: FAST });
      mailers.push(m);
      const err = await failure(m.send(simpleMail('a@example.com')));
      assert.equal(err.code, 'CERT_REFUSED');
      assert.equal(isRetryable(err), false);
      assert.match(
        err.message,
        /the TLS certificate of 127\.0\.0\.1:\d+ is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\): check smtp\.host, or add the server's CA with NODE_EXTRA_CA_CERTS/,
      );
      const items = await m.verify();
      assert.equal(items.find((i) => !i.ok)?.name, 'SMTP STARTTLS');
    });
  });

  describe('a wrong password', () => {
    it('fails check and start-up in one line naming the keys, and never shows the password', async () => {
      const s = await server();
      const logger = createCaptureLogger();
      const wrong = 'wrong-password-123';
      const m = mailer(s.port, 'mandatory', { password: wrong, logger });
      const items = await m.verify();
      const login = items.find((i) => i.name === 'SMTP login');
      assert.equal(login?.ok, false);
      assert.match(
        login?.detail ?? '',
        /^127\.0\.0\.1:\d+ refused the login for user "bot@example\.com" \(535 Authentication credentials invalid\): check smtp\.username and smtp\.password \(or smtp\.password_file\)$/,
      );
      let startup: unknown;
      try {
        assertVerified('SMTP', items);
      } catch (err) {
        startup = err;
      }
      assert.ok(isPluginError(startup) && startup.userFacing);
      assert.equal(startup.message, `SMTP login: ${login?.detail}`);
      assert.ok(!startup.message.includes('\n'));

      const err = await failure(m.send(simpleMail('a@example.com')));
      assert.equal(err.code, 'ACCESS_DENIED');
      assert.ok(err.userFacing);
      assert.equal(isRetryable(err), false);
      assert.equal(s.events.filter((e) => e.type === 'auth-failed').length, 2, 'check once, send once: a refused login is not retried');
      for (const text of [err.message, startup.message, JSON.stringify(logger.entries), JSON.stringify(items)]) {
        assert.ok(!text.includes(wrong), text);
        assert.ok(!text.includes(PASS), text);
      }
    });
  });

  describe('faults through the outbound policy', () => {
    it('a refused connection: retried, then UNREACHABLE naming smtp.host and smtp.port, nothing sent', async () => {
      const probe = net.createServer();
      await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
      const port = (probe.address() as AddressInfo).port;
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      const logger = createCaptureLogger();
      const err = await failure(mailer(port, 'mandatory', { logger }).send(simpleMail('a@example.com')));
      assert.equal(err.code, 'UNREACHABLE');
      assert.equal(isRetryable(err), true);
      assert.equal(isOutcomeUnknown(err), false);
      assert.match(err.message, /cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\): check smtp\.host and smtp\.port/);
      assert.equal(logger.entries.filter((e) => e.message === 'service call failed; retrying').length, FAST.attempts - 1);
    });

    it('a connection closed before the greeting is retried on a new connection (nothing was sent)', async () => {
      let connections = 0;
      const s = await server();
      const flaky = net.createServer((socket) => {
        connections += 1;
        if (connections === 1) return socket.destroy();
        const upstream = net.connect(s.port, '127.0.0.1');
        socket.pipe(upstream).pipe(socket);
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
      try {
        await mailer((flaky.address() as AddressInfo).port).send(simpleMail('a@example.com'));
        assert.equal(connections, 2);
        assert.equal(s.mails.length, 1);
      } finally {
        flaky.close();
      }
    });

    it('451 after DATA twice: transient, retried, delivered once', async () => {
      const s = await server({ faults: [{ kind: 'data-reply', code: 451, times: 2 }] });
      await mailer(s.port).send(simpleMail('a@example.com'));
      assert.equal(s.events.filter((e) => e.type === 'data-rejected').length, 2);
      assert.equal(s.mails.length, 1);
    });

    it('421 on every try: exactly `attempts` tries, then a retryable failure that sent nothing', async () => {
      const s = await server({ faults: [{ kind: 'data-reply', code: 421, times: 10 }] });
      const err = await failure(mailer(s.port).send(simpleMail('a@example.com')));
      assert.equal(s.events.filter((e) => e.type === 'data-rejected').length, FAST.attempts);
      assert.equal(isRetryable(err), true);
      assert.equal(isOutcomeUnknown(err), false);
      assert.equal(err.service?.serviceCode, '421');
      assert.equal(s.mails.length, 0);
    });

    it('a temporary AUTH failure (454) is retried', async () => {
      const s = await server({ faults: [{ kind: 'auth-temporary' }] });
      await mailer(s.port).send(simpleMail('a@example.com'));
      assert.equal(s.mails.length, 1);
    });

    it('550 for one recipient: permanent for that address only, the others still get mail', async () => {
      const s = await server({ faults: [{ kind: 'reject-rcpt', address: 'gone@example.com' }] });
      const m = mailer(s.port);
      const results = await Promise.allSettled(['ok1@example.com', 'gone@example.com', 'ok2@example.com'].map((to) => m.send(simpleMail(to))));
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      );
      const err = (results[1] as PromiseRejectedResult).reason as PluginError;
      assert.ok(isRecipientRefused(err));
      assert.equal(refusedRecipient(err), 'gone@example.com');
      assert.equal(isRetryable(err), false);
      assert.equal(isOutcomeUnknown(err), false);
      assert.equal(err.service?.serviceCode, '550');
      assert.match(err.message, /^SMTP send: 127\.0\.0\.1:\d+ refused the recipient gone@example\.com \(550 No such user here\)$/);
      assert.equal(s.events.filter((e) => e.type === 'rcpt-rejected').length, 1, 'not retried');
      assert.deepEqual(s.mails.map((x) => x.envelope.rcptTo[0]).sort(), ['ok1@example.com', 'ok2@example.com']);
    });

    it('450 for a recipient is transient: retried', async () => {
      const s = await server({ faults: [{ kind: 'reject-rcpt', address: 'busy@example.com', code: 450, times: 1 }] });
      await mailer(s.port).send(simpleMail('busy@example.com'));
      assert.equal(s.mailsTo('busy@example.com').length, 1);
    });

    it('554 after the message: refused for that recipient, not retried', async () => {
      const s = await server({ faults: [{ kind: 'data-reply', code: 554 }] });
      const err = await failure(mailer(s.port).send(simpleMail('spamtrap@example.com')));
      assert.ok(isRecipientRefused(err));
      assert.equal(isRetryable(err), false);
      assert.match(err.message, /refused the mail to spamtrap@example\.com \(554 Message rejected\)/);
      assert.equal(s.events.filter((e) => e.type === 'data-rejected').length, 1);
    });

    it('a connection dropped after the message was sent: outcome unknown, never repeated', async () => {
      const s = await server({ faults: [{ kind: 'drop-after-data' }] });
      const m = mailer(s.port);
      const mail = simpleMail('a@example.com');
      const err = await failure(m.send(mail));
      assert.equal(isOutcomeUnknown(err), true);
      assert.equal(isRetryable(err), true);
      assert.match(err.message, /after the mail to a@example\.com was handed over: it may have been accepted/);
      // The server kept it: the one copy, with the deterministic id.
      assert.equal(s.mails.length, 1);
      assert.equal(s.mails[0]?.messageId, `<${mail.messageId}>`);
      // SMTP cannot say whether it went out.
      assert.equal(await m.findSent(mail.messageId), undefined);
      // A later re-send (the at-least-once window) carries the same Message-ID, so clients see one mail.
      await m.send(mail);
      assert.deepEqual(
        s.mails.map((x) => x.messageId),
        [`<${mail.messageId}>`, `<${mail.messageId}>`],
      );
    });

    it('a connection closed while the server had not accepted DATA is retried: nothing was sent', async () => {
      const s = await server({ allowInsecureAuth: true });
      // A proxy that cuts the first connection as soon as the client sends DATA.
      let connections = 0;
      const cut = net.createServer((socket) => {
        connections += 1;
        const upstream = net.connect(s.port, '127.0.0.1');
        upstream.pipe(socket);
        socket.on('data', (chunk: Buffer) => {
          if (connections === 1 && /^DATA\r\n/m.test(chunk.toString('latin1'))) {
            socket.destroy();
            upstream.destroy();
            return;
          }
          upstream.write(chunk);
        });
        socket.on('error', () => upstream.destroy());
        upstream.on('error', () => socket.destroy());
      });
      await new Promise<void>((resolve) => cut.listen(0, '127.0.0.1', resolve));
      try {
        const m = mailer((cut.address() as AddressInfo).port, 'disabled');
        await m.send(simpleMail('a@example.com'));
        assert.equal(connections, 2);
        assert.equal(s.mails.length, 1);
      } finally {
        cut.close();
      }
    });

    it('a closed mailer refuses to send', async () => {
      const s = await server();
      const m = mailer(s.port);
      await m.send(simpleMail('a@example.com'));
      await m.close();
      const err = await failure(m.send(simpleMail('b@example.com')));
      assert.equal(err.code, 'SHUTDOWN');
      assert.equal(s.mails.length, 1);
    });

    it('an abort while sending ends the attempt', async () => {
      const s = await server();
      const m = mailer(s.port);
      const controller = new AbortController();
      controller.abort(new Error('shutting down'));
      const err = await m.send(simpleMail('a@example.com'), controller.signal).then(
        () => assert.fail('expected abort'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error);
      assert.equal(s.mails.length, 0);
    });
  });
});
