import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defineAdapter, isPluginError, startRuntime, type TeleportActions } from '@teleport-plugin/core';
import { FakeTeleport, startHarness, type Harness } from '@teleport-plugin/testkit';
import { createRecorderAdapter, type RecordedEvent } from './lib/recorder-adapter.js';

function summary(events: RecordedEvent[], id: string): string[] {
  return events.filter((e) => e.id === id).map((e) => (e.event === 'reviewed' ? `${e.event}:${e.authors.join('+')}` : e.event));
}

describe('runtime against the fake Teleport', () => {
  let h: Harness;
  const events: RecordedEvent[] = [];
  let actions: TeleportActions | undefined;

  before(async () => {
    const teleport = await FakeTeleport.start();
    teleport.addRequester('alice@example.com');
    teleport.addReviewer('bob');
    teleport.addReviewer('carol');
    const probe = defineAdapter<unknown>({
      name: 'probe',
      parseConfig: () => ({}),
      async setup(ctx) {
        actions = ctx.teleport;
        return {};
      },
    });
    h = await startHarness({
      teleport,
      pluginUser: { canReview: true, canSetState: true },
      adapters: [
        { adapter: createRecorderAdapter(), config: { record: (e: RecordedEvent) => events.push(e), autoApproveMarker: '[auto]' } },
        { adapter: probe, config: {} },
      ],
    });
  });

  after(async () => {
    await h?.stop();
    await h?.teleport.close();
  });

  it('is ready once the watch is initialised', () => {
    assert.equal(h.runtime.ready, true);
    assert.deepEqual(h.runtime.readiness().adapters, { recorder: { healthy: true }, probe: { healthy: true } });
    assert.equal(h.runtime.cluster.clusterName, h.teleport.clusterName);
  });

  it('walks a request through pending, reviews and approval, once each', async () => {
    const id = await h.teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'deploy' });
    await h.teleport.waitFor(() => summary(events, id).length === 1, 5000, 'pending');
    await h.teleport.admin.review(id, { author: 'bob', state: 'APPROVED', reason: 'ok' });
    await h.teleport.waitFor(() => summary(events, id).includes('resolved'), 5000, 'resolution');
    assert.deepEqual(summary(events, id), ['pending', 'reviewed:bob', 'resolved']);
    const data = h.teleport.admin.pluginData(id, 'recorder');
    assert.equal(data?.user, 'alice@example.com');
    assert.equal(data?.roles, 'editor');
    assert.equal(data?.reviews_count, '1');
    assert.equal(data?.resolution, 'APPROVED');
  });

  it('announces expiry of an unresolved request', async () => {
    const id = await h.teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
    await h.teleport.waitFor(() => summary(events, id).length === 1, 5000, 'pending');
    await h.teleport.admin.expire(id);
    await h.teleport.waitFor(() => summary(events, id).includes('expired'), 5000, 'expiry');
    const expired = events.find((e) => e.id === id && e.event === 'expired');
    assert.equal(expired?.data?.user, 'alice@example.com');
  });

  it('submits reviews through the context and maps "already reviewed" to an outcome', async () => {
    const id = await h.teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'please [auto]' });
    await h.teleport.waitFor(() => h.teleport.admin.getRequest(id)?.state === 'APPROVED', 5000, 'the auto-approval');
    const again = await actions!.submitReview(id, { proposedState: 'APPROVED', reason: 'twice' });
    assert.deepEqual(again, { outcome: 'already-reviewed' });
    await h.teleport.waitFor(() => summary(events, id).includes('resolved'), 5000, 'resolution');
    assert.deepEqual(summary(events, id), ['pending', 'reviewed:access-plugin', 'resolved']);
  });

  it('sets a request state through the context, recording the delegator', async () => {
    const id = await h.teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'decided elsewhere' });
    await h.teleport.waitFor(() => summary(events, id).includes('pending'), 5000, 'the announcement');
    await actions!.setState(id, { state: 'DENIED', reason: 'denied in the ticket', delegator: 'webhook:bob@example.com' });
    assert.equal(h.teleport.admin.getRequest(id)?.state, 'DENIED');
    const update = h.teleport.auditLog().find((e) => e.type === 'access_request.update' && e.requestId === id);
    assert.equal(update?.delegator, 'webhook:bob@example.com');
    await h.teleport.waitFor(() => summary(events, id).includes('resolved'), 5000, 'the resolution');
    assert.deepEqual(summary(events, id), ['pending', 'resolved']);
  });

  it('handles a request created while the watch was down (re-list after INIT)', async () => {
    const reconnectsBefore = (await h.runtime.metrics.reconnects.get()).values[0]?.value ?? 0;
    h.teleport.faults.refuseStreams(400);
    h.teleport.faults.dropWatchStreams();
    await h.teleport.waitFor(() => !h.runtime.readiness().watch.initialised, 5000, 'the watch to drop');
    const id = await h.teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'during the gap' });
    await h.teleport.waitFor(() => summary(events, id).includes('pending'), 10_000, 'the gap request to be announced');
    assert.equal(h.runtime.ready, true);
    const reconnects = (await h.runtime.metrics.reconnects.get()).values[0]?.value ?? 0;
    assert.ok(reconnects > reconnectsBefore);
    assert.deepEqual(summary(events, id), ['pending']);
  });

  it('does not re-announce known requests after a reconnect', async () => {
    const before = events.length;
    const reconnects = async (): Promise<number> => (await h.runtime.metrics.reconnects.get()).values[0]?.value ?? 0;
    const reconnectsBefore = await reconnects();
    h.teleport.faults.dropWatchStreams();
    await h.teleport.waitFor(async () => (await reconnects()) > reconnectsBefore && h.runtime.readiness().watch.initialised, 10_000, 'the watch to come back');
    await h.runtime.idle();
    const id = await h.teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
    await h.teleport.waitFor(() => summary(events, id).includes('pending'), 5000, 'a fresh request');
    assert.deepEqual(
      events.slice(before).map((e) => `${e.event}:${e.id}`),
      [`pending:${id}`],
    );
  });
});

describe('runtime start-up errors', () => {
  it('names the adapter whose setup failed', async () => {
    const teleport = await FakeTeleport.start();
    try {
      const broken = defineAdapter<unknown>({
        name: 'broken',
        parseConfig: () => ({}),
        async setup() {
          throw new Error('token rejected');
        },
      });
      await assert.rejects(
        startHarness({ teleport, adapters: [{ adapter: broken, config: {} }] }),
        (err: unknown) => isPluginError(err, 'ADAPTER_FAILED') && /adapter "broken" failed to start: token rejected/.test(err.message),
      );
    } finally {
      await teleport.close();
    }
  });

  it('refuses the same adapter twice', async () => {
    const adapter = createRecorderAdapter('twice');
    await assert.rejects(
      startRuntime({
        teleport: {} as never,
        logger: {
          error() {},
          warn() {},
          info() {},
          debug() {},
          trace() {},
          child() {
            return this;
          },
        },
        adapters: [
          { adapter, config: {} },
          { adapter, config: {} },
        ],
      }),
      (err: unknown) => isPluginError(err, 'ADAPTER_INVALID'),
    );
  });
});

describe('runtime HTTP, health and shutdown', () => {
  it('serves adapter routes, reflects reportHealth in /readyz, and shuts down in order within the budget', async () => {
    const order: string[] = [];
    let health: ((healthy: boolean, reason?: string) => void) | undefined;
    let ctxSignal: AbortSignal | undefined;
    let handlerStarted!: () => void;
    const started = new Promise<void>((r) => (handlerStarted = r));
    let handlerSawAbort: boolean | undefined;
    const slow = defineAdapter<unknown>({
      name: 'slow',
      parseConfig: () => ({}),
      async setup(ctx) {
        health = ctx.reportHealth;
        ctxSignal = ctx.signal;
        ctx.onClose(() => void order.push('close-1'));
        ctx.onClose(() => void order.push('close-2'));
        return {
          routes: [{ method: 'POST', path: '/hook', handle: async (req) => ({ status: 202, body: { got: req.rawBody.toString() } }) }],
          async onPending(_req, ev) {
            handlerStarted();
            await new Promise((r) => setTimeout(r, 300));
            handlerSawAbort = ev.signal.aborted;
            order.push('handler-done');
          },
          async stop() {
            order.push(`stop(signal aborted: ${ctxSignal?.aborted})`);
          },
        };
      },
    });
    const teleport = await FakeTeleport.start();
    teleport.addRequester('alice@example.com');
    const h = await startHarness({
      teleport,
      adapters: [{ adapter: slow, config: {} }],
      runtimeOptions: { http: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true },
    });
    try {
      const url = h.runtime.httpUrl!;
      const hook = await fetch(`${url}/slow/hook`, { method: 'POST', body: 'ping' });
      assert.equal(hook.status, 202);
      assert.deepEqual(await hook.json(), { got: 'ping' });

      let ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
      health!(false, 'token revoked');
      ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(((await ready.json()) as { adapters: unknown }).adapters, { slow: { healthy: false, reason: 'token revoked' } });
      health!(true);

      await teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
      await started;
      await h.runtime.stop(5000);
      assert.equal(handlerSawAbort, false, 'the in-flight handler got its budget');
      assert.deepEqual(order, ['handler-done', 'stop(signal aborted: true)', 'close-2', 'close-1']);
      await h.runtime.done;
      await assert.rejects(fetch(`${url}/healthz`));
    } finally {
      await h.stop();
      await teleport.close();
    }
  });
});

describe('runtime fail-fast', () => {
  it('a lost watch stream ends the runtime with a fatal error', async () => {
    const teleport = await FakeTeleport.start();
    const h = await startHarness({ teleport, adapters: [{ adapter: createRecorderAdapter(), config: {} }], runtimeOptions: { failFast: true } });
    try {
      teleport.faults.dropWatchStreams();
      await assert.rejects(h.runtime.done, (err: unknown) => isPluginError(err, 'CONNECTION_PROBLEM') && /fail-fast/.test(err.message));
      assert.equal(h.runtime.ready, false);
    } finally {
      await h.stop();
      await teleport.close();
    }
  });
});

describe('two replicas on one cluster', () => {
  it('announce each request, review and resolution once in total', async () => {
    const teleport = await FakeTeleport.start();
    teleport.addRequester('alice@example.com', { thresholds: [{ name: 'two', approve: 2, deny: 2 }] });
    teleport.addReviewer('bob');
    teleport.addReviewer('carol');
    const events: RecordedEvent[] = [];
    const replica = (n: number) => ({ adapter: createRecorderAdapter(), config: { record: (e: RecordedEvent) => events.push({ ...e, adapter: `replica${n}` }) } });
    const one = await startHarness({ teleport, adapters: [replica(1)] });
    const two = await startHarness({ teleport, adapters: [replica(2)] });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) ids.push(await teleport.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] }));
      for (const id of ids) await teleport.admin.review(id, { author: 'bob', state: 'APPROVED' });
      for (const id of ids) await teleport.admin.review(id, { author: 'carol', state: 'APPROVED' });
      await teleport.waitFor(() => ids.every((id) => summary(events, id).includes('resolved')), 10_000, 'every resolution');
      await Promise.all([one.runtime.idle(), two.runtime.idle()]);
      for (const id of ids) {
        const s = summary(events, id);
        assert.equal(s.filter((e) => e === 'pending').length, 1, `${id}: ${s.join(', ')}`);
        assert.equal(s.filter((e) => e === 'resolved').length, 1, `${id}: ${s.join(', ')}`);
        assert.deepEqual(
          s
            .filter((e) => e.startsWith('reviewed'))
            .join('+')
            .split(/[:+]/)
            .filter((x) => x !== 'reviewed')
            .sort(),
          ['bob', 'carol'],
          `${id}: each review reported once (${s.join(', ')})`,
        );
      }
      for (const id of ids) assert.equal(summary(events, id)[0], 'pending', id);
    } finally {
      await one.stop();
      await two.stop();
      await teleport.close();
    }
  });
});
