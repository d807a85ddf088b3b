import * as path from 'node:path';
import { parsePort, splitAddr } from '../teleport/addr.js';
import type { TeleportConnectionConfig } from '../teleport/types.js';
import { listWords, type TomlSection } from './toml-section.js';

const TRIO = ['client_key', 'client_crt', 'root_cas'] as const;

/** `[teleport]` with the Go plugins' rules (shared spec §3.1). */
export function parseTeleportSection(s: TomlSection, cwd: string): TeleportConnectionConfig {
  const addr = s.string('addr', { description: 'host:port of the auth server or proxy' });
  const authServer = s.string('auth_server', { deprecated: 'use addr' });
  if (addr !== undefined && addr !== '' && authServer !== undefined && authServer !== '' && addr !== authServer) {
    throw s.errorAt('auth_server', `conflicts with addr (${JSON.stringify(addr)}): auth_server is the deprecated name of addr, remove it`);
  }
  const chosenKey = addr !== undefined && addr !== '' ? 'addr' : 'auth_server';
  const finalAddr = nonEmpty(addr) ?? nonEmpty(authServer) ?? 'localhost:3025';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(finalAddr)) {
    throw s.errorAt(chosenKey, `expected host:port without a scheme (e.g. "teleport.example.com:443"), got ${JSON.stringify(finalAddr)}`);
  }
  // Checked here, with the line: the dialer would otherwise take `host:70000` for a host name
  // and report at start-up that it does not resolve. A missing port means auth's 3025.
  const { host, port } = splitAddr(finalAddr);
  if (port !== undefined && parsePort(port) === undefined) {
    throw s.errorAt(chosenKey, `expected host:port with a port between 1 and 65535, got ${JSON.stringify(finalAddr)}`);
  }
  if (host === '') throw s.errorAt(chosenKey, `expected host:port with a host name before the port, got ${JSON.stringify(finalAddr)}`);

  const identity = nonEmpty(s.string('identity', { description: 'an identity file from "tctl auth sign --format=file"' }));
  const trio = Object.fromEntries(TRIO.map((k) => [k, nonEmpty(s.string(k, { description: 'a PEM file path' }))])) as Record<(typeof TRIO)[number], string | undefined>;
  const given = TRIO.filter((k) => trio[k] !== undefined);
  const absent = TRIO.filter((k) => trio[k] === undefined);

  if (identity !== undefined && given.length > 0) {
    throw s.errorAt(given[0] ?? 'identity', `cannot be combined with identity: use either an identity file or the client_key, client_crt and root_cas files, not both`);
  }
  if (given.length > 0 && absent.length > 0) {
    throw s.errorAt(
      given[0] ?? 'client_key',
      `client_key, client_crt and root_cas must be set together: ${listWords(given, 'and')} ${given.length === 1 ? 'is' : 'are'} set but ${listWords(absent, 'and')} ${absent.length === 1 ? 'is' : 'are'} missing`,
    );
  }
  if (identity === undefined && given.length === 0) {
    throw s.tableError('no credentials configured: set identity = "/path/to/identity" (from "tctl auth sign --format=file" or tbot), or client_key, client_crt and root_cas');
  }

  const refreshIdentity = s.bool('refresh_identity', false);
  if (refreshIdentity && identity === undefined) {
    throw s.errorAt('refresh_identity', 'requires identity: only an identity file can be re-read');
  }
  const refreshIdentityIntervalMs = s.duration('refresh_identity_interval', 60_000);
  if (refreshIdentityIntervalMs <= 0) throw s.errorAt('refresh_identity_interval', 'must be greater than zero');

  const abs = (p: string | undefined): string | undefined => (p === undefined ? undefined : path.resolve(cwd, p));
  const out: TeleportConnectionConfig = { addr: finalAddr, refreshIdentity, refreshIdentityIntervalMs };
  if (identity !== undefined) out.identityFile = abs(identity);
  if (given.length === 3) {
    out.clientKey = abs(trio.client_key);
    out.clientCrt = abs(trio.client_crt);
    out.rootCas = abs(trio.root_cas);
  }
  return out;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim();
}
