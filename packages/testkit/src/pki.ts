// @peculiar/x509 resolves its services through tsyringe, which needs a Reflect metadata polyfill
// loaded before the library itself; ESM evaluates imports in source order.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { KeyObject, randomBytes, randomUUID, webcrypto } from 'node:crypto';
import { buildSshCertificate, sshPublicKeyLine } from './ssh-cert.js';

x509.cryptoProvider.set(webcrypto);

/** `ecdsa` = ECDSA P-256 (Teleport's balanced-v1 suite, the default); `rsa` = RSA-2048 (legacy suite). */
export type KeyType = 'ecdsa' | 'rsa';

/** SNI / SAN every Teleport auth server certificate carries (constants.APIDomain). */
export const API_DOMAIN = 'teleport.cluster.local';

const ONE_YEAR_MS = 365 * 24 * 3600 * 1000;
const HOUR_MS = 3600 * 1000;
const OID_CN = '2.5.4.3';
const OID_O = '2.5.4.10';

/** A key pair in every form the kit needs: WebCrypto for signing certs, PEM for files. */
export interface KeyMaterial {
  keyType: KeyType;
  keys: webcrypto.CryptoKeyPair;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** As tctl writes it: PKCS#8 `PRIVATE KEY` for ECDSA, PKCS#1 `RSA PRIVATE KEY` for RSA. */
  privateKeyPem: string;
}

export interface CertAuthority {
  name: string;
  certPem: string;
  cert: x509.X509Certificate;
  key: KeyMaterial;
}

export interface SshAuthority {
  key: KeyMaterial;
  /** `<type> <base64>` public key line. */
  publicKeyLine: string;
}

/** A certificate plus its private key, both PEM. */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

export interface UserIdentityOptions {
  /** Username: the TLS subject CN and the SSH key id. */
  user: string;
  /** Roles recorded in the TLS subject O attributes (informational for the fake). */
  roles?: string[];
  /** Issue a certificate whose validity window is already over. */
  expired?: boolean;
  /** Validity from now (default 12 h, tctl's default --ttl). */
  ttlMs?: number;
  keyType?: KeyType;
  /** SSH principals (default: the username). */
  logins?: string[];
}

/** Everything `tctl auth sign` hands a user. */
export interface UserIdentity {
  user: string;
  keyType: KeyType;
  privateKeyPem: string;
  tlsCertPem: string;
  /** OpenSSH user certificate, authorized_keys form (one line). */
  sshCert: string;
  notBefore: Date;
  notAfter: Date;
}

function keyAlgorithm(keyType: KeyType): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  return keyType === 'rsa'
    ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: 'P-256' };
}

function signingAlgorithm(keyType: KeyType): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return keyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5' } : ({ name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams);
}

export async function generateKeyMaterial(keyType: KeyType): Promise<KeyMaterial> {
  const keys = (await webcrypto.subtle.generateKey(keyAlgorithm(keyType), true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const privateKey = KeyObject.from(keys.privateKey);
  const publicKey = KeyObject.from(keys.publicKey);
  const privateKeyPem = privateKey.export({ format: 'pem', type: keyType === 'rsa' ? 'pkcs1' : 'pkcs8' }).toString();
  return { keyType, keys, privateKey, publicKey, privateKeyPem };
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive INTEGER
  return b.toString('hex');
}

function name(cn: string, orgs: string[]): x509.JsonName {
  return [{ [OID_CN]: [cn] }, ...orgs.map((o) => ({ [OID_O]: [o] }))];
}

async function createCa(caName: string, orgs: string[], keyType: KeyType): Promise<CertAuthority> {
  const key = await generateKeyMaterial(keyType);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: name(caName, orgs),
    notBefore: new Date(now - HOUR_MS),
    notAfter: new Date(now + 10 * ONE_YEAR_MS),
    signingAlgorithm: signingAlgorithm(keyType),
    keys: key.keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey),
    ],
  });
  return { name: caName, certPem: cert.toString('pem') + '\n', cert, key };
}

interface LeafOptions {
  subject: x509.JsonName;
  publicKey: webcrypto.CryptoKey;
  notBefore: Date;
  notAfter: Date;
  dnsNames?: string[];
  ips?: string[];
  usages: string[];
}

async function issueLeaf(ca: CertAuthority, opts: LeafOptions): Promise<string> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension(opts.usages),
    await x509.AuthorityKeyIdentifierExtension.create(ca.key.keys.publicKey),
  ];
  const sans = [...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })), ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value }))];
  if (sans.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(sans));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: opts.subject,
    issuer: ca.cert.subjectName,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    signingAlgorithm: signingAlgorithm(ca.key.keyType),
    publicKey: opts.publicKey,
    signingKey: ca.key.keys.privateKey,
    extensions,
  });
  return cert.toString('pem') + '\n';
}

/**
 * The certificate authorities of one fake cluster, shaped like Teleport's: a user CA and a host CA
 * (TLS subject CN = O = cluster name) with matching SSH CAs, an auth server certificate for
 * `teleport.cluster.local`, and an unrelated "web" CA standing in for the proxy's public
 * certificate (it must NOT verify against the host CA).
 */
export class TestPki {
  readonly clusterName: string;
  readonly keyType: KeyType;
  readonly userCa: CertAuthority;
  readonly hostCa: CertAuthority;
  readonly webCa: CertAuthority;
  readonly sshUserCa: SshAuthority;
  readonly sshHostCa: SshAuthority;
  /** Auth server certificate (host CA), SANs teleport.cluster.local and *.teleport.cluster.local. */
  readonly authServer: CertAndKey;
  /** Host UUID baked into the auth server certificate (`<uuid>.<cluster>` SAN). */
  readonly hostId: string;

  private constructor(parts: Pick<TestPki, 'clusterName' | 'keyType' | 'userCa' | 'hostCa' | 'webCa' | 'sshUserCa' | 'sshHostCa' | 'authServer' | 'hostId'>) {
    this.clusterName = parts.clusterName;
    this.keyType = parts.keyType;
    this.userCa = parts.userCa;
    this.hostCa = parts.hostCa;
    this.webCa = parts.webCa;
    this.sshUserCa = parts.sshUserCa;
    this.sshHostCa = parts.sshHostCa;
    this.authServer = parts.authServer;
    this.hostId = parts.hostId;
  }

  static async create(opts: { clusterName?: string; keyType?: KeyType } = {}): Promise<TestPki> {
    const clusterName = opts.clusterName ?? 'example.com';
    const keyType = opts.keyType ?? 'ecdsa';
    const [userCa, hostCa, webCa, sshUserKey, sshHostKey, authKey] = await Promise.all([
      createCa(clusterName, [clusterName], keyType),
      createCa(clusterName, [clusterName], keyType),
      createCa('Fake Public Web CA', ['teleport-plugin testkit'], 'ecdsa'),
      generateKeyMaterial(keyType),
      generateKeyMaterial(keyType),
      generateKeyMaterial(keyType),
    ]);
    const hostId = randomUUID();
    const now = Date.now();
    const authCertPem = await issueLeaf(hostCa, {
      subject: name(hostId, ['Auth']),
      publicKey: authKey.keys.publicKey,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + ONE_YEAR_MS),
      dnsNames: [API_DOMAIN, `*.${API_DOMAIN}`, `${hostId}.${clusterName}`],
      usages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    });
    return new TestPki({
      clusterName,
      keyType,
      userCa,
      hostCa,
      webCa,
      sshUserCa: { key: sshUserKey, publicKeyLine: sshPublicKeyLine(sshUserKey.publicKey) },
      sshHostCa: { key: sshHostKey, publicKeyLine: sshPublicKeyLine(sshHostKey.publicKey) },
      authServer: { certPem: authCertPem, keyPem: authKey.privateKeyPem },
      hostId,
    });
  }

  /** Issues a user identity: TLS cert from the user CA (CN = user) and SSH cert from the SSH user CA. */
  async issueUser(opts: UserIdentityOptions): Promise<UserIdentity> {
    const keyType = opts.keyType ?? this.keyType;
    const key = await generateKeyMaterial(keyType);
    const now = Date.now();
    // Expired: a window that closed an hour ago, so clock skew tolerance cannot rescue it.
    const notBefore = opts.expired ? new Date(now - 3 * HOUR_MS) : new Date(now - 60_000);
    const notAfter = opts.expired ? new Date(now - HOUR_MS) : new Date(now + (opts.ttlMs ?? 12 * HOUR_MS));
    const tlsCertPem = await issueLeaf(this.userCa, {
      subject: name(opts.user, opts.roles ?? []),
      publicKey: key.keys.publicKey,
      notBefore,
      notAfter,
      usages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    });
    const sshCert = buildSshCertificate({
      publicKey: key.publicKey,
      caPrivateKey: this.sshUserCa.key.privateKey,
      certType: 'user',
      keyId: opts.user,
      principals: opts.logins ?? [opts.user],
      validAfter: notBefore,
      validBefore: notAfter,
      extensions: { 'permit-agent-forwarding': '', 'permit-port-forwarding': '', 'permit-pty': '' },
    });
    return { user: opts.user, keyType, privateKeyPem: key.privateKeyPem, tlsCertPem, sshCert, notBefore, notAfter };
  }

  /** A server certificate from the web CA (the proxy's "public" certificate). */
  async issueWebCert(dnsNames: string[] = ['localhost'], ips: string[] = ['127.0.0.1']): Promise<CertAndKey> {
    const key = await generateKeyMaterial('ecdsa');
    const now = Date.now();
    const certPem = await issueLeaf(this.webCa, {
      subject: name(dnsNames[0] ?? 'localhost', []),
      publicKey: key.keys.publicKey,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + ONE_YEAR_MS),
      dnsNames,
      ips,
      usages: [x509.ExtendedKeyUsage.serverAuth],
    });
    return { certPem, keyPem: key.privateKeyPem };
  }

  /** Host CA TLS certificates as written to `root_cas` / the identity file (PEM, concatenated). */
  hostCaPem(): string {
    return this.hostCa.certPem;
  }

  /** The `@cert-authority` known_hosts line for the SSH host CA (no trailing newline). */
  sshHostCaLine(extraHosts: string[] = []): string {
    const hosts = [...extraHosts, this.clusterName, `*.${this.clusterName}`].join(',');
    return `@cert-authority ${hosts} ${this.sshHostCa.publicKeyLine} type=host`;
  }

  /**
   * Identity file in `tctl auth sign --format=file` layout and order: private key, SSH cert line,
   * TLS cert, `@cert-authority` line(s), host CA TLS PEM(s); every block newline-terminated.
   */
  identityFile(identity: UserIdentity, opts: { proxyHost?: string; extraCaPems?: string[] } = {}): string {
    const ensureNl = (s: string): string => (s.endsWith('\n') ? s : s + '\n');
    return [
      ensureNl(identity.privateKeyPem),
      ensureNl(identity.sshCert),
      ensureNl(identity.tlsCertPem),
      ensureNl(this.sshHostCaLine(opts.proxyHost ? [opts.proxyHost] : [])),
      ensureNl(this.hostCaPem()),
      // Further trusted CAs (another cluster's host CA, or a CA mid-rotation), as tctl appends them.
      ...(opts.extraCaPems ?? []).map(ensureNl),
    ].join('');
  }
}
