import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';

/**
 * Just enough of the OpenSSH wire format (RFC 4251 strings/mpints, PROTOCOL.certkeys) to mint
 * structurally real user certificates and CA public-key lines for identity files. Our clients only
 * tolerate these blocks, but `ssh-keygen -L` must accept them, so the CA signature is genuine.
 */

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function u64(n: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
}

function sshString(data: Buffer | string): Buffer {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return Buffer.concat([u32(buf.length), buf]);
}

/** Positive mpint: strip leading zeros, then prefix 0x00 when the high bit is set. */
function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  let body = unsigned.subarray(i);
  if (body.length > 0 && (body[0]! & 0x80) !== 0) body = Buffer.concat([Buffer.from([0]), body]);
  return sshString(body);
}

function b64url(s: string | undefined): Buffer {
  if (!s) throw new Error('JWK component missing');
  return Buffer.from(s, 'base64url');
}

interface SshKeyInfo {
  /** Public key algorithm name, e.g. `ecdsa-sha2-nistp256`. */
  type: string;
  /** The algorithm-specific fields that follow the type in the public key blob. */
  fields: Buffer;
}

function keyInfo(key: KeyObject): SshKeyInfo {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (jwk.kty === 'EC') {
    if (jwk.crv !== 'P-256') throw new Error(`unsupported EC curve ${jwk.crv ?? '?'}`);
    const q = Buffer.concat([Buffer.from([4]), b64url(jwk.x), b64url(jwk.y)]);
    return { type: 'ecdsa-sha2-nistp256', fields: Buffer.concat([sshString('nistp256'), sshString(q)]) };
  }
  if (jwk.kty === 'RSA') {
    return { type: 'ssh-rsa', fields: Buffer.concat([mpint(b64url(jwk.e)), mpint(b64url(jwk.n))]) };
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return { type: 'ssh-ed25519', fields: sshString(b64url(jwk.x)) };
  }
  throw new Error(`unsupported key type ${String(jwk.kty)}`);
}

/** The public key blob (`string type` + fields), as used in authorized_keys and cert signature keys. */
export function sshPublicKeyBlob(key: KeyObject): Buffer {
  const info = keyInfo(key);
  return Buffer.concat([sshString(info.type), info.fields]);
}

/** `<type> <base64 blob>` — authorized_keys form without a comment. */
export function sshPublicKeyLine(key: KeyObject): string {
  return `${keyInfo(key).type} ${sshPublicKeyBlob(key).toString('base64')}`;
}

function sshSignature(caPrivateKey: KeyObject, data: Buffer): Buffer {
  const kind = caPrivateKey.asymmetricKeyType;
  if (kind === 'ec') {
    const raw = sign('sha256', data, { key: caPrivateKey, dsaEncoding: 'ieee-p1363' });
    const inner = Buffer.concat([mpint(raw.subarray(0, 32)), mpint(raw.subarray(32))]);
    return Buffer.concat([sshString('ecdsa-sha2-nistp256'), sshString(inner)]);
  }
  if (kind === 'rsa') {
    return Buffer.concat([sshString('rsa-sha2-512'), sshString(sign('sha512', data, caPrivateKey))]);
  }
  if (kind === 'ed25519') {
    return Buffer.concat([sshString('ssh-ed25519'), sshString(sign(null, data, caPrivateKey))]);
  }
  throw new Error(`unsupported CA key type ${String(kind)}`);
}

export interface SshCertOptions {
  /** Public key being certified. */
  publicKey: KeyObject;
  /** CA private key that signs. */
  caPrivateKey: KeyObject;
  certType: 'user' | 'host';
  keyId: string;
  principals: string[];
  validAfter: Date;
  validBefore: Date;
  /** Extension names (values empty), e.g. `permit-pty`; sorted as OpenSSH requires. */
  extensions?: Record<string, string>;
}

/** Builds an OpenSSH certificate and returns it in authorized_keys form (one line, no newline). */
export function buildSshCertificate(opts: SshCertOptions): string {
  const info = keyInfo(opts.publicKey);
  const certType = `${info.type}-cert-v01@openssh.com`;
  const principals = Buffer.concat(opts.principals.map((p) => sshString(p)));
  const extNames = Object.keys(opts.extensions ?? {}).sort();
  const extensions = Buffer.concat(
    extNames.map((name) => {
      const value = opts.extensions?.[name] ?? '';
      // Non-empty extension data is itself a string inside the data field.
      return Buffer.concat([sshString(name), sshString(value === '' ? Buffer.alloc(0) : sshString(value))]);
    }),
  );
  const toSecs = (d: Date): bigint => BigInt(Math.max(0, Math.floor(d.getTime() / 1000)));
  const body = Buffer.concat([
    sshString(certType),
    sshString(randomBytes(32)),
    info.fields,
    u64(BigInt('0x' + randomBytes(7).toString('hex'))),
    u32(opts.certType === 'user' ? 1 : 2),
    sshString(opts.keyId),
    sshString(principals),
    u64(toSecs(opts.validAfter)),
    u64(toSecs(opts.validBefore)),
    sshString(Buffer.alloc(0)), // critical options
    sshString(extensions),
    sshString(Buffer.alloc(0)), // reserved
    sshString(sshPublicKeyBlob(opts.caPrivateKey)),
  ]);
  const cert = Buffer.concat([body, sshString(sshSignature(opts.caPrivateKey, body))]);
  return `${certType} ${cert.toString('base64')}`;
}
