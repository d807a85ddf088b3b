// Nothing lost across gaps: what happened while no stream was open, while the plugin was stopped,
// or while a crashed instance held the work, is delivered once by the reconciliation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineAdapter, type AdapterHandlers, type EventContext } from '../src/adapter.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../src/host.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { MemoryTeleport, makeRequest, makeReview, waitUntil } from './dispatcher-memory-teleport.js';

/** An adapter whose side effect is appending to `log`, each made through the ledger (ev.once). */
function recording(log: string[], extra: Partial<AdapterHandlers> = {}) {
  const effect = (ev: EventContext, entry: string) => ev.once(entry, async () => void log.push(entry));
  const handlers: AdapterHandlers = {
    onPending: async (req, ev) => void (await effect(ev, `pending:${req.id}`)),
    onReviewed: async (req, added, ev) => void (await effect(ev, `reviewed:${req.id}:${added.map((r) => r.author).join('+')}`)),
    onResolved: async (req, ev) => void (await effect(ev, `resolved:${req.id}:${req.state}`)),
    onExpired: async (id, ev) => void (await effect(ev, `expired:${id}`)),
    ...extra,
  };
  return { adapter: defineAdapter<unknown>({ name: 'chat', parseConfig: () => ({}), setup: async () => handlers }), config: {} };
}

async function start(tp: MemoryTeleport, log: string[], options: Partial<RuntimeOptions> = {}, extra: Partial<AdapterHandlers> = {}): Promise<Runtime> {
  const runtime = await startRuntime({
    teleport: tp,
    logger: createCaptureLogger(),
    adapters: [recording(log, extra)],
    watch: { backoff: { baseMs: 1, capMs: 5 } },
    retry: { attempts: 2, baseMs: 1, capMs: 5 },
    reconcileIntervalMs: 0,
    ...options,
  });
  await waitUntil(() => runtime.ready, 'ready');
  return runtime;
}

async function settle(runtime: Runtime): Promise<void> {
  await runtime.reconcile();
  await runtime.idle();
}

describe('reconciliation', () => {
  it('delivers a review, an approval and a deletion that happened while no stream was open', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    const runtime = await start(tp, log);
    try {
      for (const id of ['a', 'b', 'c']) tp.put(makeRequest(id));
      await waitUntil(() => log.length === 3, 'three announcements');
      let inits = tp.streams.length;
      tp.onWatch = (s) => {
        // While the new stream is opening, everything changes without events.
        const a = tp.requests.get('a')!;
        const b = tp.requests.get('b')!;
        tp.put({ ...a, reviews: [makeReview('bob')] }, false);
        tp.put({ ...b, reviews: [makeReview('carol', 'DENIED')], state: 'DENIED', resolveReason: 'no' }, false);
        tp.remove('c', false);
        s.push({ type: 'init', acceptedKinds: ['access_request'] });
      };
      tp.drop();
      await waitUntil(() => tp.streams.length > inits, 'a new stream');
      inits = tp.streams.length;
      await waitUntil(() => log.length === 7, 'the gap delivered');
      await settle(runtime);
      assert.deepEqual(log.slice(3).sort(), ['expired:c', 'resolved:b:DENIED', 'reviewed:a:bob', 'reviewed:b:carol'].sort());
      assert.equal(tp.pluginData('b', 'chat')?.resolution, 'DENIED');
      assert.equal(tp.pluginData('c', 'chat')?.resolution, 'EXPIRED');
      // A second reconciliation finds nothing owed.
      const before = log.length;
      await settle(runtime);
      assert.equal(log.length, before);
    } finally {
      await runtime.stop();
    }
  });

  it('a request approved while the plugin was stopped is finished at the next start', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    let runtime = await start(tp, log);
    tp.put(makeRequest('r1'));
    await waitUntil(() => log.includes('pending:r1'), 'announced');
    await runtime.idle();
    await runtime.stop();
    tp.review('r1', 'bob', 'APPROVED', 'ok', true); // nobody is watching
    runtime = await start(tp, log);
    try {
      await waitUntil(() => log.includes('resolved:r1:APPROVED'), 'the approval delivered after the restart');
      await runtime.idle();
      assert.deepEqual(log, ['pending:r1', 'reviewed:r1:bob', 'resolved:r1:APPROVED']);
    } finally {
      await runtime.stop();
    }
  });

  it('takes over an announcement left unfinished by a crashed instance, but not one a live instance holds', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    tp.put(makeRequest('crashed'), false);
    tp.put(makeRequest('live'), false);
    tp.setPluginData('crashed', 'chat', { user: 'alice@example.com', announced: `run:dead:${Date.now() - 10 * 60_000}` });
    tp.setPluginData('live', 'chat', { user: 'alice@example.com', announced: `run:other:${Date.now()}` });
    const runtime = await start(tp, log, { leaseMs: 60_000 });
    try {
      await waitUntil(() => log.includes('pending:crashed'), 'the crashed announcement taken over');
      await runtime.idle();
      assert.deepEqual(log, ['pending:crashed']);
      assert.equal(tp.pluginData('crashed', 'chat')?.announced, 'ok');
      assert.match(tp.pluginData('live', 'chat')?.announced ?? '', /^run:other:/);
    } finally {
      await runtime.stop();
    }
  });

  it('retries later what a handler gave up on, from the periodic reconciliation', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    let failing = true;
    const runtime = await start(
      tp,
      log,
      { reconcileIntervalMs: 50 },
      {
        onResolved: async (req) => {
          if (failing) throw new Error('service down');
          log.push(`resolved:${req.id}:${req.state}`);
        },
      },
    );
    try {
      tp.put(makeRequest('r1'));
      await waitUntil(() => log.includes('pending:r1'), 'announced');
      tp.review('r1', 'bob', 'APPROVED', '', true);
      await waitUntil(() => tp.pluginData('r1', 'chat')?.reviews_count === '1', 'the review delivered');
      await runtime.idle();
      assert.equal(tp.pluginData('r1', 'chat')?.resolution, undefined, 'not recorded while failing');
      failing = false;
      await waitUntil(() => log.includes('resolved:r1:APPROVED'), 'delivered by a periodic reconciliation');
      await waitUntil(() => tp.pluginData('r1', 'chat')?.resolution === 'APPROVED', 'recorded');
    } finally {
      await runtime.stop();
    }
  });

  it('reviews whose delivery failed are still delivered when the request is deleted before the next try', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    let failing = true;
    const runtime = await start(
      tp,
      log,
      {},
      {
        onReviewed: async (req, added, ev) => {
          if (failing) throw new Error('service down');
          await ev.once(`reviewed:${req.id}:${added.map((r) => r.author).join('+')}`, async () => void log.push(`reviewed:${req.id}:${added.map((r) => r.author).join('+')}`));
        },
      },
    );
    try {
      tp.put(makeRequest('r1'));
      await waitUntil(() => log.includes('pending:r1'), 'announced');
      tp.review('r1', 'bob', 'APPROVED', 'fine');
      await waitUntil(() => (tp.pluginData('r1', 'chat')?.reviews_undelivered ?? '').includes('bob'), 'the undelivered review kept');
      await runtime.idle();
      failing = false;
      tp.remove('r1');
      await waitUntil(() => log.includes('expired:r1'), 'the expiry');
      await runtime.idle();
      assert.deepEqual(log, ['pending:r1', 'reviewed:r1:bob', 'expired:r1']);
      const data = tp.pluginData('r1', 'chat');
      assert.equal(data?.reviews_count, '1');
      assert.equal(data?.reviews_undelivered, undefined);
      assert.equal(data?.resolution, 'EXPIRED');
    } finally {
      await runtime.stop();
    }
  });

  it('reviews seen while another instance holds the announcement survive the deletion, and are delivered by whoever finishes it', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    // Another instance created the entry and died while announcing (its lease runs 400 ms).
    tp.put(makeRequest('r1'), false);
    tp.setPluginData('r1', 'chat', { user: 'alice@example.com', roles: 'editor', announced: `run:other~dead:${Date.now()}` });
    const runtime = await start(tp, log, { leaseMs: 400, handlerTimeoutMs: 300 });
    try {
      tp.review('r1', 'bob', 'APPROVED', 'fine');
      await waitUntil(() => (tp.pluginData('r1', 'chat')?.reviews_undelivered ?? '').includes('bob'), 'the review kept while the announcement is held');
      tp.remove('r1');
      await waitUntil(() => log.includes('expired:r1'), 'the expiry, once the lease ran out', 10_000);
      await runtime.idle();
      assert.deepEqual(log, ['reviewed:r1:bob', 'expired:r1']);
      const data = tp.pluginData('r1', 'chat');
      assert.equal(data?.reviews_count, '1');
      assert.equal(data?.resolution, 'EXPIRED');
    } finally {
      await runtime.stop();
    }
  });

  it('reviews are in plugin data before the first effect of their delivery (written with its record)', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    const atEffect: string[] = [];
    const runtime = await start(
      tp,
      log,
      {},
      {
        onReviewed: async (req, added, ev) => {
          await ev.once(`reviewed:${added.map((r) => r.author).join('+')}`, async () => {
            atEffect.push(tp.pluginData(req.id, 'chat')?.reviews_undelivered ?? '');
          });
        },
      },
    );
    try {
      tp.put(makeRequest('r1'));
      await waitUntil(() => log.includes('pending:r1'), 'announced');
      await runtime.idle();
      const writes = tp.callCount('updatePluginData');
      tp.review('r1', 'bob', 'APPROVED', 'fine');
      await waitUntil(() => tp.pluginData('r1', 'chat')?.reviews_count === '1', 'delivered');
      await runtime.idle();
      assert.equal(atEffect.length, 1);
      assert.match(atEffect[0]!, /bob/, 'the review was stored before the effect ran');
      assert.equal(tp.pluginData('r1', 'chat')?.reviews_undelivered ?? '', '', 'cleared once delivered');
      assert.equal(tp.callCount('updatePluginData') - writes, 2, 'no extra write: the effect record and the step record');
    } finally {
      await runtime.stop();
    }
  });

  it('while another instance holds a review delivery, later events of the request are not held back', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    tp.put(makeRequest('r1', { reviews: [makeReview('bob')] }), false);
    tp.setPluginData('r1', 'chat', { user: 'alice@example.com', roles: 'editor', announced: 'ok', 'fx/review/0': `run:other~alive:${Date.now()}` });
    // One effect per review, as the kits make them. Slow retries: a BUSY step retried in place
    // would hold carol's event back for seconds.
    const perReview: Partial<AdapterHandlers> = {
      onReviewed: async (req, added, ev) => {
        const first = req.reviews.length - added.length;
        for (const [k, r] of added.entries()) await ev.once(`review/${first + k}`, async () => void log.push(`reviewed:${r.author}`));
      },
    };
    const runtime = await start(tp, log, { leaseMs: 10_000, retry: { attempts: 5, baseMs: 3_000, capMs: 5_000 } }, perReview);
    try {
      await runtime.idle();
      tp.review('r1', 'carol', 'APPROVED', '');
      await waitUntil(() => (tp.pluginData('r1', 'chat')?.reviews_undelivered ?? '').includes('carol'), 'carol kept at once', 1_500);
      assert.deepEqual(log, [], 'nothing done over the other instance');
    } finally {
      await runtime.stop();
    }
  });

  it('a restart with many finished pending requests reads plugin data in bulk and calls no handler', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    let runtime = await start(tp, log);
    for (let i = 0; i < 200; i += 1) tp.put(makeRequest(`r${i}`));
    await waitUntil(() => log.length === 200, 'all announced');
    await runtime.idle();
    await runtime.stop();
    tp.calls.clear();
    log.length = 0;
    runtime = await start(tp, log);
    try {
      await settle(runtime);
      assert.equal(log.length, 0);
      assert.equal(tp.callCount('getPluginData'), 0, 'no per-request reads');
      assert.equal(tp.callCount('updatePluginData'), 0, 'no writes');
      assert.ok(tp.callCount('listPluginData') >= 1);
    } finally {
      await runtime.stop();
    }
  });

  it('reads plugin data before listing requests (an entry whose request is missing is gone, never new)', async () => {
    const tp = new MemoryTeleport();
    const order: string[] = [];
    const list = tp.listAccessRequests.bind(tp);
    const bulk = tp.listPluginData.bind(tp);
    tp.listAccessRequests = async (f) => (order.push('requests'), list(f));
    tp.listPluginData = async (p) => (order.push('plugin data'), bulk(p));
    const runtime = await start(tp, []);
    try {
      await runtime.reconcile();
      assert.deepEqual(order.slice(0, 2), ['plugin data', 'requests']);
    } finally {
      await runtime.stop();
    }
  });

  it('without bulk plugin data (or list permission) it still announces requests created in a gap', async () => {
    const tp = new MemoryTeleport();
    tp.bulkPluginData = false;
    const log: string[] = [];
    const runtime = await start(tp, log);
    try {
      tp.put(makeRequest('gap'), false);
      await settle(runtime);
      assert.deepEqual(log, ['pending:gap']);
    } finally {
      await runtime.stop();
    }
  });

  it('two instances: each request is announced, reviewed and resolved once in total', async () => {
    const tp = new MemoryTeleport();
    const log: string[] = [];
    const a = await start(tp, log, { instanceId: 'a' });
    const b = await start(tp, log, { instanceId: 'b' });
    try {
      for (let i = 0; i < 20; i += 1) tp.put(makeRequest(`r${i}`, { reviews: i % 2 ? [makeReview('bob')] : [] }));
      for (let i = 0; i < 20; i += 1) tp.review(`r${i}`, 'carol', 'APPROVED', '', true);
      await waitUntil(() => log.filter((e) => e.startsWith('resolved:')).length === 20, 'all resolved');
      await Promise.all([a.idle(), b.idle()]);
      await Promise.all([settle(a), settle(b)]);
      const counts = new Map<string, number>();
      for (const e of log) counts.set(e, (counts.get(e) ?? 0) + 1);
      assert.deepEqual(
        [...counts.values()].filter((n) => n > 1),
        [],
        `duplicates: ${[...counts].filter(([, n]) => n > 1).map(([e]) => e)}`,
      );
      assert.equal(log.filter((e) => e.startsWith('pending:')).length, 20);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
