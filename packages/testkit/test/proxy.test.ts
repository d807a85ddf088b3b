import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { loadTeleportProto } from '@teleport-plugin/core/internal/proto';
import { FakeTeleport, authAlpnFor, decodeAuthAlpn, parseClientHello, rawTeleportClient, type TlsRoutingProxy, type UserIdentity } from '../src/index.js';

let tp: FakeTeleport;
let proxy: TlsRoutingProxy;
let identity: UserIdentity;

before(async () => {
  tp = await FakeTeleport.start();
  proxy = await tp.startProxy();
  identity = await tp.issueIdentity({ user: 'access-plugin' });
});

after(async () => {
  await proxy.close();
  await tp.close();
});

function connect(alpn: string[], opts: { verifyAgainstHostCa?: boolean; servername?: string } = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: proxy.port,
      servername: opts.servername ?? 'teleport.cluster.local',
      ALPNProtocols: alpn,
      key: identity.privateKeyPem,
      cert: identity.tlsCertPem,
      ...(opts.verifyAgainstHostCa === false ? { rejectUnauthorized: false } : { ca: tp.pki.hostCaPem() }),
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** One unary gRPC call by hand over an HTTP/2 session on an existing TLS socket. */
async function grpcUnaryOver(socket: tls.TLSSocket, method: string, request: unknown): Promise<{ status: string | undefined; response?: Record<string, unknown> }> {
  const def = loadTeleportProto().definition['proto.AuthService'] as Record<string, grpc.MethodDefinition<unknown, unknown>>;
  const m = def[method]!;
  const session = http2.connect('https://teleport.cluster.local', { createConnection: () => socket });
  session.on('error', () => undefined);
  try {
    const payload = m.requestSerialize(request);
    const frame = Buffer.alloc(5 + payload.length);
    frame.writeUInt32BE(payload.length, 1);
    payload.copy(frame, 5);
    const req = session.request({ ':method': 'POST', ':path': m.path, 'content-type': 'application/grpc', te: 'trailers' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const trailersP = new Promise<[http2.IncomingHttpHeaders]>((resolve, reject) => {
      req.once('trailers', (t: http2.IncomingHttpHeaders) => resolve([t]));
      req.once('error', reject);
      req.once('close', () => reject(new Error(`stream closed before trailers (rst code ${req.rstCode})`)));
    });
    req.end(frame);
    const [trailers] = await trailersP;
    const body = Buffer.concat(chunks);
    const status = trailers['grpc-status'] as string | undefined;
    if (body.length < 5) return { status };
    return { status, response: m.responseDeserialize(body.subarray(5, 5 + body.readUInt32BE(1))) as Record<string, unknown> };
  } finally {
    session.destroy();
  }
}

test('authAlpnFor / decodeAuthAlpn use hex(cluster).teleport.cluster.local', () => {
  assert.equal(authAlpnFor('example.com'), 'teleport-auth@6578616d706c652e636f6d.teleport.cluster.local');
  assert.equal(decodeAuthAlpn('teleport-auth@6578616d706c652e636f6d.teleport.cluster.local'), 'example.com');
  assert.equal(decodeAuthAlpn('teleport-auth@6578616d706c652e636f6d.teleport.cluster.local-ping'), undefined);
  assert.deepEqual(parseClientHello(Buffer.from([0x16, 3, 1, 0, 10])), { status: 'incomplete' });
  assert.equal(parseClientHello(Buffer.from('GET / HTTP/1.1\r\n')).status, 'invalid');
});

test('teleport-auth@ first: raw TLS is piped to auth, which verifies the client cert; gRPC works', async () => {
  const socket = await connect([authAlpnFor('example.com'), 'h2']);
  assert.equal(socket.alpnProtocol, 'h2', 'auth negotiates h2');
  const peer = socket.getPeerX509Certificate();
  assert.equal(peer?.checkHost('teleport.cluster.local'), 'teleport.cluster.local');
  const before = tp.calls.length;
  const { status, response } = await grpcUnaryOver(socket, 'Ping', {});
  assert.equal(status, '0');
  assert.equal(response?.ClusterName, 'example.com');
  const rec = tp.calls.slice(before).find((r) => r.method === 'Ping');
  assert.equal(rec?.caller, 'access-plugin', 'TLS terminated at auth: the caller is the client cert CN');
  const d = proxy.decisions.at(-1);
  assert.equal(d?.route, 'auth');
  assert.equal(d?.cluster, 'example.com');
  assert.equal(d?.sni, 'teleport.cluster.local');
  assert.deepEqual(d?.alpn, [authAlpnFor('example.com'), 'h2']);
});

test('h2 only: the web certificate, which does not verify against the host CA', async () => {
  await assert.rejects(connect(['h2']), (err: NodeJS.ErrnoException) => /certificate|self.signed|verify/i.test(String(err.code ?? err.message)));
  assert.equal(proxy.decisions.at(-1)?.route, 'web');
  const socket = await connect(['h2'], { verifyAgainstHostCa: false });
  const peer = socket.getPeerX509Certificate();
  assert.match(peer?.issuer ?? '', /Fake Public Web CA/);
  assert.equal(peer?.checkHost('teleport.cluster.local'), undefined);
  const session = http2.connect('https://localhost', { createConnection: () => socket });
  try {
    const req = session.request({ ':path': '/webapi/find' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders];
    await once(req, 'end');
    assert.equal(headers[':status'], 200);
    const find = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    assert.equal(find.cluster_name, 'example.com');
    assert.equal(find.proxy.tls_routing_enabled, true);
  } finally {
    session.destroy();
  }
});

test('a stock grpc-js client (ALPN h2 only) cannot reach auth through the proxy', async () => {
  const c = await rawTeleportClient(tp, { identity, addr: proxy.addr });
  try {
    await assert.rejects(c.call('Ping', {}), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
  } finally {
    c.close();
  }
  assert.equal(proxy.decisions.at(-1)?.route, 'web');
});

test('ALPN order matters, and a wrong or -ping auth protocol is rejected', async () => {
  const first = await connect(['h2', authAlpnFor('example.com')], { verifyAgainstHostCa: false });
  first.destroy();
  assert.equal(proxy.decisions.at(-1)?.route, 'web');
  await assert.rejects(connect([authAlpnFor('other.example'), 'h2']));
  assert.equal(proxy.decisions.at(-1)?.route, 'rejected');
  assert.equal(proxy.decisions.at(-1)?.cluster, 'other.example');
  await assert.rejects(connect([authAlpnFor('example.com') + '-ping', 'h2']));
  assert.equal(proxy.decisions.at(-1)?.route, 'rejected');
});

test('an expired client certificate is refused by auth behind the proxy', async () => {
  const expired = await tp.issueIdentity({ user: 'access-plugin', expired: true });
  const pings = tp.calls.filter((r) => r.method === 'Ping').length;
  const attempt = (async () => {
    const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({
        host: '127.0.0.1',
        port: proxy.port,
        servername: 'teleport.cluster.local',
        ALPNProtocols: [authAlpnFor('example.com'), 'h2'],
        key: expired.privateKeyPem,
        cert: expired.tlsCertPem,
        ca: tp.pki.hostCaPem(),
      });
      s.once('secureConnect', () => resolve(s));
      s.once('error', reject);
    });
    // TLS 1.3: auth's rejection of the client certificate arrives after the client's handshake ends.
    return grpcUnaryOver(socket, 'Ping', {});
  })();
  await assert.rejects(attempt);
  assert.equal(tp.calls.filter((r) => r.method === 'Ping').length, pings, 'no call reached the handlers');
  assert.equal(proxy.decisions.at(-1)?.route, 'auth');
});
