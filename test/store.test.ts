import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, createPluginDataStore, createTeleportClient, isPluginError, type ConnectedTeleportClient } from '@teleport-plugin/core';
import { FakeTeleport } from '@teleport-plugin/testkit';

describe('plugin data store (CAS) against the fake Teleport over gRPC', () => {
  let tp: FakeTeleport;
  let client: ConnectedTeleportClient;
  let dir: string;

  before(async () => {
    tp = await FakeTeleport.start();
    tp.addRequester('alice@example.com');
    tp.addPluginUser();
    dir = await mkdtemp(path.join(tmpdir(), 'store-test-'));
    const identityFile = await tp.writeIdentityFile(dir, { user: FakeTeleport.PLUGIN_USER });
    client = await createTeleportClient({ addr: tp.addr, identityFile }, createCaptureLogger());
  });

  after(async () => {
    await client?.close();
    await tp?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const newRequest = (): Promise<string> => tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });

  it("create succeeds once; a second create (or a Go plugin's existing entry) returns false", async () => {
    const id = await newRequest();
    const store = createPluginDataStore(client, 'slack');
    assert.equal(await store.get(id), undefined);
    assert.equal(await store.create(id, { user: 'alice@example.com', roles: 'editor', reviews_count: '', resolution: '' }), true);
    assert.deepEqual(await store.get(id), { user: 'alice@example.com', roles: 'editor' });
    assert.equal(await store.create(id, { user: 'someone-else', roles: 'x' }), false);
    assert.deepEqual(tp.admin.pluginData(id, 'slack'), { user: 'alice@example.com', roles: 'editor' });
    // Namespaces are separate.
    assert.equal(await createPluginDataStore(client, 'pagerduty').get(id), undefined);
  });

  it('create sends a non-empty Expect of "" values (an empty Expect would mean no CAS at all)', async () => {
    const id = await newRequest();
    const calls = tp.calls.length;
    await createPluginDataStore(client, 'slack').create(id, { user: 'u', roles: 'r', resolution: '' });
    const update = tp.calls.slice(calls).find((c) => c.method === 'UpdatePluginData');
    const request = update?.request as { Expect?: Record<string, string>; Set?: Record<string, string> };
    assert.deepEqual({ ...request.Expect }, { user: '', roles: '', resolution: '' });
  });

  it('concurrent creates: exactly one wins', async () => {
    const id = await newRequest();
    const stores = Array.from({ length: 5 }, () => createPluginDataStore(client, 'slack'));
    const results = await Promise.all(stores.map((s, i) => s.create(id, { user: `writer-${i}` })));
    assert.equal(results.filter(Boolean).length, 1);
  });

  it('update is a CAS loop: concurrent increments all land, conflicts are counted', async () => {
    const id = await newRequest();
    let conflicts = 0;
    const store = createPluginDataStore(client, 'slack', { onConflict: () => conflicts++ });
    await store.create(id, { user: 'u', reviews_count: '' });
    const n = 8;
    await Promise.all(Array.from({ length: n }, () => store.update(id, (cur) => ({ ...cur, reviews_count: String(Number(cur?.reviews_count ?? '0') + 1) }))));
    assert.equal(tp.admin.pluginData(id, 'slack')?.reviews_count, String(n));
    assert.ok(conflicts > 0, 'parallel writers must have collided at least once');
  });

  it('update keeps keys written by a Go plugin and deletes keys the new value drops', async () => {
    const id = await newRequest();
    tp.admin.setPluginData(id, 'slack', { user: 'alice@example.com', roles: 'editor', reviews_count: '2', messages: 'C1/1700000000.000100', channel_id: 'C1' });
    const store = createPluginDataStore(client, 'slack');
    const stored = await store.update(id, (cur) => {
      const next: Record<string, string> = { ...cur!, resolution: 'APPROVED' };
      delete next.channel_id;
      return next;
    });
    assert.deepEqual(stored, { user: 'alice@example.com', roles: 'editor', reviews_count: '2', messages: 'C1/1700000000.000100', resolution: 'APPROVED' });
    assert.deepEqual(tp.admin.pluginData(id, 'slack'), stored);
  });

  it('modify returning undefined writes nothing', async () => {
    const id = await newRequest();
    const store = createPluginDataStore(client, 'slack');
    await store.create(id, { user: 'u' });
    const calls = tp.calls.filter((c) => c.method === 'UpdatePluginData').length;
    assert.deepEqual(await store.update(id, () => undefined), { user: 'u' });
    assert.equal(tp.calls.filter((c) => c.method === 'UpdatePluginData').length, calls);
  });

  it('gives up with COMPARE_FAILED after the configured tries', async () => {
    const id = await newRequest();
    const store = createPluginDataStore(client, 'slack', { maxAttempts: 3, backoff: { baseMs: 1, capMs: 2 } });
    await store.create(id, { user: 'u', n: '0' });
    let calls = 0;
    await assert.rejects(
      store.update(id, (cur) => {
        calls++;
        // Someone else changes the entry between our read and our write, every time.
        tp.admin.setPluginData(id, 'slack', { ...cur!, n: String(Math.random()) });
        return { ...cur!, n: 'mine' };
      }),
      (err: unknown) => isPluginError(err, 'COMPARE_FAILED') && /3 tries/.test(err.message),
    );
    assert.equal(calls, 3);
  });

  it('an unknown request is NOT_FOUND', async () => {
    const store = createPluginDataStore(client, 'slack');
    await assert.rejects(store.create('00000000-0000-0000-0000-000000000000', { user: 'u' }), (err: unknown) => isPluginError(err, 'NOT_FOUND'));
  });
});
