import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { startSmtpServer } from '../src/testing/index.js';
import type { TestSmtpServer } from '../src/testing/index.js';
import { PASS, USER, testTls } from './helpers.js';
import type { TestTls } from './helpers.js';

/*
 * The test SMTP server's own behaviour, driven by a bare nodemailer SMTPConnection (not the
 * adapter's mailer), so what the mailer tests rely on is checked independently.
 */

let tls: TestTls;
const servers: TestSmtpServer[] = [];
before(async () => {
  tls = await testTls();
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function start(options: Parameters<typeof startSmtpServer>[0]): Promise<TestSmtpServer> {
  const s = await startSmtpServer(options);
  servers.push(s);
  return s;
}

interface Outcome {
  error?: { code?: string; responseCode?: number; message: string };
  response?: string;
}

/** Connect, (log in), send one message; report how it ended. */
function deliver(port: number, options: { secure?: boolean; auth?: { user: string; pass: string }; to?: string; body?: string } = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const conn = new SMTPConnection({ host: '127.0.0.1', port, secure: options.secure ?? false, tls: { ca: tls.ca }, logger: false, socketTimeout: 5_000 });
    let done = false;
    const finish = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      conn.close();
      resolve(outcome);
    };
    const fail = (err: unknown): void => {
      const e = err as { code?: string; responseCode?: number; message: string };
      finish({ error: { code: e.code, responseCode: e.responseCode, message: e.message } });
    };
    conn.on('error', fail);
    conn.connect(() => {
      const send = (): void =>
        conn.send({ from: 'a@example.com', to: [options.to ?? 'b@example.com'] }, options.body ?? 'Subject: hello\r\nMessage-ID: <m-1@example.com>\r\n\r\nbody\r\n', (err, info) =>
          err ? fail(err) : finish({ response: info.response }),
        );
      if (options.auth) conn.login(options.auth, (err) => (err ? fail(err) : send()));
      else send();
    });
  });
}

describe('test SMTP server', () => {
  it('records envelope, headers, text, the user and whether TLS was used', async () => {
    const s = await start({ cert: tls.server.certPem, key: tls.server.keyPem, auth: { user: USER, pass: PASS } });
    const outcome = await deliver(s.port, { auth: { user: USER, pass: PASS } });
    assert.match(outcome.response ?? '', /^250 /);
    const [mail] = s.mails;
    assert.deepEqual(mail?.envelope, { mailFrom: 'a@example.com', rcptTo: ['b@example.com'] });
    assert.equal(mail?.messageId, '<m-1@example.com>');
    assert.equal(mail?.subject, 'hello');
    assert.equal(mail?.text.trim(), 'body');
    assert.equal(mail?.user, USER);
    assert.equal(mail?.secure, true, 'the client upgraded with STARTTLS');
    assert.deepEqual(
      s.events.map((e) => e.type),
      ['connect', 'starttls', 'auth-ok'],
    );
  });

  it('without auth configured, AUTH is not offered and anyone may send', async () => {
    const s = await start({ starttls: false });
    const outcome = await deliver(s.port);
    assert.ok(outcome.response);
    assert.equal(s.mails[0]?.user, undefined);
    assert.equal(s.mails[0]?.secure, false);
  });

  it('implicit TLS (port-465 style)', async () => {
    const s = await start({ implicitTls: true, cert: tls.server.certPem, key: tls.server.keyPem });
    const outcome = await deliver(s.port, { secure: true });
    assert.ok(outcome.response, JSON.stringify(outcome));
    assert.equal(s.mails[0]?.secure, true);
  });

  it('refuses a wrong password with 535', async () => {
    const s = await start({ cert: tls.server.certPem, key: tls.server.keyPem, auth: { user: USER, pass: PASS } });
    const outcome = await deliver(s.port, { auth: { user: USER, pass: 'nope' } });
    assert.equal(outcome.error?.responseCode, 535);
    assert.equal(s.events.at(-1)?.type, 'auth-failed');
  });

  it('faults: reject-rcpt (always unless times), data-reply n times, drops', async () => {
    const s = await start({ starttls: false });
    s.fail({ kind: 'reject-rcpt', address: 'Gone@Example.com' });
    assert.equal((await deliver(s.port, { to: 'gone@example.com' })).error?.responseCode, 550);
    assert.equal((await deliver(s.port, { to: 'gone@example.com' })).error?.responseCode, 550, 'still refused');
    s.clearFaults();

    s.fail({ kind: 'data-reply', code: 451, times: 2 });
    assert.equal((await deliver(s.port)).error?.responseCode, 451);
    assert.equal((await deliver(s.port)).error?.responseCode, 451);
    assert.ok((await deliver(s.port)).response, 'the third goes through');
    assert.equal(s.mails.length, 1);

    s.fail({ kind: 'drop-after-data' });
    const dropped = await deliver(s.port);
    assert.ok(dropped.error, 'the client got no answer');
    assert.equal(s.mails.length, 2, 'but the server kept the mail');

    s.fail({ kind: 'drop-during-data' });
    const cut = await deliver(s.port, { body: `Subject: big\r\n\r\n${'x'.repeat(2_000_000)}\r\n` });
    assert.ok(cut.error);
    assert.equal(s.mails.length, 2, 'a cut message is not kept');
    assert.deepEqual(
      s.events.filter((e) => e.type === 'dropped').map((e) => e.detail),
      ['after data', 'during data'],
    );
  });

  it('waitFor resolves on the mail and times out naming what it saw', async () => {
    const s = await start({ starttls: false });
    const waiting = s.waitFor((mails) => mails.length === 1, 5_000);
    await deliver(s.port);
    await waiting;
    await assert.rejects(
      s.waitFor((mails) => mails.length === 5, 50),
      /condition not met within 50 ms; seen:\n {2}mail to b@example\.com: hello <m-1@example\.com>/,
    );
  });

  it('TLS without a certificate is a clear error', async () => {
    await assert.rejects(startSmtpServer({ starttls: true }), /STARTTLS and implicit TLS need a cert and key/);
  });
});
