import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseClientHello } from './client-hello.js';
import type { CertAndKey } from './pki.js';

/** ALPN prefix of the auth route (api/constants ALPNSNIAuthProtocol). */
export const ALPN_AUTH_PREFIX = 'teleport-auth@';

export interface TlsRoutingProxyOptions {
  /** Where `teleport-auth@` connections are piped (raw TLS bytes; TLS terminates at auth). */
  authAddr: { host: string; port: number };
  /** The proxy's "public" certificate (web CA), presented to everything else. */
  webCert: CertAndKey;
  clusterName: string;
  serverVersion: string;
  /**
   * false emulates a proxy without TLS routing (separate listeners mode): every connection,
   * `teleport-auth@` included, reaches the web handler and its public certificate. Default true.
   */
  tlsRouting?: boolean;
}

export type RouteKind = 'auth' | 'web' | 'rejected';

export interface RouteDecision {
  route: RouteKind;
  /** The client's ALPN list, in order. */
  alpn: string[];
  sni: string | undefined;
  /** Cluster decoded from the `teleport-auth@<hex>.teleport.cluster.local` protocol. */
  cluster?: string;
  /** Why a connection was rejected. */
  reason?: string;
  time: Date;
}

export interface TlsRoutingProxy {
  /** `127.0.0.1:<port>` */
  addr: string;
  host: string;
  port: number;
  /** Every routing decision, in arrival order. */
  decisions: RouteDecision[];
  close(): Promise<void>;
}

/** `teleport-auth@6578616d706c652e636f6d.teleport.cluster.local` -> `example.com` (undefined if malformed). */
export function decodeAuthAlpn(protocol: string): string | undefined {
  if (!protocol.startsWith(ALPN_AUTH_PREFIX)) return undefined;
  const rest = protocol.slice(ALPN_AUTH_PREFIX.length);
  const m = /^([0-9a-f]+)\.teleport\.cluster\.local$/i.exec(rest);
  if (!m || m[1]!.length % 2 !== 0) return undefined;
  return Buffer.from(m[1]!, 'hex').toString('utf8');
}

/** The ALPN protocol a client must put first to reach auth through the proxy. */
export function authAlpnFor(clusterName: string): string {
  return `${ALPN_AUTH_PREFIX}${Buffer.from(clusterName, 'utf8').toString('hex')}.teleport.cluster.local`;
}

/**
 * Emulates Teleport's TLS-routing proxy (single-port mode): it peeks at the ClientHello without
 * terminating TLS. When the FIRST ALPN protocol is `teleport-auth@<hex(cluster)>...` it pipes the
 * raw bytes (including those already read) to auth, so the client's certificate is verified by
 * auth itself. Anything else reaches the "web" handler, which terminates TLS with the web CA's
 * certificate (it does not chain to the host CA) and answers `/webapi/find` or 404.
 */
export async function startTlsRoutingProxy(opts: TlsRoutingProxyOptions): Promise<TlsRoutingProxy> {
  const decisions: RouteDecision[] = [];
  const sockets = new Set<net.Socket>();

  const web = http2.createSecureServer({ cert: opts.webCert.certPem, key: opts.webCert.keyPem, allowHTTP1: true }, (req, res) => {
    const url = req.url ?? '/';
    if (req.method === 'GET' && (url === '/webapi/find' || url.startsWith('/webapi/find?'))) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          cluster_name: opts.clusterName,
          server_version: opts.serverVersion,
          min_client_version: '',
          proxy: { tls_routing_enabled: opts.tlsRouting !== false },
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: 'not found' } }));
  });
  // The web handler is reached only through the proxy's own sockets.
  web.on('sessionError', () => undefined);
  web.on('tlsClientError', () => undefined);
  web.on('connection', (s: net.Socket) => track(s));

  const track = (s: net.Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };

  const pipeTo = (client: net.Socket, target: net.Socket, head: Buffer): void => {
    track(target);
    target.write(head);
    client.pipe(target);
    target.pipe(client);
    client.on('close', () => target.destroy());
    target.on('close', () => client.destroy());
  };

  const server = net.createServer((client) => {
    track(client);
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const hello = parseClientHello(buffered);
      if (hello.status === 'incomplete') return;
      client.off('data', onData);
      client.pause();
      if (hello.status === 'invalid') {
        decisions.push({ route: 'rejected', alpn: [], sni: undefined, reason: hello.reason, time: new Date() });
        client.destroy();
        return;
      }
      const first = hello.alpn[0] ?? '';
      if (first.startsWith(ALPN_AUTH_PREFIX) && opts.tlsRouting !== false) {
        const cluster = decodeAuthAlpn(first);
        if (cluster !== opts.clusterName) {
          decisions.push({
            route: 'rejected',
            alpn: hello.alpn,
            sni: hello.sni,
            ...(cluster !== undefined ? { cluster } : {}),
            reason: cluster === undefined ? `malformed auth ALPN protocol ${first}` : `unknown cluster ${cluster}`,
            time: new Date(),
          });
          client.destroy();
          return;
        }
        decisions.push({ route: 'auth', alpn: hello.alpn, sni: hello.sni, cluster, time: new Date() });
        pipeTo(client, net.connect(opts.authAddr.port, opts.authAddr.host), buffered);
      } else {
        decisions.push({ route: 'web', alpn: hello.alpn, sni: hello.sni, time: new Date() });
        const addr = web.address() as AddressInfo;
        pipeTo(client, net.connect(addr.port, '127.0.0.1'), buffered);
      }
      client.resume();
    };
    client.on('data', onData);
  });

  await new Promise<void>((resolve, reject) => {
    web.once('error', reject);
    web.listen(0, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    addr: `127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    decisions,
    close() {
      closing ??= (async () => {
        for (const s of sockets) s.destroy();
        await Promise.all([new Promise<void>((r) => server.close(() => r())), new Promise<void>((r) => web.close(() => r()))]);
      })();
      return closing;
    },
  };
}
