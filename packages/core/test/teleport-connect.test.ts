// Start-up failures of the Teleport client: each must be a user-facing PluginError with a code and
// a message that names the file or address and says what to do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isPluginError, type PluginError } from '../src/errors.js';
import { createTeleportClient } from '../src/teleport/client.js';
import { classifyDialError } from '../src/teleport/dial.js';
import { parseIdentityFile } from '../src/teleport/identity.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { loadFakeTeleport, type FakeTeleportLike } from './teleport-testkit.js';

let tp: FakeTeleportLike;
let other: FakeTeleportLike;
let dir: string;
const logger = createCaptureLogger();

before(async () => {
  const FakeTeleport = await loadFakeTeleport();
  dir = await mkdtemp(path.join(tmpdir(), 'tp-connect-'));
  [tp, other] = await Promise.all([FakeTeleport.start({ clusterName: 'example.com' }), FakeTeleport.start({ clusterName: 'other.example' })]);
});

after(async () => {
  await Promise.all([tp?.close(), other?.close()]);
  await rm(dir, { recursive: true, force: true });
});

function userError(code: string, ...fragments: string[]) {
  return (err: unknown): boolean => {
    assert.ok(isPluginError(err), `expected PluginError, got ${err instanceof Error ? err.stack : String(err)}`);
    const e = err as PluginError;
    assert.equal(e.code, code, e.message);
    assert.equal(e.userFacing, true, 'user-facing');
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention "${f}"`);
    return true;
  };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('identity problems: missing, unreadable, not an identity file', async () => {
  const missing = path.join(dir, 'missing-identity');
  await assert.rejects(createTeleportClient({ addr: tp.addr, identityFile: missing }, logger), userError('IDENTITY_MISSING', missing));

  const aDir = path.join(dir, 'identity-dir');
  await mkdir(aDir);
  await assert.rejects(createTeleportClient({ addr: tp.addr, identityFile: aDir }, logger), userError('IDENTITY_UNREADABLE', aDir));

  const junk = path.join(dir, 'junk');
  await writeFile(junk, 'not an identity\n');
  await assert.rejects(createTeleportClient({ addr: tp.addr, identityFile: junk }, logger), userError('IDENTITY_INVALID', junk, 'PEM'));
});

test('an expired certificate is refused before dialing, with when and how long ago', async () => {
  const file = await tp.writeIdentityFile(dir, { user: 'access-plugin', expired: true, fileName: 'expired' });
  const before = tp.calls.length;
  await assert.rejects(createTeleportClient({ addr: tp.addr, identityFile: file }, logger), userError('CERT_EXPIRED', file, 'expired at', 'ago'));
  assert.equal(tp.calls.length, before, 'no RPC was attempted');
});

test('CA mismatch: identity from another cluster -> the server certificate does not verify', async () => {
  const file = await other.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'other-identity' });
  await assert.rejects(createTeleportClient({ addr: tp.addr, identityFile: file }, logger), userError('CA_MISMATCH', tp.addr, 'other.example', 'TLS routing', 'another cluster'));
});

test('certificate refused: a client certificate from an unknown CA is refused by the server', async () => {
  // Trusts the right host CA (so the server verifies) but carries a user cert of another cluster.
  const stranger = await other.pki.issueUser({ user: 'access-plugin' });
  const file = path.join(dir, 'stranger');
  await writeFile(file, stranger.privateKeyPem + stranger.sshCert + '\n' + stranger.tlsCertPem + tp.pki.hostCaPem(), { mode: 0o600 });
  await assert.rejects(createTeleportClient({ addr: tp.addr, identityFile: file }, logger), userError('CERT_REFUSED', tp.addr, 'refused', file));
});

test('unreachable: connection refused, not TLS, and a silent server (dial timeout)', { timeout: 8000 }, async () => {
  const addr = `127.0.0.1:${await closedPort()}`;
  const identityFile = await tp.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'ok' });
  await assert.rejects(createTeleportClient({ addr, identityFile }, logger), userError('UNREACHABLE', addr, 'refused'));

  const sockets = new Set<net.Socket>();
  const plain = net.createServer((s) => {
    sockets.add(s);
    s.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  const silent = net.createServer((s) => sockets.add(s));
  await Promise.all([new Promise<void>((r) => plain.listen(0, '127.0.0.1', r)), new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))]);
  try {
    const plainAddr = `127.0.0.1:${(plain.address() as net.AddressInfo).port}`;
    await assert.rejects(createTeleportClient({ addr: plainAddr, identityFile }, logger), (err: unknown) => {
      assert.ok(isPluginError(err, 'UNREACHABLE'), String(err));
      assert.ok((err as Error).message.includes(plainAddr));
      return true;
    });
    const silentAddr = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    await assert.rejects(createTeleportClient({ addr: silentAddr, identityFile, dialTimeoutMs: 300 }, logger), userError('UNREACHABLE', silentAddr, 'timed out'));
  } finally {
    for (const s of sockets) s.destroy();
    await Promise.all([new Promise((r) => plain.close(r)), new Promise((r) => silent.close(r))]);
  }
});

test('a server older than 6.1.0 is refused with SERVER_TOO_OLD', async () => {
  const FakeTeleport = await loadFakeTeleport();
  const ancient = await FakeTeleport.start({ clusterName: 'ancient.example', version: '6.0.0' });
  try {
    const file = await ancient.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'ancient' });
    await assert.rejects(createTeleportClient({ addr: ancient.addr, identityFile: file }, logger), userError('SERVER_TOO_OLD', '6.0.0', '6.1.0'));
  } finally {
    await ancient.close();
  }
});

test('after start-up, a lost server turns calls into CONNECTION_PROBLEM (not a crash)', async () => {
  const FakeTeleport = await loadFakeTeleport();
  const shortLived = await FakeTeleport.start({ clusterName: 'short.example' });
  const file = await shortLived.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'short' });
  const client = await createTeleportClient({ addr: shortLived.addr, identityFile: file }, logger, { callTimeoutMs: 3000 });
  try {
    await shortLived.close();
    await assert.rejects(client.listAccessRequests(), (err: unknown) => {
      assert.ok(isPluginError(err), String(err));
      assert.ok(['CONNECTION_PROBLEM', 'TIMEOUT'].includes((err as PluginError).code), (err as PluginError).message);
      return true;
    });
  } finally {
    await client.close();
  }
});

test('dial error classification: DNS, TLS alerts, wrong host name', async () => {
  const identity = parseIdentityFile(await tp.identityFile({ user: 'access-plugin' }), 'the-identity');
  const err = (code: string, message = code): Error => Object.assign(new Error(message), { code });
  const cases: Array<[Error, string, string]> = [
    [err('ENOTFOUND', 'getaddrinfo ENOTFOUND auth.example'), 'UNREACHABLE', 'does not resolve'],
    [err('EHOSTUNREACH'), 'UNREACHABLE', 'not reachable'],
    [err('ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ssl/tls alert unknown ca'), 'CERT_REFUSED', 'unknown ca'],
    [err('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'), 'CERT_REFUSED', 'certificate required'],
    [err('ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED', 'sslv3 alert certificate expired'), 'CERT_EXPIRED', 'expired'],
    [err('ERR_TLS_CERT_ALTNAME_INVALID'), 'CA_MISMATCH', 'teleport.cluster.local'],
    [err('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'CA_MISMATCH', 'the-identity'],
  ];
  for (const [e, code, fragment] of cases) {
    const out = classifyDialError(e, 'auth.example:3025', identity);
    assert.equal(out.code, code, `${(e as NodeJS.ErrnoException).code}: ${out.message}`);
    assert.equal(out.userFacing, true);
    assert.ok(out.message.includes('auth.example:3025'), out.message);
    assert.ok(out.message.includes(fragment), `${out.message} should mention ${fragment}`);
    assert.equal(out.cause, e);
  }
});
