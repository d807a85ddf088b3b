import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError, createCaptureLogger } from '@teleport-plugin/core';
import { slackSignature } from '@teleport-plugin/testkit';
import { SlackClient } from '../src/client.js';
import type { SlackReviewConfig } from '../src/config.js';
import {
  REPLY_ALREADY_REVIEWED,
  REPLY_INSUFFICIENT,
  REPLY_LOOKUP_FAILED,
  REPLY_NO_TRAIT_MATCH,
  REPLY_NO_USER,
  REPLY_LONG_TERM,
  REPLY_OWN_REQUEST,
  REPLY_RESOLVED,
  REPLY_SEVERAL_TRAIT_MATCHES,
  REPLY_UNKNOWN,
  SlackReviewHandler,
  verifySlackSignature,
} from '../src/review.js';
import { FAST_RETRY, baseConfig, makeRequest, useFakeSlackSuite } from './helpers.js';

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

  function handler(review: Partial<SlackReviewConfig> = {}, options: { now?: () => number } = {}): SlackReviewHandler {
    const tc = suite.context(
      baseConfig(suite.fake, {
        review: { enabled: true, appToken: undefined, signingSecret: 's', slackUserIdTrait: 'slack_user_id', allowEmailUsernameMatch: false, ...review },
      }),
    );
    tc.teleport.requests.set('req-1', makeRequest({ id: 'req-1', user: 'requester@example.com' }));
    tc.teleport.users.set('alice@example.com', { name: 'alice@example.com', roles: [], traits: { slack_user_id: ['U0ALICE'] } });
    tc.teleport.users.set('bob@example.com', { name: 'bob@example.com', roles: [], traits: { slack_user_id: ['U0SOMEONEELSE'] } });
    tc.teleport.users.set('requester@example.com', { name: 'requester@example.com', roles: [], traits: { slack_user_id: ['U0REQ'] } });
    const client = new SlackClient({ token: suite.fake.token, apiUrl: suite.fake.apiUrl, logger: createCaptureLogger(), retry: FAST_RETRY });
    return new SlackReviewHandler(tc.ctx, client, options);
  }

  const click = (h: SlackReviewHandler, userId: string, action: 'approve' | 'deny' = 'approve') =>
    h.handle(suite.fake.blockActionPayload({ userId, requestId: 'req-1', action, channel: 'C0ACCESS' }) as never);
  const lastEphemeral = (user: string) => suite.fake.ephemerals.filter((e) => e.user === user).at(-1)?.text;

  it('submits the review on behalf of the Teleport user whose trait holds the Slack id', async () => {
    const h = handler();
    await click(h, 'U0ALICE', 'deny');
    assert.deepEqual(suite.t.teleport.submitted, [
      { requestId: 'req-1', review: { author: 'alice@example.com', proposedState: 'DENIED', reason: 'Reviewed in Slack' } },
    ]);
    assert.match(lastEphemeral('U0ALICE') ?? '', /DENIED.*req-1/);
    await click(h, 'U0ALICE', 'approve');
    assert.equal(lastEphemeral('U0ALICE'), REPLY_ALREADY_REVIEWED);
  });

  it('fails closed when the trait holds another Slack id or the user is unknown', async () => {
    const h = handler({ allowEmailUsernameMatch: true });
    await click(h, 'U0BOB');
    suite.fake.addUser({ id: 'U0NOTP', name: 'stranger', email: 'stranger@example.com' });
    await click(h, 'U0NOTP');
    assert.equal(suite.t.teleport.submitted.length, 0);
    assert.equal(lastEphemeral('U0BOB'), REPLY_NO_TRAIT_MATCH('slack_user_id', 'U0BOB'));
    assert.equal(lastEphemeral('U0NOTP'), REPLY_NO_TRAIT_MATCH('slack_user_id', 'U0NOTP'));
  });

  it('maps by trait to a Teleport user whose name is not an email (e.g. a GitHub login)', async () => {
    const h = handler();
    suite.fake.addUser({ id: 'U0OCTO', name: 'octocat', email: 'octocat@users.noreply.github.com' });
    suite.t.teleport.users.set('octocat', { name: 'octocat', roles: [], traits: { slack_user_id: ['U0OCTO'], github_teams: ['ops'] } });
    await click(h, 'U0OCTO');
    assert.deepEqual(suite.t.teleport.submitted, [
      { requestId: 'req-1', review: { author: 'octocat', proposedState: 'APPROVED', reason: 'Reviewed in Slack' } },
    ]);
    assert.match(lastEphemeral('U0OCTO') ?? '', /APPROVED.*req-1/);
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.submitted[1]?.review.author, 'alice@example.com');
    assert.equal(suite.t.teleport.listUsersCalls, 1, 'one listing answers both clicks');
  });

  it('refuses when several Teleport users hold the Slack id, even with email matching allowed', async () => {
    const h = handler({ allowEmailUsernameMatch: true });
    suite.t.teleport.users.set('alice-gh', { name: 'alice-gh', roles: [], traits: { slack_user_id: ['U0ALICE'] } });
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.submitted.length, 0);
    assert.equal(lastEphemeral('U0ALICE'), REPLY_SEVERAL_TRAIT_MATCHES('slack_user_id', 'U0ALICE'));
    assert.ok(suite.t.logger.entries.some((e) => e.level === 'warn' && /Several Teleport users/.test(e.message)));
  });

  it('lists users again on a miss at most once a minute, and after ten minutes', async () => {
    let clock = 1_000_000;
    const h = handler({}, { now: () => clock });
    suite.fake.addUser({ id: 'U0NEW', name: 'newbie', email: 'newbie@example.com' });
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.listUsersCalls, 1);
    // The administrator links the new user just after our listing.
    suite.t.teleport.users.set('newbie', { name: 'newbie', roles: [], traits: { slack_user_id: ['U0NEW'] } });
    clock += 10_000;
    await click(h, 'U0NEW');
    assert.equal(lastEphemeral('U0NEW'), REPLY_NO_TRAIT_MATCH('slack_user_id', 'U0NEW'));
    assert.equal(suite.t.teleport.listUsersCalls, 1, 'a miss within a minute does not list again');
    clock += 50_000;
    await click(h, 'U0NEW');
    assert.equal(suite.t.teleport.listUsersCalls, 2);
    assert.equal(suite.t.teleport.submitted.at(-1)?.review.author, 'newbie');
    await click(h, 'U0REQ');
    assert.equal(suite.t.teleport.listUsersCalls, 2, 'a hit uses the listing');
    clock += 10 * 60_000;
    suite.t.teleport.users.set('bob@example.com', { name: 'bob@example.com', roles: [], traits: { slack_user_id: ['U0BOB'] } });
    await click(h, 'U0BOB');
    assert.equal(suite.t.teleport.listUsersCalls, 3, 'the listing expires after ten minutes');
    assert.equal(suite.t.teleport.submitted.at(-1)?.review.author, 'bob@example.com');
  });

  for (const code of ['ACCESS_DENIED', 'NOT_IMPLEMENTED'] as const) {
    it(`falls back to the Slack email when listing users is refused (${code}), warning once`, async () => {
      const h = handler();
      suite.t.teleport.listUsersError = new PluginError(code, 'ListUsers: access denied to perform action "list" on "user"');
      suite.t.teleport.users.set('octocat', { name: 'octocat', roles: [], traits: { slack_user_id: ['U0OCTO'] } });
      suite.fake.addUser({ id: 'U0OCTO', name: 'octocat', email: 'octocat@users.noreply.github.com' });
      await click(h, 'U0ALICE');
      assert.equal(suite.t.teleport.submitted[0]?.review.author, 'alice@example.com');
      await click(h, 'U0BOB');
      assert.equal(lastEphemeral('U0BOB'), REPLY_NO_USER, 'the email candidate still needs the trait');
      await click(h, 'U0OCTO');
      assert.equal(lastEphemeral('U0OCTO'), REPLY_NO_USER, 'no trait lookup without ListUsers');
      assert.equal(suite.t.teleport.submitted.length, 1);
      assert.equal(suite.t.teleport.listUsersCalls, 1, 'the refusal is remembered');
      const warnings = suite.t.logger.entries.filter((e) => e.level === 'warn' && e.message.includes('"user: [list, read]"'));
      assert.equal(warnings.length, 1);
    });
  }

  it('refuses instead of falling back when listing users fails for another reason', async () => {
    const h = handler();
    suite.t.teleport.listUsersError = new PluginError('CONNECTION_PROBLEM', 'ListUsers: connection refused');
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.submitted.length, 0);
    assert.equal(lastEphemeral('U0ALICE'), REPLY_LOOKUP_FAILED);
  });

  it('accepts an email-named Teleport user without the trait only when allowed', async () => {
    let h = handler();
    suite.t.teleport.users.set('alice@example.com', { name: 'alice@example.com', roles: [], traits: {} });
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.submitted.length, 0);
    await suite.t.close();
    h = handler({ slackUserIdTrait: undefined, allowEmailUsernameMatch: true });
    await click(h, 'U0BOB');
    assert.equal(suite.t.teleport.submitted[0]?.review.author, 'bob@example.com');
  });

  it('refuses self-review before calling Teleport', async () => {
    const h = handler();
    await click(h, 'U0REQ');
    assert.equal(suite.t.teleport.submitted.length, 0);
    assert.equal(lastEphemeral('U0REQ'), REPLY_OWN_REQUEST);
  });

  it('refuses a long-term request before calling Teleport, saying where to review it', async () => {
    const h = handler();
    suite.t.teleport.requests.set(
      'req-1',
      makeRequest({ id: 'req-1', user: 'requester@example.com', requestKind: 'LONG_TERM', requestedResources: [{ clusterName: 'c', kind: 'node', name: 'db-1', subResourceName: '' }] }),
    );
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.submitted.length, 0);
    assert.equal(lastEphemeral('U0ALICE'), REPLY_LONG_TERM);
    // The same click on a short-term request goes through.
    suite.t.teleport.requests.set('req-1', makeRequest({ id: 'req-1', user: 'requester@example.com', requestKind: 'SHORT_TERM' }));
    await click(h, 'U0ALICE');
    assert.equal(suite.t.teleport.submitted.length, 1);
  });

  it('explains Teleport refusals and resolved requests', async () => {
    const h = handler();
    suite.t.teleport.failNextReview = new PluginError('ACCESS_DENIED', 'user "alice@example.com" cannot submit a review');
    await click(h, 'U0ALICE');
    assert.equal(lastEphemeral('U0ALICE'), REPLY_INSUFFICIENT);
    suite.t.teleport.failNextReview = new PluginError('UNKNOWN', 'boom');
    await h.handle(suite.fake.blockActionPayload({ userId: 'U0ALICE', requestId: 'req-1', action: 'approve', channel: 'C0ACCESS' }) as never);
    assert.equal(lastEphemeral('U0ALICE'), REPLY_UNKNOWN);
    // Resolved between our state check and the submission: Teleport says AccessDenied, but the
    // clicker must read "already resolved", not "insufficient permissions".
    suite.t.teleport.failNextReview = new PluginError('ACCESS_DENIED', 'the access request has been already approved');
    await click(h, 'U0ALICE');
    assert.equal(lastEphemeral('U0ALICE'), REPLY_RESOLVED);
    suite.t.teleport.failNextReview = new PluginError('ACCESS_DENIED', 'user "alice@example.com" cannot submit reviews');
    await click(h, 'U0ALICE');
    assert.equal(lastEphemeral('U0ALICE'), REPLY_INSUFFICIENT);
    suite.t.teleport.requests.get('req-1')!.state = 'APPROVED';
    await click(h, 'U0ALICE');
    assert.equal(lastEphemeral('U0ALICE'), REPLY_RESOLVED);
  });

  it('answers 400 to a signed interaction whose payload is not a JSON object, warning without a stack', async () => {
    const h = handler();
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
    const entries = suite.t.logger.entries;
    assert.deepEqual(entries.filter((e) => e.level === 'error'), []);
    const warned = entries.filter((e) => e.level === 'warn');
    assert.deepEqual(
      warned.map((e) => [e.message, e.fields['payload']]),
      literals.map(([, got]) => ['Rejected an invalid Slack interaction payload: expected a JSON object', got]),
    );
    for (const e of warned) assert.doesNotMatch(JSON.stringify(e.fields), /TypeError|\bat /);
    assert.equal(suite.t.teleport.submitted.length, 0);
  });

  it('handle() warns about a payload that is not an object instead of throwing a TypeError', async () => {
    const h = handler();
    for (const payload of [null, 42, 'x', []]) await h.handle(payload as never);
    const entries = suite.t.logger.entries;
    assert.deepEqual(entries.filter((e) => e.level === 'error'), []);
    assert.deepEqual(
      entries.filter((e) => e.level === 'warn').map((e) => [e.message, e.fields['payload']]),
      ['null', 'a number', 'a string', 'an array'].map((got) => ['Ignored an invalid Slack interaction payload: expected a JSON object', got]),
    );
  });

  it('ignores actions outside the review block and repeated triggers', async () => {
    const h = handler();
    const payload = suite.fake.blockActionPayload({ userId: 'U0ALICE', requestId: 'req-1', action: 'approve', channel: 'C0ACCESS' });
    const other = structuredClone(payload) as { actions: Array<{ block_id: string }> };
    other.actions[0]!.block_id = 'something_else';
    await h.handle(other as never);
    assert.equal(suite.t.teleport.submitted.length, 0);
    await h.handle(payload as never);
    await h.handle(payload as never);
    assert.equal(suite.t.teleport.submitted.length, 1);
  });
});
