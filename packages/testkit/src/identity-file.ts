import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { TestPki, UserIdentityOptions } from './pki.js';

export interface WriteIdentityOptions extends UserIdentityOptions {
  /** File name inside the directory (default `identity`, as tbot names it). */
  fileName?: string;
  /** Proxy host to prepend to the `@cert-authority` host patterns (tctl auth sign --proxy). */
  proxyHost?: string;
  /** Extra trusted CA PEMs appended after the host CA (several CAs, as during a rotation). */
  extraCaPems?: string[];
}

export interface TlsTrioPaths {
  clientKey: string;
  clientCrt: string;
  rootCas: string;
}

/**
 * Write-then-rename so a process re-reading the file (refresh_identity) never sees half of it,
 * as tbot's destination writer guarantees.
 */
async function writeAtomic(file: string, contents: string): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, contents, { mode: 0o600 });
  await rename(tmp, file);
}

/** Writes a `tctl auth sign --format=file` identity file (mode 0600) and returns its path. */
export async function writeIdentityFile(pki: TestPki, dir: string, opts: WriteIdentityOptions): Promise<string> {
  const identity = await pki.issueUser(opts);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, opts.fileName ?? 'identity');
  const contents = pki.identityFile(identity, {
    ...(opts.proxyHost ? { proxyHost: opts.proxyHost } : {}),
    ...(opts.extraCaPems ? { extraCaPems: opts.extraCaPems } : {}),
  });
  await writeAtomic(file, contents);
  return file;
}

/**
 * Writes `tctl auth sign --format=tls` output: `<base>.key`, `<base>.crt`, `<base>.cas`
 * (base defaults to the username), the files the `client_key`/`client_crt`/`root_cas` keys name.
 */
export async function writeTlsTrio(pki: TestPki, dir: string, opts: UserIdentityOptions & { fileBase?: string }): Promise<TlsTrioPaths> {
  const identity = await pki.issueUser(opts);
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, opts.fileBase ?? opts.user.replace(/[^A-Za-z0-9._-]/g, '_'));
  const paths = { clientKey: `${base}.key`, clientCrt: `${base}.crt`, rootCas: `${base}.cas` };
  await writeAtomic(paths.clientKey, identity.privateKeyPem);
  await writeAtomic(paths.clientCrt, identity.tlsCertPem);
  await writeAtomic(paths.rootCas, pki.hostCaPem());
  return paths;
}
