// Delivery guarantees of the adapter in the real runtime: every post is made once, also when an
// answer is lost, the process crashes half-way, the plugin was stopped, or two replicas run.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accessRequestSnapshot, isPluginError } from '@teleport-plugin/core';
import { MemoryTeleport, adapterContext, makeAccessRequest, makeAccessReview } from '@teleport-plugin/core/testing';
import { setupMattermost } from '../src/adapter.js';
import type { FakeMattermost, FakeMmUser } from '../src/testing/index.js';
import { FAST, clientFor, field, mmConfig, rootsOf, startFake, startMattermost } from './helpers.js';

let fake: FakeMattermost;
let requester: FakeMmUser;
let reviewer: FakeMmUser;
let channelId: string;

before(async () => {
  fake = await startFake();
  requester = fake.addUser({ email: 'requester@example.com' });
  reviewer = fake.addUser({ email: 'reviewer@example.com' });
  channelId = fake.addChannel({ team: 'ops', name: 'access' }).id;
});
after(() => fake.close());

const recipients = () => ({ roleToRecipients: { '*': ['ops/access', reviewer.email] } });
let n = 0;
const newRequest = (over: Parameters<typeof makeAccessRequest>[0] = {}) => makeAccessRequest({ id: `dl-req-${++n}`, user: requester.email, ...over });
const kinds = (requestId: string, kind: string) => fake.postsFor(requestId).filter((p) => p.props['teleport_kind'] === kind);
const POSTS = '/api/v4/posts';

describe('exactly once, against lost answers', () => {
  it('a post whose answer is lost after it was made happens once and is recorded (found by its props)', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      fake.fail({ method: 'POST', path: POSTS, afterEffect: true, drop: true });
      const req = t.teleport.put(newRequest());
      await t.settled();
      const roots = rootsOf(fake, req.id);
      assert.equal(roots.length, 2, 'one post per recipient, none repeated');
      const data = t.data(req.id)!;
      for (const root of roots) {
        assert.equal(data[`fx/post/${root.channelId}`], `ok:${root.channelId}/${root.id}`);
        assert.ok(data.messages!.split(',').includes(`${root.channelId}/${root.id}`));
      }
      assert.ok(
        t.logger.entries.some((e) => /effect had happened already/.test(e.message)),
        'settled by asking Mattermost',
      );
    } finally {
      await t.close();
    }
  });

  it('a reply and the requester notice answered with 502 after they were made are not repeated', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      const req = t.teleport.put(newRequest());
      await t.settled();
      fake.fail({ method: 'POST', path: POSTS, afterEffect: true, status: 502, times: 1 });
      t.teleport.review(req.id, reviewer.email, 'APPROVED', 'ok');
      await t.settled();
      for (const root of rootsOf(fake, req.id)) assert.equal(fake.replies(root.id).length, 1);
      fake.fail({ method: 'POST', path: POSTS, afterEffect: true, drop: true, times: 1 });
      t.teleport.put({ ...t.teleport.requests.get(req.id)!, state: 'APPROVED', resolveReason: 'fine' });
      await t.settled();
      assert.equal(kinds(req.id, 'requester-notice:APPROVED').length, 1);
      assert.equal(t.data(req.id)?.['fx/notice/APPROVED'], 'ok:found');
      assert.equal(t.data(req.id)?.resolution, 'APPROVED');
    } finally {
      await t.close();
    }
  });

  it('a post, a reply and a notice that were NOT made (answer lost before Mattermost saw them) are made after asking: nothing lost', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      fake.fail({ method: 'POST', path: POSTS, drop: true, times: 2 });
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 2);
      fake.fail({ method: 'POST', path: POSTS, drop: true, times: 2 });
      t.teleport.review(req.id, reviewer.email, 'DENIED', 'no');
      await t.settled();
      for (const root of rootsOf(fake, req.id)) assert.equal(fake.replies(root.id).length, 1);
      fake.fail({ method: 'POST', path: POSTS, status: 503, times: 1 });
      t.teleport.put({ ...t.teleport.requests.get(req.id)!, state: 'DENIED' });
      await t.settled();
      assert.equal(kinds(req.id, 'requester-notice:DENIED').length, 1);
      assert.ok(fake.calls.filter((c) => c.injected).length >= 5, 'faults were hit');
    } finally {
      await t.close();
    }
  });
});

describe('rate limits and server errors (core outbound policy)', () => {
  it('429 with Retry-After on posts and edits: waited out, each post made once', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      fake.rateLimitNext({ method: 'POST', path: POSTS, times: 2, retryAfterSeconds: 1 });
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 2);
      const posts = fake.apiCalls('POST', '/posts');
      const limited = posts.filter((c) => c.status === 429);
      assert.equal(limited.length, 2);
      const lastLimited = Math.max(...limited.map((c) => c.at));
      assert.ok(posts.filter((c) => c.status === 201 && c.at >= lastLimited + 900).length >= 1, 'a refused post was tried again after the Retry-After');
      fake.rateLimitNext({ method: 'PUT', path: /\/patch$/, times: 1, retryAfterSeconds: 1 });
      t.teleport.put({ ...t.teleport.requests.get(req.id)!, state: 'APPROVED' });
      await t.settled();
      for (const root of rootsOf(fake, req.id)) assert.equal(field(root.message, 'Status'), '✅ APPROVED');
    } finally {
      await t.close();
    }
  });

  it("with the server's rate limiter on (RateLimitSettings), a burst of requests is slowed down, not lost or doubled", async () => {
    const limited = await startFake({ rateLimit: { perSecond: 10, burst: 6 } });
    try {
      const who = limited.addUser({ email: reviewer.email });
      limited.addChannel({ team: 'ops', name: 'access' });
      const t = await startMattermost(limited, recipients());
      try {
        const reqs = Array.from({ length: 4 }, () => t.teleport.put(newRequest()));
        await t.settled();
        assert.ok(
          limited.calls.some((c) => c.status === 429),
          'the limiter refused some calls',
        );
        for (const req of reqs) {
          const roots = rootsOf(limited, req.id);
          assert.equal(roots.length, 2, `${req.id}: one post per recipient`);
          assert.ok(roots.some((p) => p.channelId === limited.directChannelFor(limited.bot, who).id));
          assert.equal(t.data(req.id)?.messages?.split(',').length, 2);
        }
      } finally {
        await t.close();
      }
    } finally {
      await limited.close();
    }
  });

  it('5xx on look-ups and edits is retried with backoff; the step completes', async () => {
    const t = await startMattermost(fake, { roleToRecipients: { '*': ['ops/access', 'late@example.com'] } });
    try {
      fake.addUser({ email: 'late@example.com' });
      fake.fail({ method: 'GET', path: /\/users\/email\//, status: 503, times: 2 });
      fake.fail({ method: 'GET', path: /\/channels\/name\//, status: 500, times: 1 });
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 2);
      fake.fail({ method: 'PUT', path: /\/patch$/, status: 502, times: 3 });
      t.teleport.remove(req.id);
      await t.settled();
      for (const root of rootsOf(fake, req.id)) assert.equal(field(root.message, 'Status'), '⌛ EXPIRED');
      assert.equal(t.data(req.id)?.resolution, 'EXPIRED');
    } finally {
      await t.close();
    }
  });

  it('an edit of a post someone deleted is reported and skipped; the other posts are still updated', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      const req = t.teleport.put(newRequest());
      await t.settled();
      const [gone, kept] = rootsOf(fake, req.id);
      fake.deletePost(gone!.id);
      t.teleport.put({ ...t.teleport.requests.get(req.id)!, state: 'DENIED' });
      await t.settled();
      assert.equal(field(fake.post(kept!.id)!.message, 'Status'), '❌ DENIED');
      assert.ok(t.logger.entries.some((e) => e.level === 'error' && /could not update the message/.test(e.message) && e.fields['recipient'] === `${gone!.channelId}/${gone!.id}`));
      assert.equal(t.data(req.id)?.resolution, 'DENIED');
    } finally {
      await t.close();
    }
  });
});

describe('a token refused while running', () => {
  it('fails the step instead of skipping the recipients; once the token works again the reconciliation posts each once', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      // The token is revoked (every post answers 401) while a request arrives.
      fake.fail({
        method: 'POST',
        path: POSTS,
        status: 401,
        body: { id: 'api.context.session_expired.app_error', message: 'Invalid or expired session, please login again.', status_code: 401 },
        times: 1_000,
      });
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 0);
      assert.ok(
        t.logger.entries.some((e) => e.level === 'warn' && /will retry/.test(e.message)),
        'the recipients are retried later, not skipped',
      );
      assert.equal(t.runtime.readiness().ready, false, 'readiness shows the refused token');
      // A new token is in place: the next reconciliation delivers what is owed, once.
      fake.clearFaults();
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 2);
      assert.equal(t.runtime.readiness().ready, true);
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 2, 'nothing posted twice');
    } finally {
      await t.close();
    }
  });

  it('a channel the bot may not post in is skipped and reported without marking the adapter unhealthy', async () => {
    const t = await startMattermost(fake, recipients());
    try {
      fake.fail({
        method: 'POST',
        path: POSTS,
        status: 403,
        body: { id: 'api.context.permissions.app_error', message: 'You do not have the appropriate permissions.', status_code: 403 },
        times: 1,
      });
      const req = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 1, 'the other recipient still got its post');
      assert.ok(t.logger.entries.some((e) => e.level === 'error' && /skipped/.test(e.message)));
      assert.equal(t.runtime.readiness().ready, true);
    } finally {
      await t.close();
    }
  });
});

describe('crashes, restarts and replicas', () => {
  it('crash recovery: an announcement left running by a dead process, whose post Mattermost already holds, is adopted, not repeated', async () => {
    const teleport = new MemoryTeleport();
    const req = teleport.put(newRequest(), false);
    const old = Date.now() - 10 * 60_000;
    // The dead process had posted in the channel, and crashed before recording it.
    const made = await clientFor(fake).createPost({ channelId, message: 'pending post', requestId: req.id, kind: 'request' });
    teleport.setPluginData(req.id, 'mattermost', {
      ...accessRequestSnapshot(req),
      announced: `run:dead:${old}`,
      [`fx/post/${channelId}`]: `run:dead:${old}`,
    });
    const t = await startMattermost(fake, recipients(), { teleport });
    try {
      await t.settled();
      const roots = rootsOf(fake, req.id);
      assert.equal(roots.filter((p) => p.channelId === channelId).length, 1, 'no second post in the channel');
      assert.equal(roots.length, 2, 'the recipient it had not reached yet got its post');
      const data = t.data(req.id)!;
      assert.equal(data[`fx/post/${channelId}`], `ok:${channelId}/${made.id}`);
      assert.ok(data.messages!.split(',').includes(`${channelId}/${made.id}`));
      assert.equal(data.announced, 'ok');
      teleport.review(req.id, reviewer.email, 'APPROVED', '', true);
      await t.settled();
      assert.equal(fake.replies(made.id).length, 1);
      assert.equal(field(fake.post(made.id)!.message, 'Status'), '✅ APPROVED');
    } finally {
      await t.close();
    }
  });

  it('a request reviewed and resolved while the plugin was stopped is finished after the restart', async () => {
    const teleport = new MemoryTeleport();
    const first = await startMattermost(fake, recipients(), { teleport });
    const req = teleport.put(newRequest());
    await first.settled();
    assert.equal(rootsOf(fake, req.id).length, 2);
    await first.close();

    // While stopped: a review and the approval, which nobody hears.
    const reviewed = { ...teleport.requests.get(req.id)!, reviews: [makeAccessReview(reviewer.email, 'APPROVED', 'ok', new Date())] };
    teleport.put({ ...reviewed, state: 'APPROVED', resolveReason: 'late' }, false);

    const second = await startMattermost(fake, recipients(), { teleport });
    try {
      await second.settled();
      for (const root of rootsOf(fake, req.id)) {
        assert.equal(fake.replies(root.id).length, 1);
        assert.equal(field(root.message, 'Status'), '✅ APPROVED');
      }
      assert.equal(rootsOf(fake, req.id).length, 2, 'nothing posted again');
      assert.equal(kinds(req.id, 'requester-notice:APPROVED').length, 1);
      assert.equal(second.data(req.id)?.resolution, 'APPROVED');
    } finally {
      await second.close();
    }
  });

  it('two runtimes over one Teleport never double a post, a reply or a notice', async () => {
    const teleport = new MemoryTeleport();
    const a = await startMattermost(fake, recipients(), { teleport, runtime: { instanceId: 'replica-a' } });
    const b = await startMattermost(fake, recipients(), { teleport, runtime: { instanceId: 'replica-b' } });
    const settled = () => Promise.all([a.settled(), b.settled()]);
    // The first posts hang for a while (made only when answered): the other replica reaches the
    // same posts while they are in flight, and must leave them to their owner.
    fake.fail({ method: 'POST', path: POSTS, delayMs: 300, times: 10 });
    try {
      const reqs = Array.from({ length: 5 }, () => teleport.put(newRequest()));
      await settled();
      for (const req of reqs) teleport.review(req.id, reviewer.email, 'APPROVED', 'ok');
      await settled();
      for (const req of reqs) teleport.review(req.id, 'second@example.com', 'DENIED', 'no', true);
      await settled();
      // A replica that backed off (BUSY) leaves the rest to the reconciliation: run it on both.
      await Promise.all([a.runtime.reconcile(), b.runtime.reconcile()]);
      await settled();
      for (const req of reqs) {
        const roots = rootsOf(fake, req.id);
        assert.equal(roots.length, 2, `${req.id}: one post per recipient`);
        for (const root of roots)
          assert.deepEqual(
            fake.replies(root.id).map((r) => r.props['teleport_kind']),
            ['review:0', 'review:1'],
          );
        assert.equal(kinds(req.id, 'requester-notice:DENIED').length, 1);
        assert.equal(teleport.pluginData(req.id, 'mattermost')?.resolution, 'DENIED');
      }
    } finally {
      fake.clearFaults();
      await a.runtime.stop(2_000);
      await b.close();
    }
  });
});

describe('taking over from the Go plugin', () => {
  it('a request the Go plugin posted (legacy channel_id + postID) is replied to and updated in its post, never posted again', async () => {
    const teleport = new MemoryTeleport();
    const req = teleport.put(newRequest(), false);
    // The Go plugin's post: no props (upstream sets none).
    const res = await fetch(`${fake.url}/api/v4/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channel_id: channelId, message: 'posted by the Go plugin' }),
    });
    const goPost = (await res.json()) as { id: string };
    teleport.setPluginData(req.id, 'mattermost', { ...accessRequestSnapshot(req), channel_id: channelId, postID: goPost.id });
    const t = await startMattermost(fake, recipients(), { teleport });
    try {
      await t.settled();
      teleport.review(req.id, reviewer.email, 'DENIED', 'no', true);
      await t.settled();
      assert.equal(rootsOf(fake, req.id).length, 0, 'nothing posted by us');
      assert.equal(fake.replies(goPost.id).length, 1);
      assert.equal(field(fake.post(goPost.id)!.message, 'Status'), '❌ DENIED');
      assert.equal(t.data(req.id)?.resolution, 'DENIED');
      assert.equal(t.data(req.id)?.reviews_count, '1');
    } finally {
      await t.close();
    }
  });
});

describe('start-up', () => {
  it('a token Mattermost rejects stops the plugin with one line naming [mattermost] token', async () => {
    const { ctx, close } = adapterContext('mattermost', mmConfig(fake, { token: 'wrong' }));
    try {
      await assert.rejects(setupMattermost(ctx, { policy: FAST }), (err: unknown) => {
        assert.ok(isPluginError(err, 'CONFIG') && err.userFacing);
        assert.match(err.message, /^Mattermost at http:\/\/127\.0\.0\.1:\d+ rejected \[mattermost\] token \(HTTP 401\): use the bot account's access token/);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
    } finally {
      await close();
    }
  });

  it('a URL that is not a Mattermost server, or nothing listening, names [mattermost] url', async () => {
    const { ctx, close } = adapterContext('mattermost', mmConfig(fake, { url: `${fake.url}/nope` }));
    try {
      await assert.rejects(setupMattermost(ctx, { policy: FAST }), /^PluginError: \[mattermost\] url: no Mattermost API at .*\/nope\/api\/v4/);
      ctx.config.url = 'http://127.0.0.1:1';
      await assert.rejects(
        setupMattermost(ctx, { policy: FAST }),
        (err: unknown) => isPluginError(err, 'UNREACHABLE') && /cannot reach Mattermost at http:\/\/127\.0\.0\.1:1 \(\[mattermost\] url\)/.test(err.message),
      );
    } finally {
      await close();
    }
  });

  it('check through the adapter: token, channels and emails', async () => {
    const { ctx, close } = adapterContext('mattermost', mmConfig(fake, { roleToRecipients: { '*': ['ops/access', reviewer.email, 'ops/nope', 'ghost@example.com'] } }));
    try {
      const handlers = await setupMattermost(ctx, { policy: FAST });
      const postsBefore = fake.apiCalls('POST', '/posts').length;
      const items = await handlers.check!(AbortSignal.timeout(5_000));
      const byName = Object.fromEntries(items.map((i) => [i.name, i]));
      assert.equal(byName['mattermost token']?.ok, true);
      assert.match(byName['mattermost token']!.detail!, /valid for bot @teleport/);
      assert.equal(byName['mattermost recipient ops/access']?.ok, true);
      assert.equal(byName[`mattermost recipient ${reviewer.email}`]?.ok, true);
      assert.equal(byName['mattermost recipient ops/nope']?.ok, false);
      assert.match(byName['mattermost recipient ops/nope']!.detail!, /team "ops" has no channel "nope"/);
      assert.equal(byName['mattermost recipient ghost@example.com']?.ok, false);
      assert.equal(fake.apiCalls('POST', '/posts').length, postsBefore, 'check posts nothing');
    } finally {
      await close();
    }
  });
});
