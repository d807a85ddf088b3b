import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FakeTeleport, rawTeleportClient, type RawTeleportClient } from '../src/index.js';

let tp: FakeTeleport;
let c: RawTeleportClient;

before(async () => {
  tp = await FakeTeleport.start();
  c = await rawTeleportClient(tp, { user: 'access-plugin' });
});

after(async () => {
  c.close();
  await tp.close();
});

function openWatch(): { stream: grpc.ClientReadableStream<{ Type: string }>; events: string[]; error: () => grpc.ServiceError | undefined } {
  const stream = c.stream<{ Type: string }>('WatchEvents', { Kinds: [{ Kind: 'access_request' }] });
  const events: string[] = [];
  let error: grpc.ServiceError | undefined;
  stream.on('data', (e: { Type: string }) => {
    events.push(e.Type);
    tp.state.emit('change');
  });
  stream.on('error', (e: grpc.ServiceError) => {
    error = e;
    tp.state.emit('change');
  });
  return { stream, events, error: () => error };
}

test('dropWatchStreams ends every open stream with UNAVAILABLE', async () => {
  const a = openWatch();
  const b = openWatch();
  await tp.waitFor(() => a.events.length === 1 && b.events.length === 1 && tp.openWatchCount === 2);
  assert.equal(tp.faults.dropWatchStreams(), 2);
  const [ea, eb] = await tp.waitFor(() => a.error() && b.error() && [a.error()!, b.error()!]);
  assert.equal(ea.code, grpc.status.UNAVAILABLE);
  assert.equal(eb.code, grpc.status.UNAVAILABLE);
  assert.equal(tp.openWatchCount, 0);
});

test('refuseStreams refuses new watches for a while, then accepts again', async () => {
  tp.faults.refuseStreams(1500);
  const refused = openWatch();
  const err = await tp.waitFor(() => refused.error());
  assert.equal(err.code, grpc.status.UNAVAILABLE);
  // Wait for the window to pass by retrying, as a reconnecting client would.
  const ok = await tp.waitFor(
    async () => {
      const w = openWatch();
      const outcome = await tp.waitFor(() => (w.events.length > 0 ? 'ok' : w.error() ? 'refused' : undefined), 4000).catch(() => 'timeout');
      if (outcome === 'ok') return w;
      return undefined;
    },
    6000,
    'watch accepted after the refusal window',
  );
  assert.deepEqual(ok.events, ['INIT']);
  ok.stream.cancel();
});

test('failNext fails the next n calls of one method with the given code', async () => {
  tp.faults.failNext('Ping', 2, grpc.status.RESOURCE_EXHAUSTED);
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) {
    try {
      await c.call('Ping', {});
      codes.push(grpc.status.OK);
    } catch (err) {
      codes.push((err as grpc.ServiceError).code);
    }
  }
  assert.deepEqual(codes, [grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.OK]);
  tp.faults.failNext('GetPluginData');
  await assert.rejects(c.call('GetPluginData', { Kind: 'access_request', Resource: 'x', Plugin: 'p' }), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);
  const recorded = tp.calls.filter((r) => r.method === 'Ping').map((r) => r.code);
  assert.deepEqual(recorded.slice(-3), [grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED, grpc.status.OK]);
});

test('latency delays every call', async () => {
  tp.faults.latency(150);
  const t0 = Date.now();
  await c.call('Ping', {});
  const slow = Date.now() - t0;
  tp.faults.latency(0);
  assert.ok(slow >= 140, `took ${slow} ms`);
});

test('every RPC is recorded with its caller', async () => {
  const other = await rawTeleportClient(tp, { user: 'admin' });
  try {
    await other.call('Ping', {});
    const rec = tp.calls.filter((r) => r.method === 'Ping').at(-1);
    assert.equal(rec?.caller, 'admin');
    assert.deepEqual(rec?.request, {});
  } finally {
    other.close();
  }
});

test('keepalive pings more often than the enforced minimum get GOAWAY too_many_pings', async () => {
  const strict = await FakeTeleport.start({ keepaliveMinTimeMs: 2000 });
  const chatty = await rawTeleportClient(strict, {
    user: 'access-plugin',
    channelOptions: { 'grpc.keepalive_time_ms': 50, 'grpc.keepalive_permit_without_calls': 1 },
  });
  const polite = await rawTeleportClient(strict, { user: 'access-plugin' });
  try {
    await chatty.call('Ping', {});
    await polite.call('Ping', {});
    await strict.waitFor(() => strict.goaways.length > 0, 5000, 'GOAWAY');
    assert.equal(strict.goaways[0]?.reason, 'too_many_pings');
    assert.equal(strict.goaways.length, 1, 'a client without keepalive pings is left alone');
  } finally {
    chatty.close();
    polite.close();
    await strict.close();
  }
});
