import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineAdapter, type AdapterHandlers } from '../src/adapter.js';
import { isPluginError } from '../src/errors.js';
import { startRuntime } from '../src/host.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { MemoryTeleport, makeRequest, waitUntil } from './dispatcher-memory-teleport.js';

function adapter(name: string, handlers: AdapterHandlers | (() => Promise<AdapterHandlers>), onClose?: () => void) {
  return {
    adapter: defineAdapter<unknown>({
      name,
      parseConfig: () => ({}),
      async setup(ctx) {
        if (onClose) ctx.onClose(onClose);
        return typeof handlers === 'function' ? handlers() : handlers;
      },
    }),
    config: {},
  };
}

describe('startRuntime (in-memory Teleport)', () => {
  it('runs without an HTTP server when nothing needs one', async () => {
    const tp = new MemoryTeleport();
    const runtime = await startRuntime({ teleport: tp, logger: createCaptureLogger(), adapters: [adapter('a', {})] });
    try {
      assert.equal(runtime.httpUrl, undefined);
      await waitUntil(() => runtime.ready, 'ready');
      assert.equal(runtime.cluster.clusterName, 'test.example.com');
    } finally {
      await runtime.stop();
    }
    await runtime.done;
  });

  it('an adapter with routes needs TLS or --insecure-no-tls, and the error says so', async () => {
    const tp = new MemoryTeleport();
    let closed = 0;
    const withRoutes = adapter('hooks', { routes: [{ method: 'POST', path: '/', handle: async () => ({ status: 200 }) }] }, () => void closed++);
    await assert.rejects(
      startRuntime({ teleport: tp, logger: createCaptureLogger(), adapters: [withRoutes], http: { listenAddr: '127.0.0.1:0' } }),
      (err: unknown) => isPluginError(err, 'CONFIG') && err.userFacing && /insecure-no-tls/.test(err.message),
    );
    assert.equal(closed, 1, "the adapter's onClose ran");
    await assert.rejects(
      startRuntime({ teleport: tp, logger: createCaptureLogger(), adapters: [withRoutes] }),
      (err: unknown) => isPluginError(err, 'CONFIG') && /adapter "hooks" serves webhooks/.test(err.message),
    );
  });

  it('a failing setup closes the adapters already set up', async () => {
    const tp = new MemoryTeleport();
    const closed: string[] = [];
    await assert.rejects(
      startRuntime({
        teleport: tp,
        logger: createCaptureLogger(),
        adapters: [
          adapter('first', {}, () => void closed.push('first')),
          adapter('second', async () => {
            throw new Error('bad token');
          }),
        ],
      }),
      (err: unknown) => isPluginError(err, 'ADAPTER_FAILED') && /adapter "second" failed to start: bad token/.test(err.message),
    );
    assert.deepEqual(closed, ['first']);
  });

  it('start() runs once the watch is initialised; a failing start() marks the adapter unhealthy', async () => {
    const tp = new MemoryTeleport();
    let started = 0;
    const runtime = await startRuntime({
      teleport: tp,
      logger: createCaptureLogger(),
      adapters: [
        adapter('ok', { start: async () => void started++ }),
        adapter('bad', {
          start: async () => {
            throw new Error('cannot open socket');
          },
        }),
      ],
    });
    try {
      await waitUntil(() => started === 1 && runtime.readiness().adapters.bad?.healthy === false, 'start() calls');
      assert.equal(runtime.ready, false);
      assert.match(runtime.readiness().adapters.bad?.reason ?? '', /cannot open socket/);
    } finally {
      await runtime.stop();
    }
  });

  it('a reconnect reconciles: a request created in the gap is announced, a known one is not handed over again', async () => {
    const tp = new MemoryTeleport();
    const seen: string[] = [];
    const runtime = await startRuntime({
      teleport: tp,
      logger: createCaptureLogger(),
      watch: { backoff: { baseMs: 1, capMs: 5 } },
      adapters: [adapter('a', { onPending: async (req) => void seen.push(req.id) })],
    });
    try {
      await waitUntil(() => runtime.ready, 'ready');
      tp.put(makeRequest('r1'));
      await waitUntil(() => seen.length === 1, 'r1');
      tp.drop();
      tp.put(makeRequest('r2'), false);
      await waitUntil(() => seen.length === 2, 'r2 after the reconnect');
      await runtime.idle();
      assert.deepEqual(seen, ['r1', 'r2']);
      const events = await runtime.metrics.events.get();
      // Only r2 was owed: r1's plugin data says it is announced, so the listing skips it.
      assert.deepEqual(
        events.values.filter((v) => v.labels.kind === 'list').map((v) => v.value),
        [1],
      );
    } finally {
      await runtime.stop();
    }
  });
});
