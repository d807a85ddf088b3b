import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REPLY_LONG_TERM, REPLY_NO_TRAIT_MATCH, REPLY_NO_USER, REPLY_SEVERAL_TRAIT_MATCHES, goMessagesLayout, type PluginData } from '@teleport-plugin/core';
import { FakeTeleport, startHarness, type Harness } from '@teleport-plugin/testkit';
import slack from '../src/index.js';
import { FakeSlack, blocksText } from '../src/testing/index.js';
import { IDS, baseConfig, dmOf, rootsFor, runtimeEnv, startFakeSlack, useThreeReviewerHarness } from './helpers.js';

const parseMessageRefs = (data: PluginData | undefined) => goMessagesLayout.refs(data);

describe('slack adapter in the real runtime', () => {
  const env = useThreeReviewerHarness();

  it('posts, threads reviews, resolves and DMs the requester', async () => {
    const { fake, h } = env;
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'], reason: 'deploy' });
    await fake.waitFor(() => rootsFor(fake, id).length === 3);
    assert.deepEqual(
      rootsFor(fake, id)
        .map((m) => m.channel)
        .sort(),
      [IDS.access, IDS.dev, dmOf(IDS.requester)].sort(),
    );
    await h.teleport.waitFor(() => parseMessageRefs(h.teleport.admin.pluginData(id, 'slack')).length === 3, 5000, 'refs stored');
    // Upstream's format, so the Go plugin can take over: `channelID/ts`, comma-joined.
    const stored = h.teleport.admin.pluginData(id, 'slack')!.messages!;
    assert.deepEqual(
      stored.split(',').sort(),
      rootsFor(fake, id)
        .map((m) => `${m.channel}/${m.ts}`)
        .sort(),
    );
    const text = blocksText(rootsFor(fake, id)[0]!.blocks);
    assert.match(text, new RegExp(`^You have a new Role Request:\n\\*ID\\*: ${id}\n\\*Cluster\\*: \\S+\n\\*User\\*: requester@example\\.com\n`));
    assert.match(text, /\*Role\*: `editor` \*Login\(s\)\*: `root`\n\*Reason\*: ```\ndeploy```\n/);
    assert.match(text, /\*Status\*: ⏳ PENDING$/);

    await h.teleport.admin.review(id, { author: 'alice@example.com', state: 'APPROVED', reason: 'fine' });
    await fake.waitFor(() => rootsFor(fake, id).every((m) => fake.replies(m.channel, m.ts).length === 1));
    await h.teleport.admin.deny(id, { reason: 'changed my mind' });
    await fake.waitFor(() => rootsFor(fake, id).every((m) => /❌ DENIED\n\*Resolution reason\*: ```\nchanged my mind```/.test(blocksText(m.blocks))));
    await fake.waitFor(() => fake.messages.some((m) => m.channel === dmOf(IDS.requester) && m.text === `Request with ID "${id}" has been updated: *DENIED*`));
    const reply = fake.replies(rootsFor(fake, id)[0]!.channel, rootsFor(fake, id)[0]!.ts)[0]!;
    assert.match(reply.text, /^alice@example\.com reviewed the request at .* UTC\.\nResolution: ✅ APPROVED\.\nReason: ```\nfine```$/);
  });

  it('marks expired requests', async () => {
    const { fake, h } = env;
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 3);
    await h.teleport.waitFor(() => parseMessageRefs(h.teleport.admin.pluginData(id, 'slack')).length === 3, 5000, 'refs stored');
    await h.teleport.admin.expire(id);
    await fake.waitFor(() => rootsFor(fake, id).every((m) => /⌛ EXPIRED$/.test(blocksText(m.blocks))));
    await fake.waitFor(() => fake.messages.some((m) => m.text === `Request with ID "${id}" has been updated: *EXPIRED*`));
  });
});

describe('approve and deny from Slack through the runtime', () => {
  let fake: FakeSlack;
  let h: Harness;
  const secret = 'test-signing-secret';

  before(async () => {
    fake = await startFakeSlack();
    const teleport = await FakeTeleport.start();
    teleport.addRequester('requester@example.com', { traits: { slack_user_id: [IDS.requester] } });
    teleport.addReviewer('alice@example.com');
    teleport.upsertUser({ name: 'alice@example.com', roles: ['alice@example.com-reviewer'], traits: { slack_user_id: ['U0ALICE'] } });
    // Linked to Slack but not allowed to review anything.
    teleport.upsertUser({ name: 'bob@example.com', roles: [], traits: { slack_user_id: [IDS.bob] } });
    // Needs two approvals, so one review leaves it pending.
    teleport.addRequester('requester2@example.com', { thresholds: [{ name: 'two', filter: '', approve: 2, deny: 2 }] as never });
    const config = baseConfig(fake, {
      review: { enabled: true, appToken: fake.appToken, signingSecret: secret, slackUserIdTrait: 'slack_user_id', allowEmailUsernameMatch: false },
    });
    h = await startHarness({
      teleport,
      adapters: [{ adapter: slack, config }],
      runtimeOptions: { http: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true },
    });
    // Reviewing on behalf of users needs more than the preset plugin role (submit_for_users).
    teleport.upsertUser({ name: FakeTeleport.PLUGIN_USER, roles: [FakeTeleport.PLUGIN_USER, 'admin'] });
  });
  after(async () => {
    await h?.stop();
    await h?.teleport.close();
    await fake?.close();
  });

  const url = () => `${h.runtime.httpUrl}/slack/interactivity`;

  it('puts buttons on pending reviewer messages', async () => {
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);
    const channelMsg = rootsFor(fake, id).find((m) => m.channel === IDS.access)!;
    assert.ok(channelMsg.blocks.some((b) => (b as { block_id?: string }).block_id === 'review_block'));
    assert.ok(
      !rootsFor(fake, id)
        .find((m) => m.channel === dmOf(IDS.requester))!
        .blocks.some((b) => (b as { type?: string }).type === 'actions'),
    );
  });

  it('long-term requests: their own title, no buttons, refused from Slack, title kept after expiry', async () => {
    const id = await h.teleport.admin.createRequest({
      user: 'requester@example.com',
      roles: ['editor'],
      resources: [{ kind: 'node', name: 'db-1' }],
      requestKind: 'LONG_TERM',
    });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);
    for (const m of rootsFor(fake, id)) {
      assert.match(blocksText(m.blocks), /^You have a new Resource Request \(long-term access\):\n/);
      assert.ok(!m.blocks.some((b) => (b as { type?: string }).type === 'actions'), `no buttons in ${m.channel}`);
    }
    await h.teleport.waitFor(() => h.teleport.admin.pluginData(id, 'slack')?.request_kind === 'LONG_TERM', 5000, 'kind stored');
    await h.teleport.waitFor(() => parseMessageRefs(h.teleport.admin.pluginData(id, 'slack')).length === 2, 5000, 'refs stored');
    // A crafted click (the buttons are not there) is still refused, before anything reaches Teleport.
    const before = fake.ephemerals.length;
    const res = await FakeSlack.sendInteraction(url(), fake.blockActionPayload({ userId: 'U0ALICE', requestId: id, action: 'approve', channel: IDS.access }), {
      signingSecret: secret,
    });
    assert.equal(res.status, 200);
    await fake.waitFor(() => fake.ephemerals.length > before);
    assert.equal(fake.ephemerals.at(-1)?.text, REPLY_LONG_TERM('Slack'));
    assert.equal(h.teleport.admin.getRequest(id)?.reviews.length, 0);
    assert.equal(h.teleport.admin.getRequest(id)?.state, 'PENDING');
    // After expiry the request is gone; the message is rebuilt from plugin data with the same title.
    await h.teleport.admin.expire(id);
    await fake.waitFor(() => rootsFor(fake, id).every((m) => /⌛ EXPIRED$/.test(blocksText(m.blocks))));
    for (const m of rootsFor(fake, id)) assert.match(blocksText(m.blocks), /^You have a new Resource Request \(long-term access\):\n/);
  });

  it('rejects unsigned, mis-signed and stale interactivity posts', async () => {
    const payload = fake.blockActionPayload({ userId: 'U0ALICE', requestId: 'nope', action: 'approve', channel: IDS.access });
    assert.equal((await FakeSlack.sendInteraction(url(), payload, { signingSecret: 'wrong' })).status, 401);
    assert.equal((await FakeSlack.sendInteraction(url(), payload, { signingSecret: secret, timestamp: Math.floor(Date.now() / 1000) - 600 })).status, 401);
    const res = await fetch(url(), { method: 'POST', body: 'payload={}', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(res.status, 401);
  });

  it('approves over HTTP interactivity as the mapped Teleport user, and refuses the requester', async () => {
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);

    const own = await FakeSlack.sendInteraction(url(), fake.blockActionPayload({ userId: IDS.requester, requestId: id, action: 'approve', channel: IDS.access }), {
      signingSecret: secret,
    });
    assert.equal(own.status, 200);
    await fake.waitFor(() => fake.ephemerals.some((e) => e.user === IDS.requester && e.text === 'You cannot review your own request'));
    assert.equal(h.teleport.admin.getRequest(id)?.reviews.length, 0);

    const res = await FakeSlack.sendInteraction(url(), fake.blockActionPayload({ userId: 'U0ALICE', requestId: id, action: 'approve', channel: IDS.access }), {
      signingSecret: secret,
    });
    assert.equal(res.status, 200);
    await h.teleport.waitFor(() => h.teleport.admin.getRequest(id)?.state === 'APPROVED', 5000, 'approval');
    assert.equal(h.teleport.admin.getRequest(id)?.reviews[0]?.author, 'alice@example.com');
    await fake.waitFor(() => fake.ephemerals.some((e) => e.user === 'U0ALICE' && /APPROVED/.test(e.text)));
    // The buttons disappear once resolved.
    await fake.waitFor(() => rootsFor(fake, id).every((m) => /✅ APPROVED/.test(blocksText(m.blocks)) && !m.blocks.some((b) => (b as { type?: string }).type === 'actions')));
  });

  it("shows Teleport's answers: insufficient permissions, already reviewed, already resolved", async () => {
    const id = await h.teleport.admin.createRequest({ user: 'requester2@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 1);
    const click = (userId: string) =>
      FakeSlack.sendInteraction(url(), fake.blockActionPayload({ userId, requestId: id, action: 'approve', channel: IDS.access }), { signingSecret: secret });
    const answers = (user: string) => fake.ephemerals.filter((e) => e.user === user).map((e) => e.text);

    const bobBefore = answers(IDS.bob).length;
    assert.equal((await click(IDS.bob)).status, 200);
    await fake.waitFor(() => answers(IDS.bob).length > bobBefore);
    assert.equal(answers(IDS.bob).at(-1), 'Insufficient permissions to review request');

    const aliceBefore = answers('U0ALICE').length;
    await click('U0ALICE');
    await fake.waitFor(() => answers('U0ALICE').length === aliceBefore + 1);
    assert.match(answers('U0ALICE').at(-1)!, /APPROVED\) of request/);
    await click('U0ALICE');
    await fake.waitFor(() => answers('U0ALICE').length === aliceBefore + 2);
    assert.equal(answers('U0ALICE').at(-1), 'Request has already been reviewed by user');
    assert.equal(h.teleport.admin.getRequest(id)?.reviews.length, 1);
    assert.equal(h.teleport.admin.getRequest(id)?.state, 'PENDING');

    await h.teleport.admin.deny(id, { reason: 'closed' });
    await click('U0ALICE');
    await fake.waitFor(() => answers('U0ALICE').length === aliceBefore + 3);
    assert.equal(answers('U0ALICE').at(-1), 'Request has already been resolved or expired');
  });

  it('denies over Socket Mode', async () => {
    await fake.waitForSocket();
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);
    await fake.sendSocketInteraction(fake.blockActionPayload({ userId: 'U0ALICE', requestId: id, action: 'deny', channel: IDS.access }));
    await h.teleport.waitFor(() => h.teleport.admin.getRequest(id)?.state === 'DENIED', 5000, 'denial');
    await fake.waitFor(() => fake.ephemerals.some((e) => e.user === 'U0ALICE' && e.text.includes(`DENIED) of request ${id}`)));
  });
});

describe('Socket Mode alone (no signing secret)', () => {
  it('approves over Socket Mode and exposes no HTTP interactivity route', async () => {
    const fake = await startFakeSlack();
    const teleport = await FakeTeleport.start();
    let h: Harness | undefined;
    try {
      teleport.addRequester('requester@example.com');
      teleport.addReviewer('alice@example.com');
      teleport.upsertUser({ name: 'alice@example.com', roles: ['alice@example.com-reviewer'], traits: { slack_user_id: ['U0ALICE'] } });
      const config = baseConfig(fake, {
        review: { enabled: true, appToken: fake.appToken, signingSecret: undefined, slackUserIdTrait: 'slack_user_id', allowEmailUsernameMatch: false },
      });
      h = await startHarness({ teleport, adapters: [{ adapter: slack, config }], runtimeOptions: { http: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true } });
      teleport.upsertUser({ name: FakeTeleport.PLUGIN_USER, roles: [FakeTeleport.PLUGIN_USER, 'admin'] });
      await fake.waitForSocket();
      const id = await teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
      await fake.waitFor(() => rootsFor(fake, id).length === 2);
      const payload = fake.blockActionPayload({ userId: 'U0ALICE', requestId: id, action: 'approve', channel: IDS.access });
      const http = await FakeSlack.sendInteraction(`${h.runtime.httpUrl}/slack/interactivity`, payload, { signingSecret: 'anything' });
      assert.equal(http.status, 404);
      await fake.sendSocketInteraction(payload);
      await teleport.waitFor(() => teleport.admin.getRequest(id)?.state === 'APPROVED', 5000, 'approval');
      assert.equal(teleport.admin.getRequest(id)?.reviews[0]?.author, 'alice@example.com');
      await fake.waitFor(() => fake.ephemerals.some((e) => e.user === 'U0ALICE' && e.text.includes(`APPROVED) of request ${id}`)));
    } finally {
      await h?.stop();
      await teleport.close();
      await fake.close();
    }
  });
});

const TRAIT_SECRET = 'trait-signing-secret';
/** gRPC status codes (the Slack package does not depend on grpc-js). */
const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;

/**
 * Review over HTTP interactivity in the real runtime, with Teleport users that are not named
 * after Slack emails: the plugin user may review for others (admin), so it may list users too.
 */
async function startTraitHarness(setup: (teleport: FakeTeleport, fake: FakeSlack) => void): Promise<{ fake: FakeSlack; h: Harness; close(): Promise<void> }> {
  const fake = await startFakeSlack();
  const teleport = await FakeTeleport.start();
  teleport.addRequester('requester@example.com', { traits: { slack_user_id: [IDS.requester] } });
  setup(teleport, fake);
  const config = baseConfig(fake, {
    review: { enabled: true, appToken: undefined, signingSecret: TRAIT_SECRET, slackUserIdTrait: 'slack_user_id', allowEmailUsernameMatch: false },
  });
  const h = await startHarness({
    teleport,
    adapters: [{ adapter: slack, config }],
    runtimeOptions: { http: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true },
  });
  teleport.upsertUser({ name: FakeTeleport.PLUGIN_USER, roles: [FakeTeleport.PLUGIN_USER, 'admin'] });
  return runtimeEnv(fake, teleport, h);
}

/** A GitHub SSO login: the Teleport name `octocat` is not the Slack email; the trait links them. */
function addOctocat(teleport: FakeTeleport, fake: FakeSlack): void {
  fake.addUser({ id: 'U0OCTO', name: 'octocat', email: 'octocat@users.noreply.github.com' });
  teleport.addReviewer('octocat');
  teleport.upsertUser({ name: 'octocat', roles: ['octocat-reviewer'], traits: { slack_user_id: ['U0OCTO'] } });
}

/** Clicks approve as `userId` and waits for the clicker's answer. */
async function approveAs(env: { fake: FakeSlack; h: Harness }, userId: string, id: string): Promise<string> {
  const before = env.fake.ephemerals.filter((e) => e.user === userId).length;
  const res = await FakeSlack.sendInteraction(
    `${env.h.runtime.httpUrl}/slack/interactivity`,
    env.fake.blockActionPayload({ userId, requestId: id, action: 'approve', channel: IDS.access }),
    { signingSecret: TRAIT_SECRET },
  );
  assert.equal(res.status, 200);
  await env.fake.waitFor(() => env.fake.ephemerals.filter((e) => e.user === userId).length > before);
  return env.fake.ephemerals.filter((e) => e.user === userId).at(-1)!.text;
}

describe('Slack user -> Teleport user by trait (ListUsers) through the runtime', () => {
  let env: Awaited<ReturnType<typeof startTraitHarness>>;
  before(async () => {
    env = await startTraitHarness((teleport, fake) => {
      addOctocat(teleport, fake);
      // The same Slack id on two Teleport users.
      fake.addUser({ id: 'U0TWIN', name: 'twin', email: 'twin@example.com' });
      for (const name of ['twin-a', 'twin-b']) {
        teleport.addReviewer(name);
        teleport.upsertUser({ name, roles: [`${name}-reviewer`], traits: { slack_user_id: ['U0TWIN'] } });
      }
      // A reviewer whose Teleport name is the Slack email, but without the trait.
      teleport.addReviewer('bob@example.com');
    });
  });
  after(() => env?.close());

  it('approves as the user whose trait holds the Slack id, though the name is not an email', async () => {
    const { fake, h } = env;
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);
    assert.match(await approveAs(env, 'U0OCTO', id), new RegExp(`APPROVED\\) of request ${id}`));
    assert.equal(h.teleport.admin.getRequest(id)?.state, 'APPROVED');
    assert.deepEqual(
      h.teleport.admin.getRequest(id)?.reviews.map((r) => r.author),
      ['octocat'],
    );
    const listed = h.teleport.calls.filter((c) => c.method === 'UsersService.ListUsers');
    assert.ok(listed.length >= 1 && listed.every((c) => c.code === GRPC_OK));
  });

  it('refuses when several users or no user hold the Slack id', async () => {
    const { fake, h } = env;
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);
    assert.equal(await approveAs(env, 'U0TWIN', id), REPLY_SEVERAL_TRAIT_MATCHES('slack_user_id', 'U0TWIN'));
    // bob@example.com exists and may review, but email matching is off and he lacks the trait.
    assert.equal(await approveAs(env, IDS.bob, id), REPLY_NO_TRAIT_MATCH('slack_user_id', IDS.bob));
    assert.equal(h.teleport.admin.getRequest(id)?.reviews.length, 0);
    assert.equal(h.teleport.admin.getRequest(id)?.state, 'PENDING');
  });
});

describe('Slack user -> Teleport user when ListUsers is denied', () => {
  let env: Awaited<ReturnType<typeof startTraitHarness>>;
  before(async () => {
    env = await startTraitHarness((teleport, fake) => {
      addOctocat(teleport, fake);
      teleport.addReviewer('alice@example.com');
      teleport.upsertUser({ name: 'alice@example.com', roles: ['alice@example.com-reviewer'], traits: { slack_user_id: ['U0ALICE'] } });
      // As a plugin role without `user: list` is answered.
      teleport.faults.failNext('UsersService.ListUsers', 1000, GRPC_PERMISSION_DENIED, 'access denied to perform action "list" on "user"');
    });
  });
  after(() => env?.close());

  it('falls back to the Slack email for an email-named user; others are refused', async () => {
    const { fake, h } = env;
    const id = await h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
    await fake.waitFor(() => rootsFor(fake, id).length === 2);
    assert.equal(await approveAs(env, 'U0OCTO', id), REPLY_NO_USER('Slack'));
    assert.match(await approveAs(env, 'U0ALICE', id), new RegExp(`APPROVED\\) of request ${id}`));
    assert.deepEqual(
      h.teleport.admin.getRequest(id)?.reviews.map((r) => r.author),
      ['alice@example.com'],
    );
    const listed = h.teleport.calls.filter((c) => c.method === 'UsersService.ListUsers');
    assert.equal(listed.length, 1, 'the refusal is remembered');
    assert.equal(listed[0]?.code, GRPC_PERMISSION_DENIED);
  });
});
