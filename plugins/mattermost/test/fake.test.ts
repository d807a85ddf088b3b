import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { FakeMattermost, type FakeMmChannel } from '../src/testing/index.js';
import { clientFor, startFake } from './helpers.js';

let fake: FakeMattermost;
let channel: FakeMmChannel;

before(async () => {
  fake = await startFake();
  channel = fake.addChannel({ team: 'team-llama', name: 'channel-llama' });
});
after(() => fake.close());
beforeEach(() => fake.clearFaults());

/** A raw API v4 call, as any HTTP client would make it. */
async function api(path: string, init: { method?: string; auth?: string | null; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.auth !== null) headers['authorization'] = init.auth ?? `BEARER ${fake.token}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${fake.url}/api/v4${path}`, { method: init.method ?? 'GET', headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json: json as Record<string, unknown> };
}

describe('fake Mattermost: auth and errors as Mattermost sends them', () => {
  it('accepts the token as Bearer in any case, or as Token; refuses anything else with 401 JSON', async () => {
    for (const auth of [`BEARER ${fake.token}`, `bearer ${fake.token}`, `Bearer ${fake.token}`, `Token ${fake.token}`]) {
      assert.equal((await api('/users/me', { auth })).status, 200, auth);
    }
    for (const auth of [null, 'BEARER wrong', `Basic ${fake.token}`]) {
      const res = await api('/users/me', { auth });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('content-type'), 'application/json');
      assert.equal(res.json.id, 'api.context.session_expired.app_error');
      assert.equal(res.json.message, 'Invalid or expired session, please login again.');
      assert.equal(res.json.status_code, 401);
      assert.equal(typeof res.json.request_id, 'string');
    }
  });

  it('serves ETags and answers a current If-None-Match with 304', async () => {
    const first = await api('/users/me');
    const etag = first.headers.get('etag');
    assert.ok(etag);
    const again = await api('/users/me', { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
    assert.equal((await api('/users/me', { headers: { 'if-none-match': 'stale' } })).status, 200);
    fake.etags = false;
    try {
      assert.equal((await api('/users/me')).headers.get('etag'), null);
    } finally {
      fake.etags = true;
    }
  });
});

describe('fake Mattermost: posts', () => {
  it('enforces membership: 403 in a channel without the bot, a DM of others, and a channel that does not exist', async () => {
    const a = fake.addUser({ email: 'a@example.com' });
    const b = fake.addUser({ email: 'b@example.com' });
    const othersDm = fake.directChannelFor(a, b);
    const lurk = fake.addChannel({ team: 'team-llama', name: 'lurk', botMember: false });
    for (const id of [othersDm.id, lurk.id, 'missing']) {
      const res = await api('/posts', { method: 'POST', body: { channel_id: id, message: 'x' } });
      assert.equal(res.status, 403, id);
      assert.equal(res.json.id, 'api.context.permissions.app_error');
    }
    // The bot's own DM and a channel it joined work.
    const dm = fake.directChannelFor(fake.bot, a);
    assert.equal((await api('/posts', { method: 'POST', body: { channel_id: dm.id, message: 'x' } })).status, 201);
    fake.addChannelMember(lurk.id, fake.bot.id);
    assert.equal((await api('/posts', { method: 'POST', body: { channel_id: lurk.id, message: 'x' } })).status, 201);
  });

  it('a DM channel can only be opened by one of its two users', async () => {
    const a = fake.addUser({ email: 'dm-a@example.com' });
    const b = fake.addUser({ email: 'dm-b@example.com' });
    assert.equal((await api('/channels/direct', { method: 'POST', body: [a.id, b.id] })).status, 403);
    assert.equal((await api('/channels/direct', { method: 'POST', body: [fake.bot.id, 'nobody'] })).status, 400);
    assert.equal((await api('/channels/direct', { method: 'POST', body: [fake.bot.id] })).status, 400);
    const ok = await api('/channels/direct', { method: 'POST', body: [fake.bot.id, a.id] });
    assert.equal(ok.status, 201);
    assert.equal(ok.json.type, 'D');
    assert.equal(ok.json.name, [fake.bot.id, a.id].sort().join('__'));
    assert.equal(fake.directChannelUser(String(ok.json.id))?.id, a.id);
  });

  it('validates root_id and message length like Mattermost', async () => {
    const other = fake.addChannel({ team: 'team-llama', name: 'other' });
    const root = await api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'root' } });
    const rootId = String(root.json.id);
    assert.equal((await api('/posts', { method: 'POST', body: { channel_id: other.id, message: 'x', root_id: rootId } })).status, 400);
    assert.equal((await api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'x', root_id: 'nope' } })).status, 400);
    const reply = await api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'x', root_id: rootId } });
    assert.equal(reply.status, 201);
    assert.equal((await api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'x', root_id: String(reply.json.id) } })).status, 400);
    const small = await startFake({ maxMessageRunes: 4000 });
    try {
      const ch = small.addChannel({ team: 't', name: 'c' });
      const res = await fetch(`${small.url}/api/v4/posts`, {
        method: 'POST',
        headers: { authorization: `BEARER ${small.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ channel_id: ch.id, message: 'x'.repeat(4001) }),
      });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { id: string }).id, 'model.post.is_valid.message_length.app_error');
    } finally {
      await small.close();
    }
  });

  it("PUT posts/{id} replaces the whole post, props included (upstream's update); PUT .../patch changes only what it sends", async () => {
    const created = await api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'v1', props: { teleport_request_id: 'r' } } });
    const id = String(created.json.id);
    const patched = await api(`/posts/${id}/patch`, { method: 'PUT', body: { message: 'v2' } });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.json.props, { teleport_request_id: 'r' });
    assert.equal((await api(`/posts/${id}`, { method: 'PUT', body: { id: 'other', message: 'v3' } })).status, 400);
    const put = await api(`/posts/${id}`, { method: 'PUT', body: { id, channel_id: channel.id, message: 'v3' } });
    assert.equal(put.status, 200);
    assert.deepEqual(put.json.props, {});
    assert.deepEqual(fake.post(id)?.history, ['v1', 'v2']);
    assert.deepEqual(
      fake.updates.filter((u) => u.postId === id).map((u) => u.via),
      ['patch', 'put'],
    );
    // A post of someone else, or a deleted one, cannot be edited: 403.
    fake.deletePost(id);
    assert.equal((await api(`/posts/${id}/patch`, { method: 'PUT', body: { message: 'v4' } })).status, 403);
  });

  it('lists channel posts newest first, by page or since a time, and threads', async () => {
    const ch = fake.addChannel({ team: 'team-llama', name: 'listing' });
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push(String((await api('/posts', { method: 'POST', body: { channel_id: ch.id, message: `m${i}` } })).json.id));
    const page0 = await api(`/channels/${ch.id}/posts?page=0&per_page=2`);
    assert.deepEqual(page0.json.order, [ids[4], ids[3]]);
    assert.equal(page0.json.has_next, true);
    assert.deepEqual(Object.keys(page0.json.posts as object).sort(), [ids[4], ids[3]].sort());
    const page2 = await api(`/channels/${ch.id}/posts?page=2&per_page=2`);
    assert.deepEqual(page2.json.order, [ids[0]]);
    assert.equal(page2.json.has_next, false);
    const since = fake.post(ids[2]!)!.updateAt;
    assert.deepEqual((await api(`/channels/${ch.id}/posts?since=${since}`)).json.order, [ids[4], ids[3]]);
    const reply = String((await api('/posts', { method: 'POST', body: { channel_id: ch.id, message: 're', root_id: ids[0] } })).json.id);
    const thread = await api(`/posts/${ids[0]}/thread`);
    assert.deepEqual(thread.json.order, [reply, ids[0]]);
    assert.equal((thread.json.posts as Record<string, { reply_count: number }>)[ids[0]!]?.reply_count, 1);
    const lurk = fake.addChannel({ team: 'team-llama', name: 'no-read', type: 'P', botMember: false });
    assert.equal((await api(`/channels/${lurk.id}/posts`)).status, 403);
  });

  it('waitForPosts resolves on the post that satisfies it, and names what it saw on timeout', async () => {
    const waiting = fake.waitForPosts((posts) => posts.some((p) => p.message === 'awaited'));
    await api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'awaited' } });
    await waiting;
    await assert.rejects(
      fake.waitForPosts(() => false, 50),
      /posts not as expected within 50 ms/,
    );
  });
});

describe('fake Mattermost: fault injection', () => {
  it("rateLimitNext answers like Mattermost's rate limiter", async () => {
    fake.rateLimitNext({ retryAfterSeconds: 2 });
    const res = await api('/users/me');
    assert.equal(res.status, 429);
    assert.equal(res.text, 'limit exceeded\n');
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.headers.get('x-ratelimit-remaining'), '0');
    assert.equal(res.headers.get('x-ratelimit-reset'), '2');
    assert.equal((await api('/users/me')).status, 200);
  });

  it('the optional rate limiter (RateLimitSettings) refuses bursts; the client waits and gets through', async () => {
    const limited = await startFake({ rateLimit: { perSecond: 20, burst: 2 } });
    try {
      const c = clientFor(limited);
      await Promise.all(Array.from({ length: 5 }, () => c.me()));
      const statuses = limited.apiCalls('GET', '/users/me').map((x) => x.status);
      assert.ok(statuses.includes(429), statuses.join(','));
      assert.equal(statuses.filter((s) => s === 200 || s === 304).length, 5);
      limited.setRateLimit(undefined);
      assert.equal((await c.me()).id, limited.bot.id);
    } finally {
      await limited.close();
    }
  });

  it('injected 5xx, latency and dropped answers (before or after the effect)', async () => {
    fake.fail({ method: 'GET', path: '/api/v4/users/me', status: 502, times: 2 });
    assert.equal((await api('/users/me')).status, 502);
    assert.equal((await api('/users/me')).status, 502);
    assert.equal((await api('/users/me')).status, 200);

    fake.fail({ method: 'GET', path: '/api/v4/users/me', delayMs: 200 });
    const started = Date.now();
    assert.equal((await api('/users/me')).status, 200);
    assert.ok(Date.now() - started >= 190);

    const count = fake.postsIn(channel.id).length;
    fake.fail({ method: 'POST', path: '/api/v4/posts', drop: true });
    await assert.rejects(api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'dropped' } }));
    assert.equal(fake.postsIn(channel.id).length, count, 'dropped before the effect');
    fake.fail({ method: 'POST', path: '/api/v4/posts', drop: true, afterEffect: true });
    await assert.rejects(api('/posts', { method: 'POST', body: { channel_id: channel.id, message: 'made' } }));
    assert.equal(fake.postsIn(channel.id).at(-1)?.message, 'made', 'dropped after the effect');
  });
});
