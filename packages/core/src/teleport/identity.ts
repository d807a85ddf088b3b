import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PluginError, errorMessage } from '../errors.js';

/**
 * The credentials the client dials with: one private key, the user's TLS certificate and the
 * cluster's TLS host CAs, from a `tctl auth sign --format=file` identity file (or tbot's
 * `identity` output) or from the `--format=tls` trio (`client_key`/`client_crt`/`root_cas`).
 */
export interface Identity {
  /** The file(s) it came from, for messages. */
  source: string;
  privateKeyPem: string;
  certPem: string;
  /** TLS host CA certificates the server is verified against (several during a CA rotation). */
  caPems: string[];
  /** The OpenSSH user certificate line (identity files only; unused by the TLS dial). */
  sshCert: string | undefined;
  /** `@cert-authority` lines (identity files only; unused by the TLS dial). */
  sshCertAuthorities: string[];
  /** Subject CN of the TLS certificate: the Teleport user the plugin acts as. */
  username: string;
  /** Issuer CN (falling back to O) of the TLS certificate: the Teleport cluster name. */
  clusterName: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 over key, cert and CAs: tells a refreshed identity from an unchanged one. */
  fingerprint: string;
}

// Upstream's identity-file reader treats a line as the SSH certificate when its first token
// looks like `ssh-rsa-cert-v01@openssh.com`; we follow the same line rules so files that work
// for the Go plugins work here.
const SSH_CERT_TOKEN = /^[a-z0-9-]+-cert-v[0-9]{2}@openssh\.com$/;
const KEY_BLOCK_TYPES = new Set(['RSA PRIVATE KEY', 'PRIVATE KEY', 'EC PRIVATE KEY']);

interface PemBlock {
  type: string;
  text: string;
}

/** Parses identity-file text; `source` names the file in errors. Does not check validity dates. */
export function parseIdentityFile(text: string, source: string): Identity {
  const blocks: PemBlock[] = [];
  let sshCert: string | undefined;
  const sshCertAuthorities: string[] = [];
  let current: { type: string; lines: string[] } | undefined;

  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (current) {
      current.lines.push(line);
      if (line.startsWith('-----END')) {
        blocks.push({ type: current.type, text: current.lines.join('\n') + '\n' });
        current = undefined;
      }
      continue;
    }
    if (line.startsWith('-----BEGIN')) {
      const type = /^-----BEGIN ([^-]+)-----$/.exec(line)?.[1] ?? 'UNKNOWN';
      current = { type, lines: [line] };
      continue;
    }
    const firstToken = line.split(/\s+/)[0] ?? '';
    if (SSH_CERT_TOKEN.test(firstToken)) {
      sshCert = line;
    } else if (line.startsWith('@cert-authority')) {
      sshCertAuthorities.push(line);
    }
    // Anything else (comments, blank lines) is ignored, as upstream does.
  }
  if (current) {
    throw invalid(source, `the PEM block "${current.type}" is not terminated by an -----END line`);
  }

  const [keyBlock, certBlock, ...caBlocks] = blocks;
  if (!keyBlock) {
    throw invalid(source, 'it contains no PEM blocks (expected a private key, a TLS certificate and the cluster CA certificates)');
  }
  if (!KEY_BLOCK_TYPES.has(keyBlock.type)) {
    throw invalid(source, `the first PEM block is "${keyBlock.type}", expected the private key (RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)`);
  }
  if (!certBlock) throw invalid(source, 'the TLS certificate (second PEM block) is missing');
  if (certBlock.type !== 'CERTIFICATE') {
    throw invalid(source, `the second PEM block is "${certBlock.type}", expected the TLS certificate (CERTIFICATE)`);
  }
  // Upstream takes every PEM block after the TLS certificate as a CA and its certificate pool
  // skips what is not a certificate; we do the same, so a file with an extra block of another
  // kind still works as long as at least one CA certificate is there.
  const caPems = caBlocks.filter((b) => b.type === 'CERTIFICATE').map((b) => b.text);
  if (caPems.length === 0) {
    throw invalid(source, 'the cluster CA certificates (PEM blocks after the TLS certificate) are missing');
  }
  return buildIdentity({
    source,
    keySource: source,
    certSource: source,
    casSource: source,
    privateKeyPem: keyBlock.text,
    certPem: certBlock.text,
    caPems,
    sshCert,
    sshCertAuthorities,
  });
}

/** Reads and parses an identity file. */
export async function loadIdentityFile(file: string): Promise<Identity> {
  return parseIdentityFile(await readCredentialFile(file, 'identity file'), file);
}

/** Loads the `--format=tls` trio: `client_key`, `client_crt`, `root_cas`. */
export async function loadTlsTrio(files: { clientKey: string; clientCrt: string; rootCas: string }): Promise<Identity> {
  const [keyText, certText, casText] = await Promise.all([
    readCredentialFile(files.clientKey, 'client key (client_key)'),
    readCredentialFile(files.clientCrt, 'client certificate (client_crt)'),
    readCredentialFile(files.rootCas, 'root CAs (root_cas)'),
  ]);
  const keyBlocks = pemBlocks(keyText);
  const keyBlock = keyBlocks.find((b) => KEY_BLOCK_TYPES.has(b.type));
  if (!keyBlock) throw invalid(files.clientKey, 'it contains no private key PEM block (RSA PRIVATE KEY, PRIVATE KEY or EC PRIVATE KEY)');
  const certBlock = pemBlocks(certText).find((b) => b.type === 'CERTIFICATE');
  if (!certBlock) throw invalid(files.clientCrt, 'it contains no CERTIFICATE PEM block');
  const caPems = pemBlocks(casText)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => b.text);
  if (caPems.length === 0) throw invalid(files.rootCas, 'it contains no CERTIFICATE PEM block');
  return buildIdentity({
    source: files.clientCrt,
    keySource: files.clientKey,
    certSource: files.clientCrt,
    casSource: files.rootCas,
    privateKeyPem: keyBlock.text,
    certPem: certBlock.text,
    caPems,
    sshCert: undefined,
    sshCertAuthorities: [],
  });
}

/** Loads whichever credentials the connection config names (identity file, else the trio). */
export async function loadIdentity(config: {
  identityFile?: string | undefined;
  clientKey?: string | undefined;
  clientCrt?: string | undefined;
  rootCas?: string | undefined;
}): Promise<Identity> {
  if (config.identityFile) return loadIdentityFile(config.identityFile);
  const { clientKey, clientCrt, rootCas } = config;
  if (clientKey && clientCrt && rootCas) return loadTlsTrio({ clientKey, clientCrt, rootCas });
  throw new PluginError('CONFIG', 'teleport: set either "identity" (a tctl auth sign --format=file identity file) or all three of "client_key", "client_crt" and "root_cas"', {
    userFacing: true,
  });
}

/** Throws CERT_EXPIRED when the certificate is outside its validity window at `now`. */
export function assertIdentityValid(identity: Identity, now: Date = new Date()): void {
  if (now.getTime() > identity.notAfter.getTime()) {
    throw new PluginError(
      'CERT_EXPIRED',
      `the certificate in ${identity.source} (user "${identity.username}") expired at ${identity.notAfter.toISOString()} (${formatAgo(
        now.getTime() - identity.notAfter.getTime(),
      )} ago); issue a new one with "tctl auth sign" or let tbot renew it`,
      { userFacing: true, details: { file: identity.source, expiredAt: identity.notAfter.toISOString() } },
    );
  }
  if (now.getTime() < identity.notBefore.getTime()) {
    throw new PluginError(
      'CERT_EXPIRED',
      `the certificate in ${identity.source} (user "${identity.username}") is not valid until ${identity.notBefore.toISOString()} (in ${formatAgo(
        identity.notBefore.getTime() - now.getTime(),
      )}); check the clock of this machine`,
      { userFacing: true, details: { file: identity.source, notBefore: identity.notBefore.toISOString() } },
    );
  }
}

/** `3h 12m`, `2d 4h`, `45s`: a short human duration. */
export function formatAgo(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}

// ---- internals ------------------------------------------------------------------------------

function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([^-]+)-----[\s\S]*?-----END \1-----/g;
  for (const m of text.matchAll(re)) {
    out.push({
      type: m[1] ?? 'UNKNOWN',
      text:
        m[0]
          .split(/\r?\n/)
          .map((l) => l.trim())
          .join('\n') + '\n',
    });
  }
  return out;
}

/** What the files hold, plus which file each part came from (for errors); the rest is derived. */
type IdentityParts = Pick<Identity, 'source' | 'privateKeyPem' | 'certPem' | 'caPems' | 'sshCert' | 'sshCertAuthorities'> & {
  keySource: string;
  certSource: string;
  casSource: string;
};

function buildIdentity(parts: IdentityParts): Identity {
  let key: KeyObject;
  try {
    key = createPrivateKey(parts.privateKeyPem);
  } catch (err) {
    throw invalid(parts.keySource, `the private key cannot be parsed (${errorMessage(err)})`, err);
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(parts.certPem);
  } catch (err) {
    throw invalid(parts.certSource, `the TLS certificate cannot be parsed (${errorMessage(err)})`, err);
  }
  for (const [i, pem] of parts.caPems.entries()) {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw invalid(parts.casSource, `CA certificate ${i + 1} cannot be parsed (${errorMessage(err)})`, err);
    }
  }
  if (!cert.checkPrivateKey(key)) {
    throw invalid(parts.source, 'the private key does not belong to the TLS certificate');
  }
  const username = distinguishedName(cert.subject).get('CN') ?? '';
  const clusterName = clusterNameFromIssuer(cert.issuer);
  if (!clusterName) {
    throw invalid(parts.certSource, 'the TLS certificate has no issuer CN or O, so the Teleport cluster name is unknown');
  }
  const fingerprint = createHash('sha256').update(parts.privateKeyPem).update(parts.certPem).update(parts.caPems.join('')).digest('hex');
  return {
    source: parts.source,
    privateKeyPem: parts.privateKeyPem,
    certPem: parts.certPem,
    caPems: parts.caPems,
    sshCert: parts.sshCert,
    sshCertAuthorities: parts.sshCertAuthorities,
    username,
    clusterName,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    fingerprint,
  };
}

/**
 * Teleport's CAs use the cluster name as subject CN and O, so the user certificate's issuer names
 * the cluster; O is the fallback when a CA has no CN. Empty when neither is present.
 */
export function clusterNameFromIssuer(issuer: string): string {
  const dn = distinguishedName(issuer);
  return dn.get('CN') || dn.get('O') || '';
}

/** Node renders a DN as `C=US\nO=example.com\nCN=example.com`; first value per attribute wins. */
function distinguishedName(dn: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of dn.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const name = line.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, line.slice(eq + 1).trim());
  }
  return out;
}

async function readCredentialFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new PluginError('IDENTITY_MISSING', `${what} ${file} does not exist; create it with "tctl auth sign" (or point to tbot's output)`, {
        cause: err,
        userFacing: true,
        details: { file },
      });
    }
    throw new PluginError('IDENTITY_UNREADABLE', `${what} ${file} cannot be read (${code ?? errorMessage(err)}); check its permissions and that it is a regular file`, {
      cause: err,
      userFacing: true,
      details: { file },
    });
  }
}

function invalid(file: string, why: string, cause?: unknown): PluginError {
  return new PluginError('IDENTITY_INVALID', `${file} is not a usable Teleport identity: ${why}`, {
    userFacing: true,
    details: { file },
    ...(cause === undefined ? {} : { cause }),
  });
}
