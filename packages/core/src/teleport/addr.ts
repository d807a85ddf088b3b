import { PluginError } from '../errors.js';

/** Auth's port, used when `teleport.addr` names only a host (as the Go plugins did). */
export const DEFAULT_AUTH_PORT = 3025;

export interface HostPort {
  host: string;
  port: number;
}

/**
 * `host:port`, `[v6]:port`, a bare host or a bare IPv6 address, split without judging: `port` is
 * the text after the colon as written (undefined when there is no port at all), so the config
 * loader can say what is wrong with it instead of mistaking `host:70000` for a host name.
 */
export function splitAddr(addr: string): { host: string; port: string | undefined } {
  const trimmed = addr
    .trim()
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '');
  const v6 = /^\[([^\]]*)\](?::(.*))?$/.exec(trimmed);
  if (v6) return { host: v6[1] ?? '', port: v6[2] };
  const colon = trimmed.lastIndexOf(':');
  // No colon is a bare host; several without brackets are a bare IPv6 address.
  if (colon < 0 || trimmed.indexOf(':') !== colon) return { host: trimmed, port: undefined };
  return { host: trimmed.slice(0, colon), port: trimmed.slice(colon + 1) };
}

/** A TCP port written in decimal digits, 1 to 65535 (`Number()` alone would take "0x10" or "1e3"). */
export function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/**
 * `host:port`, `[v6]:port` or a bare host (auth's default port). The config loader has already
 * refused a bad port with its file and line; this throw is for addresses that came from code.
 */
export function parseAddr(addr: string): HostPort {
  const { host, port } = splitAddr(addr);
  if (port === undefined) return { host, port: DEFAULT_AUTH_PORT };
  const n = parsePort(port);
  if (n === undefined) {
    throw new PluginError('CONFIG', `teleport.addr: expected host:port with a port between 1 and 65535, got ${JSON.stringify(addr)}`, {
      userFacing: true,
    });
  }
  return { host, port: n };
}
