// refresh_identity: a renewed identity file is used by new connections without a restart; a bad
// replacement is logged and ignored; streams opened before the change keep working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createTeleportClient, type ConnectedTeleportClient } from '../src/teleport/client.js';
import type { WatchEvent } from '../src/teleport/types.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { loadFakeTeleport, type FakeTeleportLike } from './teleport-testkit.js';

let tp: FakeTeleportLike;
let dir: string;

before(async () => {
  const FakeTeleport = await loadFakeTeleport();
  dir = await mkdtemp(path.join(tmpdir(), 'tp-refresh-'));
  tp = await FakeTeleport.start({ clusterName: 'example.com' });
  tp.addPluginUser('plugin-two');
  tp.addRequester('alice');
});

after(async () => {
  await tp?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Replace the file atomically, as tbot does. */
async function replaceFile(file: string, contents: string): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeFile(tmp, contents, { mode: 0o600 });
  await rename(tmp, file);
}

async function lastPingCaller(client: ConnectedTeleportClient): Promise<string | undefined> {
  await client.ping();
  return tp.calls.filter((c) => c.method === 'Ping').at(-1)?.caller;
}

test('a renewed identity reaches the server on new connections; bad replacements are ignored', { timeout: 15_000 }, async () => {
  const logger = createCaptureLogger();
  const file = await tp.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'identity' });
  const client = await createTeleportClient({ addr: tp.addr, identityFile: file, refreshIdentity: true, refreshIdentityIntervalMs: 50 }, logger);
  const watch = client.watchAccessRequests();
  const it = watch[Symbol.asyncIterator]();
  try {
    assert.equal(await lastPingCaller(client), 'access-plugin');
    assert.equal(((await it.next()).value as WatchEvent).type, 'init');

    // tbot-style renewal, here for another user so the server can tell the certificates apart.
    await replaceFile(file, await tp.identityFile({ user: 'plugin-two' }));
    await tp.waitFor(() => client.currentIdentity().username === 'plugin-two', 5000, 'identity reloaded');
    assert.equal(await lastPingCaller(client), 'plugin-two', 'new connection presents the new certificate');
    assert.ok(logger.entries.some((l) => l.level === 'info' && /renewed Teleport identity/.test(l.message)));

    // The watch opened before the change still delivers events.
    const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'] });
    const put = (await it.next()).value as WatchEvent;
    assert.ok(put.type === 'put' && put.request.id === id);

    // A half-written file: warned about, current identity kept, calls keep working.
    await replaceFile(file, '-----BEGIN PRIVATE KEY-----\nAAAA\n');
    await tp.waitFor(() => logger.entries.some((l) => l.level === 'warn' && /Ignoring the new identity/.test(l.message)), 5000, 'warning');
    assert.equal(client.currentIdentity().username, 'plugin-two');
    assert.equal(await lastPingCaller(client), 'plugin-two');

    // An expired replacement is refused the same way.
    const warnings = logger.entries.filter((l) => l.level === 'warn').length;
    await replaceFile(file, await tp.identityFile({ user: 'access-plugin', expired: true }));
    await tp.waitFor(() => logger.entries.filter((l) => l.level === 'warn').length > warnings, 5000, 'expired warning');
    const last = logger.entries.filter((l) => l.level === 'warn').at(-1);
    assert.match(String(last?.fields['error']), /expired/);
    assert.equal(client.currentIdentity().username, 'plugin-two');

    // Back to a good file: picked up again.
    await replaceFile(file, await tp.identityFile({ user: 'access-plugin' }));
    assert.equal(await client.refreshIdentity().then(() => client.currentIdentity().username), 'access-plugin');
    assert.equal(await lastPingCaller(client), 'access-plugin');
  } finally {
    watch.close();
    await client.close();
  }
});

test('without refresh_identity the file is read once', async () => {
  const logger = createCaptureLogger();
  const file = await tp.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'static-identity' });
  const client = await createTeleportClient({ addr: tp.addr, identityFile: file }, logger);
  try {
    await replaceFile(file, await tp.identityFile({ user: 'plugin-two' }));
    client.reconnect();
    assert.equal(await lastPingCaller(client), 'access-plugin');
    assert.equal(client.currentIdentity().username, 'access-plugin');
  } finally {
    await client.close();
  }
});
