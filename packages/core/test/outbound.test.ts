import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isOutcomeUnknown, isPluginError, isRetryable, type PluginError } from '../src/errors.js';
import { callService } from '../src/outbound/callService.js';
import { fetchFailure } from '../src/outbound/fetchFailure.js';
import type { OutboundCall } from '../src/outbound/policy.js';
import { retryAfterMs, headerSource } from '../src/outbound/retryAfter.js';
import { API_FETCH_INIT, networkFailure } from '../src/outbound/serviceFailure.js';

/** A real HTTP server whose answers the test scripts; it counts what it received. */
class ScriptedServer {
  readonly received: string[] = [];
  answer: (n: number, res: http.ServerResponse, req: http.IncomingMessage) => void = (_n, res) => res.end('{}');
  private server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      this.received.push(`${req.method} ${req.url}`);
      this.answer(this.received.length, res, req);
    });
  });
  url = '';
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const POST: OutboundCall = { service: 'Svc', operation: 'POST /things', idempotent: false };
const GET: OutboundCall = { service: 'Svc', operation: 'GET /things', idempotent: true };
const FAST = { attempts: 4, baseMs: 1, capMs: 5, maxRetryAfterMs: 2_000 };

async function fetchCall(server: ScriptedServer, call: OutboundCall, signal?: AbortSignal): Promise<unknown> {
  return callService(
    call,
    async (s) => {
      let res: Response;
      try {
        res = await fetch(server.url + '/things', { method: call.idempotent ? 'GET' : 'POST', signal: s, body: call.idempotent ? undefined : '{}' });
      } catch (err) {
        throw networkFailure(call, err);
      }
      const text = await res.text();
      if (!res.ok) throw fetchFailure(call, res, text);
      return JSON.parse(text) as unknown;
    },
    { policy: FAST, signal },
  );
}

describe('outbound policy', () => {
  const server = new ScriptedServer();
  before(() => server.start());
  after(() => server.close());

  it('a call that is always rate limited makes exactly `attempts` requests, waiting what Retry-After asks', async () => {
    server.received.length = 0;
    const at: number[] = [];
    server.answer = (_n, res) => {
      at.push(Date.now());
      res.writeHead(429, { 'retry-after': '0.05' }).end('slow down');
    };
    const err = (await fetchCall(server, POST).catch((e: unknown) => e)) as PluginError;
    assert.equal(server.received.length, 4);
    assert.equal(err.code, 'RATE_LIMITED');
    assert.equal(err.service?.status, 429);
    assert.equal(err.service?.retryable, true);
    assert.equal(err.service?.outcomeUnknown, false, 'a 429 was not processed');
    assert.equal(err.service?.retryAfterMs, 50);
    for (let i = 1; i < at.length; i += 1) assert.ok(at[i]! - at[i - 1]! >= 45, `waited ${at[i]! - at[i - 1]!} ms between tries`);
  });

  it('a 429 asking for longer than maxRetryAfterMs fails at once, retryable later', async () => {
    server.received.length = 0;
    server.answer = (_n, res) => res.writeHead(429, { 'retry-after': '120' }).end();
    const err = (await fetchCall(server, GET).catch((e: unknown) => e)) as PluginError;
    assert.equal(server.received.length, 1);
    assert.equal(err.service?.retryAfterMs, 120_000);
    assert.ok(isRetryable(err));
  });

  it('recovers after transient 5xx on an idempotent call', async () => {
    server.received.length = 0;
    server.answer = (n, res) => (n < 3 ? res.writeHead(503).end() : res.end('{"ok":true}'));
    assert.deepEqual(await fetchCall(server, GET), { ok: true });
    assert.equal(server.received.length, 3);
  });

  it('never repeats a write after a 5xx: it may have happened (outcome unknown)', async () => {
    server.received.length = 0;
    server.answer = (_n, res) => res.writeHead(500).end('boom');
    const err = (await fetchCall(server, POST).catch((e: unknown) => e)) as PluginError;
    assert.equal(server.received.length, 1);
    assert.ok(isOutcomeUnknown(err));
    assert.ok(isRetryable(err));
  });

  it('never repeats a write whose connection dropped after it was sent', async () => {
    server.received.length = 0;
    server.answer = (_n, res) => res.socket?.destroy();
    const err = (await fetchCall(server, POST).catch((e: unknown) => e)) as PluginError;
    assert.equal(server.received.length, 1);
    assert.ok(isOutcomeUnknown(err), err.message);
  });

  it('repeats an idempotent read whose connection dropped', async () => {
    server.received.length = 0;
    server.answer = (n, res) => (n === 1 ? res.socket?.destroy() : res.end('{"n":2}'));
    assert.deepEqual(await fetchCall(server, GET), { n: 2 });
    assert.equal(server.received.length, 2);
  });

  it('repeats even a write when the connection was refused (it never left this host)', async () => {
    const closed = new ScriptedServer();
    await closed.start();
    const url = closed.url;
    await closed.close();
    let tries = 0;
    const err = (await callService(
      POST,
      async () => {
        tries += 1;
        try {
          return await fetch(url, { method: 'POST', body: '{}' });
        } catch (e) {
          throw networkFailure(POST, e);
        }
      },
      { policy: FAST },
    ).catch((e: unknown) => e)) as PluginError;
    assert.equal(tries, 4);
    assert.equal(err.code, 'UNREACHABLE');
    assert.equal(isOutcomeUnknown(err), false);
  });

  it('a redirect is a configuration error with API_FETCH_INIT: sent once, not replayed as a GET, nothing done', async () => {
    const before = server.received.length;
    server.answer = (_n, res) => {
      res.statusCode = 301;
      res.setHeader('location', 'https://elsewhere.invalid/things');
      res.end();
    };
    const err = (await callService(
      POST,
      async (s) => {
        try {
          return await fetch(server.url + '/things', { ...API_FETCH_INIT, method: 'POST', body: '{}', signal: s });
        } catch (e) {
          throw networkFailure(POST, e);
        }
      },
      { policy: FAST },
    ).catch((e: unknown) => e)) as PluginError;
    assert.equal(server.received.length - before, 1, 'one request, not retried');
    assert.equal(err.code, 'CONFIG');
    assert.match(err.message, /^Svc POST \/things: the service answered with a redirect: the configured URL is not its API address/);
    assert.equal(isRetryable(err), false);
    assert.equal(isOutcomeUnknown(err), false);
    assert.equal(err.userFacing, true);
    server.answer = (_n, res) => res.end('{}');
  });

  it('a final 4xx is not retried and carries the service code', async () => {
    server.received.length = 0;
    server.answer = (_n, res) => res.writeHead(400).end('{"error":"bad_thing"}');
    const err = (await callService(
      POST,
      async () => {
        const res = await fetch(server.url, { method: 'POST', body: '{}' });
        const text = await res.text();
        throw fetchFailure(POST, res, text, (b) => (JSON.parse(b) as { error: string }).error);
      },
      { policy: FAST },
    ).catch((e: unknown) => e)) as PluginError;
    assert.equal(server.received.length, 1);
    assert.equal(err.service?.serviceCode, 'bad_thing');
    assert.equal(isRetryable(err), false);
    assert.match(err.message, /Svc POST \/things: HTTP 400 \(bad_thing\)/);
  });

  it('stops waiting between attempts when the handler is cancelled', async () => {
    server.received.length = 0;
    server.answer = (_n, res) => res.writeHead(429, { 'retry-after': '1' }).end();
    const controller = new AbortController();
    const pending = fetchCall(server, GET, controller.signal).catch((e: unknown) => e);
    await new Promise<void>((resolve) => {
      const poll = (): void => (server.received.length >= 1 ? resolve() : void setTimeout(poll, 5));
      poll();
    });
    controller.abort();
    const err = await pending;
    assert.ok(isPluginError(err));
    assert.equal(server.received.length, 1);
  });
});

describe('retryAfterMs', () => {
  const h = (o: Record<string, string>) => headerSource(o);
  it('reads seconds, HTTP dates, relative and epoch reset headers', () => {
    assert.equal(retryAfterMs(h({ 'Retry-After': '3' })), 3000);
    assert.equal(retryAfterMs(h({ 'retry-after': 'Thu, 03 Dec 2026 10:00:05 GMT' }), Date.parse('Thu, 03 Dec 2026 10:00:00 GMT')), 5000);
    assert.equal(retryAfterMs(h({ 'ratelimit-reset': '7' })), 7000);
    assert.equal(retryAfterMs(h({ 'RateLimit-Reset': '1800000010' }), 1_800_000_000_000), 10_000);
    assert.equal(retryAfterMs(h({ 'x-ratelimit-reset': '2' })), 2000);
    assert.equal(retryAfterMs(h({})), undefined);
    assert.equal(retryAfterMs(h({ 'retry-after': 'soon' })), undefined);
  });
});
