import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PluginError, affectsEveryCall, createCaptureLogger, isOutcomeUnknown, isPluginError, isRetryable } from '@teleport-plugin/core';
import { SlackClient, slackErrorCode } from '../src/client.js';
import { FAST_POLICY, IDS, startFakeSlack, type FakeSlack } from './helpers.js';

let fake: FakeSlack;
before(async () => {
  fake = await startFakeSlack();
});
after(() => fake.close());

const client = (over: Partial<ConstructorParameters<typeof SlackClient>[0]> = {}): SlackClient =>
  new SlackClient({ token: fake.token, apiUrl: fake.apiUrl, logger: createCaptureLogger(), policy: FAST_POLICY, ...over });

describe('SlackClient against the fake', () => {
  it('sends Bearer auth and reads scopes from x-oauth-scopes', async () => {
    const auth = await client().authTest();
    assert.equal(auth.userId, 'UBOT');
    assert.deepEqual(auth.scopes, fake.scopes);
    assert.equal(fake.callsTo('POST', '/api/auth.test').at(-1)?.headers.authorization, `Bearer ${fake.token}`);
  });

  it('reports Slack errors by their code', async () => {
    await assert.rejects(client({ token: 'xoxb-wrong' }).authTest(), (err) => slackErrorCode(err) === 'invalid_auth');
    // A refused token is tried once per call, breaks every call (the kit keeps the handler step
    // for later instead of skipping), and is user-facing (health shows it).
    const before = fake.callsTo('POST', '/api/chat.postMessage').length;
    await assert.rejects(
      client({ token: 'xoxb-wrong' }).postMessage({ channel: 'access-requests', text: 'x' }),
      (err) => slackErrorCode(err) === 'invalid_auth' && affectsEveryCall(err) && isPluginError(err) && err.userFacing && !isOutcomeUnknown(err),
    );
    assert.equal(fake.callsTo('POST', '/api/chat.postMessage').length - before, 1);
    // A channel that does not exist stays final.
    await assert.rejects(
      client().postMessage({ channel: 'nope', text: 'x' }),
      (err) => isPluginError(err, 'SERVICE_ERROR') && slackErrorCode(err) === 'channel_not_found' && /channel_not_found/.test(err.message) && !isRetryable(err),
    );
    assert.equal(await client().lookupByEmail('nobody@example.com'), undefined);
    assert.equal(await client().lookupByEmail('alice@example.com'), IDS.alice);
  });

  it('waits for Retry-After on 429 and then succeeds', async () => {
    fake.fail({ path: '/api/chat.postMessage', status: 429, headers: { 'retry-after': '1' }, body: { ok: false, error: 'ratelimited' } });
    const before = fake.callsTo('POST', '/api/chat.postMessage').length;
    const started = Date.now();
    const posted = await client().postMessage({ channel: 'access-requests', text: 'after 429' });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 950, `waited only ${elapsed} ms`);
    assert.equal(posted.channel, IDS.access);
    const calls = fake.callsTo('POST', '/api/chat.postMessage').slice(before);
    assert.deepEqual(
      calls.map((c) => c.status),
      [429, 200],
    );
    assert.equal(fake.rootMessages(IDS.access).filter((m) => m.text === 'after 429').length, 1);
  });

  it('gives up on persistent 429 after a bounded number of tries', async () => {
    fake.fail({ path: '/api/chat.update', status: 429, headers: { 'retry-after': '0' }, times: 3 });
    const before = fake.callsTo('POST', '/api/chat.update').length;
    await assert.rejects(client({ policy: { ...FAST_POLICY, attempts: 3 } }).updateMessage({ channel: IDS.access, ts: '1.1', text: 'x', blocks: [] }), (err) =>
      isPluginError(err, 'RATE_LIMITED'),
    );
    assert.equal(fake.callsTo('POST', '/api/chat.update').length - before, 3);
  });

  it('does not wait for a Retry-After beyond the policy limit', async () => {
    fake.fail({ path: '/api/auth.test', status: 429, headers: { 'retry-after': '3600' } });
    const started = Date.now();
    await assert.rejects(client().authTest(), (err) => isPluginError(err, 'RATE_LIMITED'));
    assert.ok(Date.now() - started < 1000);
  });

  it('retries 5xx a few times on calls that are safe to repeat, within the attempt budget', async () => {
    fake.fail({ path: '/api/users.lookupByEmail', status: 503, times: 2 });
    assert.equal(await client().lookupByEmail('bob@example.com'), IDS.bob);
    const posted = await client().postMessage({ channel: 'dev-access', text: 'to update' });
    fake.fail({ path: '/api/chat.update', status: 500, times: 2 });
    const before = fake.callsTo('POST', '/api/chat.update').length;
    await assert.rejects(client({ policy: { ...FAST_POLICY, attempts: 2 } }).updateMessage({ channel: posted.channel, ts: posted.ts, text: 'never', blocks: [] }), /HTTP 500/);
    assert.equal(fake.callsTo('POST', '/api/chat.update').length - before, 2);
    assert.equal(fake.findMessage(posted.channel, posted.ts)?.text, 'to update');
  });

  // Changed with the outbound policy: a 5xx answer to chat.postMessage may come after Slack stored
  // the message, so the post is not repeated here; it fails as "outcome unknown" and the ledger
  // looks the message up (metadata) before the handler's retry posts again.
  it('does not repeat chat.postMessage after a 5xx: the outcome is unknown', async () => {
    fake.fail({ path: '/api/chat.postMessage', status: 503, times: 2 });
    const before = fake.callsTo('POST', '/api/chat.postMessage').length;
    await assert.rejects(client().postMessage({ channel: 'dev-access', text: 'after 503' }), (err) => isOutcomeUnknown(err) && /HTTP 503/.test(String(err)));
    assert.equal(fake.callsTo('POST', '/api/chat.postMessage').length - before, 1);
    fake.clearFaults();
  });

  it('never repeats chat.postMessage after a dropped connection, but repeats safe reads', async () => {
    fake.fail({ path: '/api/chat.postMessage', drop: true });
    const before = fake.callsTo('POST', '/api/chat.postMessage').length;
    await assert.rejects(client().postMessage({ channel: 'dev-access', text: 'dropped' }), (err) => isPluginError(err, 'CONNECTION_PROBLEM') && isOutcomeUnknown(err));
    assert.equal(fake.callsTo('POST', '/api/chat.postMessage').length - before, 1);

    fake.fail({ path: '/api/users.lookupByEmail', drop: true });
    assert.equal(await client().lookupByEmail('bob@example.com'), IDS.bob);
  });

  it('sends arguments form-encoded as Slack expects, objects as JSON', async () => {
    await client().postMessage({
      channel: 'access-requests',
      text: 'tagged & encoded',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*x*' } }],
      tag: { requestId: 'req-form', kind: 'request' },
    });
    const call = fake.callsTo('POST', '/api/chat.postMessage').at(-1)!;
    assert.match(String(call.headers['content-type']), /^application\/x-www-form-urlencoded/);
    assert.equal(call.form?.get('text'), 'tagged & encoded');
    assert.deepEqual(JSON.parse(call.form?.get('metadata') ?? 'null'), { event_type: 'teleport_access_request', event_payload: { request_id: 'req-form', kind: 'request' } });
    assert.deepEqual(JSON.parse(call.form?.get('blocks') ?? 'null'), [{ type: 'section', text: { type: 'mrkdwn', text: '*x*' } }]);
    assert.equal(call.form?.has('thread_ts'), false);
  });

  it('treats a post answered with something other than JSON as possibly made, and a read as worth repeating', async () => {
    fake.fail({ path: '/api/chat.postMessage', status: 200, body: '<html>proxy error</html>', afterEffect: true });
    await assert.rejects(
      client().postMessage({ channel: 'access-requests', text: 'html answer' }),
      (err) => isPluginError(err, 'SERVICE_ERROR') && isOutcomeUnknown(err) && /without valid JSON/.test(err.message),
    );
    assert.equal(fake.rootMessages(IDS.access).filter((m) => m.text === 'html answer').length, 1);
    fake.fail({ path: '/api/users.lookupByEmail', status: 200, body: '<html>proxy error</html>' });
    assert.equal(await client().lookupByEmail('bob@example.com'), IDS.bob);
  });

  it('times out on its own outside a handler attempt, and on the attempt signal inside one', async () => {
    fake.slowDownPosts(1, 1_000);
    await assert.rejects(client({ timeoutMs: 150 }).postMessage({ channel: 'access-requests', text: 'slow 1' }), (err) => isPluginError(err, 'TIMEOUT') && isOutcomeUnknown(err));
    fake.slowDownPosts(1, 1_000);
    await assert.rejects(
      client({ timeoutMs: 60_000 }).postMessage({ channel: 'access-requests', text: 'slow 2' }, AbortSignal.timeout(150)),
      (err) => isPluginError(err, 'TIMEOUT') && isOutcomeUnknown(err),
    );
    await fake.waitFor(() => fake.rootMessages(IDS.access).filter((m) => m.text.startsWith('slow ')).length === 2);
  });

  it('stops waiting for a retry when the caller aborts', async () => {
    fake.fail({ path: '/api/auth.test', status: 503 });
    const abort = new AbortController();
    const logger = createCaptureLogger();
    // Abort exactly when the client announces its backoff, so the wait (not the call) is cut short.
    const warn = logger.warn.bind(logger);
    logger.warn = (message, fields) => {
      warn(message, fields);
      if (message === 'service call failed; retrying') abort.abort(new PluginError('SHUTDOWN', 'shutting down'));
    };
    const started = Date.now();
    await assert.rejects(client({ logger, policy: { baseMs: 60_000, capMs: 60_000 } }).authTest(abort.signal), (err) => isPluginError(err, 'SHUTDOWN'));
    assert.ok(Date.now() - started < 10_000, 'did not wait out the backoff');
  });
});
