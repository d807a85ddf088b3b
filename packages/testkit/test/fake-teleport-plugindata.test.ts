import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FakeTeleport, rawTeleportClient, type RawTeleportClient } from '../src/index.js';

let tp: FakeTeleport;
let c: RawTeleportClient;

before(async () => {
  tp = await FakeTeleport.start();
  tp.addRequester('alice@example.com');
  c = await rawTeleportClient(tp, { user: 'access-plugin' });
});

after(async () => {
  c.close();
  await tp.close();
});

const update = (resource: string, set: Record<string, string>, expect?: Record<string, string>, plugin = 'slack') =>
  c.call('UpdatePluginData', { Kind: 'access_request', Resource: resource, Plugin: plugin, Set: set, ...(expect ? { Expect: expect } : {}) });

async function read(resource: string, plugin = 'slack'): Promise<Record<string, string> | undefined> {
  const res = await c.call('GetPluginData', { Kind: 'access_request', Resource: resource, Plugin: plugin });
  return res.PluginData[0]?.Spec.Entries[plugin]?.Data;
}

async function code(p: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    return { code: e.code, details: e.details };
  }
  return { code: grpc.status.OK, details: '' };
}

const newRequest = () => tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });

test('create with Expect of empty strings succeeds once, then fails with FAILED_PRECONDITION', async () => {
  const id = await newRequest();
  const fields = { user: 'alice@example.com', roles: 'editor', messages: '' };
  const zero = { user: '', roles: '', messages: '' };
  await update(id, fields, zero);
  assert.deepEqual(await read(id), { user: 'alice@example.com', roles: 'editor' }, '"" in Set stores nothing');
  const again = await code(update(id, fields, zero));
  assert.equal(again.code, grpc.status.FAILED_PRECONDITION);
  assert.match(again.details, /^expectations not met for field/);
});

test('missing entry: any non-empty Expect value fails; empty Expect means no check', async () => {
  const id = await newRequest();
  assert.equal((await code(update(id, { a: '1' }, { a: 'x' }))).code, grpc.status.FAILED_PRECONDITION);
  assert.equal(await read(id), undefined);
  await update(id, { a: '1' }, {}); // empty map == no CAS
  await update(id, { a: '2' }); // no Expect at all
  assert.deepEqual(await read(id), { a: '2' });
});

test('existing entry: Expect compares each key (missing key counts as "")', async () => {
  const id = await newRequest();
  await update(id, { a: '1', b: '2' });
  assert.equal((await code(update(id, { a: '3' }, { a: '2' }))).code, grpc.status.FAILED_PRECONDITION);
  assert.equal((await code(update(id, { a: '3' }, { a: '1', c: 'x' }))).code, grpc.status.FAILED_PRECONDITION);
  await update(id, { a: '3' }, { a: '1', c: '' });
  assert.deepEqual(await read(id), { a: '3', b: '2' });
});

test('"" in Set deletes a key; an emptied entry disappears; other plugins are independent', async () => {
  const id = await newRequest();
  await update(id, { a: '1', b: '2' });
  await update(id, { x: 'pd' }, undefined, 'pagerduty');
  await update(id, { a: '' }, { a: '1' });
  assert.deepEqual(await read(id), { b: '2' });
  await update(id, { b: '' });
  assert.equal(await read(id), undefined);
  assert.deepEqual(await read(id, 'pagerduty'), { x: 'pd' });
  // The entry is gone, so "expect absent" succeeds again.
  await update(id, { a: 'again' }, { a: '' });
  assert.deepEqual(tp.admin.pluginData(id, 'slack'), { a: 'again' });
});

test('kind must be access_request or access_list; target request must exist', async () => {
  const badKind = await code(c.call('UpdatePluginData', { Kind: 'node', Resource: 'x', Plugin: 'slack', Set: { a: '1' } }));
  assert.equal(badKind.code, grpc.status.INVALID_ARGUMENT);
  assert.equal((await code(c.call('GetPluginData', { Kind: 'role', Resource: 'x', Plugin: 'slack' }))).code, grpc.status.INVALID_ARGUMENT);
  assert.equal((await code(update('00000000-0000-7000-8000-000000000000', { a: '1' }))).code, grpc.status.NOT_FOUND);
  await c.call('UpdatePluginData', { Kind: 'access_list', Resource: 'my-list', Plugin: 'slack', Set: { reminded: '1' } });
  const list = await c.call('GetPluginData', { Kind: 'access_list', Resource: 'my-list', Plugin: 'slack' });
  assert.equal(list.PluginData[0].Spec.Entries.slack.Data.reminded, '1');
});

test('plugin data outlives the request DELETE and can still be updated; a new entry cannot be created then', async () => {
  const id = await newRequest();
  await update(id, { messages: 'C1/1.0' });
  const other = await newRequest();
  await tp.admin.expire(id);
  await tp.admin.expire(other);
  assert.deepEqual(await read(id), { messages: 'C1/1.0' });
  const res = await c.call('GetPluginData', { Kind: 'access_request', Resource: id, Plugin: 'slack' });
  assert.ok(Number(res.PluginData[0].Metadata.Expires.seconds) * 1000 > Date.now() + 50 * 60_000, 'expires ~1 h after access expiry');
  // lib/services/local/plugin_data.go checks the request only when it creates the resource.
  await update(id, { resolution: 'EXPIRED' });
  assert.deepEqual(await read(id), { messages: 'C1/1.0', resolution: 'EXPIRED' });
  assert.equal((await code(update(other, { resolution: 'EXPIRED' }))).code, grpc.status.NOT_FOUND);
});

test('admin seeding in the Go plugins format is visible over gRPC', async () => {
  const id = await newRequest();
  tp.admin.setPluginData(id, 'slack', { channel_id: 'C9', timestamp: '123.456', user: 'alice@example.com', resolution: '' });
  assert.deepEqual(await read(id), { channel_id: 'C9', timestamp: '123.456', user: 'alice@example.com' });
});

test('permissions: without access_plugin_data/update the caller is refused', async () => {
  const id = await newRequest();
  const alice = await rawTeleportClient(tp, { user: 'alice@example.com' });
  try {
    const res = await code(alice.call('UpdatePluginData', { Kind: 'access_request', Resource: id, Plugin: 'slack', Set: { a: '1' } }));
    assert.equal(res.code, grpc.status.PERMISSION_DENIED);
  } finally {
    alice.close();
  }
});
