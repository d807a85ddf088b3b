// The upstream Mattermost suite's scenarios (integrations/access/mattermost/testlib/suite.go),
// played by the adapter in the real runtime (watcher, dispatcher, ledger, core's messaging kit)
// on an in-memory Teleport, against the real-HTTP fake Mattermost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { parseConfig } from '@teleport-plugin/core';
import { makeAccessRequest, startAdapterTest, type AdapterTest } from '@teleport-plugin/core/testing';
import { parseMattermostConfig } from '../src/config.js';
import type { FakeMattermost, FakeMmUser } from '../src/testing/index.js';
import { field, rootsOf, startFake, startMattermost, testAdapter } from './helpers.js';

const requestReasonRegexp = /^\*\*Reason\*\*: ```\n(.*?)```(.*?)$/gim;
const resolutionReasonRegexp = /^\*\*Resolution reason\*\*: ```\n(.*?)```(.*?)$/gim;

let fake: FakeMattermost;
let requester: FakeMmUser;
let reviewer1: FakeMmUser;
let reviewer2: FakeMmUser;

before(async () => {
  fake = await startFake();
  requester = fake.addUser({ email: 'requester@example.com' });
  reviewer1 = fake.addUser({ email: 'reviewer1@example.com' });
  reviewer2 = fake.addUser({ email: 'reviewer2@example.com' });
});
after(() => fake.close());

const dm = (user: FakeMmUser): string => fake.directChannelFor(fake.bot, user).id;
let n = 0;
const newRequest = (over: Parameters<typeof makeAccessRequest>[0] = {}) =>
  makeAccessRequest({ id: `mm-req-${++n}`, user: requester.email, roles: ['editor'], requestReason: 'because of', ...over });

/** The requester's outcome DMs for one request. */
const notices = (requestId: string) => fake.rootPosts(dm(requester)).filter((p) => p.props['teleport_request_id'] === requestId);

/** Runs `body` with a runtime that is closed afterwards, whatever happens. */
async function withRuntime(t: Promise<AdapterTest>, body: (t: AdapterTest) => Promise<void>): Promise<void> {
  const test = await t;
  try {
    await body(test);
  } finally {
    await test.close();
  }
}

describe('upstream scenarios, through the messaging kit in the real runtime', () => {
  it('posting with truncation: one post per recipient (role map + suggested reviewer), the invalid "fallback" skipped', async () => {
    const text = `[teleport]\naddr = "localhost:3025"\nidentity = "/id"\n[mattermost]\nurl = "${fake.url}"\ntoken = "${fake.token}"\n[role_to_recipients]\neditor = ["reviewer1@example.com"]\n"*" = ["fallback"]\n`;
    const loaded = parseConfig(text, 'mm.toml', { env: {} });
    const config = parseMattermostConfig(loaded.section('mattermost'), loaded.context);
    assert.match(loaded.warnings.join('\n'), /"fallback" is neither a user's email nor a channel written as "team\/channel"/);
    await withRuntime(startAdapterTest(testAdapter, config), async (t) => {
      const req = t.teleport.put(newRequest({ requestReason: `because of ${'A'.repeat(4000)}`, suggestedReviewers: [reviewer2.email] }));
      await t.settled();
      const roots = rootsOf(fake, req.id);
      assert.equal(roots.length, 2);
      assert.deepEqual(new Set(roots.map((p) => p.channelId)), new Set([dm(reviewer1), dm(reviewer2)]));
      // Plugin data in the Go layout: `messages` = channelID/postID pairs.
      const data = t.data(req.id)!;
      assert.deepEqual(new Set(data.messages!.split(',')), new Set(roots.map((p) => `${p.channelId}/${p.id}`)));
      assert.equal(data.user, requester.email);
      assert.equal(data.roles, 'editor');
      const post = roots[0]!;
      assert.equal(field(post.message, 'Request ID'), req.id);
      assert.equal(field(post.message, 'User'), requester.email);
      const m = [...post.message.matchAll(requestReasonRegexp)];
      assert.equal(m[0]![1], `because of ${'A'.repeat(489)}`);
      assert.equal(m[0]![2], ' (truncated)');
      assert.equal(field(post.message, 'Status'), '⏳ PENDING');
      assert.match(post.message, /^\*You have new pending request to review!\*\n/);
    });
  });

  it('approval: every post updated, the resolution reason shown, the requester told in a DM', async () => {
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': [reviewer1.email] } }), async (t) => {
      const req = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.put({ ...req, state: 'APPROVED', resolveReason: 'okay' });
      await t.settled();
      const [post] = rootsOf(fake, req.id);
      assert.equal(post!.channelId, dm(reviewer1));
      assert.equal(field(post!.message, 'Status'), '✅ APPROVED');
      const m = [...post!.message.matchAll(resolutionReasonRegexp)];
      assert.deepEqual([m[0]![1], m[0]![2]], ['okay', '']);
      assert.equal(t.data(req.id)?.resolution, 'APPROVED');
      const [notice] = notices(req.id);
      assert.match(notice!.message, new RegExp(`^Your access request ${req.id} has been approved\\.`));
      assert.equal(notice!.props['teleport_kind'], 'requester-notice:APPROVED');
    });
  });

  it('denial: the reason cut at 500, the requester told', async () => {
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': [reviewer1.email] } }), async (t) => {
      const req = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.put({ ...req, state: 'DENIED', resolveReason: `not okay ${'A'.repeat(4000)}` });
      await t.settled();
      const [post] = rootsOf(fake, req.id);
      assert.equal(field(post!.message, 'Status'), '❌ DENIED');
      const m = [...post!.message.matchAll(resolutionReasonRegexp)];
      assert.deepEqual([m[0]![1], m[0]![2]], [`not okay ${'A'.repeat(491)}`, ' (truncated)']);
      assert.match(notices(req.id)[0]!.message, new RegExp(`^Your access request ${req.id} has been denied\\.`));
      assert.equal(t.data(req.id)?.resolution, 'DENIED');
    });
  });

  it('two review replies in the thread (root_id), the post re-rendered after each; approval and denial by review', async () => {
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': [reviewer1.email, reviewer2.email] } }), async (t) => {
      for (const [state, first, last] of [
        ['APPROVED', 'okay', 'finally okay'],
        ['DENIED', 'not okay', 'finally not okay'],
      ] as const) {
        const req = t.teleport.put(newRequest());
        await t.settled();
        t.teleport.review(req.id, reviewer1.email, state, first);
        await t.settled();
        const roots = rootsOf(fake, req.id);
        assert.equal(roots.length, 2);
        for (const root of roots) {
          assert.equal(fake.replies(root.id).length, 1);
          assert.equal(fake.updates.filter((u) => u.postId === root.id).length, 1, 're-rendered after the first review');
          assert.equal(field(root.message, 'Status'), '⏳ PENDING');
        }
        t.teleport.review(req.id, reviewer2.email, state, last, true);
        await t.settled();
        for (const root of roots) {
          const replies = fake.replies(root.id);
          assert.equal(replies.length, 2, `two replies in ${root.channelId}`);
          assert.ok(replies.every((r) => r.channelId === root.channelId && r.rootId === root.id));
          assert.deepEqual(
            replies.map((r) => r.props['teleport_kind']),
            ['review:0', 'review:1'],
          );
          assert.match(
            replies[0]!.message,
            new RegExp(
              `^${reviewer1.email} reviewed the request at .+ UTC\\.\\nResolution: ${state === 'APPROVED' ? '✅' : '❌'} ${state}\\.\\nReason: \`\`\`\\n${first}\`\`\`\\.$`,
            ),
          );
          assert.ok(replies[1]!.message.includes(`${reviewer2.email} reviewed the request`));
          assert.ok(replies[1]!.message.includes(`Reason: \`\`\`\n${last}\`\`\``));
          assert.equal(fake.updates.filter((u) => u.postId === root.id).length, 2, 'updated after the first review and on resolution');
          assert.equal(root.history.length, 1, 'a pending re-render leaves the text as it was');
          assert.equal(field(root.message, 'Status'), state === 'APPROVED' ? '✅ APPROVED' : '❌ DENIED');
          assert.equal([...root.message.matchAll(resolutionReasonRegexp)][0]![1], last);
        }
        assert.equal(t.data(req.id)?.reviews_count, '2');
        assert.equal(notices(req.id).length, 1);
      }
    });
  });

  it('expiry: rebuilt from plugin data once the request is gone, shows ⌛ EXPIRED, the requester told', async () => {
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': [reviewer1.email] } }), async (t) => {
      const req = t.teleport.put(newRequest({ requestReason: 'for the outage' }));
      await t.settled();
      t.teleport.remove(req.id);
      await t.settled();
      const [post] = rootsOf(fake, req.id);
      assert.equal(field(post!.message, 'Status'), '⌛ EXPIRED');
      assert.equal(field(post!.message, 'User'), requester.email);
      assert.equal([...post!.message.matchAll(requestReasonRegexp)][0]![1], 'for the outage');
      assert.doesNotMatch(post!.message, /pending request to review|tsh request review/);
      assert.match(notices(req.id)[0]!.message, new RegExp(`^Your access request ${req.id} has expired without a decision\\.`));
      assert.equal(t.data(req.id)?.resolution, 'EXPIRED');
    });
  });

  it('team channel recipients: an email and a team/channel', async () => {
    const channel = fake.addChannel({ team: 'team-llama', name: 'channel-llama' });
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': ['team-llama/channel-llama', reviewer1.email] } }), async (t) => {
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.deepEqual(new Set(rootsOf(fake, req.id).map((p) => p.channelId)), new Set([channel.id, dm(reviewer1)]));
    });
  });

  it('race: 20 requests with two reviewers each, under 429s and lost answers: one root post per recipient, one reply per review', async () => {
    await withRuntime(startMattermost(fake), async (t) => {
      fake.rateLimitNext({ method: 'POST', path: '/api/v4/posts', times: 4, retryAfterSeconds: 1 });
      fake.fail({ method: 'POST', path: '/api/v4/posts', afterEffect: true, drop: true, times: 4 });
      fake.fail({ method: 'POST', path: '/api/v4/posts', afterEffect: true, status: 502, times: 2 });
      const reqs = Array.from({ length: 20 }, () => t.teleport.put(newRequest({ user: `requester-${n}@example.com`, suggestedReviewers: [reviewer1.email, reviewer2.email] })));
      await t.settled();
      for (const req of reqs) t.teleport.review(req.id, reviewer1.email, 'APPROVED', 'okay');
      for (const req of reqs) t.teleport.review(req.id, reviewer2.email, 'APPROVED', 'okay', true);
      await t.settled();
      for (const req of reqs) {
        const roots = rootsOf(fake, req.id);
        assert.equal(roots.length, 2, `${req.id}: one root post per recipient`);
        assert.deepEqual(new Set(roots.map((p) => p.channelId)), new Set([dm(reviewer1), dm(reviewer2)]));
        for (const root of roots) {
          assert.deepEqual(
            fake.replies(root.id).map((r) => r.props['teleport_kind']),
            ['review:0', 'review:1'],
            `${req.id}: one reply per review`,
          );
          assert.equal(field(root.message, 'Status'), '✅ APPROVED');
        }
        assert.equal(t.data(req.id)?.messages?.split(',').length, 2);
        assert.equal(t.data(req.id)?.resolution, 'APPROVED');
      }
      assert.ok(fake.calls.some((c) => c.status === 429) && fake.calls.some((c) => c.injected && c.status === 0), 'faults were hit');
    });
  });
});

describe('recipients that cannot work', () => {
  it('a missing channel or a bot outside the team is reported with what to do; the others still get their post', async () => {
    fake.addChannel({ team: 'team-out', name: 'ops', botMember: false });
    fake.addChannel({ team: 'team-llama', name: 'closed', botMember: false });
    const recipients = ['team-llama/missing', 'team-out/ops', 'team-llama/closed', reviewer1.email, 'nobody@example.com'];
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': recipients } }), async (t) => {
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.deepEqual(
        rootsOf(fake, req.id).map((p) => p.channelId),
        [dm(reviewer1)],
      );
      assert.equal(t.data(req.id)?.messages?.split(',').length, 1);
      const problems = t.logger.entries.filter((e) => e.level === 'warn' && /recipient cannot be used/.test(e.message));
      const problem = (recipient: string) => String(problems.find((e) => e.fields['recipient'] === recipient)?.fields['problem'] ?? '');
      assert.match(problem('team-llama/missing'), /team "team-llama" has no channel "missing" the bot can see: check the name in the channel's link/);
      assert.match(problem('team-out/ops'), /the bot is not a member of team "team-out": add it to the team/);
      assert.match(problem('nobody@example.com'), /no Mattermost user has the email nobody@example.com/);
      // In the team but not in the channel: found, but Mattermost refuses the post (403).
      const refused = t.logger.entries.find((e) => e.level === 'error' && e.fields['recipient'] === 'team-llama/closed');
      assert.ok(refused, 'the refused post is reported');
      assert.match(String(refused.fields['error']), /the bot may not post to team-llama\/closed: add it to that channel \(type \/invite @teleport in the channel\)/);
      // The request is still delivered as far as it can be: resolution goes on for the others.
      t.teleport.review(req.id, reviewer1.email, 'APPROVED', 'fine', true);
      await t.settled();
      assert.equal(field(rootsOf(fake, req.id)[0]!.message, 'Status'), '✅ APPROVED');
      assert.equal(t.data(req.id)?.resolution, 'APPROVED');
    });
  });

  it("the requester is told only when their Teleport name is a Mattermost user's email; notify_requester = false turns it off", async () => {
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': [reviewer1.email] } }), async (t) => {
      const a = t.teleport.put(newRequest({ user: 'bob' }));
      const b = t.teleport.put(newRequest({ user: 'stranger@example.com' }));
      await t.settled();
      t.teleport.review(a.id, reviewer1.email, 'APPROVED', '', true);
      t.teleport.review(b.id, reviewer1.email, 'DENIED', '', true);
      await t.settled();
      assert.equal(fake.postsFor(a.id).filter((p) => String(p.props['teleport_kind']).startsWith('requester-notice')).length, 0);
      assert.equal(fake.postsFor(b.id).filter((p) => String(p.props['teleport_kind']).startsWith('requester-notice')).length, 0);
      assert.equal(t.data(a.id)?.resolution, 'APPROVED');
      assert.equal(t.data(b.id)?.resolution, 'DENIED');
    });
    await withRuntime(startMattermost(fake, { roleToRecipients: { '*': [reviewer1.email] }, notifyRequester: false }), async (t) => {
      const req = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.review(req.id, reviewer1.email, 'APPROVED', '', true);
      await t.settled();
      assert.equal(notices(req.id).length, 0);
      assert.equal(field(rootsOf(fake, req.id)[0]!.message, 'Status'), '✅ APPROVED');
    });
  });
});
