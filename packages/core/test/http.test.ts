import assert from 'node:assert/strict';
import * as http from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { WebhookRequest } from '../src/adapter.js';
import { isPluginError } from '../src/errors.js';
import { createRuntimeMetrics } from '../src/http/metrics.js';
import { parseListenAddr, startHttpServer, type ReadinessReport, type RuntimeHttpServer } from '../src/http/server.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';

/** GET with the path sent byte for byte (fetch and URL would normalise or re-encode it). */
function rawGet(base: string, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; type: string | undefined; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: hostname, port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
  });
}

describe('HTTP server', () => {
  let server: RuntimeHttpServer;
  let report: ReadinessReport;
  const received: WebhookRequest[] = [];
  const auth = 'Basic ' + Buffer.from('hook:s3cret').toString('base64');
  const metrics = createRuntimeMetrics();
  const logger = createCaptureLogger();

  before(async () => {
    report = { ready: false, teleport: { connected: false }, watch: { initialised: false }, adapters: { jira: { healthy: true } } };
    metrics.events.inc({ kind: 'put' });
    server = await startHttpServer({
      config: { listenAddr: '127.0.0.1:0', basicAuth: { user: 'hook', password: 's3cret' }, maxBodyBytes: 1024 },
      insecureNoTls: true,
      logger,
      readiness: () => report,
      metrics,
      routes: [
        {
          adapter: 'jira',
          routes: [
            {
              method: 'POST',
              path: '/',
              async handle(req) {
                received.push(req);
                return { status: 200, body: { ok: true, bytes: req.rawBody.length } };
              },
            },
            { method: 'GET', path: '/status', handle: async () => ({ status: 200, body: 'fine' }) },
            { method: 'POST', path: '/signed', selfAuthenticated: true, handle: async () => ({ status: 200, body: 'signature checked by the route' }) },
            {
              method: 'POST',
              path: '/boom',
              handle: async () => {
                throw new Error('secret internals');
              },
            },
          ],
        },
      ],
    });
  });

  after(() => server?.close());

  const call = (path: string, init: RequestInit = {}): Promise<Response> => fetch(server.url + path, init);

  it('/healthz answers without credentials', async () => {
    const res = await call('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('/readyz is 503 with details until ready, then 200, without credentials', async () => {
    let res = await call('/readyz');
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), report);
    report = { ready: true, teleport: { connected: true }, watch: { initialised: true }, adapters: { jira: { healthy: true } } };
    res = await call('/readyz');
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as ReadinessReport).ready, true);
  });

  it('guards webhooks and /metrics with basic auth', async () => {
    for (const path of ['/metrics', '/jira/status']) {
      const res = await call(path);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm=Restricted');
      await res.body?.cancel();
    }
    const wrong = await call('/metrics', { headers: { authorization: 'Basic ' + Buffer.from('hook:nope').toString('base64') } });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const res = await call('/metrics', { headers: { authorization: auth } });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /teleport_plugin_events_total\{kind="put"\} 1/);
    assert.match(text, /teleport_plugin_handler_duration_seconds/);
  });

  it('lets a self-authenticated route through without basic auth, and only that route', async () => {
    const signed = await call('/jira/signed', { method: 'POST', body: 'x' });
    assert.equal(signed.status, 200);
    assert.equal(await signed.text(), 'signature checked by the route');
    for (const path of ['/jira/', '/jira/nope', '/nope/signed']) {
      const res = await call(path, { method: 'POST', body: 'x' });
      assert.equal(res.status, 401, path);
      await res.body?.cancel();
    }
  });

  it('routes webhooks under /<adapter>/ with the raw body', async () => {
    const res = await call('/jira/?x=1', { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: '{"a": 1}' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, bytes: 8 });
    const last = received.at(-1)!;
    assert.equal(last.path, '/');
    assert.equal(last.rawBody.toString(), '{"a": 1}');
    assert.equal(last.query.get('x'), '1');
    const bare = await call('/jira', { method: 'POST', headers: { authorization: auth }, body: 'x' });
    assert.equal(bare.status, 200);
    await bare.body?.cancel();
  });

  it('answers 404 and 405', async () => {
    const headers = { authorization: auth };
    const r1 = await call('/nobody/', { headers });
    assert.equal(r1.status, 404);
    const r2 = await call('/jira/missing', { headers });
    assert.equal(r2.status, 404);
    const r3 = await call('/jira/status', { method: 'POST', headers, body: '' });
    assert.equal(r3.status, 405);
    assert.equal(r3.headers.get('allow'), 'GET');
    await Promise.all([r1, r2, r3].map((r) => r.body?.cancel()));
  });

  it('answers 400 to malformed percent-encoding in the path, logging one line without a stack', async () => {
    const before = logger.entries.length;
    const paths = ['/%zz', '/jira/%E0%A4%A', '/%E0%A4%A/status', '/jira/status%', '/jira/%zz/x?ok=1'];
    for (const path of paths) {
      // With and without credentials: a request that cannot be decoded is malformed either way.
      for (const headers of [{ authorization: auth }, {}]) {
        const res = await rawGet(server.url, path, headers);
        assert.equal(res.status, 400, path);
        assert.match(res.type ?? '', /^text\/plain/, path);
        assert.equal(res.body, 'bad request: malformed percent-encoding in the path\n', path);
      }
    }
    const logged = logger.entries.slice(before);
    assert.equal(logged.length, paths.length * 2);
    for (const e of logged) {
      assert.equal(e.level, 'debug');
      assert.equal(e.message, 'Refused a request with malformed percent-encoding in the path');
      assert.doesNotMatch(JSON.stringify(e.fields), /\bat |URIError/);
    }
    // Well-formed escapes still route as before.
    const escaped = await rawGet(server.url, '/%6Aira/status', { authorization: auth });
    assert.deepEqual([escaped.status, escaped.body], [200, 'fine']);
  });

  it('refuses bodies over the limit with 413', async () => {
    const res = await call('/jira/', { method: 'POST', headers: { authorization: auth }, body: 'x'.repeat(2048) });
    assert.equal(res.status, 413);
    await res.body?.cancel();
  });

  it('a throwing handler is a 500 without internals', async () => {
    const res = await call('/jira/boom', { method: 'POST', headers: { authorization: auth }, body: '' });
    assert.equal(res.status, 500);
    assert.doesNotMatch(await res.text(), /secret internals/);
  });
});

describe('HTTP server configuration', () => {
  it('requires a certificate unless insecureNoTls', async () => {
    await assert.rejects(
      startHttpServer({ config: { listenAddr: '127.0.0.1:0' }, logger: createCaptureLogger(), routes: [], readiness: () => ({}) as ReadinessReport }),
      (err: unknown) => isPluginError(err, 'CONFIG') && /https_cert_file and https_key_file are required/.test(err.message),
    );
    await assert.rejects(
      startHttpServer({
        config: { listenAddr: '127.0.0.1:0', httpsCertFile: '/nonexistent.pem' },
        logger: createCaptureLogger(),
        routes: [],
        readiness: () => ({}) as ReadinessReport,
      }),
      (err: unknown) => isPluginError(err, 'CONFIG') && /https_key_file is missing/.test(err.message),
    );
  });

  it('warns when serving plain HTTP', async () => {
    const logger = createCaptureLogger();
    const s = await startHttpServer({ config: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true, logger, routes: [], readiness: () => ({}) as ReadinessReport });
    await s.close();
    assert.ok(logger.entries.some((e) => e.level === 'warn' && /plain HTTP/.test(e.message)));
  });

  it('parses listen addresses', () => {
    assert.deepEqual(parseListenAddr(':8081'), { host: undefined, port: 8081 });
    assert.deepEqual(parseListenAddr('0.0.0.0:443'), { host: '0.0.0.0', port: 443 });
    assert.deepEqual(parseListenAddr('[::1]:9000'), { host: '::1', port: 9000 });
    assert.throws(
      () => parseListenAddr('8081'),
      (err: unknown) => isPluginError(err, 'CONFIG'),
    );
  });

  it('reports a busy port as a config error', async () => {
    const logger = createCaptureLogger();
    const a = await startHttpServer({ config: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true, logger, routes: [], readiness: () => ({}) as ReadinessReport });
    try {
      const port = new URL(a.url).port;
      await assert.rejects(
        startHttpServer({ config: { listenAddr: `127.0.0.1:${port}` }, insecureNoTls: true, logger, routes: [], readiness: () => ({}) as ReadinessReport }),
        (err: unknown) => isPluginError(err, 'CONFIG') && /cannot listen/.test(err.message),
      );
    } finally {
      await a.close();
    }
  });
});

describe('HTTP server: legacy webhook paths and per-route body limits', () => {
  let server: RuntimeHttpServer;
  const logger = createCaptureLogger();
  const hits: string[] = [];
  before(async () => {
    server = await startHttpServer({
      config: { listenAddr: '127.0.0.1:0', maxBodyBytes: 64 },
      insecureNoTls: true,
      logger,
      readiness: () => ({ ready: true, teleport: { connected: true }, watch: { initialised: true }, adapters: {} }),
      routes: [
        {
          adapter: 'jira',
          routes: [{ method: 'POST', path: '/', legacyPath: '/', maxBodyBytes: 4096, handle: async (req) => (hits.push(`jira ${req.rawBody.length}`), { status: 200 }) }],
        },
        {
          adapter: 'gitlab',
          routes: [
            { method: 'POST', path: '/webhook', legacyPath: '/webhook', handle: async () => (hits.push('gitlab'), { status: 204 }) },
            { method: 'POST', path: '/other', legacyPath: '/', handle: async () => (hits.push('stolen'), { status: 200 }) },
          ],
        },
      ],
    });
  });
  after(() => server.close());

  it("serves a route at the Go plugin's path too, the first claim winning", async () => {
    const post = (path: string, body = '{}') => fetch(server.url + path, { method: 'POST', body });
    assert.equal((await post('/')).status, 200);
    assert.equal((await post('/jira/')).status, 200);
    assert.equal((await post('/webhook')).status, 204);
    assert.equal((await post('/gitlab/webhook')).status, 204);
    assert.deepEqual(hits, ['jira 2', 'jira 2', 'gitlab', 'gitlab']);
    assert.ok(logger.entries.some((e) => e.level === 'warn' && e.fields['adapter'] === 'gitlab' && e.fields['servedBy'] === 'jira'));
  });

  it('a route may accept larger bodies than the server default', async () => {
    const big = 'x'.repeat(1000);
    assert.equal((await fetch(server.url + '/jira/', { method: 'POST', body: big })).status, 200);
    assert.equal((await fetch(server.url + '/gitlab/webhook', { method: 'POST', body: big })).status, 413);
  });
});
