import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { PluginError, createCaptureLogger, isPluginError, retryAfterMs } from '@teleport-plugin/core';
import { TestPki } from '@teleport-plugin/testkit';
import { PagerDutyClient, pagerDutyErrors, pagerDutyStatus } from '../src/client.js';
import { FakePagerDuty } from '../src/testing/index.js';

const fast = { policy: { baseMs: 20, capMs: 100 }, timeoutMs: 2_000, rateLimitWaitMs: 20 };

let pd: FakePagerDuty;
before(async () => {
  pd = new FakePagerDuty({ apiKey: 'pd-key', maxLimit: 2 });
  await pd.start();
});
after(() => pd.close());

/** Runs an ES module snippet in a fresh node process; stdout and stderr together in `out`. */
async function runModule(script: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, out };
}

function client(extra: Partial<ConstructorParameters<typeof PagerDutyClient>[0]> = {}): PagerDutyClient {
  return new PagerDutyClient({ apiEndpoint: pd.url, apiKey: 'pd-key', userEmail: 'bot@example.com', ...fast, ...extra });
}

test('sends the PagerDuty headers; From only on writes', async () => {
  const svc = pd.addService('Headers Service');
  const c = client();
  assert.equal((await c.findServiceByName('headers service'))?.id, svc.id);
  const read = pd.http.callsTo('GET', '/services').at(-1)!;
  assert.equal(read.headers['accept'], 'application/vnd.pagerduty+json;version=2');
  assert.equal(read.headers['authorization'], 'Token token=pd-key');
  assert.equal(read.headers['from'], undefined);
  assert.match(String(read.headers['user-agent']), /^pdjs\//, 'sent through @pagerduty/pdjs');
  const incident = await c.createIncident({ title: 't', incidentKey: 'k-headers', serviceId: svc.id, details: 'd' });
  const write = pd.http.callsTo('POST', '/incidents').at(-1)!;
  assert.equal(write.headers['from'], 'bot@example.com');
  assert.equal(write.headers['authorization'], 'Token token=pd-key');
  assert.deepEqual(write.json, {
    incident: { type: 'incident', title: 't', incident_key: 'k-headers', service: { type: 'service_reference', id: svc.id }, body: { type: 'incident_body', details: 'd' } },
  });
  assert.equal(pd.incidents.find((i) => i.id === incident.id)?.from, 'bot@example.com');
});

test('the fake enforces auth and From', async () => {
  const bad = client({ apiKey: 'wrong' });
  await assert.rejects(bad.abilities(), (err: unknown) => {
    assert.ok(isPluginError(err, 'ACCESS_DENIED'), String(err));
    assert.equal(pagerDutyStatus(err), 401);
    assert.equal(pagerDutyErrors(err), 'Unauthorized');
    assert.equal(err.userFacing, true);
    assert.equal(err.service?.retryable, false);
    assert.match(err.message, /api_key/);
    return true;
  });
  const noFrom = await fetch(`${pd.url}/incidents`, {
    method: 'POST',
    headers: { Authorization: 'Token token=pd-key', 'Content-Type': 'application/json' },
    body: '{}',
  });
  assert.equal(noFrom.status, 400);
});

test('lists follow offset pagination across pages', async () => {
  for (let i = 0; i < 5; i++) pd.addService(`Paged ${i}`);
  pd.addService('PAGED');
  const before = pd.http.callsTo('GET', '/services').length;
  const found = await client().findServiceByName('paged');
  assert.equal(found?.name, 'PAGED');
  const pages = pd.http.callsTo('GET', '/services').slice(before);
  assert.ok(pages.length >= 3, `expected several pages, got ${pages.length}`);
  assert.deepEqual(
    pages.map((c) => c.query.get('offset')),
    pages.map((_, i) => String(i * 2)),
  );
});

test('429: pdjs retries three times by itself, then the call fails (retryable); the wait PagerDuty asked for is used from then on', async () => {
  // pdjs's own retries (every 429 is one) are spaced by rateLimitWaitMs; the fourth 429 reaches
  // us, and the client adds no retry of its own: the dispatcher retries the handler later.
  pd.fail({ method: 'GET', path: '/abilities', status: 429, headers: { 'retry-after': '1' }, times: 4 });
  const before = pd.http.callsTo('GET', '/abilities').length;
  const c = client({ rateLimitWaitMs: 50 });
  await assert.rejects(c.abilities(), (err: unknown) => {
    assert.ok(isPluginError(err, 'RATE_LIMITED'), String(err));
    assert.equal(err.service?.status, 429);
    assert.equal(err.service?.retryable, true);
    assert.equal(err.service?.retryAfterMs, 1_000);
    return true;
  });
  const calls = pd.http.callsTo('GET', '/abilities').slice(before);
  assert.deepEqual(
    calls.map((x) => x.status),
    [429, 429, 429, 429],
  );
  const gaps = calls.slice(1).map((x, i) => x.at - calls[i]!.at);
  for (const gap of gaps) assert.ok(gap >= 40, `pdjs retried after ${gap} ms, before its wait`);

  // The wait PagerDuty asked for is what pdjs waits from now on, so a lone 429 is honoured.
  pd.fail({ method: 'GET', path: '/abilities', status: 429, headers: { 'retry-after': '1' } });
  const again = pd.http.callsTo('GET', '/abilities').length;
  await c.abilities();
  const pair = pd.http.callsTo('GET', '/abilities').slice(again);
  assert.deepEqual(
    pair.map((x) => x.status),
    [429, 200],
  );
  assert.ok(pair[1]!.at - pair[0]!.at >= 950, `retried ${pair[1]!.at - pair[0]!.at} ms after a 429 asking for 1 s`);
});

test("the always-429 bound: one rate-limited call is at most 4 requests (pdjs's 3 + 1), whatever the policy says, and fails retryable", async () => {
  const svc = pd.addService('Rate Limited Service');
  // A policy that would retry 429s itself: the client still leaves them to pdjs.
  const c = client({ policy: { attempts: 10, rateLimitedAttempts: 10, baseMs: 1, capMs: 1 } });
  const incident = await c.createIncident({ title: 't', incidentKey: 'k-429', serviceId: svc.id, details: 'd' });
  const notes = `/incidents/${incident.id}/notes`;
  pd.fail({ status: 429, times: 1_000 });
  try {
    for (const [what, method, path, call] of [
      ['a read', 'GET', '/abilities', () => c.abilities()],
      ['a note (not idempotent)', 'POST', notes, () => c.addNote(incident.id, 'never')],
      ['the resolve PUT', 'PUT', `/incidents/${incident.id}`, () => c.resolveIncident(incident.id)],
    ] as const) {
      const before = pd.http.callsTo(method, path).length;
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(isPluginError(err, 'RATE_LIMITED'), `${what}: ${String(err)}`);
        assert.equal(err.service?.retryable, true, what);
        // A 429 means PagerDuty did nothing: the ledger may simply do it again later.
        assert.equal(err.service?.outcomeUnknown, false, what);
        return true;
      });
      assert.equal(pd.http.callsTo(method, path).length - before, 4, what);
    }
  } finally {
    pd.http.clearFaults();
  }
  assert.deepEqual(pd.incidents.find((i) => i.id === incident.id)?.notes, []);
});

test('429 with PagerDuty ratelimit-reset is understood; a long wait fails at once', async () => {
  // core's retryAfterMs reads PagerDuty's own header (seconds from now).
  assert.equal(retryAfterMs(new Headers({ 'ratelimit-reset': '2' })), 2000);
  assert.equal(retryAfterMs(new Headers({ 'retry-after': '0.5', 'ratelimit-reset': '9' })), 500);
  pd.fail({ method: 'GET', path: '/abilities', status: 429, headers: { 'retry-after': '3600' }, times: 4 });
  const start = Date.now();
  await assert.rejects(client().abilities(), (err: unknown) => isPluginError(err, 'RATE_LIMITED') && err.service?.retryAfterMs === 3_600_000);
  assert.ok(Date.now() - start < 1_000);
});

test("5xx is retried with bounded backoff; it gives up after the policy's attempts", async () => {
  pd.fail({ method: 'GET', path: '/abilities', status: 503, times: 2 });
  await client().abilities();
  assert.deepEqual(
    pd.http
      .callsTo('GET', '/abilities')
      .slice(-3)
      .map((c) => c.status),
    [503, 503, 200],
  );

  const beforeCount = pd.http.callsTo('GET', '/abilities').length;
  pd.fail({ method: 'GET', path: '/abilities', status: 500, times: 3 });
  await assert.rejects(client({ policy: { attempts: 3, baseMs: 5, capMs: 20 } }).abilities(), (err: unknown) => {
    assert.ok(isPluginError(err, 'SERVICE_ERROR'));
    assert.match(err.message, /HTTP 500/);
    assert.equal(err.service?.retryable, true);
    assert.equal(err.service?.outcomeUnknown, false, 'a read has no effect to be unsure about');
    return true;
  });
  assert.equal(pd.http.callsTo('GET', '/abilities').length - beforeCount, 3);
});

test('a note is not repeated after a 5xx (it may have been stored) but is after a 429', async () => {
  const svc = pd.addService('Notes Service');
  const c = client();
  const incident = await c.createIncident({ title: 't', incidentKey: 'k-notes', serviceId: svc.id, details: 'd' });
  const path = `/incidents/${incident.id}/notes`;
  pd.fail({ method: 'POST', path, status: 502 });
  await assert.rejects(c.addNote(incident.id, 'first'), (err: unknown) => {
    assert.match(String(err), /HTTP 502/);
    // It may have been stored: the ledger asks PagerDuty (GET notes) before posting it again.
    assert.ok(isPluginError(err) && err.service?.outcomeUnknown === true && err.service.retryable);
    return true;
  });
  assert.equal(pd.http.callsTo('POST', path).length, 1);
  pd.fail({ method: 'POST', path, status: 429, headers: { 'retry-after': '0' } });
  await c.addNote(incident.id, 'second');
  assert.deepEqual(
    pd.incidents.find((i) => i.id === incident.id)?.notes.map((n) => n.content),
    ['second'],
  );
});

test('a shutdown while pdjs sleeps between its own 429 retries ends the call at once', async () => {
  pd.fail({ method: 'GET', path: '/abilities', status: 429, times: 4 });
  const before = pd.http.callsTo('GET', '/abilities').length;
  const abort = new AbortController();
  const call = client({ rateLimitWaitMs: 5_000 }).abilities(abort.signal);
  await pd.http.waitFor(() => pd.http.callsTo('GET', '/abilities').length > before);
  const started = Date.now();
  // As the runtime aborts a handler at shutdown: the reason is what the call fails with.
  abort.abort(new PluginError('SHUTDOWN', 'shutting down'));
  await assert.rejects(call, (err: unknown) => {
    assert.ok(isPluginError(err, 'SHUTDOWN'), String(err));
    assert.equal(err.message, 'PagerDuty GET /abilities: shutting down');
    return true;
  });
  assert.ok(Date.now() - started < 1_000, `took ${Date.now() - started} ms to give up`);
  // pdjs's pending retry fails on the aborted signal without reaching the server.
  assert.equal(pd.http.callsTo('GET', '/abilities').length - before, 1);
  pd.http.clearFaults();
});

test('a timed-out read is retried', async () => {
  pd.fail({ method: 'GET', path: '/abilities', delayMs: 1_500 });
  const start = Date.now();
  await client({ timeoutMs: 200 }).abilities();
  // Answered by the second attempt, long before the first (delayed) one could have.
  assert.ok(Date.now() - start < 1_400, `took ${Date.now() - start} ms`);
});

test('creating an incident twice with one key yields one incident (PagerDuty rejects the duplicate)', async () => {
  const svc = pd.addService('Dedup Service');
  const c = client();
  const first = await c.createIncident({ title: 't', incidentKey: 'k-dup', serviceId: svc.id, details: 'd' });
  const second = await c.createIncident({ title: 't', incidentKey: 'k-dup', serviceId: svc.id, details: 'd' });
  assert.equal(second.id, first.id);
  assert.equal(pd.incidents.filter((i) => i.incidentKey === 'k-dup').length, 1);
  assert.equal(
    pd.http
      .callsTo('POST', '/incidents')
      .filter((x) => (x.json as { incident?: { incident_key?: string } } | undefined)?.incident?.incident_key === 'k-dup')
      .at(-1)?.status,
    400,
  );
});

test('the fake can also answer a duplicate with the open incident', async () => {
  const other = new FakePagerDuty({ dedup: 'return' });
  await other.start();
  try {
    const svc = other.addService('S');
    const c = new PagerDutyClient({ apiEndpoint: other.url, apiKey: 'any', userEmail: 'bot@example.com', ...fast });
    const a = await c.createIncident({ title: 't', incidentKey: 'k', serviceId: svc.id, details: 'd' });
    const b = await c.createIncident({ title: 't', incidentKey: 'k', serviceId: svc.id, details: 'd' });
    assert.equal(a.id, b.id);
    assert.equal(other.incidents.length, 1);
  } finally {
    await other.close();
  }
});

test('a failed call does not keep the process alive (no lingering timers)', async () => {
  const moduleUrl = new URL('../src/client.js', import.meta.url).href;
  const script = `
    import { PagerDutyClient } from ${JSON.stringify(moduleUrl)};
    const c = new PagerDutyClient({ apiEndpoint: 'http://127.0.0.1:1', apiKey: 'k', userEmail: 'b@x.io', policy: { attempts: 2, baseMs: 10, capMs: 10 } });
    try { await c.abilities(); } catch (e) { console.log('failed:', e.code); }
  `;
  const start = Date.now();
  const { code, out } = await runModule(script);
  const elapsed = Date.now() - start;
  assert.equal(code, 0);
  assert.match(out, /failed: UNREACHABLE/);
  assert.ok(elapsed < 5_000, `process took ${elapsed} ms to exit`);
});

test('an https api_endpoint works (the fake serves TLS from a test CA the child process trusts)', async () => {
  const pki = await TestPki.create();
  const cert = await pki.issueWebCert(['localhost'], ['127.0.0.1']);
  const secure = new FakePagerDuty({ apiKey: 'tls-key', tls: { cert: cert.certPem, key: cert.keyPem } });
  await secure.start();
  const dir = await mkdtemp(path.join(tmpdir(), 'pd-tls-'));
  try {
    assert.match(secure.url, /^https:\/\/127\.0\.0\.1:/);
    secure.addService('Secure Service');
    const caFile = path.join(dir, 'ca.pem');
    await writeFile(caFile, pki.webCa.certPem);
    // Node reads NODE_EXTRA_CA_CERTS at start-up only, hence the child process.
    const moduleUrl = new URL('../src/client.js', import.meta.url).href;
    const script = `
      import { PagerDutyClient } from ${JSON.stringify(moduleUrl)};
      const c = new PagerDutyClient({ apiEndpoint: ${JSON.stringify(secure.url)}, apiKey: 'tls-key', userEmail: 'b@x.io', policy: { attempts: 1 } });
      const abilities = await c.abilities();
      const svc = await c.findServiceByName('secure service');
      console.log(JSON.stringify({ abilities: abilities.length, service: svc?.name }));
    `;
    const { code, out } = await runModule(script, { NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(code, 0, out);
    assert.deepEqual(JSON.parse(out.trim()), { abilities: 3, service: 'Secure Service' });
    assert.deepEqual(
      secure.calls.map((c) => [c.method, c.path, c.headers['authorization']]),
      [
        ['GET', '/abilities', 'Token token=tls-key'],
        ['GET', '/services', 'Token token=tls-key'],
      ],
    );
  } finally {
    await secure.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a shutdown during a retry wait ends the call at once', async () => {
  pd.fail({ method: 'GET', path: '/abilities', status: 503, times: 1 });
  const abort = new AbortController();
  const logger = createCaptureLogger();
  // Abort exactly when the client announces its backoff, so the wait (not the call) is cut short.
  const warn = logger.warn.bind(logger);
  logger.warn = (message, fields) => {
    warn(message, fields);
    if (message === 'service call failed; retrying') abort.abort(new PluginError('SHUTDOWN', 'shutting down'));
  };
  const started = Date.now();
  await assert.rejects(client({ logger, policy: { baseMs: 60_000, capMs: 60_000 } }).abilities(abort.signal), (err: unknown) => {
    assert.ok(isPluginError(err, 'SHUTDOWN'), String(err));
    return true;
  });
  assert.ok(Date.now() - started < 10_000, 'did not wait out the backoff');
  const line = logger.entries.find((e) => e.message === 'service call failed; retrying');
  assert.equal(line?.fields['operation'], 'GET /abilities');
  assert.equal(line?.fields['status'], 503);
});

test('a shutdown during a retry wait names the call it cut short', async () => {
  pd.fail({ method: 'GET', path: '/abilities', status: 503, times: 1 });
  const abort = new AbortController();
  const logger = createCaptureLogger();
  const warn = logger.warn.bind(logger);
  logger.warn = (message, fields) => {
    warn(message, fields);
    if (message === 'service call failed; retrying') abort.abort(new PluginError('SHUTDOWN', 'shutting down'));
  };
  await assert.rejects(client({ logger, policy: { baseMs: 60_000, capMs: 60_000 } }).abilities(abort.signal), /PagerDuty GET \/abilities/);
});
