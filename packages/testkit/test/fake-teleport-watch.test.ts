import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FakeTeleport, rawTeleportClient, type RawTeleportClient } from '../src/index.js';

interface WireEvent {
  Type: 'INIT' | 'PUT' | 'DELETE';
  Resource?: string;
  WatchStatus?: { Spec: { Kinds: Array<{ Kind: string; Filter: Record<string, string> }> } };
  AccessRequest?: { Metadata: { Name: string }; Spec: { State: string; User: string; Reviews: Array<{ Author: string }> } };
  ResourceHeader?: { Kind: string; Version: string; Metadata: { Name: string; Namespace: string } };
}

/** An open watch stream collecting events, with waits instead of sleeps. */
class Watch {
  readonly events: WireEvent[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  private readonly stream: grpc.ClientReadableStream<WireEvent>;

  constructor(
    private readonly tp: FakeTeleport,
    c: RawTeleportClient,
    request: unknown,
  ) {
    this.stream = c.stream<WireEvent>('WatchEvents', request);
    this.stream.on('data', (e: WireEvent) => {
      this.events.push(e);
      tp.state.emit('change');
    });
    this.stream.on('error', (e: grpc.ServiceError) => {
      this.error = e;
      tp.state.emit('change');
    });
    this.stream.on('end', () => {
      this.ended = true;
      tp.state.emit('change');
    });
  }

  count(n: number): Promise<WireEvent[]> {
    return this.tp.waitFor(() => this.events.length >= n && this.events, 5000, `${n} events`);
  }

  failed(): Promise<grpc.ServiceError> {
    return this.tp.waitFor(() => this.error, 5000, 'stream error');
  }

  cancel(): void {
    this.stream.cancel();
  }
}

let tp: FakeTeleport;
let plugin: RawTeleportClient;
const watches: Watch[] = [];

function watch(request: unknown, c: RawTeleportClient = plugin): Watch {
  const w = new Watch(tp, c, request);
  watches.push(w);
  return w;
}

before(async () => {
  tp = await FakeTeleport.start();
  tp.addRequester('alice@example.com');
  tp.addRequester('bob@example.com');
  tp.addReviewer('carol@example.com');
  plugin = await rawTeleportClient(tp, { user: 'access-plugin' });
});

after(async () => {
  for (const w of watches) w.cancel();
  plugin.close();
  await tp.close();
});

test('INIT first (with the accepted kinds), then PUT on create/review and DELETE on expiry; no replay', async () => {
  const earlier = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
  const w = watch({ Kinds: [{ Kind: 'access_request' }] });
  const [init] = await w.count(1);
  assert.equal(init?.Type, 'INIT');
  assert.equal(init?.Resource, 'WatchStatus');
  assert.deepEqual(
    init?.WatchStatus?.Spec.Kinds.map((k) => k.Kind),
    ['access_request'],
  );

  const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'because of' });
  await tp.admin.review(id, { author: 'carol@example.com', state: 'APPROVED', reason: 'ok' });
  await tp.admin.expire(id);
  const events = await w.count(4);
  assert.deepEqual(
    events.map((e) => e.Type),
    ['INIT', 'PUT', 'PUT', 'DELETE'],
  );
  assert.ok(!events.some((e) => e.AccessRequest?.Metadata.Name === earlier), 'no replay of state before the watch');
  assert.equal(events[1]?.AccessRequest?.Spec.State, 'PENDING');
  assert.equal(events[2]?.AccessRequest?.Spec.State, 'APPROVED');
  assert.deepEqual(
    events[2]?.AccessRequest?.Spec.Reviews.map((r) => r.Author),
    ['carol@example.com'],
    'PUT carries reviews',
  );
  assert.equal(events[3]?.Resource, 'ResourceHeader');
  assert.deepEqual(
    {
      kind: events[3]?.ResourceHeader?.Kind,
      version: events[3]?.ResourceHeader?.Version,
      name: events[3]?.ResourceHeader?.Metadata.Name,
      ns: events[3]?.ResourceHeader?.Metadata.Namespace,
    },
    { kind: 'access_request', version: 'v3', name: id, ns: 'default' },
  );
});

test('filters narrow PUT events only; DELETE is always delivered', async () => {
  const w = watch({ Kinds: [{ Kind: 'access_request', Filter: { user: 'alice@example.com', state: 'PENDING' } }] });
  await w.count(1);
  const bobs = await tp.admin.createRequest({ user: 'bob@example.com', roles: ['editor'] });
  const alices = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
  await tp.admin.approve(alices); // PUT with state APPROVED: filtered out
  await tp.admin.expire(bobs); // DELETE of a non-matching request: still delivered
  const events = await w.count(3);
  await tp.waitFor(() => tp.auditLog().some((e) => e.requestId === bobs && e.type === 'access_request.delete'));
  assert.deepEqual(
    events.map((e) => [e.Type, e.AccessRequest?.Metadata.Name ?? e.ResourceHeader?.Metadata.Name]),
    [
      ['INIT', undefined],
      ['PUT', alices],
      ['DELETE', bobs],
    ],
  );
  const byId = watch({ Kinds: [{ Kind: 'access_request', Filter: { id: alices } }] });
  await byId.count(1);
  await tp.admin.setPluginData(alices, 'slack', { user: 'x' });
  await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
  await tp.admin.expire(alices);
  const e2 = await byId.count(2);
  assert.deepEqual(
    e2.map((e) => e.Type),
    ['INIT', 'DELETE'],
  );
});

test('request expiry by TTL produces a DELETE event and keeps plugin data readable', async () => {
  const w = watch({ Kinds: [{ Kind: 'access_request' }] });
  await w.count(1);
  const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], ttlMs: 150 });
  // Same tick as the create (no timer can fire in between), so the short TTL cannot win the race.
  tp.admin.setPluginData(id, 'slack', { messages: 'C1/1' });
  await tp.waitFor(() => w.events.some((e) => e.Type === 'DELETE' && e.ResourceHeader?.Metadata.Name === id), 5000, 'DELETE after ttl');
  assert.equal(tp.admin.getRequest(id), undefined);
  const pd = await plugin.call('GetPluginData', { Kind: 'access_request', Resource: id, Plugin: 'slack' });
  assert.equal(pd.PluginData[0].Spec.Entries.slack.Data.messages, 'C1/1');
});

test('unknown filter key, no kinds, unsupported kinds and missing permissions are refused', async () => {
  const bad = watch({ Kinds: [{ Kind: 'access_request', Filter: { reviewer: 'x' } }] });
  const e1 = await bad.failed();
  assert.equal(e1.code, grpc.status.INVALID_ARGUMENT);
  assert.match(e1.details, /unknown filter key/);
  const none = watch({ Kinds: [] });
  assert.equal((await none.failed()).code, grpc.status.INVALID_ARGUMENT);
  // (access_monitoring_rule is watchable now: fake-teleport-amr.test.ts covers it.)
  const unsupported = watch({ Kinds: [{ Kind: 'access_request' }, { Kind: 'node' }] });
  assert.equal((await unsupported.failed()).code, grpc.status.INVALID_ARGUMENT);
  // With partial success the unsupported kind is dropped and INIT lists what was accepted.
  const partial = watch({ Kinds: [{ Kind: 'access_request' }, { Kind: 'node' }], AllowPartialSuccess: true });
  const [init] = await partial.count(1);
  assert.deepEqual(
    init?.WatchStatus?.Spec.Kinds.map((k) => k.Kind),
    ['access_request'],
  );
  // A requester without read may watch only its own requests.
  const alice = await rawTeleportClient(tp, { user: 'alice@example.com' });
  try {
    const denied = watch({ Kinds: [{ Kind: 'access_request' }] }, alice);
    assert.equal((await denied.failed()).code, grpc.status.PERMISSION_DENIED);
    const own = watch({ Kinds: [{ Kind: 'access_request', Filter: { user: 'alice@example.com' } }] }, alice);
    assert.equal((await own.count(1))[0]?.Type, 'INIT');
    own.cancel();
  } finally {
    alice.close();
  }
});

test('role and user kinds emit PUT events', async () => {
  const w = watch({ Kinds: [{ Kind: 'role' }, { Kind: 'user' }] });
  await w.count(1);
  tp.upsertRole({ name: 'auditor' });
  tp.upsertUser({ name: 'dave@example.com', roles: ['auditor'] });
  const events = await w.count(3);
  assert.deepEqual(
    events.slice(1).map((e) => e.Resource),
    ['Role', 'User'],
  );
});

test('an explicit deletion (admin or DeleteAccessRequest over gRPC) is a DELETE with only the header', async () => {
  const w = watch({ Kinds: [{ Kind: 'access_request' }] });
  await w.count(1);
  const viaAdmin = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
  const viaRpc = await tp.admin.createRequest({ user: 'bob@example.com', roles: ['editor'] });
  await tp.admin.deleteRequest(viaAdmin);
  const admin = await rawTeleportClient(tp, { user: 'admin' });
  try {
    await admin.call('DeleteAccessRequest', { ID: viaRpc });
  } finally {
    admin.close();
  }
  const events = await w.count(5);
  assert.deepEqual(
    events.slice(3).map((e) => [e.Type, e.Resource, e.ResourceHeader?.Metadata.Name, e.AccessRequest]),
    [
      ['DELETE', 'ResourceHeader', viaAdmin, undefined],
      ['DELETE', 'ResourceHeader', viaRpc, undefined],
    ],
  );
  const deletions = tp.auditLog().filter((e) => e.type === 'access_request.delete' && (e.requestId === viaAdmin || e.requestId === viaRpc));
  assert.deepEqual(
    deletions.map((e) => [e.requestId, e.author, e.reason]),
    [
      [viaAdmin, 'admin', undefined],
      [viaRpc, 'admin', undefined],
    ],
  );
});
