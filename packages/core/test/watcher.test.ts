import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError, isPluginError } from '../src/errors.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { Watcher, type WatcherEvent } from '../src/watcher/watcher.js';
import { MemoryTeleport, makeRequest, waitUntil } from './dispatcher-memory-teleport.js';

function startWatcher(tp: MemoryTeleport, extra: Partial<ConstructorParameters<typeof Watcher>[0]> = {}) {
  const events: WatcherEvent[] = [];
  const readiness: boolean[] = [];
  let reconnects = 0;
  const watcher = new Watcher({
    client: tp,
    logger: createCaptureLogger(),
    onEvent: (e) => events.push(e),
    onReadyChange: (r) => readiness.push(r),
    onReconnect: () => reconnects++,
    backoff: { baseMs: 1, capMs: 5 },
    ...extra,
  });
  const done = watcher.start();
  return { watcher, events, readiness, done, reconnects: () => reconnects };
}

const label = (e: WatcherEvent): string => (e.type === 'put' ? `${e.source}:${e.request.id}:${e.request.state}` : `delete:${e.requestId}`);

describe('watcher', () => {
  it('lists pending requests after INIT, then streams live events', async () => {
    const tp = new MemoryTeleport();
    tp.put(makeRequest('old'), false);
    tp.put(makeRequest('done', { state: 'APPROVED' }), false);
    const w = startWatcher(tp);
    await waitUntil(() => w.watcher.ready, 'ready');
    tp.put(makeRequest('new'));
    tp.remove('old');
    await waitUntil(() => w.events.length === 3, 'three events');
    assert.deepEqual(w.events.map(label), ['list:old:PENDING', 'watch:new:PENDING', 'delete:old']);
    await w.watcher.stop();
    await w.done;
    assert.equal(w.watcher.ready, false);
    assert.deepEqual(w.readiness, [true, false]);
  });

  it('reconnects after a dropped stream and re-lists, so a request created in the gap is seen', async () => {
    const tp = new MemoryTeleport();
    const w = startWatcher(tp);
    await waitUntil(() => w.watcher.ready, 'ready');
    tp.drop();
    tp.put(makeRequest('gap'), false); // created while disconnected: no event for it
    await waitUntil(() => w.events.some((e) => e.type === 'put' && e.request.id === 'gap'), 'the gap request');
    assert.equal(w.reconnects(), 1);
    assert.equal(tp.listCalls, 2);
    assert.equal(tp.streams.length, 2);
    await w.watcher.stop();
  });

  it('treats a first event other than INIT as a connection problem', async () => {
    const tp = new MemoryTeleport();
    tp.onWatch = (s, i) => {
      if (i === 0) s.push({ type: 'put', request: makeRequest('x') });
      else s.push({ type: 'init', acceptedKinds: ['access_request'] });
    };
    const w = startWatcher(tp);
    await waitUntil(() => w.watcher.ready, 'ready on the second stream');
    assert.equal(w.reconnects(), 1);
    assert.deepEqual(w.events, []);
    await w.watcher.stop();
  });

  it('gives up on a stream without INIT after the timeout', async () => {
    const tp = new MemoryTeleport();
    tp.onWatch = (s, i) => {
      if (i > 0) s.push({ type: 'init', acceptedKinds: ['access_request'] });
    };
    const w = startWatcher(tp, { initTimeoutMs: 50 });
    await waitUntil(() => w.watcher.ready, 'ready on the second stream');
    assert.equal(tp.streams[0]?.closed, true);
    await w.watcher.stop();
  });

  it('waits 15 s for INIT by default (as upstream), then reconnects', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const flush = async (): Promise<void> => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    const tp = new MemoryTeleport();
    tp.onWatch = (s, i) => {
      if (i > 0) s.push({ type: 'init', acceptedKinds: ['access_request'] });
    };
    const w = startWatcher(tp);
    await flush();
    assert.equal(tp.streams.length, 1);
    t.mock.timers.tick(14_999);
    await flush();
    assert.equal(tp.streams[0]?.closed, false, 'still waiting just before 15 s');
    t.mock.timers.tick(1);
    await flush();
    assert.equal(tp.streams[0]?.closed, true, 'given up at 15 s');
    t.mock.timers.tick(10); // the reconnect backoff (1..5 ms here)
    await flush();
    assert.equal(w.watcher.ready, true);
    assert.equal(tp.streams.length, 2);
    t.mock.timers.reset();
    await w.watcher.stop();
  });

  it('fail-fast turns a lost connection into a fatal error', async () => {
    const tp = new MemoryTeleport();
    const w = startWatcher(tp, { failFast: true });
    await waitUntil(() => w.watcher.ready, 'ready');
    tp.drop();
    await assert.rejects(w.done, (err: unknown) => isPluginError(err, 'CONNECTION_PROBLEM') && /fail-fast/.test(err.message));
    assert.equal(w.watcher.ready, false);
    assert.equal(tp.streams.length, 1);
  });

  it('any other stream error is fatal', async () => {
    const tp = new MemoryTeleport();
    tp.onWatch = (s) => s.push(new PluginError('ACCESS_DENIED', 'access denied to perform action "read" on "access_request"'));
    const w = startWatcher(tp);
    await assert.rejects(w.done, (err: unknown) => isPluginError(err, 'ACCESS_DENIED'));
    assert.equal(tp.streams.length, 1);
  });

  it('keeps watching when listing is not permitted', async () => {
    const tp = new MemoryTeleport();
    tp.listAccessRequests = async () => {
      throw new PluginError('ACCESS_DENIED', 'no list');
    };
    const logger = createCaptureLogger();
    const w = startWatcher(tp, { logger });
    await waitUntil(() => w.watcher.ready, 'ready');
    assert.ok(logger.entries.some((e) => e.level === 'warn' && /could not list/.test(e.message)));
    await w.watcher.stop();
  });

  it('stop() during a reconnect wait ends promptly', async () => {
    const tp = new MemoryTeleport();
    tp.onWatch = (s) => s.push(new PluginError('CONNECTION_PROBLEM', 'refused'));
    const w = startWatcher(tp, { backoff: { baseMs: 10_000, capMs: 10_000 } });
    await waitUntil(() => w.reconnects() === 1, 'a reconnect wait');
    const t0 = Date.now();
    await w.watcher.stop();
    await w.done;
    assert.ok(Date.now() - t0 < 1000);
  });
});
