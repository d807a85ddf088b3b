import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  PluginError,
  REPLY_ALREADY_REVIEWED,
  REPLY_INSUFFICIENT,
  REPLY_LONG_TERM,
  REPLY_LOOKUP_FAILED,
  REPLY_NO_TRAIT_MATCH,
  REPLY_NO_USER,
  REPLY_OWN_REQUEST,
  REPLY_RESOLVED,
  REPLY_SEVERAL_TRAIT_MATCHES,
  REPLY_UNKNOWN,
  createCaptureLogger,
} from '@teleport-plugin/core';
import { SlackClient } from '../src/client.js';
import type { SlackReviewConfig } from '../src/config.js';
import { SlackReviewHandler, verifySlackSignature } from '../src/review.js';
import { slackSignature } from '../src/testing/index.js';
import { FAST_POLICY, IDS, makeRequest, useFakeSlackSuite } from './helpers.js';

describe('verifySlackSignature', () => {
  const secret = 'signing-secret';
  const body = Buffer.from('payload=%7B%7D');
  const now = 1_800_000_000;
  const headers = (ts: number, sig?: string) => ({
    'x-slack-request-timestamp': String(ts),
    'x-slack-signature': sig ?? slackSignature(secret, String(ts), body.toString()),
  });

  it('accepts a valid signature within the window', () => {
    assert.deepEqual(verifySlackSignature(secret, headers(now - 299), body, now), { ok: true });
  });

  it('rejects a wrong secret, a changed body, missing headers and old or future timestamps', () => {
    assert.equal(verifySlackSignature('other', headers(now), body, now).ok, false);
    assert.equal(verifySlackSignature(secret, headers(now), Buffer.from('payload=%7B%7D&x=1'), now).ok, false);
    assert.equal(verifySlackSignature(secret, {}, body, now).ok, false);
    assert.equal(verifySlackSignature(secret, headers(now - 301), body, now).ok, false);
    assert.equal(verifySlackSignature(secret, headers(now + 301), body, now).ok, false);
    assert.equal(verifySlackSignature(secret, headers(now, 'v0=short'), body, now).ok, false);
  });
});

describe('SlackReviewHandler', () => {
  const suite = useFakeSlackSuite();

  /**
   * A review handler over an in-memory Teleport (core/testing) where req-1 is pending. Teleport
   * users: alice (trait U0ALICE), bob (trait of someone else), the requester (their own id).
   */
  async function handler(review: Partial<SlackReviewConfig> = {}, options: { now?: () => number } = {}): Promise<SlackReviewHandler> {
    const tc = await suite.open({
      review: { enabled: true, appToken: undefined, signingSecret: 's', slackUserIdTrait: 'slack_user_id', allowEmailUsernameMatch: false, ...review },
    });
    tc.teleport.put(makeRequest({ id: 'req-1', user: 'requester@example.com' }), false);
    tc.teleport.addUser('alice@example.com', { slack_user_id: [IDS.alice] });
    tc.teleport.addUser('bob@example.com', { slack_user_id: ['U0SOMEONEELSE'] });
    tc.teleport.addUser('requester@example.com', { slack_user_id: [IDS.requester] });
    const client = new SlackClient({ token: suite.fake.token, apiUrl: suite.fake.apiUrl, logger: createCaptureLogger(), policy: FAST_POLICY });
    logStart = tc.logger.entries.length;
    return new SlackReviewHandler(tc.ctx, client, options);
  }
  /** What was logged since the handler was made (the adapter's own setup logs a warning first). */
  let logStart = 0;
  const logs = () => suite.t.logger.entries.slice(logStart);

  /** Reviews submitted to Teleport, in order. */
  const submitted = () => suite.t.teleport.decisions.filter((d) => d.review).map((d) => ({ requestId: d.requestId, review: d.review! }));
  /**
   * The in-memory Teleport resolves a request at its first review; clicks after that would only
   * get "already resolved". `reopen` (default) sets req-1 pending again, keeping its reviews.
   */
  const click = (h: SlackReviewHandler, userId: string, action: 'approve' | 'deny' = 'approve', { reopen = true } = {}) => {
    const request = suite.t.teleport.requests.get('req-1')!;
    if (reopen && request.state !== 'PENDING') suite.t.teleport.put({ ...request, state: 'PENDING', resolveReason: '' }, false);
    return h.handle(suite.fake.blockActionPayload({ userId, requestId: 'req-1', action, channel: IDS.access }) as never);
  };
  const lastEphemeral = (user: string) => suite.fake.ephemerals.filter((e) => e.user === user).at(-1)?.text;

  it('submits the review on behalf of the Teleport user whose trait holds the Slack id', async () => {
    const h = await handler();
    await click(h, IDS.alice, 'deny');
    assert.deepEqual(submitted(), [{ requestId: 'req-1', review: { author: 'alice@example.com', proposedState: 'DENIED', reason: 'Reviewed in Slack' } }]);
    assert.match(lastEphemeral(IDS.alice) ?? '', /DENIED.*req-1/);
    await click(h, IDS.alice, 'approve');
    assert.equal(lastEphemeral(IDS.alice), REPLY_ALREADY_REVIEWED);
  });

  it('fails closed when the trait holds another Slack id or the user is unknown', async () => {
    const h = await handler({ allowEmailUsernameMatch: true });
    await click(h, IDS.bob);
    suite.fake.addUser({ id: 'U0NOTP', name: 'stranger', email: 'stranger@example.com' });
    await click(h, 'U0NOTP');
    assert.equal(submitted().length, 0);
    assert.equal(lastEphemeral(IDS.bob), REPLY_NO_TRAIT_MATCH('slack_user_id', IDS.bob));
    assert.equal(lastEphemeral('U0NOTP'), REPLY_NO_TRAIT_MATCH('slack_user_id', 'U0NOTP'));
  });

  it('maps by trait to a Teleport user whose name is not an email (e.g. a GitHub login)', async () => {
    const h = await handler();
    suite.fake.addUser({ id: 'U0OCTO', name: 'octocat', email: 'octocat@users.noreply.github.com' });
    suite.t.teleport.addUser('octocat', { slack_user_id: ['U0OCTO'], github_teams: ['ops'] });
    await click(h, 'U0OCTO');
    assert.deepEqual(submitted(), [{ requestId: 'req-1', review: { author: 'octocat', proposedState: 'APPROVED', reason: 'Reviewed in Slack' } }]);
    assert.match(lastEphemeral('U0OCTO') ?? '', /APPROVED.*req-1/);
    await click(h, IDS.alice);
    assert.equal(submitted()[1]?.review.author, 'alice@example.com');
    assert.equal(suite.t.teleport.callCount('listUsers'), 1, 'one listing answers both clicks');
  });

  it('refuses when several Teleport users hold the Slack id, even with email matching allowed', async () => {
    const h = await handler({ allowEmailUsernameMatch: true });
    suite.t.teleport.addUser('alice-gh', { slack_user_id: [IDS.alice] });
    await click(h, IDS.alice);
    assert.equal(submitted().length, 0);
    assert.equal(lastEphemeral(IDS.alice), REPLY_SEVERAL_TRAIT_MATCHES('slack_user_id', IDS.alice));
    assert.ok(logs().some((e) => e.level === 'warn' && /Several Teleport users/.test(e.message)));
  });

  it('lists users again on a miss at most once a minute, and after ten minutes', async () => {
    let clock = 1_000_000;
    const h = await handler({}, { now: () => clock });
    suite.fake.addUser({ id: 'U0NEW', name: 'newbie', email: 'newbie@example.com' });
    await click(h, IDS.alice);
    assert.equal(suite.t.teleport.callCount('listUsers'), 1);
    // The administrator links the new user just after our listing.
    suite.t.teleport.addUser('newbie', { slack_user_id: ['U0NEW'] });
    clock += 10_000;
    await click(h, 'U0NEW');
    assert.equal(lastEphemeral('U0NEW'), REPLY_NO_TRAIT_MATCH('slack_user_id', 'U0NEW'));
    assert.equal(suite.t.teleport.callCount('listUsers'), 1, 'a miss within a minute does not list again');
    clock += 50_000;
    await click(h, 'U0NEW');
    assert.equal(suite.t.teleport.callCount('listUsers'), 2);
    assert.equal(submitted().at(-1)?.review.author, 'newbie');
    await click(h, IDS.requester);
    assert.equal(suite.t.teleport.callCount('listUsers'), 2, 'a hit uses the listing');
    clock += 10 * 60_000;
    suite.t.teleport.addUser('bob@example.com', { slack_user_id: [IDS.bob] });
    await click(h, IDS.bob);
    assert.equal(suite.t.teleport.callCount('listUsers'), 3, 'the listing expires after ten minutes');
    assert.equal(submitted().at(-1)?.review.author, 'bob@example.com');
  });

  for (const code of ['ACCESS_DENIED', 'NOT_IMPLEMENTED'] as const) {
    it(`falls back to the Slack email when listing users is refused (${code}), warning once`, async () => {
      const h = await handler();
      suite.t.teleport.failNext('listUsers', new PluginError(code, 'ListUsers: access denied to perform action "list" on "user"'), 100);
      suite.t.teleport.addUser('octocat', { slack_user_id: ['U0OCTO'] });
      suite.fake.addUser({ id: 'U0OCTO', name: 'octocat', email: 'octocat@users.noreply.github.com' });
      await click(h, IDS.alice);
      assert.equal(submitted()[0]?.review.author, 'alice@example.com');
      await click(h, IDS.bob);
      assert.equal(lastEphemeral(IDS.bob), REPLY_NO_USER('Slack'), 'the email candidate still needs the trait');
      await click(h, 'U0OCTO');
      assert.equal(lastEphemeral('U0OCTO'), REPLY_NO_USER('Slack'), 'no trait lookup without ListUsers');
      assert.equal(submitted().length, 1);
      assert.equal(suite.t.teleport.callCount('listUsers'), 1, 'the refusal is remembered');
      const warnings = logs().filter((e) => e.level === 'warn' && e.message.includes('"user: [list, read]"'));
      assert.equal(warnings.length, 1);
    });
  }

  it('refuses instead of falling back when listing users fails for another reason', async () => {
    const h = await handler();
    suite.t.teleport.failNext('listUsers', new PluginError('CONNECTION_PROBLEM', 'ListUsers: connection refused'), 100);
    await click(h, IDS.alice);
    assert.equal(submitted().length, 0);
    assert.equal(lastEphemeral(IDS.alice), REPLY_LOOKUP_FAILED);
  });

  it('accepts an email-named Teleport user without the trait only when allowed', async () => {
    let h = await handler();
    suite.t.teleport.addUser('alice@example.com', {});
    await click(h, IDS.alice);
    assert.equal(submitted().length, 0);
    await suite.t.close();
    h = await handler({ slackUserIdTrait: undefined, allowEmailUsernameMatch: true });
    await click(h, IDS.bob);
    assert.equal(submitted()[0]?.review.author, 'bob@example.com');
  });

  it('refuses self-review before calling Teleport', async () => {
    const h = await handler();
    await click(h, IDS.requester);
    assert.equal(submitted().length, 0);
    assert.equal(lastEphemeral(IDS.requester), REPLY_OWN_REQUEST);
  });

  it('refuses a long-term request before calling Teleport, saying where to review it', async () => {
    const h = await handler();
    suite.t.teleport.put(
      makeRequest({
        id: 'req-1',
        user: 'requester@example.com',
        requestKind: 'LONG_TERM',
        requestedResources: [{ clusterName: 'c', kind: 'node', name: 'db-1', subResourceName: '' }],
      }),
      false,
    );
    await click(h, IDS.alice);
    assert.equal(submitted().length, 0);
    assert.equal(lastEphemeral(IDS.alice), REPLY_LONG_TERM('Slack'));
    // The same click on a short-term request goes through.
    suite.t.teleport.put(makeRequest({ id: 'req-1', user: 'requester@example.com', requestKind: 'SHORT_TERM' }), false);
    await click(h, IDS.alice);
    assert.equal(submitted().length, 1);
  });

  it('explains Teleport refusals and resolved requests', async () => {
    const h = await handler();
    suite.t.teleport.failNext('submitAccessReview', new PluginError('ACCESS_DENIED', 'user "alice@example.com" cannot submit a review'));
    await click(h, IDS.alice);
    assert.equal(lastEphemeral(IDS.alice), REPLY_INSUFFICIENT);
    suite.t.teleport.failNext('submitAccessReview', new PluginError('UNKNOWN', 'boom'));
    await h.handle(suite.fake.blockActionPayload({ userId: IDS.alice, requestId: 'req-1', action: 'approve', channel: IDS.access }) as never);
    assert.equal(lastEphemeral(IDS.alice), REPLY_UNKNOWN);
    // Resolved between our state check and the submission: Teleport says AccessDenied, but the
    // clicker must read "already resolved", not "insufficient permissions".
    suite.t.teleport.failNext('submitAccessReview', new PluginError('ACCESS_DENIED', 'the access request has been already approved'));
    await click(h, IDS.alice);
    assert.equal(lastEphemeral(IDS.alice), REPLY_RESOLVED);
    suite.t.teleport.failNext('submitAccessReview', new PluginError('ACCESS_DENIED', 'user "alice@example.com" cannot submit reviews'));
    await click(h, IDS.alice);
    assert.equal(lastEphemeral(IDS.alice), REPLY_INSUFFICIENT);
    suite.t.teleport.put({ ...suite.t.teleport.requests.get('req-1')!, state: 'APPROVED' }, false);
    await click(h, IDS.alice, 'approve', { reopen: false });
    assert.equal(lastEphemeral(IDS.alice), REPLY_RESOLVED);
  });

  it('answers 400 to a signed interaction whose payload is not a JSON object, warning without a stack', async () => {
    const h = await handler();
    const route = h.route();
    const post = (payload: string) => {
      const body = new URLSearchParams({ payload }).toString();
      const ts = String(Math.floor(Date.now() / 1000));
      return route.handle({
        method: 'POST',
        path: '/interactivity',
        query: new URLSearchParams(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': ts, 'x-slack-signature': slackSignature('s', ts, body) },
        rawBody: Buffer.from(body),
        remoteAddress: '127.0.0.1',
      });
    };
    const literals: Array<[string, string]> = [
      ['null', 'null'],
      ['42', 'a number'],
      ['"x"', 'a string'],
      ['true', 'a boolean'],
      ['[]', 'an array'],
    ];
    for (const [literal] of literals) assert.deepEqual(await post(literal), { status: 400, body: 'invalid interaction payload' }, literal);
    await h.stop();
    const entries = logs();
    assert.deepEqual(
      entries.filter((e) => e.level === 'error'),
      [],
    );
    const warned = entries.filter((e) => e.level === 'warn');
    assert.deepEqual(
      warned.map((e) => [e.message, e.fields['payload']]),
      literals.map(([, got]) => ['Rejected an invalid Slack interaction payload: expected a JSON object', got]),
    );
    for (const e of warned) assert.doesNotMatch(JSON.stringify(e.fields), /TypeError|\bat /);
    assert.equal(submitted().length, 0);
  });

  it('handle() warns about a payload that is not an object instead of throwing a TypeError', async () => {
    const h = await handler();
    for (const payload of [null, 42, 'x', []]) await h.handle(payload as never);
    const entries = logs();
    assert.deepEqual(
      entries.filter((e) => e.level === 'error'),
      [],
    );
    assert.deepEqual(
      entries.filter((e) => e.level === 'warn').map((e) => [e.message, e.fields['payload']]),
      ['null', 'a number', 'a string', 'an array'].map((got) => ['Ignored an invalid Slack interaction payload: expected a JSON object', got]),
    );
  });

  it('ignores actions outside the review block and repeated triggers', async () => {
    const h = await handler();
    const payload = suite.fake.blockActionPayload({ userId: IDS.alice, requestId: 'req-1', action: 'approve', channel: IDS.access });
    const other = structuredClone(payload) as { actions: Array<{ block_id: string }> };
    other.actions[0]!.block_id = 'something_else';
    await h.handle(other as never);
    assert.equal(submitted().length, 0);
    await h.handle(payload as never);
    await h.handle(payload as never);
    assert.equal(submitted().length, 1);
  });
});
