import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AdapterHandlers, EventContext } from '../src/adapter.js';
import { PluginError } from '../src/errors.js';
import { Dispatcher, type DispatchTarget } from '../src/dispatcher/dispatcher.js';
import { createRuntimeMetrics } from '../src/http/metrics.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { accessRequestSnapshot } from '../src/ledger/accessRequestSnapshot.js';
import { lowerResolutionTag, upperResolutionTag } from '../src/ledger/fields.js';
import { ticketSnapshot } from '../src/ledger/ticketSnapshot.js';
import { createPluginDataStore } from '../src/ledger/pluginDataStore.js';
import type { AccessRequest } from '../src/teleport/types.js';
import type { WatcherEvent } from '../src/watcher/watcher.js';
import { MemoryTeleport, makeRequest, makeReview, waitUntil } from './dispatcher-memory-teleport.js';

type Entry = string;

function target(tp: MemoryTeleport, name: string, handlers: AdapterHandlers, layout: 'common' | 'ticket' = 'common'): DispatchTarget {
  const logger = createCaptureLogger().child({ adapter: name });
  return {
    name,
    handlers,
    store: createPluginDataStore(tp, name, { backoff: { baseMs: 1, capMs: 5 } }),
    logger,
    snapshot: layout === 'common' ? accessRequestSnapshot : ticketSnapshot,
    resolutionTag: layout === 'common' ? upperResolutionTag : lowerResolutionTag,
  };
}

/** Handlers that record what they saw, in order. */
function recorder(log: Entry[], extra: Partial<Record<'pending' | 'reviewed' | 'resolved' | 'expired', (ev: EventContext) => Promise<void>>> = {}): AdapterHandlers {
  return {
    async onPending(req, ev) {
      await extra.pending?.(ev);
      log.push(`pending:${req.id}`);
    },
    async onReviewed(req, added, ev) {
      await extra.reviewed?.(ev);
      log.push(`reviewed:${req.id}:${added.map((r) => r.author).join('+')}`);
    },
    async onResolved(req, ev) {
      await extra.resolved?.(ev);
      log.push(`resolved:${req.id}:${req.state}`);
    },
    async onExpired(id, ev) {
      await extra.expired?.(ev);
      log.push(`expired:${id}`);
    },
  };
}

const put = (request: AccessRequest, source: 'watch' | 'list' = 'watch'): WatcherEvent => ({ type: 'put', request, source });
const del = (requestId: string): WatcherEvent => ({ type: 'delete', requestId, source: 'watch' });

/** A request that exists in Teleport and whose PUT reaches the dispatcher. */
function arrive(tp: MemoryTeleport, d: Dispatcher, request: AccessRequest): void {
  tp.put(request, false);
  d.dispatch(put(request));
}

function fastDispatcher(targets: DispatchTarget[], extra: Partial<ConstructorParameters<typeof Dispatcher>[0]> = {}): Dispatcher {
  return new Dispatcher({ targets, logger: createCaptureLogger(), retry: { attempts: 3, baseMs: 1, capMs: 5 }, handlerTimeoutMs: 2000, ...extra });
}

/** The common case: one recording adapter, `chat`, on a fresh in-memory Teleport. */
function chatDispatcher(): { tp: MemoryTeleport; log: Entry[]; d: Dispatcher } {
  const tp = new MemoryTeleport();
  const log: Entry[] = [];
  return { tp, log, d: fastDispatcher([target(tp, 'chat', recorder(log))]) };
}

describe('dispatcher classification', () => {
  it('announces a pending request once, even when it arrives from the re-list and the watch', async () => {
    const { tp, log, d } = chatDispatcher();
    const req = makeRequest('r1', { roles: ['editor', 'auditor'], requestReason: 'deploy' });
    tp.put(req, false);
    d.dispatch(put(req, 'list'));
    d.dispatch(put(req, 'watch'));
    await d.idle();
    assert.deepEqual(log, ['pending:r1']);
    assert.deepEqual(tp.pluginData('r1', 'chat'), { user: 'alice@example.com', roles: 'editor,auditor', request_reason: 'deploy', announced: 'ok' });
  });

  it('reports only reviews beyond the stored count, and bumps reviews_count by CAS', async () => {
    const { tp, log, d } = chatDispatcher();
    let req = makeRequest('r1', { reviews: [makeReview('bob')] });
    arrive(tp, d, req);
    req = { ...req, reviews: [makeReview('bob'), makeReview('carol')] };
    d.dispatch(put(req));
    d.dispatch(put(req)); // a duplicate: nothing new
    await d.idle();
    assert.deepEqual(log, ['pending:r1', 'reviewed:r1:bob', 'reviewed:r1:carol']);
    assert.equal(tp.pluginData('r1', 'chat')?.reviews_count, '2');
  });

  it('resolves once: outstanding reviews first, then the resolution; a repeat is a no-op', async () => {
    const { tp, log, d } = chatDispatcher();
    const pending = makeRequest('r1');
    arrive(tp, d, pending);
    const approved = { ...pending, state: 'APPROVED' as const, resolveReason: 'ok by bob', reviews: [makeReview('bob')] };
    d.dispatch(put(approved));
    d.dispatch(put(approved));
    await d.idle();
    assert.deepEqual(log, ['pending:r1', 'reviewed:r1:bob', 'resolved:r1:APPROVED']);
    const data = tp.pluginData('r1', 'chat');
    assert.equal(data?.resolution, 'APPROVED');
    assert.equal(data?.resolve_reason, 'ok by bob');
  });

  it('does not change a resolution that is already recorded differently', async () => {
    const tp = new MemoryTeleport();
    const log: Entry[] = [];
    const t = target(tp, 'chat', recorder(log));
    const d = fastDispatcher([t]);
    const req = makeRequest('r1', { state: 'APPROVED' });
    tp.put(req, false);
    tp.setPluginData('r1', 'chat', { user: req.user, resolution: 'DENIED' });
    d.dispatch(put(req));
    await d.idle();
    assert.deepEqual(log, []);
    assert.equal(tp.pluginData('r1', 'chat')?.resolution, 'DENIED');
  });

  // DENIED: a resolution for a request never seen pending is ignored, as upstream.
  for (const state of ['DENIED', 'NONE'] as const) {
    it(`ignores a ${state} request it never saw pending, writing nothing`, async () => {
      const { tp, log, d } = chatDispatcher();
      const req = makeRequest('r1', { state });
      arrive(tp, d, req);
      await d.idle();
      assert.deepEqual(log, []);
      assert.equal(tp.pluginData('r1', 'chat'), undefined);
      assert.equal(tp.updates.length, 0);
    });
  }

  it('marks an unresolved deleted request EXPIRED once, and still announces it when the request is already gone', async () => {
    const { tp, log, d } = chatDispatcher();
    const a = makeRequest('a');
    const b = makeRequest('b');
    tp.put(a, false);
    tp.put(b, false);
    d.dispatch(put(a));
    d.dispatch(put(b));
    await d.idle();
    // a: Teleport still has the object (explicit delete racing the event): the expiry is recorded.
    d.dispatch(del('a'));
    d.dispatch(del('a'));
    await d.idle();
    assert.equal(tp.pluginData('a', 'chat')?.resolution, 'EXPIRED');
    // b: gone for real; plugin data outlives it but cannot be written.
    tp.remove('b', false);
    d.dispatch(del('b'));
    await d.idle();
    assert.deepEqual(log, ['pending:a', 'pending:b', 'expired:a', 'expired:b']);
  });

  it('does not expire a resolved request, and ignores deletions without plugin data', async () => {
    const { tp, log, d } = chatDispatcher();
    const req = makeRequest('r1');
    arrive(tp, d, req);
    d.dispatch(put({ ...req, state: 'DENIED' }));
    d.dispatch(del('r1'));
    d.dispatch(del('unknown'));
    await d.idle();
    assert.deepEqual(log, ['pending:r1', 'resolved:r1:DENIED']);
  });

  it("continues a Go plugin's plugin data: no re-announcement, only new reviews, then the resolution", async () => {
    const tp = new MemoryTeleport();
    const log: Entry[] = [];
    const seen: Array<string | undefined> = [];
    const d = fastDispatcher([target(tp, 'chat', recorder(log, { reviewed: async (ev) => void seen.push(ev.data?.messages) }))]);
    const req = makeRequest('r1', { reviews: [makeReview('bob'), makeReview('carol')] });
    tp.put(req, false);
    tp.setPluginData('r1', 'chat', { user: req.user, roles: 'editor', request_reason: 'please', reviews_count: '1', messages: 'C1/1700000000.000100' });
    d.dispatch(put(req));
    d.dispatch(put({ ...req, state: 'APPROVED' }));
    await d.idle();
    assert.deepEqual(log, ['reviewed:r1:carol', 'resolved:r1:APPROVED']);
    assert.deepEqual(seen, ['C1/1700000000.000100']);
    assert.equal(tp.pluginData('r1', 'chat')?.reviews_count, '2');
  });

  it("uses the adapter's layout: ticket keys and lower-case resolution", async () => {
    const tp = new MemoryTeleport();
    const log: Entry[] = [];
    const d = fastDispatcher([target(tp, 'pagerduty', recorder(log), 'ticket')]);
    const req = makeRequest('r1');
    arrive(tp, d, req);
    d.dispatch(put({ ...req, state: 'PROMOTED' }));
    await d.idle();
    const data = tp.pluginData('r1', 'pagerduty');
    assert.equal(data?.created, String(Math.floor(req.created!.getTime() / 1000)));
    assert.equal(data?.resolution, 'promoted');
    assert.deepEqual(log, ['pending:r1', 'resolved:r1:PROMOTED']);
  });

  it('lets the handler store its own keys through ev.updateData', async () => {
    const tp = new MemoryTeleport();
    const d = fastDispatcher([
      target(tp, 'chat', {
        async onPending(_req, ev) {
          await ev.updateData((cur) => ({ ...cur, messages: 'C9/42' }));
        },
      }),
    ]);
    const req = makeRequest('r1');
    arrive(tp, d, req);
    await d.idle();
    assert.equal(tp.pluginData('r1', 'chat')?.messages, 'C9/42');
  });
});

describe('dispatcher ordering and isolation', () => {
  it("processes one request's events strictly in order while other requests proceed", async () => {
    const tp = new MemoryTeleport();
    const log: Entry[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = fastDispatcher([
      target(
        tp,
        'chat',
        recorder(log, {
          pending: async (ev) => {
            if (ev.requestId === 'slow') await gate;
          },
        }),
      ),
    ]);
    const slow = makeRequest('slow');
    const fast = makeRequest('fast');
    tp.put(slow, false);
    tp.put(fast, false);
    d.dispatch(put(slow));
    d.dispatch(put({ ...slow, reviews: [makeReview('bob')] }));
    d.dispatch(put({ ...slow, state: 'APPROVED', reviews: [makeReview('bob')] }));
    d.dispatch(put(fast));
    d.dispatch(put({ ...fast, state: 'DENIED' }));
    await waitUntil(() => log.includes('resolved:fast:DENIED'), 'the fast request to finish while the slow one waits');
    assert.ok(!log.some((e) => e.endsWith(':slow') || e.includes(':slow:')), `slow request must not have progressed: ${log.join(', ')}`);
    release();
    await d.idle();
    assert.deepEqual(
      log.filter((e) => e.includes('slow')),
      ['pending:slow', 'reviewed:slow:bob', 'resolved:slow:APPROVED'],
    );
  });

  it('caps the requests an adapter handles at once (maxConcurrency)', async () => {
    const tp = new MemoryTeleport();
    const log: Entry[] = [];
    let started = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const d = fastDispatcher(
      [
        target(
          tp,
          'chat',
          recorder(log, {
            pending: async () => {
              started++;
              await gate;
            },
          }),
        ),
      ],
      { maxConcurrency: 2 },
    );
    for (const id of ['a', 'b', 'c', 'd']) {
      const r = makeRequest(id);
      arrive(tp, d, r);
    }
    await waitUntil(() => started === 2, 'two handlers to start');
    assert.deepEqual(d.backlog(), { chat: { queued: 2, active: 2 } });
    release();
    await d.idle();
    assert.equal(started, 4);
    assert.deepEqual([...log].sort(), ['pending:a', 'pending:b', 'pending:c', 'pending:d']);
  });

  it('an adapter that hangs does not delay another adapter', async () => {
    const tp = new MemoryTeleport();
    const good: Entry[] = [];
    const hung: Entry[] = [];
    let release!: () => void;
    const never = new Promise<void>((r) => (release = r));
    const d = fastDispatcher([target(tp, 'hung', recorder(hung, { pending: () => never })), target(tp, 'good', recorder(good))], { handlerTimeoutMs: 10_000 });
    const reqs = ['a', 'b', 'c'].map((id) => makeRequest(id));
    for (const r of reqs) {
      arrive(tp, d, r);
      d.dispatch(put({ ...r, reviews: [makeReview('bob')] }));
      d.dispatch(put({ ...r, state: 'APPROVED', reviews: [makeReview('bob')] }));
    }
    try {
      await waitUntil(() => good.length === 9, 'the healthy adapter to get every event');
      for (const id of ['a', 'b', 'c']) {
        assert.deepEqual(
          good.filter((e) => e.split(':')[1] === id),
          [`pending:${id}`, `reviewed:${id}:bob`, `resolved:${id}:APPROVED`],
        );
      }
      assert.deepEqual(hung, []);
    } finally {
      release();
    }
    await d.idle();
    assert.equal(hung.length, 9);
  });

  it('an adapter that always throws does not break another, and records nothing it did not deliver', async () => {
    const tp = new MemoryTeleport();
    const good: Entry[] = [];
    const metrics = createRuntimeMetrics();
    const failing: AdapterHandlers = {
      onPending: async () => {
        throw new Error('boom');
      },
      onResolved: () => {
        throw new Error('sync boom');
      },
    };
    const d = fastDispatcher([target(tp, 'bad', failing), target(tp, 'good', recorder(good))], { metrics });
    const req = makeRequest('r1');
    arrive(tp, d, req);
    d.dispatch(put({ ...req, state: 'APPROVED' }));
    await d.idle();
    assert.deepEqual(good, ['pending:r1', 'resolved:r1:APPROVED']);
    const failures = (await metrics.handlerFailures.get()).values;
    // The announcement never succeeded, so each event tried it again and went no further.
    assert.deepEqual(
      failures.map((v) => [v.labels.adapter, v.labels.handler, v.value]),
      [['bad', 'onPending', 2]],
    );
    const bad = tp.pluginData('r1', 'bad');
    assert.match(bad?.announced ?? '', /^run:/, 'the announcement stays owed');
    assert.equal(bad?.resolution, undefined, 'nothing recorded that was not delivered');
    assert.equal(tp.pluginData('r1', 'good')?.resolution, 'APPROVED');
  });
});

describe('dispatcher retries and timeouts', () => {
  it('retries a failed handler (handler only, not the classification) until it succeeds', async () => {
    const tp = new MemoryTeleport();
    const attempts: number[] = [];
    const metrics = createRuntimeMetrics();
    const d = fastDispatcher(
      [
        target(tp, 'chat', {
          async onPending(_req, ev) {
            attempts.push(ev.attempt);
            if (ev.attempt < 3) throw new Error('service unavailable');
          },
        }),
      ],
      { metrics, retry: { attempts: 5, baseMs: 1, capMs: 5 } },
    );
    const req = makeRequest('r1');
    arrive(tp, d, req);
    await d.idle();
    assert.deepEqual(attempts, [1, 2, 3]);
    assert.equal((await metrics.handlerRetries.get()).values[0]?.value, 2);
    assert.equal((await metrics.handlerFailures.get()).values.length, 0);
  });

  it('gives up after the configured tries, then logs the adapter and the request id', async () => {
    const tp = new MemoryTeleport();
    const capture = createCaptureLogger();
    let calls = 0;
    const chat = target(tp, 'chat', {
      async onPending() {
        calls++;
        throw new Error('down');
      },
    });
    const d = fastDispatcher([{ ...chat, logger: capture.child({ adapter: 'chat' }) }]);
    const req = makeRequest('r1');
    arrive(tp, d, req);
    await d.idle();
    assert.equal(calls, 3);
    const errors = capture.entries.filter((e) => e.level === 'error');
    assert.deepEqual(
      errors.map((e) => [e.message, e.fields['adapter'], e.fields['requestId'], e.fields['handler'], e.fields['attempts'], e.fields['error']]),
      [['handler failed; the reconciliation will try again later', 'chat', 'r1', 'onPending', 3, 'down']],
    );
    assert.equal(capture.entries.filter((e) => e.message === 'handler failed; retrying').length, 2);
  });

  it('aborts a handler at its timeout and retries it', async () => {
    const tp = new MemoryTeleport();
    const reasons: string[] = [];
    const d = fastDispatcher(
      [
        target(tp, 'chat', {
          async onPending(_req, ev) {
            if (ev.attempt === 1) {
              await new Promise<void>((resolve) => ev.signal.addEventListener('abort', () => resolve(), { once: true }));
              reasons.push(String((ev.signal.reason as Error).message));
              throw ev.signal.reason;
            }
            reasons.push('second try ok');
          },
        }),
      ],
      { handlerTimeoutMs: 50 },
    );
    const req = makeRequest('r1');
    arrive(tp, d, req);
    await d.idle();
    assert.match(reasons[0] ?? '', /did not finish within 50 ms/);
    assert.equal(reasons[1], 'second try ok');
  });

  it('never runs two attempts at once: a retry waits for an attempt that ignored its timeout', async () => {
    const tp = new MemoryTeleport();
    let running = 0;
    let maxRunning = 0;
    const attempts: number[] = [];
    const d = fastDispatcher(
      [
        target(tp, 'chat', {
          async onPending(_req, ev) {
            running++;
            maxRunning = Math.max(maxRunning, running);
            attempts.push(ev.attempt);
            try {
              // The first attempt ignores its signal and finishes after its 50 ms timeout.
              if (ev.attempt === 1) await new Promise((r) => setTimeout(r, 80));
              if (ev.attempt === 1) throw new Error('late failure');
            } finally {
              running--;
            }
          },
        }),
      ],
      { handlerTimeoutMs: 50 },
    );
    arrive(tp, d, makeRequest('r1'));
    await d.idle();
    assert.deepEqual(attempts, [1, 2]);
    assert.equal(maxRunning, 1);
  });

  it('holds the request while a timed-out attempt is still running: neither its retry nor a later event overlaps it', async () => {
    const tp = new MemoryTeleport();
    const seen: string[] = [];
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const d = fastDispatcher(
      [
        target(tp, 'chat', {
          async onPending(_req, ev) {
            seen.push(`pending#${ev.attempt}`);
            if (ev.attempt === 1) {
              await stuck; // ignores its signal
              seen.push('attempt 1 ended');
              throw new Error('late failure');
            }
          },
          async onResolved() {
            seen.push('resolved');
          },
        }),
      ],
      { handlerTimeoutMs: 30 },
    );
    const req = makeRequest('r1');
    arrive(tp, d, req);
    d.dispatch(put({ ...req, state: 'APPROVED' }));
    // Well past the timeout (and the wait for settling): nothing else has started for r1.
    await waitUntil(() => seen.length === 1, 'the first attempt');
    await new Promise((r) => setTimeout(r, 150));
    assert.deepEqual(seen, ['pending#1']);
    release();
    await d.idle();
    assert.deepEqual(seen, ['pending#1', 'attempt 1 ended', 'pending#2', 'resolved']);
  });

  it('retries plugin-data conflicts inside the CAS loop', async () => {
    const tp = new MemoryTeleport();
    const log: Entry[] = [];
    const metrics = createRuntimeMetrics();
    const d = fastDispatcher([target(tp, 'chat', recorder(log))], { metrics });
    const req = makeRequest('r1');
    arrive(tp, d, req);
    await d.idle();
    tp.failNext('updatePluginData', new PluginError('COMPARE_FAILED', 'injected conflict'), 2);
    d.dispatch(put({ ...req, reviews: [makeReview('bob')] }));
    await d.idle();
    assert.deepEqual(log, ['pending:r1', 'reviewed:r1:bob']);
    assert.equal(tp.pluginData('r1', 'chat')?.reviews_count, '1');
  });
});

describe('dispatcher shutdown', () => {
  /** Dispatches one pending request to a `chat` adapter whose onPending runs `work`; resolves once it has started. */
  async function withHandlerInFlight(work: (ev: EventContext) => Promise<void>): Promise<Dispatcher> {
    const tp = new MemoryTeleport();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const d = fastDispatcher([
      target(tp, 'chat', {
        async onPending(_req, ev) {
          started();
          await work(ev);
        },
      }),
    ]);
    const req = makeRequest('r1');
    arrive(tp, d, req);
    await running;
    return d;
  }

  it('lets an in-flight handler finish within the budget', async () => {
    let finished = false;
    let aborted = false;
    const d = await withHandlerInFlight(async (ev) => {
      await new Promise((r) => setTimeout(r, 150));
      aborted = ev.signal.aborted;
      finished = true;
    });
    const drained = await d.stop(5000);
    assert.equal(drained, true);
    assert.equal(finished, true);
    assert.equal(aborted, false);
  });

  it('aborts what is still running when the budget is spent', async () => {
    let reason: unknown;
    const d = await withHandlerInFlight(async (ev) => {
      await new Promise<void>((resolve) => ev.signal.addEventListener('abort', () => resolve(), { once: true }));
      reason = ev.signal.reason;
    });
    const t0 = Date.now();
    const drained = await d.stop(100);
    assert.equal(drained, false);
    assert.ok(Date.now() - t0 < 2000);
    await waitUntil(() => reason !== undefined, 'the handler to see the abort');
    assert.match(String((reason as Error).message), /shutdown/);
  });
});

describe('KeyedQueue', () => {
  it('caps concurrency across keys and keeps each key in order', async () => {
    const { KeyedQueue } = await import('../src/dispatcher/keyedQueue.js');
    let active = 0;
    let maxActive = 0;
    const seen: string[] = [];
    const q = new KeyedQueue<number>(2, async (key, n) => {
      active++;
      maxActive = Math.max(maxActive, active);
      await new Promise((r) => setTimeout(r, 2));
      seen.push(`${key}${n}`);
      active--;
    });
    for (let n = 0; n < 3; n++) for (const key of ['a', 'b', 'c', 'd']) q.push(key, n);
    assert.equal(q.queued + q.active, 12);
    await q.idle();
    assert.equal(maxActive, 2);
    for (const key of ['a', 'b', 'c', 'd'])
      assert.deepEqual(
        seen.filter((s) => s.startsWith(key)),
        [`${key}0`, `${key}1`, `${key}2`],
      );
    assert.equal(q.queued, 0);
  });
});
