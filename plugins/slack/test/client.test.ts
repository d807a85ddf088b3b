import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, isPluginError } from '@teleport-plugin/core';
import type { FakeSlack } from '@teleport-plugin/testkit';
import { SlackClient, slackErrorCode } from '../src/client.js';
import { FAST_RETRY, startFakeSlack } from './helpers.js';

let fake: FakeSlack;
before(async () => {
  fake = await startFakeSlack();
});
after(() => fake.close());

const client = (over: Partial<ConstructorParameters<typeof SlackClient>[0]> = {}): SlackClient =>
  new SlackClient({ token: fake.token, apiUrl: fake.apiUrl, logger: createCaptureLogger(), retry: FAST_RETRY, ...over });

describe('SlackClient against the fake', () => {
  it('sends Bearer auth and reads scopes from x-oauth-scopes', async () => {
    const auth = await client().authTest();
    assert.equal(auth.userId, 'UBOT');
    assert.deepEqual(auth.scopes, fake.scopes);
    assert.equal(fake.callsTo('POST', '/api/auth.test').at(-1)?.headers.authorization, `Bearer ${fake.token}`);
  });

  it('reports Slack errors by their code', async () => {
    await assert.rejects(client({ token: 'xoxb-wrong' }).authTest(), (err) => slackErrorCode(err) === 'invalid_auth');
    await assert.rejects(
      client().postMessage({ channel: 'nope', text: 'x' }),
      (err) => isPluginError(err, 'SERVICE_ERROR') && slackErrorCode(err) === 'channel_not_found' && /channel_not_found/.test(err.message),
    );
    assert.equal(await client().lookupByEmail('nobody@example.com'), undefined);
    assert.equal(await client().lookupByEmail('alice@example.com'), 'U0ALICE');
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    fake.fail({ path: '/api/chat.postMessage', status: 429, headers: { 'retry-after': '1' }, body: { ok: false, error: 'ratelimited' } });
    const before = fake.callsTo('POST', '/api/chat.postMessage').length;
    const started = Date.now();
    const posted = await client().postMessage({ channel: 'access-requests', text: 'after 429' });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950, `waited only ${elapsed} ms`);
    assert.equal(posted.channel, 'C0ACCESS');
    const calls = fake.callsTo('POST', '/api/chat.postMessage').slice(before);
    assert.deepEqual(calls.map((c) => c.status), [429, 200]);
    assert.equal(fake.rootMessages('C0ACCESS').filter((m) => m.text === 'after 429').length, 1);
  });

  it('gives up on persistent 429 after a bounded number of tries', async () => {
    fake.fail({ path: '/api/chat.update', status: 429, headers: { 'retry-after': '0' }, times: 3 });
    const before = fake.callsTo('POST', '/api/chat.update').length;
    await assert.rejects(
      client({ retry: { ...FAST_RETRY, maxAttempts: 3 } }).updateMessage({ channel: 'C0ACCESS', ts: '1.1', text: 'x', blocks: [] }),
      (err) => isPluginError(err, 'RATE_LIMITED'),
    );
    assert.equal(fake.callsTo('POST', '/api/chat.update').length - before, 3);
  });

  it('does not wait for a Retry-After beyond the policy limit', async () => {
    fake.fail({ path: '/api/auth.test', status: 429, headers: { 'retry-after': '3600' } });
    const started = Date.now();
    await assert.rejects(client().authTest(), (err) => isPluginError(err, 'RATE_LIMITED'));
    assert.ok(Date.now() - started < 1000);
  });

  it('retries 5xx a few times', async () => {
    fake.fail({ path: '/api/chat.postMessage', status: 503, times: 2 });
    const posted = await client().postMessage({ channel: 'dev-access', text: 'after 503' });
    assert.equal(posted.channel, 'C0DEV');
    assert.equal(fake.rootMessages('C0DEV').filter((m) => m.text === 'after 503').length, 1);
    fake.fail({ path: '/api/chat.postMessage', status: 500, times: 2 });
    await assert.rejects(client({ retry: { ...FAST_RETRY, maxAttempts: 2 } }).postMessage({ channel: 'dev-access', text: 'never' }), /HTTP 500/);
    assert.equal(fake.rootMessages('C0DEV').filter((m) => m.text === 'never').length, 0);
  });

  it('never repeats chat.postMessage after a dropped connection, but repeats safe reads', async () => {
    fake.fail({ path: '/api/chat.postMessage', drop: true });
    const before = fake.callsTo('POST', '/api/chat.postMessage').length;
    await assert.rejects(client().postMessage({ channel: 'dev-access', text: 'dropped' }), (err) => isPluginError(err, 'CONNECTION_PROBLEM'));
    assert.equal(fake.callsTo('POST', '/api/chat.postMessage').length - before, 1);

    fake.fail({ path: '/api/users.lookupByEmail', drop: true });
    assert.equal(await client().lookupByEmail('bob@example.com'), 'U0BOB');
  });

  it('stops waiting for a retry when the caller aborts', async () => {
    fake.fail({ path: '/api/auth.test', status: 503 });
    const abort = new AbortController();
    const logger = createCaptureLogger();
    // Abort exactly when the client announces its backoff, so the wait (not the call) is cut short.
    const warn = logger.warn.bind(logger);
    logger.warn = (message, fields) => {
      warn(message, fields);
      if (message.startsWith('Slack server error')) abort.abort();
    };
    const started = Date.now();
    await assert.rejects(
      client({ logger, retry: { baseDelayMs: 60_000, maxDelayMs: 60_000 } }).authTest(abort.signal),
      (err) => isPluginError(err, 'SHUTDOWN'),
    );
    assert.ok(Date.now() - started < 10_000, 'did not wait out the backoff');
  });
});
