import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isOutcomeUnknown, isRetryable, parseConfig, type AccessReview, type Resolution } from '@teleport-plugin/core';
import type { MattermostClient, MmPost } from '../src/client.js';
import { parseMattermostConfig } from '../src/config.js';
import { decodePostRefs, withPostRefs, type PostRef } from '../src/pluginData.js';
import type { PostKind } from '../src/postEffect.js';
import { isEmail } from '../src/recipient.js';
import { postText, requesterOutcomeText, reviewReplyText, type PostView } from '../src/render.js';
import { resolveRecipient } from '../src/resolveRecipient.js';
import type { FakeMattermost, FakeMmUser } from '../src/testing/index.js';
import { clientFor, startFake } from './helpers.js';

/*
 * The upstream Mattermost suite's scenarios (testlib/suite.go), played with this package's
 * client, texts and fake, by a minimal stand-in for the delivery layer: resolve recipients, post
 * once per recipient (finding a post whose answer was lost instead of posting again), reply per
 * review in every thread, re-render, tell the requester. The adapter proper (stage B) runs the
 * same scenarios through the core's messaging kit and a fake Teleport.
 */

const msgFieldRegexp = /^\*\*([a-zA-Z ]+)\*\*: +(.+)$/gim;
const requestReasonRegexp = /^\*\*Reason\*\*: ```\n(.*?)```(.*?)$/gim;
const resolutionReasonRegexp = /^\*\*Resolution reason\*\*: ```\n(.*?)```(.*?)$/gim;
const field = (text: string, name: string): string | undefined => [...text.matchAll(msgFieldRegexp)].find((m) => m[1] === name)?.[2];

interface Request {
  id: string;
  user: string;
  roles: string[];
  reason: string;
  suggestedReviewers: string[];
  reviews: AccessReview[];
  resolution: Resolution | '';
  resolveReason: string;
}

const OSS = { webProxyUrl: undefined };

function request(id: string, extra: Partial<Request> = {}): Request {
  return { id, user: 'requester@example.com', roles: ['editor'], reason: 'because of', suggestedReviewers: [], reviews: [], resolution: '', resolveReason: '', ...extra };
}

function view(req: Request): PostView {
  return { id: req.id, user: req.user, roles: req.roles, reason: req.reason, resolution: req.resolution, resolveReason: req.resolveReason };
}

function review(author: string, state: 'APPROVED' | 'DENIED', reason: string): AccessReview {
  return { author, roles: [], proposedState: state, reason, created: new Date(), annotations: {}, assumeStartTime: undefined };
}

/** Post at most once: after an ambiguous failure, look for the post before trying again. */
async function postOnce(c: MattermostClient, post: { channelId: string; message: string; rootId?: string; requestId: string; kind: PostKind }): Promise<MmPost> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await c.createPost(post);
    } catch (err) {
      if (attempt >= 5 || !isRetryable(err)) throw err;
      if (isOutcomeUnknown(err)) {
        const found = await c.findPost(post.channelId, { requestId: post.requestId, kind: post.kind, rootId: post.rootId });
        if (found) return found;
      }
    }
  }
}

/** Raw recipients as upstream builds them: the role map ("*" as fallback) and email suggested reviewers. */
function rawRecipients(req: Request, roleToRecipients: Record<string, string[]>): string[] {
  const out = new Set<string>();
  for (const role of req.roles) for (const r of roleToRecipients[role]?.length ? roleToRecipients[role]! : roleToRecipients['*'] ?? []) out.add(r);
  for (const r of req.suggestedReviewers) if (isEmail(r)) out.add(r);
  return [...out];
}

class Driver {
  /** Plugin data per request, in the Go layout. */
  readonly data = new Map<string, Record<string, string>>();
  readonly problems: string[] = [];
  constructor(
    readonly c: MattermostClient,
    readonly roleToRecipients: Record<string, string[]>,
  ) {}

  async pending(req: Request): Promise<PostRef[]> {
    const refs: PostRef[] = [];
    await Promise.all(
      rawRecipients(req, this.roleToRecipients).map(async (raw) => {
        const to = await resolveRecipient(this.c, raw);
        if (!to.ok) {
          this.problems.push(to.problem);
          return;
        }
        const post = await postOnce(this.c, { channelId: to.channelId, message: postText(view(req), OSS), requestId: req.id, kind: 'request' });
        refs.push({ channelId: post.channelId, postId: post.id });
      }),
    );
    this.data.set(req.id, withPostRefs({ user: req.user, roles: req.roles.join(','), reviews_count: '' }, refs));
    return refs;
  }

  async reviewed(req: Request): Promise<void> {
    const data = this.data.get(req.id)!;
    const count = Number(data.reviews_count || 0);
    const refs = decodePostRefs(data);
    for (let i = count; i < req.reviews.length; i += 1) {
      await Promise.all(
        refs.map((ref) =>
          postOnce(this.c, { channelId: ref.channelId, rootId: ref.postId, message: reviewReplyText(req.reviews[i]!), requestId: req.id, kind: `review:${i}` }),
        ),
      );
    }
    data.reviews_count = String(req.reviews.length);
    await this.rerender(req);
  }

  async resolved(req: Request): Promise<void> {
    await this.reviewed(req);
    const requester = await resolveRecipient(this.c, req.user);
    if (requester.ok && req.resolution !== '') {
      const kind = `requester-notice:${req.resolution}` as const;
      await postOnce(this.c, { channelId: requester.channelId, message: requesterOutcomeText({ requestId: req.id, roles: req.roles, resolution: req.resolution, resolveReason: req.resolveReason }, OSS), requestId: req.id, kind });
    }
  }

  async rerender(req: Request): Promise<void> {
    await Promise.all(decodePostRefs(this.data.get(req.id)).map((ref) => this.c.updatePost(ref.postId, ref.channelId, postText(view(req), OSS))));
  }
}

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

describe('upstream scenarios', () => {
  it('posting with truncation: one post per recipient (role map + suggested reviewer), "fallback" skipped', async () => {
    const text = `[teleport]\naddr = "localhost:3025"\nidentity = "/id"\n[mattermost]\nurl = "${fake.url}"\ntoken = "${fake.token}"\n[role_to_recipients]\neditor = ["reviewer1@example.com"]\n"*" = ["fallback"]\n`;
    const loaded = parseConfig(text, 'mm.toml', { env: {} });
    const config = parseMattermostConfig(loaded.section('mattermost'), loaded.context);
    assert.match(loaded.warnings.join('\n'), /"fallback" is neither/);
    const driver = new Driver(clientFor(fake), config.roleToRecipients);
    const req = request('req-posting', { reason: `because of ${'A'.repeat(4000)}`, suggestedReviewers: [reviewer2.email] });
    const refs = await driver.pending(req);
    assert.equal(refs.length, 2);
    assert.deepEqual(new Set(refs.map((r) => r.channelId)), new Set([dm(reviewer1), dm(reviewer2)]));
    assert.deepEqual(new Set(decodePostRefs(driver.data.get(req.id)).map((r) => r.postId)), new Set(fake.postsFor(req.id).map((p) => p.id)));
    const post = fake.post(refs[0]!.postId)!;
    assert.equal(field(post.message, 'Request ID'), req.id);
    assert.equal(field(post.message, 'User'), 'requester@example.com');
    const m = [...post.message.matchAll(requestReasonRegexp)];
    assert.equal(m[0]![1], `because of ${'A'.repeat(489)}`);
    assert.equal(m[0]![2], ' (truncated)');
    assert.equal(field(post.message, 'Status'), '⏳ PENDING');
  });

  it('approval and denial update the post, and the requester is told', async () => {
    const driver = new Driver(clientFor(fake), { '*': [reviewer1.email] });
    const approved = request('req-approve');
    const [ref] = await driver.pending(approved);
    Object.assign(approved, { resolution: 'APPROVED', resolveReason: 'okay' });
    await driver.resolved(approved);
    const updated = fake.post(ref!.postId)!;
    assert.equal(updated.channelId, dm(reviewer1));
    assert.equal(field(updated.message, 'Status'), '✅ APPROVED');
    const m = [...updated.message.matchAll(resolutionReasonRegexp)];
    assert.deepEqual([m[0]![1], m[0]![2]], ['okay', '']);
    assert.match(fake.rootPosts(dm(requester)).at(-1)!.message, /^Your access request req-approve has been approved\./);

    const denied = request('req-deny');
    const [dref] = await driver.pending(denied);
    Object.assign(denied, { resolution: 'DENIED', resolveReason: `not okay ${'A'.repeat(4000)}` });
    await driver.resolved(denied);
    const d = fake.post(dref!.postId)!;
    assert.equal(field(d.message, 'Status'), '❌ DENIED');
    const dm2 = [...d.message.matchAll(resolutionReasonRegexp)];
    assert.deepEqual([dm2[0]![1], dm2[0]![2]], [`not okay ${'A'.repeat(491)}`, ' (truncated)']);
    assert.match(fake.rootPosts(dm(requester)).at(-1)!.message, /^Your access request req-deny has been denied\./);
  });

  it('two review replies in the thread, the post re-rendered after each; approval and denial by review', async () => {
    for (const [state, last] of [['APPROVED', 'finally okay'], ['DENIED', 'finally not okay']] as const) {
      const driver = new Driver(clientFor(fake), { '*': [reviewer1.email] });
      const req = request(`req-by-review-${state}`);
      const [ref] = await driver.pending(req);
      req.reviews.push(review(reviewer1.email, state, state === 'APPROVED' ? 'okay' : 'not okay'));
      await driver.reviewed(req);
      req.reviews.push(review(reviewer2.email, state, last));
      Object.assign(req, { resolution: state, resolveReason: last });
      await driver.resolved(req);
      const replies = fake.replies(ref!.postId);
      assert.equal(replies.length, 2);
      assert.ok(replies.every((r) => r.channelId === ref!.channelId && r.rootId === ref!.postId));
      assert.ok(replies[0]!.message.includes(`${reviewer1.email} reviewed the request`));
      assert.ok(replies[1]!.message.includes(`${reviewer2.email} reviewed the request`));
      assert.ok(replies[0]!.message.includes(`Resolution: ${state === 'APPROVED' ? '✅' : '❌'} ${state}`));
      assert.ok(replies[1]!.message.includes(`Reason: \`\`\`\n${last}\`\`\``));
      const post = fake.post(ref!.postId)!;
      assert.equal(fake.updates.filter((u) => u.postId === post.id).length, 2, 'updated after the first review and on resolution');
      assert.equal(post.history.length, 1, 'a pending re-render leaves the text as it was');
      assert.equal(field(post.message, 'Status'), state === 'APPROVED' ? '✅ APPROVED' : '❌ DENIED');
      assert.equal([...post.message.matchAll(resolutionReasonRegexp)][0]![1], last);
    }
  });

  it('expiry: the post shows ⌛ EXPIRED and the requester is told', async () => {
    const driver = new Driver(clientFor(fake), { '*': [reviewer1.email] });
    const req = request('req-expire');
    const [ref] = await driver.pending(req);
    req.resolution = 'EXPIRED';
    await driver.resolved(req);
    assert.equal(field(fake.post(ref!.postId)!.message, 'Status'), '⌛ EXPIRED');
    assert.match(fake.rootPosts(dm(requester)).at(-1)!.message, /^Your access request req-expire has expired/);
  });

  it('team channel recipients: an email and a team/channel', async () => {
    const channel = fake.addChannel({ team: 'team-llama', name: 'channel-llama' });
    const driver = new Driver(clientFor(fake), { '*': ['team-llama/channel-llama', reviewer1.email] });
    const refs = await driver.pending(request('req-team'));
    assert.deepEqual(new Set(refs.map((r) => r.channelId)), new Set([channel.id, dm(reviewer1)]));
  });

  it('a missing channel or a bot outside the team is reported with what to do; the others still get their post', async () => {
    fake.addChannel({ team: 'team-out', name: 'ops', botMember: false });
    const driver = new Driver(clientFor(fake), { '*': ['team-llama/missing', 'team-out/ops', reviewer1.email] });
    const refs = await driver.pending(request('req-partial'));
    assert.deepEqual(refs.map((r) => r.channelId), [dm(reviewer1)]);
    assert.equal(driver.problems.length, 2);
    assert.ok(driver.problems.some((p) => /team "team-llama" has no channel "missing"/.test(p)));
    assert.ok(driver.problems.some((p) => /the bot is not a member of team "team-out": add it to the team/.test(p)));
  });

  it('race: 20 requests with two reviewers each, under 429s and lost answers: one root post per recipient, one reply per review', async () => {
    const c = clientFor(fake);
    const driver = new Driver(c, {});
    fake.rateLimitNext({ method: 'POST', path: '/api/v4/posts', times: 4, retryAfterSeconds: 1 });
    fake.fail({ method: 'POST', path: '/api/v4/posts', afterEffect: true, drop: true, times: 4 });
    fake.fail({ method: 'POST', path: '/api/v4/posts', afterEffect: true, status: 502, times: 2 });
    const reqs = Array.from({ length: 20 }, (_, i) => request(`race-${i}`, { user: `requester-${i}@example.com`, suggestedReviewers: [reviewer1.email, reviewer2.email] }));
    await Promise.all(
      reqs.map(async (req) => {
        await driver.pending(req);
        req.reviews.push(review(reviewer1.email, 'APPROVED', 'okay'));
        await driver.reviewed(req);
        req.reviews.push(review(reviewer2.email, 'APPROVED', 'okay'));
        Object.assign(req, { resolution: 'APPROVED', resolveReason: 'okay' });
        await driver.resolved(req);
      }),
    );
    for (const req of reqs) {
      const roots = fake.postsFor(req.id).filter((p) => p.rootId === '');
      assert.equal(roots.length, 2, `${req.id}: one root post per recipient`);
      assert.deepEqual(new Set(roots.map((p) => p.channelId)), new Set([dm(reviewer1), dm(reviewer2)]));
      for (const root of roots) {
        assert.deepEqual(fake.replies(root.id).map((r) => r.props['teleport_kind']), ['review:0', 'review:1'], `${req.id}: one reply per review`);
        assert.equal(field(root.message, 'Status'), '✅ APPROVED');
      }
    }
    assert.ok(fake.calls.some((c) => c.status === 429) && fake.calls.some((c) => c.injected && c.status === 0), 'faults were hit');
  });
});
