// The Teleport client against the fake Teleport (real gRPC over mutual TLS): RPCs, mapping,
// plugin-data compare-and-swap, watch events, fallbacks and error mapping.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { status } from '@grpc/grpc-js';
import { isAlreadyReviewed, isPluginError, type PluginError } from '../src/errors.js';
import { channelOptions, createTeleportClient, type ConnectedTeleportClient } from '../src/teleport/client.js';
import type { WatchEvent, WatchStream } from '../src/teleport/types.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { loadFakeTeleport, loadRawClient, type FakeTeleportLike, type FakeTeleportStatic } from './teleport-testkit.js';

let FakeTeleport: FakeTeleportStatic;
let tp: FakeTeleportLike;
let dir: string;
let identityFile: string;
let client: ConnectedTeleportClient;
const logger = createCaptureLogger();

before(async () => {
  FakeTeleport = await loadFakeTeleport();
  dir = await mkdtemp(path.join(tmpdir(), 'tp-client-'));
  tp = await FakeTeleport.start({ clusterName: 'example.com', advancedWorkflows: true, proxyPublicAddr: 'teleport.example.com:443' });
  tp.addPluginUser('access-plugin', { canReview: true, canSetState: true });
  tp.addRequester('alice', { traits: { logins: ['alice', 'root'] } });
  tp.upsertRole({ name: 'editor', allowLogins: ['{{internal.logins}}', 'ubuntu'], requestRoles: [], reviewRoles: [] });
  identityFile = await tp.writeIdentityFile(dir, { user: 'access-plugin' });
  client = await createTeleportClient({ addr: tp.addr, identityFile }, logger);
});

after(async () => {
  await client?.close();
  await tp?.close();
  await rm(dir, { recursive: true, force: true });
});

function code(expected: string, fragment?: string) {
  return (err: unknown): boolean => {
    assert.ok(isPluginError(err), `expected PluginError, got ${String(err)}`);
    assert.equal((err as PluginError).code, expected, (err as PluginError).message);
    if (fragment) assert.ok((err as PluginError).message.includes(fragment), (err as PluginError).message);
    return true;
  };
}

/** Next event of a watch, with a deadline (never hangs the file). */
async function nextEvent(it: AsyncIterator<WatchEvent>, timeoutMs = 5000): Promise<WatchEvent> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    assert.equal(r.done, false, 'stream ended');
    return r.value as WatchEvent;
  } finally {
    clearTimeout(timer);
  }
}

test('Ping: cluster info, web proxy URL only with advanced workflows, no version header on Ping', async () => {
  assert.equal(client.cluster.clusterName, 'example.com');
  assert.equal(client.cluster.serverVersion, '18.0.0');
  assert.equal(client.cluster.advancedAccessWorkflows, true);
  assert.equal(client.cluster.webProxyUrl, 'https://teleport.example.com');
  const info = await client.ping();
  assert.equal(info.proxyPublicAddr, 'teleport.example.com:443');
  const pings = tp.calls.filter((c) => c.method === 'Ping');
  assert.ok(pings.length >= 2);
  assert.ok(
    pings.every((c) => c.metadata['version'] === undefined),
    'Ping carries no version header',
  );
  assert.ok(pings.every((c) => c.caller === 'access-plugin'));

  const oss = await FakeTeleport.start({ clusterName: 'oss.example', advancedWorkflows: false });
  try {
    const c = await createTeleportClient({ addr: oss.addr, identityFile: await oss.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'oss-id' }) }, logger);
    assert.equal(c.cluster.webProxyUrl, undefined);
    assert.equal(c.cluster.advancedAccessWorkflows, false);
    await c.close();
  } finally {
    await oss.close();
  }
});

test("every call after Ping sends the server's Teleport version (never our 0.x)", async () => {
  await client.listAccessRequests();
  const list = tp.calls.filter((c) => c.method === 'ListAccessRequests');
  assert.ok(list.length > 0);
  for (const c of list) assert.equal(c.metadata['version'], '18.0.0');
  assert.ok(tp.calls.every((c) => !/^0\./.test(c.metadata['version'] ?? '')));
});

test('list, get, review (already-reviewed suffix survives), state change with delegator', async () => {
  const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'], reason: 'deploy', ttlMs: 3_600_000 });
  const listed = await client.listAccessRequests({ state: 'PENDING' });
  const mine = listed.find((r) => r.id === id);
  assert.ok(mine, 'listed');
  assert.equal(mine.user, 'alice');
  assert.deepEqual(mine.roles, ['editor']);
  assert.equal(mine.requestReason, 'deploy');
  assert.ok(mine.created instanceof Date);
  assert.ok(mine.accessExpires instanceof Date);

  const got = await client.getAccessRequest(id);
  assert.equal(got?.id, id);
  assert.equal(await client.getAccessRequest('00000000-0000-0000-0000-000000000000'), undefined);

  const reviewed = await client.submitAccessReview(id, { proposedState: 'APPROVED', reason: 'on call' });
  assert.equal(reviewed.reviews.length, 1);
  assert.equal(reviewed.reviews[0]?.author, 'access-plugin', 'empty author: the server fills in the caller');
  await assert.rejects(client.submitAccessReview(id, { proposedState: 'APPROVED', reason: 'again' }), (err: unknown) => {
    assert.ok(isPluginError(err, 'ACCESS_DENIED'), String(err));
    assert.ok(isAlreadyReviewed(err), (err as Error).message);
    return true;
  });

  const id2 = await tp.admin.createRequest({ user: 'alice', roles: ['editor'] });
  await client.setAccessRequestState(id2, { state: 'DENIED', reason: 'not now', delegator: 'jira:bob@example.com' });
  assert.equal(tp.admin.getRequest(id2)?.state, 'DENIED');
  const audit = tp.admin.auditLog().find((e) => e.requestId === id2 && e.type === 'access_request.update');
  assert.equal(audit?.delegator, 'jira:bob@example.com');
});

test('plugin data compare-and-swap through the client', async () => {
  const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'] });
  assert.equal(await client.getPluginData(id, 'slack'), undefined);

  // Create: "" in Expect = the key must be absent.
  await client.updatePluginData({ resource: id, plugin: 'slack', set: { user: 'alice', messages: 'C1/1' }, expect: { user: '', messages: '' } });
  assert.deepEqual(await client.getPluginData(id, 'slack'), { user: 'alice', messages: 'C1/1' });

  // Same "create" again: the keys now exist -> COMPARE_FAILED (FAILED_PRECONDITION).
  await assert.rejects(client.updatePluginData({ resource: id, plugin: 'slack', set: { user: 'mallory' }, expect: { user: '' } }), code('COMPARE_FAILED', 'expectations not met'));
  // Mismatched old value.
  await assert.rejects(client.updatePluginData({ resource: id, plugin: 'slack', set: { resolution: 'APPROVED' }, expect: { messages: 'C9/9' } }), code('COMPARE_FAILED'));
  // Matching old value; "" in Set deletes a key.
  await client.updatePluginData({ resource: id, plugin: 'slack', set: { resolution: 'APPROVED', messages: '' }, expect: { messages: 'C1/1' } });
  assert.deepEqual(tp.admin.pluginData(id, 'slack'), { user: 'alice', resolution: 'APPROVED' });
  // Empty Expect = no check at all.
  await client.updatePluginData({ resource: id, plugin: 'slack', set: { user: 'bob' }, expect: {} });
  assert.equal(tp.admin.pluginData(id, 'slack')?.['user'], 'bob');
  // Other plugins' entries are separate.
  assert.equal(await client.getPluginData(id, 'pagerduty'), undefined);

  await assert.rejects(client.updatePluginData({ resource: '00000000-0000-0000-0000-00000000dead', plugin: 'slack', set: { a: 'b' }, expect: {} }), code('NOT_FOUND'));
});

test('roles and users: GetRole, users.v1 GetUser', async () => {
  const role = await client.getRole('editor');
  assert.equal(role.name, 'editor');
  assert.ok(role.allowLogins.includes('ubuntu'));
  const user = await client.getUser('alice');
  assert.equal(user.name, 'alice');
  assert.deepEqual(user.traits['logins'], ['alice', 'root']);
  assert.ok(tp.calls.some((c) => c.method === 'UsersService.GetUser'));
  await assert.rejects(client.getUser('nobody'), code('NOT_FOUND'));
  await assert.rejects(client.getRole('no-such-role'), code('NOT_FOUND'));
});

test('roles: ListRoles pages through every role, GetRoles on servers without it; ACCESS_DENIED without role list', async () => {
  for (const listRolesImplemented of [true, false]) {
    const many = await FakeTeleport.start({ clusterName: 'roles.example', listRolesImplemented });
    try {
      many.addPluginUser('access-plugin');
      many.addPluginUser('no-role-read', { readRolesAndUsers: false });
      for (let i = 0; i < 450; i++) {
        many.upsertRole({ name: `team-${String(i).padStart(3, '0')}`, requestAnnotations: { pagerduty_services: [`Service ${i}`] } });
      }
      const c = await createTeleportClient(
        { addr: many.addr, identityFile: await many.writeIdentityFile(dir, { user: 'access-plugin', fileName: `roles-id-${listRolesImplemented}` }) },
        logger,
      );
      try {
        const roles = await c.listRoles();
        const names = roles.map((r) => r.name);
        assert.equal(new Set(names).size, names.length, 'no role twice across pages');
        assert.ok(names.length >= 452, `${names.length} roles`);
        assert.deepEqual(roles.find((r) => r.name === 'team-321')?.requestAnnotations, { pagerduty_services: ['Service 321'] });
        const pages = many.calls.filter((x) => x.method === 'ListRoles');
        if (listRolesImplemented) {
          assert.equal(pages.length, Math.ceil(names.length / 200), 'pages of 200');
          const reqs = pages.map((x) => x.request as { Limit: number; StartKey: string });
          assert.equal(reqs[0]?.StartKey, '');
          assert.ok(reqs.every((r) => r.Limit === 200));
          assert.ok(
            reqs.slice(1).every((r) => r.StartKey !== ''),
            'later pages continue from the key',
          );
          assert.equal(many.calls.filter((x) => x.method === 'GetRoles').length, 0);
        } else {
          await c.listRoles();
          assert.equal(many.calls.filter((x) => x.method === 'GetRoles').length, 2, 'GetRoles answers');
          assert.equal(logger.entries.filter((l) => l.message.includes('ListRoles is not implemented')).length >= 1, true);
        }
      } finally {
        await c.close();
      }
      const denied = await createTeleportClient(
        { addr: many.addr, identityFile: await many.writeIdentityFile(dir, { user: 'no-role-read', fileName: `roles-denied-${listRolesImplemented}` }) },
        logger,
      );
      try {
        await assert.rejects(denied.listRoles(), code('ACCESS_DENIED', listRolesImplemented ? 'ListRoles' : 'GetRoles'));
      } finally {
        await denied.close();
      }
    } finally {
      await many.close();
    }
  }
});

test('users: ListUsers pages through every user; ACCESS_DENIED without user list', async () => {
  const many = await FakeTeleport.start({ clusterName: 'many.example' });
  try {
    many.addPluginUser('access-plugin');
    many.addPluginUser('no-user-read', { readRolesAndUsers: false });
    const expected = ['access-plugin', 'no-user-read'];
    for (let i = 0; i < 450; i++) {
      const name = `user-${String(i).padStart(3, '0')}`;
      many.upsertUser({ name, roles: [], traits: { slack_user_id: [`U${i}`] } });
      expected.push(name);
    }
    const c = await createTeleportClient({ addr: many.addr, identityFile: await many.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'many-id' }) }, logger);
    try {
      const users = await c.listUsers();
      const names = users.map((u) => u.name);
      assert.equal(new Set(names).size, names.length, 'no user twice across pages');
      for (const name of expected) assert.ok(names.includes(name), `${name} listed`);
      assert.deepEqual(users.find((u) => u.name === 'user-321')?.traits, { slack_user_id: ['U321'] });
      const calls = many.calls.filter((x) => x.method === 'UsersService.ListUsers');
      assert.ok(calls.length >= 3, `several pages (${calls.length} calls)`);
      assert.equal(calls.length, Math.ceil(names.length / 200));
      const reqs = calls.map((x) => x.request as { page_size: number; page_token: string; with_secrets: boolean });
      assert.equal(reqs[0]?.page_token, '');
      assert.ok(reqs.every((r) => r.page_size === 200 && r.with_secrets === false));
      assert.ok(
        reqs.slice(1).every((r) => r.page_token !== ''),
        'later pages continue from the token',
      );
    } finally {
      await c.close();
    }
    const denied = await createTeleportClient({ addr: many.addr, identityFile: await many.writeIdentityFile(dir, { user: 'no-user-read', fileName: 'many-denied-id' }) }, logger);
    try {
      await assert.rejects(denied.listUsers(), code('ACCESS_DENIED', 'ListUsers'));
    } finally {
      await denied.close();
    }
  } finally {
    await many.close();
  }
});

test('watch: INIT, PUT on create/review/resolve, DELETE on expiry', async () => {
  const stream = client.watchAccessRequests();
  const it = stream[Symbol.asyncIterator]();
  try {
    assert.deepEqual(await nextEvent(it), { type: 'init', acceptedKinds: ['access_request'] });
    const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'], reason: 'watch me' });
    const put = await nextEvent(it);
    assert.ok(put.type === 'put');
    assert.equal(put.request.id, id);
    assert.equal(put.request.state, 'PENDING');
    assert.equal(put.request.requestReason, 'watch me');

    await tp.admin.approve(id, { reason: 'fine' });
    const resolved = await nextEvent(it);
    assert.ok(resolved.type === 'put');
    assert.equal(resolved.request.state, 'APPROVED');
    assert.equal(resolved.request.resolveReason, 'fine');

    await tp.admin.expire(id);
    assert.deepEqual(await nextEvent(it), { type: 'delete', requestId: id });
  } finally {
    stream.close();
  }
  assert.deepEqual(await it.next(), { value: undefined, done: true }, 'ends quietly after close()');
});

test('watch filter travels as WatchKind.Filter and applies to PUT only (DELETE still arrives)', async () => {
  const stream = client.watchAccessRequests({ filter: { state: 'APPROVED' } });
  const it = stream[Symbol.asyncIterator]();
  try {
    assert.equal((await nextEvent(it)).type, 'init');
    const watched = tp.calls.filter((c) => c.method === 'WatchEvents').at(-1);
    assert.deepEqual((watched?.request as { Kinds: Array<{ Kind: string; Filter: Record<string, string> }> }).Kinds[0]?.Filter, { state: 'APPROVED' });
    const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'] }); // PENDING: filtered out
    await tp.admin.approve(id);
    const ev = await nextEvent(it);
    assert.ok(ev.type === 'put' && ev.request.id === id && ev.request.state === 'APPROVED', JSON.stringify(ev));
    await tp.admin.expire(id);
    assert.deepEqual(await nextEvent(it), { type: 'delete', requestId: id });
  } finally {
    stream.close();
  }
});

test('watch: a dropped stream throws CONNECTION_PROBLEM; abort signal closes quietly', async () => {
  const stream: WatchStream = client.watchAccessRequests();
  const it = stream[Symbol.asyncIterator]();
  assert.equal((await nextEvent(it)).type, 'init');
  await tp.waitFor(() => tp.openWatchCount > 0, 5000, 'watch open');
  assert.ok(tp.faults.dropWatchStreams('fanout buffer overflow') >= 1);
  await assert.rejects(it.next(), code('CONNECTION_PROBLEM', 'fanout buffer overflow'));

  const ac = new AbortController();
  const s2 = client.watchAccessRequests({ signal: ac.signal });
  const it2 = s2[Symbol.asyncIterator]();
  assert.equal((await nextEvent(it2)).type, 'init');
  ac.abort();
  assert.deepEqual(await it2.next(), { value: undefined, done: true });
  await tp.waitFor(() => tp.openWatchCount === 0, 5000, 'server saw the cancel');
});

test("gRPC codes map to ErrorCodes as Teleport's trail does, keeping the server message", async () => {
  const cases: Array<[number, string]> = [
    [status.NOT_FOUND, 'NOT_FOUND'],
    [status.ALREADY_EXISTS, 'ALREADY_EXISTS'],
    [status.PERMISSION_DENIED, 'ACCESS_DENIED'],
    [status.INVALID_ARGUMENT, 'BAD_PARAMETER'],
    [status.FAILED_PRECONDITION, 'COMPARE_FAILED'],
    [status.UNAVAILABLE, 'CONNECTION_PROBLEM'],
    [status.RESOURCE_EXHAUSTED, 'LIMIT_EXCEEDED'],
    [status.UNIMPLEMENTED, 'NOT_IMPLEMENTED'],
    [status.INTERNAL, 'UNKNOWN'],
    [status.UNKNOWN, 'UNKNOWN'],
  ];
  for (const [grpcCode, expected] of cases) {
    tp.faults.failNext('GetRole', 1, grpcCode, `server says ${expected.toLowerCase()}`);
    await assert.rejects(client.getRole('editor'), code(expected, `server says ${expected.toLowerCase()}`));
  }
  // A plain unknown filter key is rejected by the server as BadParameter on the stream.
  tp.faults.failNext('WatchEvents', 1, status.INVALID_ARGUMENT, 'unknown filter key colour');
  const s = client.watchAccessRequests();
  await assert.rejects(s[Symbol.asyncIterator]().next(), code('BAD_PARAMETER', 'unknown filter key colour'));
});

test('an aborted call rejects with the abort reason', async () => {
  const ac = new AbortController();
  ac.abort(new Error('stop'));
  await assert.rejects(client.ping(ac.signal), /stop/);
});

test('the TLS-routing proxy route: teleport-auth ALPN first, SNI teleport.cluster.local, same client code', async () => {
  const proxy = await tp.startProxy();
  try {
    const viaProxy = await createTeleportClient({ addr: proxy.addr, identityFile }, logger);
    try {
      assert.equal(viaProxy.cluster.clusterName, 'example.com');
      const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'] });
      assert.equal((await viaProxy.getAccessRequest(id))?.user, 'alice');
    } finally {
      await viaProxy.close();
    }
    assert.ok(proxy.decisions.length >= 2, 'probe + gRPC connection');
    for (const d of proxy.decisions) {
      assert.equal(d.route, 'auth');
      assert.deepEqual(d.alpn, ['teleport-auth@6578616d706c652e636f6d.teleport.cluster.local', 'h2']);
      assert.equal(d.sni, 'teleport.cluster.local');
      assert.equal(d.cluster, 'example.com');
    }
  } finally {
    await proxy.close();
  }
});

test('ListAccessRequests pages through NextKey until it is empty', async () => {
  const ids = new Set<string>();
  for (let i = 0; i < 5; i++) ids.add(await tp.admin.createRequest({ user: 'alice', roles: ['editor'], reason: `page ${i}` }));
  const c = await createTeleportClient({ addr: tp.addr, identityFile }, logger, { listPageSize: 2 });
  try {
    const before = tp.calls.filter((x) => x.method === 'ListAccessRequests').length;
    const all = await c.listAccessRequests();
    for (const id of ids)
      assert.ok(
        all.some((r) => r.id === id),
        `missing ${id}`,
      );
    assert.equal(new Set(all.map((r) => r.id)).size, all.length, 'no duplicates across pages');
    const pages = tp.calls.filter((x) => x.method === 'ListAccessRequests').slice(before);
    assert.equal(pages.length, Math.ceil(all.length / 2));
    assert.equal((pages[0]?.request as { StartKey: string }).StartKey, '');
    assert.notEqual((pages[1]?.request as { StartKey: string }).StartKey, '');
  } finally {
    await c.close();
  }
});

test('--format=tls trio connects like an identity file', async () => {
  const trio = await tp.writeTlsTrio(dir, { user: 'access-plugin', fileBase: 'trio' });
  const c = await createTeleportClient({ addr: tp.addr, ...trio }, logger);
  try {
    assert.equal(c.currentIdentity().username, 'access-plugin');
    await c.listAccessRequests();
  } finally {
    await c.close();
  }
});

test('older servers: ListAccessRequests and users.v1 fall back once and remember it', async () => {
  const old = await FakeTeleport.start({ clusterName: 'old.example', version: '15.1.9', listAccessRequestsImplemented: false, usersServiceImplemented: false });
  try {
    old.addRequester('alice', { traits: { team: ['blue'] } });
    const c = await createTeleportClient({ addr: old.addr, identityFile: await old.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'old-id' }) }, logger);
    try {
      const id = await old.admin.createRequest({ user: 'alice', roles: ['editor'] });
      assert.deepEqual(
        (await c.listAccessRequests()).map((r) => r.id),
        [id],
      );
      assert.equal((await c.getAccessRequest(id))?.id, id);
      const user = await c.getUser('alice');
      assert.deepEqual(user.traits['team'], ['blue']);
      await c.getUser('alice');
      // The fake records only methods it serves; the client logs each fallback once.
      const count = (m: string): number => old.calls.filter((x) => x.method === m).length;
      const logged = (fragment: string): number => logger.entries.filter((l) => l.message.includes(fragment)).length;
      assert.equal(count('GetAccessRequestsV2'), 2);
      assert.equal(count('GetUser'), 2);
      assert.equal(logged('ListAccessRequests is not implemented'), 1, 'tried once, then remembered');
      assert.equal(logged('UsersService is not implemented'), 1, 'tried once, then remembered');
      await assert.rejects(c.listUsers(), code('NOT_IMPLEMENTED', 'ListUsers'));
      for (const x of old.calls.filter((x) => x.method !== 'Ping')) assert.equal(x.metadata['version'], '15.1.9');
    } finally {
      await c.close();
    }
  } finally {
    await old.close();
  }
});

test('a proxy WITHOUT TLS routing shows its web certificate: CA_MISMATCH that names the likely cause', async () => {
  const proxy = await tp.startProxy({ tlsRouting: false });
  try {
    await assert.rejects(createTeleportClient({ addr: proxy.addr, identityFile }, logger), code('CA_MISMATCH', 'without TLS routing'));
    const last = proxy.decisions.at(-1);
    assert.equal(last?.route, 'web');
    assert.deepEqual(last?.alpn, ['teleport-auth@6578616d706c652e636f6d.teleport.cluster.local', 'h2'], 'we did offer teleport-auth first');
  } finally {
    await proxy.close();
  }
});

test('keepalive: never more often than every 60 s, even when asked to', async () => {
  assert.equal(channelOptions(1)['grpc.keepalive_time_ms'], 60_000);
  assert.equal(channelOptions()['grpc.keepalive_time_ms'], 90_000);
  assert.equal(channelOptions(120_000)['grpc.keepalive_time_ms'], 120_000);

  // Live: a fake enforcing auth's policy (pings at least 60 s apart). Our client asks for 1 ms and
  // runs next to a stock grpc-js client pinging every 50 ms. The stock one gets GOAWAY
  // too_many_pings; ours, had it really pinged every millisecond, would have been sent one first.
  const strict = await FakeTeleport.start({ clusterName: 'strict.example' });
  strict.addRequester('alice');
  const rawTeleportClient = await loadRawClient();
  const ours = await createTeleportClient({ addr: strict.addr, identityFile: await strict.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'strict-id' }) }, logger, {
    keepaliveTimeMs: 1,
  });
  const watch = ours.watchAccessRequests();
  const it = watch[Symbol.asyncIterator]();
  const chatty = await rawTeleportClient(strict, {
    user: 'access-plugin',
    channelOptions: { 'grpc.keepalive_time_ms': 50, 'grpc.keepalive_permit_without_calls': 1 },
  });
  try {
    assert.equal((await nextEvent(it)).type, 'init');
    await chatty.call('Ping', {});
    await strict.waitFor(() => strict.goaways.length > 0, 5000, 'GOAWAY for the stock client');
    assert.equal(strict.goaways.length, 1, 'only the stock client was told too_many_pings');
    const id = await strict.admin.createRequest({ user: 'alice', roles: ['editor'] });
    const put = await nextEvent(it);
    assert.ok(put.type === 'put' && put.request.id === id, 'our watch stream is still up');
  } finally {
    watch.close();
    chatty.close();
    await ours.close();
    await strict.close();
  }
});

const TRAIT_FIELDS = /^(systemAnnotations|resolveAnnotations|annotations|traits|requestAnnotations)$/;

/** Traits: data keys, each mapped to a list of strings (never a wire LabelValues). */
function assertTraits(value: unknown, where: string): void {
  assert.equal(Object.getPrototypeOf(value), Object.prototype, `${where}: not a plain object`);
  for (const [k, v] of Object.entries(value as object)) {
    assert.ok(Array.isArray(v) && v.every((x) => typeof x === 'string'), `${where}.${k}: expected string[], got ${JSON.stringify(v)}`);
  }
}

/** Fails on anything that looks like a proto-loader object: PascalCase keys, Timestamps, LabelValues. */
function assertDomainShaped(value: unknown, where: string): void {
  if (value instanceof Date) {
    assert.ok(!Number.isNaN(value.getTime()), `${where}: invalid Date`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => assertDomainShaped(v, `${where}[${i}]`));
    return;
  }
  if (value === null) assert.fail(`${where}: null (wire "unset message"), expected undefined`);
  if (typeof value !== 'object' || value === undefined) return;
  assert.equal(Object.getPrototypeOf(value), Object.prototype, `${where}: not a plain object`);
  for (const [k, v] of Object.entries(value)) {
    assert.match(k, /^[a-z][A-Za-z0-9]*$/, `${where}.${k}: expected a camelCase domain field`);
    assert.ok(!['seconds', 'nanos'].includes(k), `${where}.${k}: a wire Timestamp leaked`);
    if (k === 'state' || k === 'proposedState') assert.match(String(v), /^(NONE|PENDING|APPROVED|DENIED|PROMOTED)$/, `${where}.${k}`);
    // Traits and annotations are maps whose keys are data, not field names.
    if (TRAIT_FIELDS.test(k)) assertTraits(v, `${where}.${k}`);
    else assertDomainShaped(v, `${where}.${k}`);
  }
}

test('only domain objects leave the client: camelCase, Dates, string states, no wire shapes', async () => {
  tp.addRequester('dora', { requestAnnotations: { pagerduty_notify_service: ['Ops'] }, suggestedReviewers: ['lead@example.com'] });
  tp.addReviewer('rev');
  const stream = client.watchAccessRequests();
  const it = stream[Symbol.asyncIterator]();
  try {
    const seen: unknown[] = [await nextEvent(it)];
    const id = await tp.admin.createRequest({ user: 'dora', roles: ['editor'], reason: 'shape' });
    seen.push(await nextEvent(it));
    await tp.admin.review(id, { author: 'rev', state: 'APPROVED', reason: 'ok' });
    const reviewed = await nextEvent(it);
    seen.push(reviewed);
    assert.ok(reviewed.type === 'put');
    assert.deepEqual(reviewed.request.systemAnnotations, { pagerduty_notify_service: ['Ops'] });
    assert.ok(reviewed.request.suggestedReviewers.includes('lead@example.com'));
    assert.ok(reviewed.request.reviews[0]?.created instanceof Date);
    assert.equal(reviewed.request.state, 'APPROVED');
    await client.updatePluginData({ resource: id, plugin: 'shape', set: { reviews_count: '1' }, expect: {} });
    seen.push(
      client.cluster,
      await client.ping(),
      await client.listAccessRequests({ id }),
      await client.getAccessRequest(id),
      await client.getRole('editor'),
      await client.getUser('dora'),
    );
    for (const [i, v] of seen.entries()) assertDomainShaped(v, `value ${i}`);
    assert.deepEqual(await client.getPluginData(id, 'shape'), { reviews_count: '1' });
    assert.equal(Object.getPrototypeOf(await client.getPluginData(id, 'shape')), Object.prototype);
    await tp.admin.expire(id);
    assertDomainShaped(await nextEvent(it), 'delete event');
  } finally {
    stream.close();
  }
});
