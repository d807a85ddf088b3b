import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, isOutcomeUnknown, isPluginError, isRetryable } from '@teleport-plugin/core';
import type { PluginError } from '@teleport-plugin/core';
import { MAILGUN_EU_API_BASE, MailgunMailer, assertVerified, createMailer, isRecipientRefused, mailMessageId, reviewKind } from '../src/index.js';
import type { MailgunConfig, OutgoingMail } from '../src/index.js';
import { FakeMailgun } from '../src/testing/index.js';
import { FAST, SENDER } from './helpers.js';

const DOMAIN = 'mg.example.com';
const KEY = 'key-0123456789abcdef';
const REQUEST = '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d';

let us: FakeMailgun;
let eu: FakeMailgun;

before(async () => {
  us = new FakeMailgun({
    apiKey: KEY,
    region: 'us',
    domains: [
      { name: DOMAIN },
      { name: 'mg.example.eu', region: 'eu' },
      { name: 'new.example.com', state: 'unverified' },
      { name: 'send-only.example.com', sendingKey: 'send-key-1' },
    ],
  });
  eu = new FakeMailgun({ apiKey: KEY, region: 'eu', domains: [{ name: 'mg.example.eu' }] });
  await us.start();
  await eu.start();
});
after(async () => {
  await us.close();
  await eu.close();
});

function fresh(fake: FakeMailgun): void {
  fake.http.clearFaults();
  fake.http.calls.length = 0;
  fake.messages.length = 0;
}

function mailer(config: Partial<MailgunConfig> = {}, logger?: ReturnType<typeof createCaptureLogger>): MailgunMailer {
  return new MailgunMailer({ domain: DOMAIN, privateKey: KEY, apiBase: us.apiBase, ...config }, SENDER, { policy: FAST, logger, timeoutMs: 3_000 });
}

function mail(to: string, kind: Parameters<typeof mailMessageId>[0]['kind'] = 'first', inReplyTo?: string): OutgoingMail {
  return {
    to,
    subject: `teleport.example.com Role Request ${REQUEST}`,
    text: `You have a new Role Request:\n\nID: ${REQUEST}\n\nStatus: ⏳ PENDING`,
    messageId: mailMessageId({ requestId: REQUEST, kind, recipient: to, domain: 'example.com' }),
    inReplyTo,
    requestId: REQUEST,
  };
}

async function failure(p: Promise<unknown>): Promise<PluginError> {
  const err = await p.then(
    () => assert.fail('expected a failure'),
    (e: unknown) => e,
  );
  assert.ok(isPluginError(err), `expected a PluginError, got ${String(err)}`);
  return err;
}

describe('Mailgun mailer against the fake Mailgun', () => {
  it('sends form fields with our Message-ID and the thread headers, Basic auth api:<key>', async () => {
    fresh(us);
    const m = mailer();
    const first = mail('reviewer@example.com');
    const sent = await m.send({ ...first, html: '<p>hi</p>' });
    assert.equal(sent.messageId, first.messageId, 'Mailgun used our Message-ID');
    assert.equal(sent.response, 'Queued. Thank you.');
    const reply = mail('reviewer@example.com', reviewKind(1), first.messageId);
    await m.send(reply);

    const call = us.http.callsTo('POST', `/v3/${DOMAIN}/messages`)[0];
    assert.ok(call);
    assert.equal(call.headers.authorization, `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}`);
    assert.equal(call.headers['content-type'], 'application/x-www-form-urlencoded');
    const [root, answer] = us.messages;
    assert.ok(root && answer);
    assert.equal(root.from, SENDER);
    assert.equal(root.to, 'reviewer@example.com');
    assert.equal(root.subject, `teleport.example.com Role Request ${REQUEST}`);
    assert.equal(root.html, '<p>hi</p>');
    assert.equal(root.headers['message-id'], `<${first.messageId}>`);
    assert.equal(root.headers['x-teleport-access-request'], REQUEST);
    assert.equal(root.variables['teleport-request-id'], REQUEST);
    assert.equal(root.options['require-tls'], 'true', 'as upstream: Mailgun must hand the mail on over TLS');
    assert.equal(root.headers['in-reply-to'], undefined);
    assert.equal(answer.headers['in-reply-to'], `<${first.messageId}>`);
    assert.equal(answer.headers['references'], `<${first.messageId}>`);
    assert.equal(answer.id, reply.messageId);
  });

  it('createMailer picks Mailgun when [smtp] is absent, SMTP otherwise', () => {
    const m = createMailer({
      transport: 'mailgun',
      smtp: undefined,
      mailgun: { domain: DOMAIN, privateKey: KEY, apiBase: us.apiBase },
      sender: SENDER,
      senderAddress: 'noreply@example.com',
      roleToRecipients: { '*': ['a@example.com'] },
      html: false,
    });
    assert.equal(m.service, 'Mailgun');
    const smtp = createMailer({
      transport: 'smtp',
      smtp: { host: '127.0.0.1', port: 25, username: 'u', password: 'p-12345', startTlsPolicy: 'mandatory' },
      mailgun: { domain: DOMAIN, privateKey: KEY, apiBase: us.apiBase },
      sender: SENDER,
      senderAddress: 'noreply@example.com',
      roleToRecipients: { '*': ['a@example.com'] },
      html: false,
    });
    assert.equal(smtp.service, 'SMTP', 'SMTP wins when both are configured');
  });

  it('an EU-region domain works with the EU base URL, and the US one explains what to set', async () => {
    fresh(us);
    fresh(eu);
    const viaEu = mailer({ domain: 'mg.example.eu', apiBase: eu.apiBase });
    await viaEu.send(mail('eu-reviewer@example.com'));
    assert.equal(eu.messagesTo('eu-reviewer@example.com').length, 1);
    assert.deepEqual(
      (await viaEu.verify()).map((i) => [i.name, i.ok, i.detail]),
      [
        ['Mailgun API', true, `reached ${eu.apiBase} with mailgun.private_key`],
        ['Mailgun domain', true, 'mg.example.eu is active'],
      ],
    );

    // What upstream did (the US endpoint, hard-coded): Mailgun answers 401 for an EU domain.
    const viaUs = mailer({ domain: 'mg.example.eu' });
    const err = await failure(viaUs.send(mail('eu-reviewer@example.com')));
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.ok(err.userFacing);
    assert.equal(isRetryable(err), false);
    assert.equal(
      err.message.replace(us.apiBase, '<us>'),
      `Mailgun POST /messages: Mailgun at <us> refused the key for mg.example.eu (HTTP 401 Forbidden): check mailgun.private_key (or mailgun.private_key_file); if mg.example.eu is in Mailgun's EU region, set mailgun.api_base = "${MAILGUN_EU_API_BASE}"`,
    );
    const items = await viaUs.verify();
    assert.equal(items.at(-1)?.ok, false);
    assert.match(items.at(-1)?.detail ?? '', /EU region, set mailgun\.api_base/);
    assert.equal(us.messages.length, 0);
  });

  it('an always-429 call makes exactly `attempts` requests and honours Retry-After', async () => {
    fresh(us);
    us.fail({ method: 'POST', path: `/v3/${DOMAIN}/messages`, status: 429, headers: { 'retry-after': '0.05' }, times: 100 });
    const err = await failure(mailer().send(mail('a@example.com')));
    const calls = us.http.callsTo('POST', `/v3/${DOMAIN}/messages`);
    assert.equal(calls.length, FAST.attempts);
    for (let i = 1; i < calls.length; i += 1) assert.ok(calls[i]!.at - calls[i - 1]!.at >= 45, `waited ${calls[i]!.at - calls[i - 1]!.at} ms`);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.service?.status, 429);
    assert.equal(err.service?.retryAfterMs, 50);
    assert.equal(isRetryable(err), true);
    assert.equal(isOutcomeUnknown(err), false, 'a 429 sent nothing');
    assert.equal(us.messages.length, 0);
  });

  it('a 429 then success: delivered once', async () => {
    fresh(us);
    us.fail({ method: 'POST', status: 429, headers: { 'retry-after': '0' }, times: 2 });
    await mailer().send(mail('a@example.com'));
    assert.equal(us.messages.length, 1);
    assert.equal(us.http.callsTo('POST', `/v3/${DOMAIN}/messages`).length, 3);
  });

  it('a send answered 5xx is tried once and reports outcomeUnknown', async () => {
    fresh(us);
    us.fail({ method: 'POST', status: 503, times: 5 });
    const err = await failure(mailer().send(mail('a@example.com')));
    assert.equal(us.http.callsTo('POST', `/v3/${DOMAIN}/messages`).length, 1);
    assert.equal(err.service?.status, 503);
    assert.equal(isOutcomeUnknown(err), true);
    assert.equal(isRetryable(err), true);
  });

  it('a send whose answer was lost after Mailgun accepted it is found again by findSent', async () => {
    fresh(us);
    const m = mailer();
    const lost = mail('a@example.com');
    us.fail({ method: 'POST', path: `/v3/${DOMAIN}/messages`, afterEffect: true, drop: true });
    const err = await failure(m.send(lost));
    assert.equal(isOutcomeUnknown(err), true);
    assert.equal(us.http.callsTo('POST', `/v3/${DOMAIN}/messages`).length, 1, 'not repeated');
    assert.equal(us.messages.length, 1, 'Mailgun has it');
    assert.equal(await m.findSent(lost.messageId), true);
    assert.equal(await m.findSent(`<${lost.messageId}>`), true, 'brackets are fine');
    assert.equal(await m.findSent(mail('b@example.com').messageId), false);
    const events = us.http.callsTo('GET', `/v3/${DOMAIN}/events`)[0];
    assert.equal(events?.query.get('message-id'), lost.messageId);
    assert.equal(events?.query.get('event'), 'accepted');
  });

  it('findSent goes through the policy too (a 5xx read is retried)', async () => {
    fresh(us);
    const m = mailer();
    const sent = mail('a@example.com');
    await m.send(sent);
    us.fail({ method: 'GET', path: `/v3/${DOMAIN}/events`, status: 500, times: 2 });
    assert.equal(await m.findSent(sent.messageId), true);
    assert.equal(us.http.callsTo('GET', `/v3/${DOMAIN}/events`).length, 3);
  });

  it('a wrong key: plain words naming mailgun.private_key, in check and start-up', async () => {
    fresh(us);
    const logger = createCaptureLogger();
    const m = mailer({ privateKey: 'key-wrong-000000' }, logger);
    const err = await failure(m.send(mail('a@example.com')));
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.ok(err.userFacing);
    assert.equal(us.http.callsTo('POST', `/v3/${DOMAIN}/messages`).length, 1, 'a 401 is not retried');
    assert.match(
      err.message,
      /^Mailgun POST \/messages: Mailgun at http:\/\/127\.0\.0\.1:\d+\/v3 refused the key for mg\.example\.com \(HTTP 401 Forbidden\): check mailgun\.private_key \(or mailgun\.private_key_file\); if mg\.example\.com is in Mailgun's EU region, set mailgun\.api_base = "https:\/\/api\.eu\.mailgun\.net\/v3"$/,
    );
    const items = await m.verify();
    assert.deepEqual(
      items.map((i) => [i.name, i.ok]),
      [['Mailgun API', false]],
    );
    assert.throws(
      () => assertVerified('Mailgun', items),
      (e: unknown) => isPluginError(e) && e.userFacing && /^Mailgun API: .*check mailgun\.private_key/.test(e.message) && !e.message.includes('\n'),
    );
    assert.ok(!JSON.stringify(logger.entries).includes('key-wrong-000000'));
    assert.ok(!err.message.includes('key-wrong-000000'));
  });

  it('an unknown domain: check says to fix mailgun.domain', async () => {
    fresh(us);
    const items = await mailer({ domain: 'typo.example.com' }).verify();
    assert.equal(items.length, 1);
    assert.equal(items[0]!.ok, false);
    assert.match(items[0]!.detail ?? '', /does not know the domain typo\.example\.com \(Domain not found: typo\.example\.com\): check mailgun\.domain/);
  });

  it('check reports an unverified domain and accepts a domain sending key (test-mode send, as upstream)', async () => {
    fresh(us);
    const unverified = await mailer({ domain: 'new.example.com' }).verify();
    assert.ok(unverified.every((i) => i.ok));
    assert.match(unverified[1]!.detail ?? '', /new\.example\.com is unverified: Mailgun sends only to authorized recipients/);

    const sendOnly = await mailer({ domain: 'send-only.example.com', privateKey: 'send-key-1' }).verify();
    assert.deepEqual(
      sendOnly.map((i) => i.ok),
      [true, true],
    );
    assert.match(sendOnly[1]!.detail ?? '', /may send for send-only\.example\.com \(a test-mode mail was accepted\)/);
    const probe = us.messages.find((x) => x.testMode);
    assert.equal(probe?.subject, 'Health Check');
    assert.equal(us.messagesTo('noreply@example.com').length, 0, 'test mode delivers nothing');
  });

  it('an address Mailgun refuses is refused for that recipient only', async () => {
    fresh(us);
    const m = mailer();
    const err = await failure(m.send(mail('not-an-address')));
    assert.ok(isRecipientRefused(err));
    assert.equal(isRetryable(err), false);
    assert.match(err.message, /refused the recipient not-an-address \(to parameter is not a valid address/);
    await m.send(mail('fine@example.com'));
    assert.equal(us.messages.length, 1);
  });

  it('an unreachable API: a network failure that sent nothing, retried then reported', async () => {
    const down = new FakeMailgun({ apiKey: KEY });
    const base = await down.start();
    await down.close();
    const err = await failure(mailer({ apiBase: base }).send(mail('a@example.com')));
    assert.equal(err.code, 'UNREACHABLE');
    assert.equal(isOutcomeUnknown(err), false);
    const items = await mailer({ apiBase: base }).verify();
    assert.deepEqual(
      items.map((i) => [i.name, i.ok]),
      [['Mailgun API', false]],
    );
  });
});

describe('fake Mailgun', () => {
  it('accepts multipart forms as well', async () => {
    fresh(us);
    const form = new FormData();
    form.set('from', 'a@example.com');
    form.set('to', 'b@example.com');
    form.set('subject', 'multipart');
    form.set('text', 'hello');
    form.set('h:Message-Id', '<custom-id@example.com>');
    const res = await fetch(`${us.apiBase}/${DOMAIN}/messages`, {
      method: 'POST',
      body: form,
      headers: { authorization: `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}` },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { id: '<custom-id@example.com>', message: 'Queued. Thank you.' });
    assert.equal(us.messages[0]?.subject, 'multipart');
  });

  it('answers like Mailgun: 401 Forbidden (text), 400 for missing fields, ids when none is given', async () => {
    fresh(us);
    const noAuth = await fetch(`${us.apiBase}/domains/${DOMAIN}`);
    assert.equal(noAuth.status, 401);
    assert.equal(await noAuth.text(), 'Forbidden');
    const auth = { authorization: `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}` };
    const missing = await fetch(`${us.apiBase}/${DOMAIN}/messages`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'to=b%40example.com',
    });
    assert.equal(missing.status, 400);
    assert.deepEqual(await missing.json(), { message: 'from parameter is missing' });
    const generated = await fetch(`${us.apiBase}/${DOMAIN}/messages`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ from: 'a@example.com', to: 'b@example.com', subject: 's', text: 't' }).toString(),
    });
    const body = (await generated.json()) as { id: string };
    assert.match(body.id, new RegExp(`^<\\d{14}\\.[0-9a-f]{16}@${DOMAIN.replace(/\./g, '\\.')}>$`));
    // A sending key may send but not read the domain.
    const sendKey = { authorization: `Basic ${Buffer.from('api:send-key-1').toString('base64')}` };
    assert.equal((await fetch(`${us.apiBase}/domains/send-only.example.com`, { headers: sendKey })).status, 401);
  });

  it('injects faults through HttpFake: 5xx, drop, Retry-After', async () => {
    fresh(us);
    us.fail({ path: `/v3/domains/${DOMAIN}`, status: 502 });
    const auth = { authorization: `Basic ${Buffer.from(`api:${KEY}`).toString('base64')}` };
    assert.equal((await fetch(`${us.apiBase}/domains/${DOMAIN}`, { headers: auth })).status, 502);
    assert.equal((await fetch(`${us.apiBase}/domains/${DOMAIN}`, { headers: auth })).status, 200);
    us.fail({ path: `/v3/domains/${DOMAIN}`, drop: true });
    await assert.rejects(fetch(`${us.apiBase}/domains/${DOMAIN}`, { headers: auth }));
    assert.deepEqual(
      us.http.calls.map((c) => [c.status, c.injected]),
      [
        [502, true],
        [200, false],
        [0, true],
      ],
    );
  });

  it('waitFor resolves on the message it waits for', async () => {
    fresh(us);
    const waiting = us.waitFor((messages) => messages.some((x) => x.to === 'late@example.com'), 5_000);
    await mailer().send(mail('late@example.com'));
    await waiting;
  });
});
