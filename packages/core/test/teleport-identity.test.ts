import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isPluginError, type PluginError } from '../src/errors.js';
import { assertIdentityValid, clusterNameFromIssuer, loadIdentity, loadIdentityFile, loadTlsTrio, parseIdentityFile } from '../src/teleport/identity.js';
import { alpnProtocols, authAlpnProtocol, grpcTarget, parseAddr } from '../src/teleport/dial.js';
import { loadPki, type TestPkiLike, type UserIdentityLike } from './teleport-testkit.js';

let dir: string;
let pki: TestPkiLike;
let otherPki: TestPkiLike;
let alice: UserIdentityLike;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tp-identity-'));
  const { TestPki } = await loadPki();
  [pki, otherPki] = await Promise.all([TestPki.create({ clusterName: 'example.com' }), TestPki.create({ clusterName: 'other.example' })]);
  alice = await pki.issueUser({ user: 'access-plugin' });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeFileIn(name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text, { mode: 0o600 });
  return file;
}

function expectCode(code: string, ...fragments: string[]) {
  return (err: unknown): boolean => {
    assert.ok(isPluginError(err), `expected a PluginError, got ${String(err)}`);
    const e = err as PluginError;
    assert.equal(e.code, code, e.message);
    assert.equal(e.userFacing, true);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention "${f}"`);
    return true;
  };
}

test('a tctl identity file parses: user, cluster (issuer CN), SSH parts, CAs', async () => {
  const file = await writeFileIn('identity', pki.identityFile(alice));
  const id = await loadIdentityFile(file);
  assert.equal(id.username, 'access-plugin');
  assert.equal(id.clusterName, 'example.com');
  assert.equal(id.caPems.length, 1);
  assert.match(id.sshCert ?? '', /^[a-z0-9-]+-cert-v01@openssh\.com /);
  assert.equal(id.sshCertAuthorities.length, 1);
  assert.match(id.sshCertAuthorities[0] ?? '', /^@cert-authority example\.com,\*\.example\.com /);
  assert.equal(id.source, file);
  assert.equal(id.notAfter.getTime(), Math.floor(alice.notAfter.getTime() / 1000) * 1000);
  assertIdentityValid(id);
});

test("cluster name: issuer CN, falling back to O (Node's multi-line DN rendering)", () => {
  assert.equal(clusterNameFromIssuer('O=example.com\nCN=example.com'), 'example.com');
  assert.equal(clusterNameFromIssuer('C=US\nO=teleport.example.org'), 'teleport.example.org');
  assert.equal(clusterNameFromIssuer('CN=root.example\nO=ignored'), 'root.example');
  assert.equal(clusterNameFromIssuer('C=US'), '');
});

test('RSA (PKCS#1) and EC (SEC1) private keys are accepted', async () => {
  const rsa = await pki.issueUser({ user: 'rsa-user', keyType: 'rsa' });
  const rsaId = parseIdentityFile(pki.identityFile(rsa), 'rsa-identity');
  assert.match(rsa.privateKeyPem, /BEGIN RSA PRIVATE KEY/);
  assert.equal(rsaId.username, 'rsa-user');

  const sec1 = createPrivateKey(alice.privateKeyPem).export({ format: 'pem', type: 'sec1' }).toString();
  assert.match(sec1, /BEGIN EC PRIVATE KEY/);
  const text = pki.identityFile(alice).replace(alice.privateKeyPem.trimEnd(), sec1.trimEnd());
  assert.equal(parseIdentityFile(text, 'ec-identity').username, 'access-plugin');
});

test('line rules: CRLF, comments and junk are ignored; several CA blocks are all kept', async () => {
  const text = '# written by hand\r\n' + pki.identityFile(alice).replace(/\n/g, '\r\n') + 'some trailing junk that is not a PEM block\r\n' + otherPki.hostCaPem();
  const id = parseIdentityFile(text, 'mixed');
  assert.equal(id.caPems.length, 2);
  assert.equal(id.clusterName, 'example.com');

  // A block of another kind among the CAs is skipped, as upstream's certificate pool skips it.
  const note = '-----BEGIN TELEPORT NOTE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END TELEPORT NOTE-----\n';
  const withNote = parseIdentityFile(pki.identityFile(alice) + note + otherPki.hostCaPem(), 'with-note');
  assert.equal(withNote.caPems.length, 2);
  assert.ok(withNote.caPems.every((p) => p.startsWith('-----BEGIN CERTIFICATE-----')));
  // ...but a file whose only block after the certificate is not a certificate has no CA.
  const onlyNote = alice.privateKeyPem + alice.sshCert + '\n' + alice.tlsCertPem + note;
  assert.throws(() => parseIdentityFile(onlyNote, 'only-note'), expectCode('IDENTITY_INVALID', 'only-note', 'CA certificates'));
});

test('an RSA key in PKCS#8 form ("PRIVATE KEY") is accepted too', async () => {
  const rsa = await pki.issueUser({ user: 'rsa8-user', keyType: 'rsa' });
  const pkcs8 = createPrivateKey(rsa.privateKeyPem).export({ format: 'pem', type: 'pkcs8' }).toString();
  assert.match(pkcs8, /^-----BEGIN PRIVATE KEY-----/);
  const text = pki.identityFile(rsa).replace(rsa.privateKeyPem.trimEnd(), pkcs8.trimEnd());
  assert.equal(parseIdentityFile(text, 'rsa-pkcs8').username, 'rsa8-user');
});

test('missing, unreadable and non-identity files give clear errors naming the file', async () => {
  const missing = path.join(dir, 'nope', 'identity');
  await assert.rejects(loadIdentityFile(missing), expectCode('IDENTITY_MISSING', missing, 'does not exist'));

  const aDir = path.join(dir, 'a-directory');
  await mkdir(aDir);
  await assert.rejects(loadIdentityFile(aDir), expectCode('IDENTITY_UNREADABLE', aDir));

  const empty = await writeFileIn('empty', 'hello\n');
  await assert.rejects(loadIdentityFile(empty), expectCode('IDENTITY_INVALID', empty, 'no PEM blocks'));

  const keyOnly = await writeFileIn('key-only', alice.privateKeyPem);
  await assert.rejects(loadIdentityFile(keyOnly), expectCode('IDENTITY_INVALID', keyOnly, 'TLS certificate'));

  const noCas = await writeFileIn('no-cas', alice.privateKeyPem + alice.sshCert + '\n' + alice.tlsCertPem);
  await assert.rejects(loadIdentityFile(noCas), expectCode('IDENTITY_INVALID', noCas, 'CA certificates'));

  const certFirst = await writeFileIn('cert-first', alice.tlsCertPem + alice.privateKeyPem + pki.hostCaPem());
  await assert.rejects(loadIdentityFile(certFirst), expectCode('IDENTITY_INVALID', certFirst, 'first PEM block is "CERTIFICATE"'));

  const bob = await pki.issueUser({ user: 'bob' });
  const wrongKey = await writeFileIn('wrong-key', bob.privateKeyPem + alice.tlsCertPem + pki.hostCaPem());
  await assert.rejects(loadIdentityFile(wrongKey), expectCode('IDENTITY_INVALID', wrongKey, 'does not belong'));

  const truncated = await writeFileIn('truncated', pki.identityFile(alice).slice(0, -40));
  await assert.rejects(loadIdentityFile(truncated), expectCode('IDENTITY_INVALID', truncated, 'not terminated'));
});

test('an expired certificate says when it expired and how long ago; a future one says when it starts', async () => {
  const old = await pki.issueUser({ user: 'old', expired: true });
  const id = parseIdentityFile(pki.identityFile(old), 'old-identity');
  assert.throws(() => assertIdentityValid(id), expectCode('CERT_EXPIRED', 'old-identity', id.notAfter.toISOString(), 'ago'));

  const fresh = parseIdentityFile(pki.identityFile(alice), 'fresh-identity');
  const past = new Date(fresh.notBefore.getTime() - 3_600_000);
  assert.throws(() => assertIdentityValid(fresh, past), expectCode('CERT_EXPIRED', 'not valid until', fresh.notBefore.toISOString()));
});

test('the --format=tls trio loads; a missing member is named', async () => {
  const files = {
    clientKey: await writeFileIn('plugin.key', alice.privateKeyPem),
    clientCrt: await writeFileIn('plugin.crt', alice.tlsCertPem),
    rootCas: await writeFileIn('plugin.cas', pki.hostCaPem() + otherPki.hostCaPem()),
  };
  const id = await loadTlsTrio(files);
  assert.equal(id.username, 'access-plugin');
  assert.equal(id.clusterName, 'example.com');
  assert.equal(id.caPems.length, 2);
  assert.equal(id.sshCert, undefined);
  assert.equal((await loadIdentity(files)).fingerprint, id.fingerprint);

  const gone = path.join(dir, 'gone.cas');
  await assert.rejects(loadTlsTrio({ ...files, rootCas: gone }), expectCode('IDENTITY_MISSING', gone, 'root_cas'));
  await assert.rejects(loadTlsTrio({ ...files, clientKey: files.clientCrt }), expectCode('IDENTITY_INVALID', files.clientCrt, 'private key'));
  await assert.rejects(loadIdentity({}), (err: unknown) => isPluginError(err, 'CONFIG') && /identity/.test((err as Error).message));
});

test('ALPN list puts teleport-auth@<hex cluster> first, then h2, never -ping', async () => {
  assert.equal(authAlpnProtocol('example.com'), 'teleport-auth@6578616d706c652e636f6d.teleport.cluster.local');
  const id = parseIdentityFile(pki.identityFile(alice), 'identity');
  const list = alpnProtocols(id);
  assert.deepEqual(list, ['teleport-auth@6578616d706c652e636f6d.teleport.cluster.local', 'h2']);
  assert.ok(list.every((p) => !p.endsWith('-ping')));
});

test('addresses: host:port, [v6]:port, bare host defaults to 3025', () => {
  assert.deepEqual(parseAddr('teleport.example.com:443'), { host: 'teleport.example.com', port: 443 });
  assert.deepEqual(parseAddr('[::1]:3025'), { host: '::1', port: 3025 });
  assert.deepEqual(parseAddr('auth.local'), { host: 'auth.local', port: 3025 });
  assert.deepEqual(parseAddr('::1'), { host: '::1', port: 3025 });
  // Not a host named "auth.local:70000" that fails to resolve later: a config error now.
  for (const bad of ['auth.local:70000', 'auth.local:0', 'auth.local:abc', '[::1]:99999']) {
    assert.throws(
      () => parseAddr(bad),
      (err: unknown) => isPluginError(err, 'CONFIG') && err.userFacing && /a port between 1 and 65535/.test(err.message),
      bad,
    );
  }
  assert.equal(grpcTarget('127.0.0.1:3025'), 'dns:127.0.0.1:3025');
  assert.equal(grpcTarget('[::1]:443'), 'ipv6:[::1]:443');
});
