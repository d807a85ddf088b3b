import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isOutcomeUnknown, isRetryable } from '@teleport-plugin/core';
import { HttpFake } from '@teleport-plugin/core/testing';
import { KIND_PROP, REQUEST_ID_PROP } from '../src/postEffect.js';
import type { FakeMattermost, FakeMmChannel } from '../src/testing/index.js';
import { FAST, clientFor, rejection, startFake } from './helpers.js';

let fake: FakeMattermost;
let general: FakeMmChannel;

before(async () => {
  fake = await startFake();
  general = fake.addChannel({ team: 'my-team', name: 'general' });
});
after(() => fake.close());
beforeEach(() => fake.clearFaults());

describe('requests', () => {
  it('go through the SDK: BEARER token, X-Requested-With, JSON body, user agent', async () => {
    const c = clientFor(fake);
    await c.me();
    await c.createPost({ channelId: general.id, message: 'hello', requestId: 'req-h', kind: 'request' });
    const get = fake.apiCalls('GET', '/users/me').at(-1)!;
    assert.equal(get.headers['authorization'], `BEARER ${fake.token}`);
    assert.equal(get.headers['x-requested-with'], 'XMLHttpRequest');
    assert.equal(get.headers['user-agent'], 'teleport-plugin-mattermost/0.1.0');
    const post = fake.apiCalls('POST', '/posts').at(-1)!;
    assert.equal(post.headers['content-type'], 'application/json');
    assert.deepEqual(post.json, { channel_id: general.id, message: 'hello', props: { teleport_request_id: 'req-h', teleport_kind: 'request' } });
  });

  it('keeps the connection alive between calls', async () => {
    const ports: number[] = [];
    const server = http.createServer((req, res) => {
      ports.push(req.socket.remotePort ?? 0);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'bot', username: 'b', email: '', is_bot: true }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = clientFor(fake, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      for (let i = 0; i < 6; i += 1) await c.me();
      assert.equal(ports.length, 6);
      // Node's fetch pool may open a second socket while the first is being released.
      assert.ok(new Set(ports).size <= 2, `connections from ports ${ports.join(', ')}`);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('me(): the bot user; a repeated GET sends If-None-Match and a 304 answer is served from the cache', async () => {
    const c = clientFor(fake);
    const first = await c.me();
    assert.deepEqual(first, { id: fake.bot.id, username: 'teleport', email: 'teleport-bot@example.com', isBot: true });
    const second = await c.me();
    assert.deepEqual(second, first);
    const calls = fake.apiCalls('GET', '/users/me').slice(-2);
    assert.equal(calls[0]!.headers['if-none-match'], undefined);
    assert.ok(calls[1]!.headers['if-none-match']);
    assert.equal(calls[1]!.status, 304);
    assert.equal(await c.botUserId(), fake.bot.id);
  });

  it('userByEmail: the user, undefined for nobody, plain words when the server hides emails', async () => {
    const alice = fake.addUser({ email: 'Alice+ops@example.com' });
    const c = clientFor(fake);
    assert.deepEqual(await c.userByEmail('alice+ops@example.com'), { id: alice.id, username: 'alice-ops', email: 'alice+ops@example.com', isBot: false });
    assert.equal(fake.apiCalls('GET', /^\/users\/email\//).at(-1)!.path, '/api/v4/users/email/alice%2Bops%40example.com');
    assert.equal(await c.userByEmail('nobody@example.com'), undefined);
    fake.showEmailAddress = false;
    try {
      const err = await rejection(c.userByEmail('alice+ops@example.com'));
      assert.equal(err.code, 'ACCESS_DENIED');
      assert.equal(err.userFacing, true);
      assert.equal(isRetryable(err), false);
      assert.match(err.message, /Show Email Address, or make the bot a system admin/);
      assert.match(err.message, /HTTP 403, Unable to get user by email/);
    } finally {
      fake.showEmailAddress = true;
    }
  });

  it('directChannel is idempotent: Mattermost answers with the same DM channel', async () => {
    const bob = fake.addUser({ email: 'bob@example.com' });
    const c = clientFor(fake);
    const a = await c.directChannel(fake.bot.id, bob.id);
    const b = await c.directChannel(fake.bot.id, bob.id);
    assert.equal(a, b);
    assert.equal(a, fake.directChannelFor(fake.bot, bob).id);
    assert.deepEqual(fake.apiCalls('POST', '/channels/direct').at(-1)!.json, [fake.bot.id, bob.id]);
  });

  it('channelByTeamAndName: found, absent, private without the bot, and a team without the bot', async () => {
    const c = clientFor(fake);
    const found = await c.channelByTeamAndName('my-team', 'general');
    assert.equal(found?.id, general.id);
    assert.equal(found?.type, 'O');
    assert.equal(await c.channelByTeamAndName('my-team', 'nope'), undefined);
    assert.equal(await c.channelByTeamAndName('no-team', 'general'), undefined);
    fake.addChannel({ team: 'my-team', name: 'secret', type: 'P', botMember: false });
    assert.equal(await c.channelByTeamAndName('my-team', 'secret'), undefined);

    fake.addTeam({ name: 'other-team', botMember: false });
    fake.addChannel({ team: 'other-team', name: 'town-square', botMember: false });
    const err = await rejection(c.channelByTeamAndName('other-team', 'town-square'));
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.equal(err.userFacing, true);
    assert.match(err.message, /^the bot is not a member of team "other-team": add it to the team/);
  });

  it('teamByName and isChannelMember', async () => {
    const c = clientFor(fake);
    assert.equal((await c.teamByName('my-team'))?.name, 'my-team');
    assert.equal(await c.teamByName('missing-team'), undefined);
    fake.addTeam({ name: 'closed-team', type: 'I', botMember: false });
    assert.match((await rejection(c.teamByName('closed-team'))).message, /invite-only and the bot is not a member/);
    assert.equal(await c.isChannelMember(general.id, fake.bot.id), true);
    const lurk = fake.addChannel({ team: 'my-team', name: 'lurk', botMember: false });
    assert.equal(await c.isChannelMember(lurk.id, fake.bot.id), false);
    assert.equal(await c.isChannelMember('no-such-channel', fake.bot.id), false);
  });

  it('createPost: a root post and a reply in its thread, both carrying request id and kind', async () => {
    const c = clientFor(fake);
    const root = await c.createPost({ channelId: general.id, message: 'root', requestId: 'req-t', kind: 'request' });
    const reply = await c.createPost({ channelId: general.id, message: 'review', rootId: root.id, requestId: 'req-t', kind: 'review:0' });
    assert.equal(reply.rootId, root.id);
    assert.equal(fake.post(reply.id)?.rootId, root.id);
    assert.deepEqual(fake.post(root.id)?.props, { [REQUEST_ID_PROP]: 'req-t', [KIND_PROP]: 'request' });
    assert.deepEqual(
      fake.replies(root.id).map((p) => p.props[KIND_PROP]),
      ['review:0'],
    );
    await assert.rejects(c.createPost({ channelId: general.id, message: 'x', requestId: '', kind: 'request' }), /must name the access request/);
    await assert.rejects(c.createPost({ channelId: general.id, message: 'x', requestId: 'r', kind: 'bogus' as 'request' }), /not a post kind/);
  });

  it('createPost where the bot is not a member: 403 in plain words, final', async () => {
    const c = clientFor(fake);
    const outside = fake.addChannel({ team: 'my-team', name: 'outside', botMember: false });
    for (const channelId of [outside.id, 'no-such-channel']) {
      const before = fake.apiCalls('POST', '/posts').length;
      const err = await rejection(c.createPost({ channelId, message: 'x', requestId: 'req-403', kind: 'request' }));
      assert.equal(err.code, 'ACCESS_DENIED');
      assert.equal(err.userFacing, true);
      assert.equal(isRetryable(err), false);
      assert.equal(isOutcomeUnknown(err), false);
      assert.match(err.message, new RegExp(`^the bot may not post in channel ${channelId}: add the bot to that channel \\(and its team\\)`));
      assert.equal(fake.apiCalls('POST', '/posts').length - before, 1);
    }
  });

  it('updatePost patches the text and keeps the props (a full PUT, as upstream sends, would erase them)', async () => {
    const c = clientFor(fake);
    const post = await c.createPost({ channelId: general.id, message: 'v1', requestId: 'req-u', kind: 'request' });
    const updated = await c.updatePost(post.id, general.id, 'v2');
    assert.equal(updated.message, 'v2');
    assert.deepEqual(updated.props, { [REQUEST_ID_PROP]: 'req-u', [KIND_PROP]: 'request' });
    assert.deepEqual(fake.post(post.id)?.history, ['v1']);
    assert.equal(fake.updates.at(-1)?.via, 'patch');
    // The same edit again is harmless.
    await c.updatePost(post.id, general.id, 'v2');
    assert.equal(fake.post(post.id)?.message, 'v2');

    fake.deletePost(post.id);
    const err = await rejection(c.updatePost(post.id, general.id, 'v3'));
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.match(err.message, /may not edit post .* \(deleted, not the bot's own/);
  });
});

describe('findPost', () => {
  it('finds a root post and a reply by request id and kind, and nothing else', async () => {
    const c = clientFor(fake);
    const channel = fake.addChannel({ team: 'my-team', name: 'find' });
    const root = await c.createPost({ channelId: channel.id, message: 'root', requestId: 'req-f', kind: 'request' });
    const reply = await c.createPost({ channelId: channel.id, message: 'r1', rootId: root.id, requestId: 'req-f', kind: 'review:1' });
    await c.createPost({ channelId: channel.id, message: 'other', requestId: 'req-other', kind: 'request' });
    assert.equal((await c.findPost(channel.id, { requestId: 'req-f', kind: 'request' }))?.id, root.id);
    assert.equal((await c.findPost(channel.id, { requestId: 'req-f', kind: 'review:1', rootId: root.id }))?.id, reply.id);
    assert.equal(await c.findPost(channel.id, { requestId: 'req-f', kind: 'review:0', rootId: root.id }), undefined);
    assert.equal(await c.findPost(channel.id, { requestId: 'req-x', kind: 'request' }), undefined);
    assert.equal(await c.findPost(general.id, { requestId: 'req-f', kind: 'request' }), undefined);
    assert.equal(await c.findPost(channel.id, { requestId: 'req-f', kind: 'review:1', rootId: 'gone' }), undefined);
    const since = fake.post(root.id)!.createAt - 1;
    assert.equal((await c.findPost(channel.id, { requestId: 'req-f', kind: 'request', since }))?.id, root.id);
    assert.match(fake.apiCalls('GET', `/channels/${channel.id}/posts`).at(-1)!.query.get('since') ?? '', /^\d+$/);
    assert.equal(await c.findPost(channel.id, { requestId: 'req-f', kind: 'request', since: Date.now() + 60_000 }), undefined);
  });

  it('ignores a post with the same props made by someone else', async () => {
    const mallory = fake.addUser({ email: 'mallory@example.com' });
    fake.addToken('mallory-token', mallory);
    const channel = fake.addChannel({ team: 'my-team', name: 'spoof' });
    fake.addChannelMember(channel.id, mallory.id);
    const asMallory = clientFor(fake, { token: 'mallory-token' });
    await asMallory.createPost({ channelId: channel.id, message: 'fake', requestId: 'req-s', kind: 'request' });
    assert.equal(await clientFor(fake).findPost(channel.id, { requestId: 'req-s', kind: 'request' }), undefined);
  });

  it('reads pages newest first, up to findPages', async () => {
    const c = clientFor(fake, { pageSize: 3, findPages: 2 });
    const channel = fake.addChannel({ team: 'my-team', name: 'busy' });
    const target = await c.createPost({ channelId: channel.id, message: 'target', requestId: 'req-p', kind: 'request' });
    for (let i = 0; i < 4; i += 1) await c.createPost({ channelId: channel.id, message: `noise ${i}`, requestId: `noise-${i}`, kind: 'request' });
    const before = fake.apiCalls('GET', `/channels/${channel.id}/posts`).length;
    assert.equal((await c.findPost(channel.id, { requestId: 'req-p', kind: 'request' }))?.id, target.id);
    const pages = fake.apiCalls('GET', `/channels/${channel.id}/posts`).slice(before);
    assert.deepEqual(
      pages.map((p) => [p.query.get('page'), p.query.get('per_page')]),
      [
        ['0', '3'],
        ['1', '3'],
      ],
    );
    // Two more posts push it beyond two pages.
    for (let i = 4; i < 6; i += 1) await c.createPost({ channelId: channel.id, message: `noise ${i}`, requestId: `noise-${i}`, kind: 'request' });
    assert.equal(await c.findPost(channel.id, { requestId: 'req-p', kind: 'request' }), undefined);
  });

  it('returns the oldest when a duplicate exists', async () => {
    const c = clientFor(fake);
    const channel = fake.addChannel({ team: 'my-team', name: 'dups' });
    const first = await c.createPost({ channelId: channel.id, message: 'a', requestId: 'req-d', kind: 'request' });
    await c.createPost({ channelId: channel.id, message: 'b', requestId: 'req-d', kind: 'request' });
    assert.equal((await c.findPost(channel.id, { requestId: 'req-d', kind: 'request' }))?.id, first.id);
  });
});

describe('faults, through the outbound policy', () => {
  it('an always-429 call makes exactly `attempts` requests, each after the Retry-After Mattermost sent', async () => {
    fake.rateLimitNext({ method: 'GET', path: '/api/v4/users/me', times: 10, retryAfterSeconds: 1 });
    const before = fake.apiCalls('GET', '/users/me').length;
    const err = await rejection(clientFor(fake, { policy: { ...FAST, attempts: 3 } }).me());
    const calls = fake.apiCalls('GET', '/users/me').slice(before);
    assert.deepEqual(
      calls.map((x) => x.status),
      [429, 429, 429],
    );
    for (let i = 1; i < calls.length; i += 1) assert.ok(calls[i]!.at - calls[i - 1]!.at >= 950, `retried after ${calls[i]!.at - calls[i - 1]!.at} ms`);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.service?.status, 429);
    assert.equal(err.service?.retryAfterMs, 1000);
    assert.equal(isRetryable(err), true);
    assert.equal(isOutcomeUnknown(err), false);
    fake.clearFaults();
  });

  it('a 429 asking longer than maxRetryAfterMs fails at once, retryable later', async () => {
    fake.rateLimitNext({ method: 'GET', path: '/api/v4/users/me', retryAfterSeconds: 3600 });
    const before = fake.apiCalls('GET', '/users/me').length;
    const err = await rejection(clientFor(fake).me());
    assert.equal(fake.apiCalls('GET', '/users/me').length - before, 1);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(isRetryable(err), true);
  });

  it('a post refused with 429 is posted once after the wait (a 429 was not processed)', async () => {
    const c = clientFor(fake);
    fake.fail({ method: 'POST', path: '/api/v4/posts', status: 429, headers: { 'retry-after': '0' }, body: 'limit exceeded\n' });
    const post = await c.createPost({ channelId: general.id, message: 'once', requestId: 'req-429', kind: 'request' });
    assert.deepEqual(
      fake.postsFor('req-429').map((p) => p.id),
      [post.id],
    );
  });

  it('5xx on a read is retried with backoff until it succeeds', async () => {
    fake.fail({ method: 'GET', path: '/api/v4/users/me', status: 503, times: 2 });
    const before = fake.apiCalls('GET', '/users/me').length;
    assert.equal((await clientFor(fake).me()).id, fake.bot.id);
    assert.deepEqual(
      fake
        .apiCalls('GET', '/users/me')
        .slice(before)
        .map((x) => x.status),
      [503, 503, 200],
    );
  });

  it('a 5xx to a post is tried once and reports outcomeUnknown', async () => {
    fake.fail({ method: 'POST', path: '/api/v4/posts', status: 500, times: 3, body: { id: 'app.post.save.app_error', message: 'Unable to save the Post.', status_code: 500 } });
    const before = fake.apiCalls('POST', '/posts').length;
    const err = await rejection(clientFor(fake).createPost({ channelId: general.id, message: 'x', requestId: 'req-500', kind: 'request' }));
    assert.equal(fake.apiCalls('POST', '/posts').length - before, 1);
    assert.equal(isOutcomeUnknown(err), true);
    assert.equal(isRetryable(err), true);
    assert.equal(err.service?.serviceCode, 'app.post.save.app_error');
    assert.match(err.message, /Mattermost POST posts: HTTP 500 \(app\.post\.save\.app_error: Unable to save the Post\.\)/);
    fake.clearFaults();
  });

  it('a post whose answer was lost is found again by findPost, not repeated', async () => {
    const c = clientFor(fake);
    const channel = fake.addChannel({ team: 'my-team', name: 'lost' });
    fake.fail({ method: 'POST', path: '/api/v4/posts', afterEffect: true, drop: true });
    const err = await rejection(c.createPost({ channelId: channel.id, message: 'maybe', requestId: 'req-lost', kind: 'request' }));
    assert.equal(isOutcomeUnknown(err), true);
    assert.equal(err.code, 'CONNECTION_PROBLEM');
    assert.equal(fake.postsFor('req-lost').length, 1, 'the post was made once and not repeated');
    const found = await c.findPost(channel.id, { requestId: 'req-lost', kind: 'request' });
    assert.equal(found?.id, fake.postsFor('req-lost')[0]!.id);

    // The same for a reply answered 502 after it was stored.
    fake.fail({ method: 'POST', path: '/api/v4/posts', afterEffect: true, status: 502 });
    const replyErr = await rejection(c.createPost({ channelId: channel.id, message: 'r', rootId: found!.id, requestId: 'req-lost', kind: 'review:0' }));
    assert.equal(isOutcomeUnknown(replyErr), true);
    assert.equal((await c.findPost(channel.id, { requestId: 'req-lost', kind: 'review:0', rootId: found!.id }))?.rootId, found!.id);
    assert.equal(fake.replies(found!.id).length, 1);
  });

  it('a read slower than the attempt timeout is tried again; a slow post is not (outcome unknown)', async () => {
    fake.fail({ method: 'GET', path: '/api/v4/users/me', delayMs: 1_000 });
    const started = Date.now();
    await clientFor(fake, { timeoutMs: 150 }).me();
    assert.ok(Date.now() - started < 900, `took ${Date.now() - started} ms`);

    fake.fail({ method: 'POST', path: '/api/v4/posts', delayMs: 600 });
    const before = fake.apiCalls('POST', '/posts').length;
    const err = await rejection(clientFor(fake, { timeoutMs: 150 }).createPost({ channelId: general.id, message: 'slow', requestId: 'req-slow', kind: 'request' }));
    assert.equal(err.code, 'TIMEOUT');
    assert.equal(isOutcomeUnknown(err), true);
    await fake.waitFor(() => fake.apiCalls('POST', '/posts').length > before);
    await fake.waitForPosts(() => fake.postsFor('req-slow').length === 1);
    assert.equal(fake.apiCalls('POST', '/posts').length - before, 1);
  });

  it('a refused connection is retried even for a post (it never left this host)', async () => {
    const closed = await startFake();
    const url = closed.url;
    await closed.close();
    const err = await rejection(clientFor(closed, { url }).createPost({ channelId: 'c', message: 'x', requestId: 'r', kind: 'request' }));
    assert.equal(err.code, 'UNREACHABLE');
    assert.equal(isOutcomeUnknown(err), false);
  });

  it('the caller cancelling ends a retry wait at once', async () => {
    fake.rateLimitNext({ method: 'GET', path: '/api/v4/users/me', times: 5, retryAfterSeconds: 4 });
    const abort = new AbortController();
    const before = fake.apiCalls('GET', '/users/me').length;
    const pending = clientFor(fake).me(abort.signal);
    await fake.waitFor(() => fake.apiCalls('GET', '/users/me').length > before);
    const started = Date.now();
    abort.abort();
    await assert.rejects(pending);
    assert.ok(Date.now() - started < 1_000);
    fake.clearFaults();
  });
});

describe('plain-words failures', () => {
  it('a rejected token names [mattermost] token, is user-facing and is not retried', async () => {
    const before = fake.apiCalls('GET', '/users/me').length;
    const err = await rejection(clientFor(fake, { token: 'wrong' }).me());
    assert.equal(fake.apiCalls('GET', '/users/me').length - before, 1);
    assert.equal(err.code, 'ACCESS_DENIED');
    assert.equal(err.userFacing, true);
    assert.equal(isRetryable(err), false);
    assert.match(err.message, /^Mattermost rejected the bot token; check \[mattermost\] token: it must be the bot account's access token/);
    assert.match(err.message, /HTTP 401, Invalid or expired session, please login again\./);
    assert.doesNotMatch(err.message, /wrong/);
  });

  it('a wrong base URL: 404 on users/me names [mattermost] url; an HTML answer too', async () => {
    const err = await rejection(clientFor(fake, { url: `${fake.url}/chat` }).me());
    assert.equal(err.code, 'NOT_FOUND');
    assert.match(err.message, new RegExp(`^no Mattermost API at ${fake.url}/chat/api/v4: check \\[mattermost\\] url`));

    const web = new HttpFake('web');
    web.route('GET', '/api/v4/users/me', () => ({ status: 200, body: '<!doctype html><title>Login</title>' }));
    await web.start();
    try {
      const html = await rejection(clientFor(fake, { url: web.url }).me());
      assert.equal(html.userFacing, true);
      assert.match(html.message, /answered HTTP 200 with text\/plain; charset=utf-8, not JSON: is \[mattermost\] url .* the Mattermost server's base URL\?/);
      assert.equal(web.calls.length, 1);
    } finally {
      await web.close();
    }
  });
});
