// The email adapter on Mailgun in the real runtime, against the real-HTTP fake Mailgun: the EU
// region, 429 and 5xx through core's outbound policy, and exactly-once through the find verbs
// (Mailgun's events log answers "was a mail with this Message-ID accepted?").
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isPluginError } from '@teleport-plugin/core';
import { adapterContext } from '@teleport-plugin/core/testing';
import { decodeEmailThreads, setupEmail } from '../src/index.js';
import { FakeMailgun } from '../src/testing/index.js';
import type { FakeMailgunMessage } from '../src/testing/index.js';
import { FAST, MG_DOMAIN, MG_KEY, expectedId, mailgunEmailConfig, newRequest, startMailgunEnv } from './helpers.js';
import type { MailgunEnv } from './helpers.js';

const REVIEWER = 'reviewers@example.com';
const MESSAGES = /^\/v3\/mg\.example\.com\/messages$/;

const open: MailgunEnv[] = [];
after(async () => {
  // Whatever happened in these tests (401s, 5xx, lost answers), the key never reached a log.
  const logs = JSON.stringify(open.flatMap((e) => e.t.logger.entries));
  for (const e of open.splice(0).reverse()) await e.close();
  assert.ok(!logs.includes(MG_KEY), 'the Mailgun key in a log');
  assert.ok(!logs.includes(Buffer.from(`api:${MG_KEY}`).toString('base64')), 'the Authorization header in a log');
});

async function env(options: Parameters<typeof startMailgunEnv>[0] = {}): Promise<MailgunEnv> {
  const e = await startMailgunEnv(options);
  open.push(e);
  return e;
}

const ofRequest = (mg: FakeMailgun, id: string, to?: string): FakeMailgunMessage[] =>
  mg.messages.filter((m) => !m.testMode && m.headers['x-teleport-access-request'] === id && (to === undefined || m.to === to));

async function startupError(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => assert.fail('expected start-up to fail'),
    (e: unknown) => e,
  );
  assert.ok(isPluginError(err) && err.userFacing, String(err));
  assert.ok(!err.message.includes('\n'), err.message);
  assert.ok(!err.message.includes(MG_KEY));
  return err.message;
}

describe('email over Mailgun in the real runtime', () => {
  it('an EU-region domain at the EU base URL: threaded by headers, the requester told the outcome', async () => {
    const mg = new FakeMailgun({ apiKey: MG_KEY, region: 'eu', domains: [{ name: MG_DOMAIN, region: 'eu' }] });
    const e = await env({ mg });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    e.t.teleport.review(r.id, 'bob@example.com', 'APPROVED', 'ship it', true);
    await e.t.settled();

    const thread = ofRequest(mg, r.id, REVIEWER);
    const firstId = expectedId(r.id, 'first', REVIEWER);
    assert.deepEqual(
      thread.map((m) => m.headers['message-id']),
      [firstId, expectedId(r.id, 'review-1', REVIEWER), expectedId(r.id, 'outcome', REVIEWER)],
    );
    for (const reply of thread.slice(1)) {
      assert.equal(reply.headers['in-reply-to'], firstId);
      assert.equal(reply.headers['references'], firstId);
    }
    assert.equal(thread[0]!.subject, `test.example.com Role Request ${r.id}`);
    assert.equal(thread[0]!.options['require-tls'], 'true');
    assert.equal(thread[0]!.variables['teleport-request-id'], r.id);
    assert.match(thread[2]!.text.trim(), /Status: ✅ APPROVED \(ship it\)$/);
    const notice = ofRequest(mg, r.id, 'alice@example.com');
    assert.equal(notice.length, 1);
    assert.match(notice[0]!.text, /^Your Role Request has been approved:\n/);
    // The thread is stored with the id Mailgun used (ours), in the Go layout.
    assert.deepEqual(
      decodeEmailThreads(e.t.data(r.id)!).map((t) => `<${t.messageId}>`),
      [firstId],
    );
    // No find was needed on the normal path.
    assert.equal(mg.http.callsTo('GET', `/v3/${MG_DOMAIN}/events`).length, 0);
  });

  it('an EU-region domain at the US endpoint fails start-up in one line pointing at mailgun.api_base', async () => {
    const us = new FakeMailgun({ apiKey: MG_KEY, region: 'us', domains: [{ name: MG_DOMAIN, region: 'eu' }] });
    await us.start();
    try {
      const message = await startupError(startMailgunEnv({ mg: us }));
      assert.match(message, /^adapter "email" failed to start: Mailgun API: .*check mailgun\.private_key .*set mailgun\.api_base = "https:\/\/api\.eu\.mailgun\.net\/v3"$/);
      assert.equal(us.messages.filter((m) => !m.testMode).length, 0);
    } finally {
      await us.close();
    }
  });

  it('a wrong key fails start-up in one line naming mailgun.private_key', async () => {
    const mg = new FakeMailgun({ apiKey: 'key-the-real-one', domains: [{ name: MG_DOMAIN }] });
    await mg.start();
    try {
      const message = await startupError(startMailgunEnv({ mg }));
      assert.match(message, /refused the key for mg\.example\.com \(HTTP 401 Forbidden\): check mailgun\.private_key \(or mailgun\.private_key_file\)/);
    } finally {
      await mg.close();
    }
  });

  it('429 with Retry-After: waited and retried by the outbound policy, one mail, no handler retry', async () => {
    const e = await env();
    e.mg.fail({ method: 'POST', path: MESSAGES, status: 429, headers: { 'retry-after': '0' }, body: { message: 'slow down' }, times: 2 });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.equal(ofRequest(e.mg, r.id).length, 1);
    assert.equal(e.mg.http.callsTo('POST', `/v3/${MG_DOMAIN}/messages`).filter((c) => c.form?.get('to') === REVIEWER).length, 3);
    assert.ok(!e.t.logger.entries.some((l) => l.message === 'handler failed; retrying'));
  });

  it('a 5xx on a send that did not happen: Mailgun is asked, then the mail goes out once (nothing lost)', async () => {
    const e = await env();
    e.mg.fail({ method: 'POST', path: MESSAGES, status: 503, body: { message: 'upstream busy' } });
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    assert.equal(ofRequest(e.mg, r.id).length, 1);
    assert.ok(e.mg.http.callsTo('GET', `/v3/${MG_DOMAIN}/events`).length >= 1, 'asked before sending again');
    assert.equal(e.t.data(r.id)?.['announced'], 'ok');
  });

  for (const lost of [
    { what: 'a dropped connection', fault: { drop: true } },
    { what: 'a 500', fault: { status: 500 } },
  ]) {
    it(`the answer to an accepted send lost (${lost.what}): found in Mailgun's events, recorded, never sent twice`, async () => {
      const e = await env();
      e.mg.fail({ method: 'POST', path: MESSAGES, afterEffect: true, ...lost.fault });
      const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
      await e.t.settled();
      assert.equal(ofRequest(e.mg, r.id, REVIEWER).length, 1);
      assert.ok(e.t.logger.entries.some((l) => l.message === 'effect had happened already; recorded, not repeated'));
      const stored = decodeEmailThreads(e.t.data(r.id)!);
      assert.deepEqual(
        stored.map((t) => `<${t.messageId}>`),
        [expectedId(r.id, 'first', REVIEWER)],
      );

      // The same for a review reply, the outcome and the requester's mail.
      e.mg.fail({ method: 'POST', path: MESSAGES, afterEffect: true, times: 3, ...lost.fault });
      e.t.teleport.review(r.id, 'bob@example.com', 'DENIED', 'no', true);
      await e.t.settled();
      assert.deepEqual(
        ofRequest(e.mg, r.id)
          .map((m) => m.headers['message-id'])
          .sort(),
        [
          expectedId(r.id, 'first', REVIEWER),
          expectedId(r.id, 'review-1', REVIEWER),
          expectedId(r.id, 'outcome', REVIEWER),
          expectedId(r.id, 'requester', 'alice@example.com'),
        ].sort(),
      );
      assert.equal(ofRequest(e.mg, r.id).length, 4);
      assert.equal(e.t.data(r.id)?.['resolution'], 'DENIED');
    });
  }

  it('a recipient Mailgun refuses (400 on "to") is logged with the address; the others get their mail', async () => {
    const e = await env({ config: { roleToRecipients: { '*': [REVIEWER, 'bounce@example.com'] } } });
    e.mg.fail({ method: 'POST', path: MESSAGES, status: 400, body: { message: 'to parameter is not a valid address. please check documentation' }, times: 1 });
    // The two first mails go out in parallel: the 400 hits whichever POST arrives first.
    const r = e.t.teleport.put(newRequest({ roles: ['ops'] }));
    await e.t.settled();
    const refused = e.t.logger.entries.find((l) => l.level === 'error' && /skipped/.test(l.message));
    assert.ok(refused, 'an error for the refused recipient');
    const address = String(refused.fields['recipient']);
    assert.ok([REVIEWER, 'bounce@example.com'].includes(address));
    assert.match(String(refused.fields['error']), new RegExp(`Mailgun refused the recipient ${address.replace('.', '\\.')}`));
    const other = address === REVIEWER ? 'bounce@example.com' : REVIEWER;
    assert.equal(ofRequest(e.mg, r.id, other).length, 1);
    assert.equal(ofRequest(e.mg, r.id, address).length, 0);
  });

  it('check: the API, the domain and the recipients, in plain words', async () => {
    const mg = new FakeMailgun({ apiKey: MG_KEY, domains: [{ name: MG_DOMAIN }] });
    await mg.start();
    const { ctx, close } = adapterContext('email', mailgunEmailConfig(mg.apiBase, { roleToRecipients: { '*': [REVIEWER] } }));
    try {
      const handlers = await setupEmail(ctx, { policy: FAST });
      const checks = await handlers.check!(AbortSignal.timeout(5_000));
      assert.deepEqual(
        checks.map((c) => [c.name, c.ok, c.detail]),
        [
          ['Mailgun API', true, `reached ${mg.apiBase} with mailgun.private_key`],
          ['Mailgun domain', true, 'mg.example.com is active'],
          ['email recipients', true, '1 address in role_to_recipients, mails from Teleport <noreply@example.com>'],
        ],
      );
    } finally {
      await close();
      await mg.close();
    }
  });
});
