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
  it('streams live events after INIT and asks for a reconciliation at every INIT', async () => {
    const tp = new MemoryTeleport();
    let inits = 0;
    const w = startWatcher(tp, { onInit: () => inits++ });
    await waitUntil(() => w.watcher.ready, 'ready');
    assert.equal(inits, 1);
    tp.put(makeRequest('new'));
    tp.remove('old');
    await waitUntil(() => w.events.length === 2, 'two events');
    assert.deepEqual(w.events.map(label), ['watch:new:PENDING', 'delete:old']);
    tp.drop();
    await waitUntil(() => inits === 2, 'a second INIT after the drop');
    assert.equal(w.reconnects(), 1);
    await w.watcher.stop();
    await w.done;
    assert.equal(w.watcher.ready, false);
    assert.deepEqual(w.readiness, [true, false, true, false]);
  });

  it('reads the stream while the INIT callback is still busy (a slow reconciliation holds nothing back)', async () => {
    const tp = new MemoryTeleport();
    let finishReconcile!: () => void;
    const reconciling = new Promise<void>((r) => (finishReconcile = r));
    const w = startWatcher(tp, { onInit: () => void reconciling });
    await waitUntil(() => w.watcher.ready, 'ready');
    tp.put(makeRequest('live'));
    await waitUntil(() => w.events.length === 1, 'the live event before the reconciliation ends');
    finishReconcile();
    await w.watcher.stop();
  });

  it('reopens a silent stream on a rebuilt connection with re-read credentials (watchdog)', async () => {
    const tp = new MemoryTeleport();
    let rebuilds = 0;
    let refreshed = 0;
    let inits = 0;
    tp.reconnect = () => void rebuilds++;
    tp.refreshIdentity = async () => {
      refreshed++;
      return false;
    };
    const logger = createCaptureLogger();
    const w = startWatcher(tp, { silenceMs: 60, logger, onInit: () => inits++ });
    await waitUntil(() => inits >= 2, 'a second INIT after the silence');
    assert.ok(rebuilds >= 1 && refreshed >= 1);
    assert.ok(tp.streams[0]?.closed, 'the silent stream was closed');
    assert.ok(logger.entries.some((e) => e.level === 'warn' && /silent/.test(e.message)));
    await w.watcher.stop();
  });

  it('events keep the watchdog quiet', async () => {
    const tp = new MemoryTeleport();
    const w = startWatcher(tp, { silenceMs: 80 });
    await waitUntil(() => w.watcher.ready, 'ready');
    for (let i = 0; i < 8; i += 1) {
      tp.put(makeRequest(`r${i}`));
      await waitUntil(() => w.events.length === i + 1, `event ${i}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(tp.streams.length, 1);
    await w.watcher.stop();
  });

  it('rebuilds the connection after repeated failures to open a stream', async () => {
    const tp = new MemoryTeleport();
    let rebuilds = 0;
    tp.reconnect = () => void rebuilds++;
    tp.onWatch = (s, i) => s.push(i < 3 ? new PluginError('CONNECTION_PROBLEM', 'use of closed network connection') : { type: 'init', acceptedKinds: ['access_request'] });
    const w = startWatcher(tp, { rebuildAfterFailures: 3 });
    await waitUntil(() => w.watcher.ready, 'ready after the rebuild');
    assert.equal(rebuilds, 1);
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

  it('a refused watch is fatal and names the user and the permission it needs', async () => {
    const tp = new MemoryTeleport();
    tp.currentIdentity = () => ({ username: 'access-plugin', clusterName: 'c', validUntil: new Date(), source: 'identity' });
    tp.onWatch = (s) => s.push(new PluginError('ACCESS_DENIED', 'access denied to perform action "read" on "access_request"'));
    const w = startWatcher(tp);
    await assert.rejects(w.done, (err: unknown) => {
      assert.ok(isPluginError(err, 'ACCESS_DENIED'));
      assert.ok(err.userFacing);
      assert.match(err.message, /user "access-plugin"/);
      assert.match(err.message, /\[access_request\], verbs \[list, read\]/);
      return true;
    });
    assert.equal(tp.streams.length, 1);
    await assert.rejects(w.watcher.initialised(1000), (err: unknown) => isPluginError(err, 'ACCESS_DENIED'));
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
