import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { TestPki, writeIdentityFile, writeTlsTrio } from '../src/index.js';

/** A minimal identity-file reader following Go's decodeIdentityFile rules (shared spec §5.1). */
function parseIdentityFile(text: string): { kinds: string[]; pems: string[]; sshCert?: string; caLines: string[] } {
  const kinds: string[] = [];
  const pems: string[] = [];
  const caLines: string[] = [];
  let sshCert: string | undefined;
  let current: string[] | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (current) {
      current.push(line);
      if (line.startsWith('-----END')) {
        pems.push(current.join('\n') + '\n');
        current = undefined;
      }
      continue;
    }
    if (line.startsWith('-----BEGIN')) {
      current = [line];
      kinds.push(line.replace(/^-----BEGIN (.*)-----$/, '$1'));
    } else if (/^[a-z0-9-]+-cert-v[0-9]{2}@openssh\.com$/.test(line.split(' ')[0] ?? '')) {
      sshCert = line;
      kinds.push('SSH CERT');
    } else if (line.startsWith('@cert-authority')) {
      caLines.push(line);
      kinds.push('SSH CA');
    }
  }
  return { kinds, pems, caLines, ...(sshCert ? { sshCert } : {}) };
}

function sameKey(cert: X509Certificate, privateKeyPem: string): boolean {
  const der = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  return der(cert.publicKey).equals(der(createPublicKey(createPrivateKey(privateKeyPem))));
}

const ecdsa = TestPki.create({ clusterName: 'example.com' });

test('CA subjects carry the cluster name as CN and O', async () => {
  const pki = await ecdsa;
  for (const ca of [pki.userCa, pki.hostCa]) {
    const c = new X509Certificate(ca.certPem);
    assert.equal(c.subject, 'CN=example.com\nO=example.com');
    assert.equal(c.ca, true);
    assert.ok(c.verify(c.publicKey), 'self-signed');
  }
  assert.notEqual(pki.userCa.certPem, pki.hostCa.certPem);
});

test('auth server certificate chains to the host CA and covers teleport.cluster.local', async () => {
  const pki = await ecdsa;
  const auth = new X509Certificate(pki.authServer.certPem);
  const host = new X509Certificate(pki.hostCa.certPem);
  const user = new X509Certificate(pki.userCa.certPem);
  assert.ok(auth.verify(host.publicKey));
  assert.ok(!auth.verify(user.publicKey));
  assert.equal(auth.checkHost('teleport.cluster.local'), 'teleport.cluster.local');
  assert.ok(auth.checkHost('6578616d706c652e636f6d.teleport.cluster.local'));
  assert.equal(auth.checkHost('localhost'), undefined, 'clients must use the API domain, not the address');
  assert.ok(auth.checkIssued(host));
});

test('user certificate: CN = username, signed by the user CA, not by the host CA', async () => {
  const pki = await ecdsa;
  const id = await pki.issueUser({ user: 'access-plugin', roles: ['access-plugin'] });
  const cert = new X509Certificate(id.tlsCertPem);
  assert.match(cert.subject, /^CN=access-plugin$/m);
  assert.ok(cert.verify(new X509Certificate(pki.userCa.certPem).publicKey));
  assert.ok(!cert.verify(new X509Certificate(pki.hostCa.certPem).publicKey));
  assert.ok(Date.parse(cert.validTo) > Date.now() + 11 * 3600_000, 'default ttl is 12 h');
  assert.equal(createPrivateKey(id.privateKeyPem).asymmetricKeyType, 'ec');
  assert.ok(sameKey(cert, id.privateKeyPem));
});

test('expired user certificate is really expired', async () => {
  const pki = await ecdsa;
  const id = await pki.issueUser({ user: 'old', expired: true });
  const cert = new X509Certificate(id.tlsCertPem);
  assert.ok(Date.parse(cert.validTo) < Date.now() - 30 * 60_000);
  assert.ok(Date.parse(cert.validFrom) < Date.parse(cert.validTo));
  assert.ok(id.notAfter.getTime() < Date.now());
});

test('web CA is unrelated to the host CA', async () => {
  const pki = await ecdsa;
  const web = await pki.issueWebCert(['localhost']);
  const cert = new X509Certificate(web.certPem);
  assert.ok(cert.verify(new X509Certificate(pki.webCa.certPem).publicKey));
  assert.ok(!cert.verify(new X509Certificate(pki.hostCa.certPem).publicKey));
});

test('identity file: tctl block order, newline-terminated, mode 0600', async () => {
  const pki = await ecdsa;
  const dir = await mkdtemp(path.join(tmpdir(), 'tk-pki-'));
  try {
    const file = await writeIdentityFile(pki, dir, { user: 'access-plugin' });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const text = await readFile(file, 'utf8');
    assert.ok(text.endsWith('\n'));
    const parsed = parseIdentityFile(text);
    assert.deepEqual(parsed.kinds, ['PRIVATE KEY', 'SSH CERT', 'CERTIFICATE', 'SSH CA', 'CERTIFICATE']);
    assert.match(parsed.sshCert ?? '', /^ecdsa-sha2-nistp256-cert-v01@openssh\.com AAAA[A-Za-z0-9+/=]+$/);
    assert.equal(parsed.caLines.length, 1);
    assert.match(parsed.caLines[0]!, /^@cert-authority example\.com,\*\.example\.com ecdsa-sha2-nistp256 AAAA\S+ type=host$/);
    // Go's rule: 1st PEM = key, 2nd = TLS cert, rest = CAs.
    const [keyPem, certPem, ...caPems] = parsed.pems;
    const cert = new X509Certificate(certPem!);
    assert.ok(sameKey(cert, keyPem!), 'first PEM is the key of the TLS cert');
    assert.match(cert.subject, /CN=access-plugin/);
    assert.equal(caPems.length, 1);
    assert.ok(new X509Certificate(pki.authServer.certPem).verify(new X509Certificate(caPems[0]!).publicKey));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('identity file with proxy host lists it first in @cert-authority; extra CAs follow the host CA', async () => {
  const pki = await ecdsa;
  const other = await TestPki.create({ clusterName: 'leaf.example' });
  const text = pki.identityFile(await pki.issueUser({ user: 'u' }), { proxyHost: 'teleport.example.com', extraCaPems: [other.hostCaPem()] });
  assert.match(text, /^@cert-authority teleport\.example\.com,example\.com,\*\.example\.com /m);
  const parsed = parseIdentityFile(text);
  assert.deepEqual(parsed.kinds, ['PRIVATE KEY', 'SSH CERT', 'CERTIFICATE', 'SSH CA', 'CERTIFICATE', 'CERTIFICATE']);
  assert.equal(parsed.pems[3], other.hostCaPem());
});

test('SSH user certificate is accepted by ssh-keygen (signature, key id, principals)', async (t) => {
  if (spawnSync('ssh-keygen', ['-?']).error) {
    t.skip('ssh-keygen not installed');
    return;
  }
  const pki = await ecdsa;
  const id = await pki.issueUser({ user: 'alice@example.com' });
  const dir = await mkdtemp(path.join(tmpdir(), 'tk-ssh-'));
  try {
    const f = path.join(dir, 'key-cert.pub');
    await writeFile(f, id.sshCert + '\n');
    const out = execFileSync('ssh-keygen', ['-L', '-f', f], { encoding: 'utf8' });
    assert.match(out, /ecdsa-sha2-nistp256-cert-v01@openssh\.com user certificate/);
    assert.match(out, /Key ID: "alice@example\.com"/);
    assert.match(out, /permit-pty/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('RSA suite: PKCS#1 key, RSA certs, ssh-rsa cert, TLS trio files', async () => {
  const pki = await TestPki.create({ clusterName: 'legacy.example', keyType: 'rsa' });
  const id = await pki.issueUser({ user: 'bot' });
  assert.match(id.privateKeyPem, /^-----BEGIN RSA PRIVATE KEY-----\n/);
  assert.match(id.sshCert, /^ssh-rsa-cert-v01@openssh\.com AAAA/);
  assert.equal(new X509Certificate(pki.hostCa.certPem).publicKey.asymmetricKeyType, 'rsa');
  assert.ok(new X509Certificate(id.tlsCertPem).verify(new X509Certificate(pki.userCa.certPem).publicKey));
  const dir = await mkdtemp(path.join(tmpdir(), 'tk-trio-'));
  try {
    const trio = await writeTlsTrio(pki, dir, { user: 'bot' });
    assert.deepEqual(
      [trio.clientKey, trio.clientCrt, trio.rootCas].map((p) => path.basename(p)),
      ['bot.key', 'bot.crt', 'bot.cas'],
    );
    assert.match(await readFile(trio.clientKey, 'utf8'), /RSA PRIVATE KEY/);
    assert.equal(await readFile(trio.rootCas, 'utf8'), pki.hostCaPem());
    const crt = new X509Certificate(await readFile(trio.clientCrt, 'utf8'));
    assert.match(crt.subject, /CN=bot/);
    assert.ok(sameKey(crt, await readFile(trio.clientKey, 'utf8')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
