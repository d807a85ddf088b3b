import * as net from 'node:net';
import * as tls from 'node:tls';
import { PluginError } from '../errors.js';
import { parseAddr } from './addr.js';
import type { Identity } from './identity.js';
import { formatAgo } from './identity.js';

export { DEFAULT_AUTH_PORT, parseAddr, type HostPort } from './addr.js';

/**
 * One TLS dial for both ways of reaching auth:
 * - directly (auth, usually :3025): auth's TLS listener picks `h2` from our ALPN list;
 * - through a TLS-routing proxy (usually :443): the proxy routes on the FIRST matching ALPN
 *   entry, and `teleport-auth@<hex(cluster)>.teleport.cluster.local` makes it forward the raw
 *   TLS bytes to auth, so the handshake (and client-certificate check) still ends at auth.
 * The teleport-auth entry must come first (the proxy walks our list in order and `h2` alone
 * would reach the web handler with its public certificate) and must not carry a `-ping`
 * suffix (that is only for protocols the proxy terminates, and it would break the hex decode).
 */
export const TELEPORT_API_DOMAIN = 'teleport.cluster.local';

export function authAlpnProtocol(clusterName: string): string {
  return `teleport-auth@${Buffer.from(clusterName, 'utf8').toString('hex')}.${TELEPORT_API_DOMAIN}`;
}

export function alpnProtocols(identity: Identity): string[] {
  return [authAlpnProtocol(identity.clusterName), 'h2'];
}

/** The grpc-js target for an address (it resolves names itself). */
export function grpcTarget(addr: string): string {
  const { host, port } = parseAddr(addr);
  return net.isIPv6(host) ? `ipv6:[${host}]:${port}` : `dns:${host}:${port}`;
}

/**
 * TLS options for a dial: our certificate and key, the host CAs from the identity (never the
 * system roots: auth presents a certificate of the cluster's host CA), SNI
 * `teleport.cluster.local` (auth's certificate carries that name and auth treats it as "the local
 * cluster"), and the hostname check against that same name.
 */
function tlsConnectOptions(identity: Identity): tls.ConnectionOptions {
  return {
    key: identity.privateKeyPem,
    cert: identity.certPem,
    ca: identity.caPems,
    servername: TELEPORT_API_DOMAIN,
    ALPNProtocols: alpnProtocols(identity),
    rejectUnauthorized: true,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity(TELEPORT_API_DOMAIN, cert),
  };
}

/**
 * Runs the TLS handshake over an already connected socket (grpc-js hands us its TCP socket) or
 * dials `addr` itself. Resolves once the server certificate has been verified.
 */
export function secureConnect(identity: Identity, target: { socket: net.Socket } | { addr: string }, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const base = tlsConnectOptions(identity);
    const options: tls.ConnectionOptions = 'socket' in target ? { ...base, socket: target.socket } : { ...base, ...parseAddr(target.addr) };
    const socket = tls.connect(options);
    const timer = setTimeout(() => {
      const err = Object.assign(new Error(`TLS handshake timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
      socket.destroy(err);
    }, timeoutMs);
    const onError = (err: Error): void => {
      clearTimeout(timer);
      // A failed handshake must not leave the TCP connection half-open.
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
  });
}

const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/**
 * A full dial used once at start-up to turn connection problems into precise, user-facing errors
 * (grpc-js only reports "UNAVAILABLE" with a text). Under TLS 1.3 the server checks our client
 * certificate AFTER our side of the handshake is done and answers with an alert, so we also send
 * the HTTP/2 preface and wait for the server's first frame (or that alert).
 */
export async function probeTeleport(addr: string, identity: Identity, timeoutMs: number): Promise<void> {
  let socket: tls.TLSSocket;
  try {
    socket = await secureConnect(identity, { addr }, timeoutMs);
  } catch (err) {
    throw classifyDialError(err, addr, identity);
  }
  try {
    if (socket.alpnProtocol !== 'h2') {
      throw new PluginError(
        'UNREACHABLE',
        `${addr} answered TLS but did not agree to gRPC (negotiated ALPN ${JSON.stringify(socket.alpnProtocol)}); ` +
          'teleport.addr must be an auth server (port 3025) or a proxy with TLS routing (port 443)',
        { userFacing: true, details: { addr } },
      );
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(Object.assign(new Error(`no HTTP/2 answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        socket.removeListener('data', onData);
        socket.removeListener('error', onError);
        socket.removeListener('close', onClose);
      };
      const onData = (): void => {
        cleanup();
        resolve();
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const onClose = (): void => {
        cleanup();
        reject(Object.assign(new Error('the server closed the connection right after the TLS handshake'), { code: 'ECONNRESET' }));
      };
      socket.on('data', onData);
      socket.once('error', onError);
      socket.once('close', onClose);
      socket.write(H2_PREFACE);
    }).catch((err: unknown) => {
      throw classifyDialError(err, addr, identity, { afterHandshake: true });
    });
  } finally {
    socket.destroy();
  }
}

const CA_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
]);

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** Turns a dial error (network, TLS verification, TLS alert) into a user-facing PluginError. */
export function classifyDialError(err: unknown, addr: string, identity: Identity, context: { afterHandshake?: boolean } = {}): PluginError {
  if (err instanceof PluginError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  const text = e instanceof Error ? e.message : String(err);
  const details = { addr, cause: code || text };

  if (NETWORK_ERRORS.has(code)) {
    const why =
      code === 'ECONNREFUSED'
        ? 'the connection was refused (nothing listens there)'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? 'the host name does not resolve'
          : code === 'ETIMEDOUT'
            ? 'the connection timed out'
            : `the host is not reachable (${code})`;
    return new PluginError('UNREACHABLE', `cannot reach Teleport at ${addr}: ${why}; check teleport.addr`, {
      cause: err,
      userFacing: true,
      details,
    });
  }

  if (CA_ERRORS.has(code)) {
    const what =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? `its certificate is not issued for ${TELEPORT_API_DOMAIN}`
        : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
          ? `its certificate is outside its validity period (${code})`
          : `its certificate is not signed by the cluster CA in ${identity.source} (cluster "${identity.clusterName}")`;
    return new PluginError(
      'CA_MISMATCH',
      `the server at ${addr} is not the Teleport auth service the identity expects: ${what}. ` +
        'Likely causes: a proxy address without TLS routing (use the auth address, port 3025, or enable TLS routing), ' +
        'an identity issued by another cluster, or a web/load-balancer certificate in front of Teleport',
      { cause: err, userFacing: true, details },
    );
  }

  const alert = /alert ([a-z ]+)/i.exec(text)?.[1]?.trim().toLowerCase() ?? alertFromCode(code);
  if (alert) {
    if (alert.includes('expired')) {
      return new PluginError(
        'CERT_EXPIRED',
        `Teleport at ${addr} rejected the certificate in ${identity.source} as expired (it is valid until ${identity.notAfter.toISOString()}` +
          (identity.notAfter.getTime() < Date.now() ? `, ${formatAgo(Date.now() - identity.notAfter.getTime())} ago` : '') +
          '); issue a new one or check the clocks',
        { cause: err, userFacing: true, details },
      );
    }
    return new PluginError(
      'CERT_REFUSED',
      `Teleport at ${addr} refused the client certificate of "${identity.username}" from ${identity.source} (TLS alert: ${alert}); ` +
        'the identity was probably issued by another cluster or its CA was rotated; issue a new identity with "tctl auth sign"',
      { cause: err, userFacing: true, details: { ...details, alert } },
    );
  }

  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(text)) {
    return new PluginError('UNREACHABLE', `${addr} does not speak TLS; teleport.addr must point at Teleport auth (3025) or a TLS-routing proxy (443)`, {
      cause: err,
      userFacing: true,
      details,
    });
  }

  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket disconnected|socket hang up/i.test(text)) {
    const hint = context.afterHandshake
      ? `the server closed the connection after the TLS handshake, which usually means it refused the client certificate of "${identity.username}" from ${identity.source} (issued by another cluster, or the CA was rotated?)`
      : 'the connection was closed during the TLS handshake (a proxy without TLS routing, or a non-Teleport server?)';
    return new PluginError(context.afterHandshake ? 'CERT_REFUSED' : 'UNREACHABLE', `cannot connect to Teleport at ${addr}: ${hint}`, {
      cause: err,
      userFacing: true,
      details,
    });
  }

  return new PluginError('UNREACHABLE', `cannot connect to Teleport at ${addr}: ${text}`, { cause: err, userFacing: true, details });
}

function alertFromCode(code: string): string | undefined {
  // e.g. ERR_SSL_TLSV1_ALERT_UNKNOWN_CA, ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE,
  // ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED.
  const m = /^ERR_SSL_(?:TLSV1|TLSV13|SSLV3)_ALERT_(.+)$/.exec(code);
  return m?.[1]?.toLowerCase().replace(/_/g, ' ');
}
