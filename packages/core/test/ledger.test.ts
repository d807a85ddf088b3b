import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError, isPluginError } from '../src/errors.js';
import { KnownData } from '../src/ledger/knownData.js';
import { createPluginDataStore } from '../src/ledger/pluginDataStore.js';
import { RequestLedger, type LedgerOptions } from '../src/ledger/requestLedger.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { httpFailure } from '../src/outbound/serviceFailure.js';
import { MemoryTeleport, makeRequest } from './dispatcher-memory-teleport.js';

const PLUGIN = 'chat';

function setup(overrides: Partial<LedgerOptions> = {}) {
  const tp = new MemoryTeleport();
  tp.put(makeRequest('r1'), false);
  const known = new KnownData();
  const logger = createCaptureLogger();
  const options: LedgerOptions = {
    store: createPluginDataStore(tp, PLUGIN),
    known,
    owner: 'me',
    leaseMs: 60_000,
    signal: new AbortController().signal,
    logger,
    writeBackoff: { baseMs: 1, capMs: 3 },
    ...overrides,
  };
  const ledger = (owner = options.owner) => new RequestLedger('r1', { ...options, owner });
  return { tp, known, logger, ledger, options };
}

const unknownOutcome = () => httpFailure({ service: 'Svc', operation: 'post', idempotent: false }, { status: 502 });
const refused = () => httpFailure({ service: 'Svc', operation: 'post', idempotent: false }, { status: 400, serviceCode: 'bad' });

describe('ledger: write-ahead effects', () => {
  it('runs an effect once and records it before and after; later calls return the stored result', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    assert.equal(await l.create({ user: 'alice' }), true);
    const seen: string[] = [];
    const result = await l.once('post/#ops', async () => {
      // The intent is durable before the effect runs.
      seen.push(tp.pluginData('r1', PLUGIN)?.['fx/post/#ops'] ?? '');
      return 'C1/1.0';
    });
    assert.equal(result, 'C1/1.0');
    assert.match(seen[0] ?? '', /^run:me:\d+$/);
    // The done record is written behind (it joins the next write); flush() waits for it.
    assert.equal(l.data?.['fx/post/#ops'], 'ok:C1/1.0', 'the view shows it at once');
    await l.flush();
    assert.equal(tp.pluginData('r1', PLUGIN)?.['fx/post/#ops'], 'ok:C1/1.0');
    let again = 0;
    assert.equal(await ledger().once('post/#ops', async () => void again++), 'C1/1.0');
    assert.equal(again, 0);
  });

  it('applies layout keys with the done record, in the same write', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    const before = tp.updates.length;
    await l.once('post/a', async () => 'C1/1.0', { record: (d, r) => ({ ...d, messages: r }) });
    await l.flush();
    assert.equal(tp.updates.length - before, 2, 'one write for the intent, one for result + layout');
    assert.equal(tp.pluginData('r1', PLUGIN)?.messages, 'C1/1.0');
  });

  it('a refusal clears the intent, so the next attempt simply does it', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    await assert.rejects(l.once('post/a', async () => Promise.reject(refused())));
    assert.equal(tp.pluginData('r1', PLUGIN)?.['fx/post/a'], undefined);
    let finds = 0;
    assert.equal(await ledger().once('post/a', async () => 'ok-2', { find: async () => void finds++ as undefined }), 'ok-2');
    assert.equal(finds, 0, 'nothing may have happened, so the service is not asked');
  });

  it('an unknown outcome keeps the intent; the next attempt asks the service and does not repeat what it finds', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    await assert.rejects(l.once('post/a', async () => Promise.reject(unknownOutcome())));
    assert.match(tp.pluginData('r1', PLUGIN)?.['fx/post/a'] ?? '', /^run:me:/);
    let runs = 0;
    const again = ledger();
    const result = await again.once('post/a', async () => void runs++, { find: async () => 'C1/9.9', record: (d, r) => ({ ...d, messages: r }) });
    await again.flush();
    assert.equal(result, 'C1/9.9');
    assert.equal(runs, 0);
    assert.equal(tp.pluginData('r1', PLUGIN)?.messages, 'C1/9.9');
  });

  it('an unknown outcome the service says did not happen is done again', async () => {
    const { ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    await assert.rejects(l.once('post/a', async () => Promise.reject(unknownOutcome())));
    let runs = 0;
    assert.equal(await ledger().once('post/a', async () => (runs++, 'second'), { find: async () => undefined }), 'second');
    assert.equal(runs, 1);
  });

  it('without find: skip (at most once) by default, or redo when the effect says so', async () => {
    for (const mode of ['skip', 'redo'] as const) {
      const { ledger } = setup();
      const l = ledger();
      await l.create({ user: 'alice' });
      await assert.rejects(l.once('mail/a', async () => Promise.reject(unknownOutcome())));
      let runs = 0;
      await ledger().once('mail/a', async () => void runs++, mode === 'skip' ? {} : { ifUnknown: 'redo' });
      assert.equal(runs, mode === 'skip' ? 0 : 1, mode);
    }
  });

  it('leaves a fresh intent of another instance alone (BUSY), takes over a stale one after asking the service', async () => {
    const { tp, ledger, options } = setup({ leaseMs: 1_000 });
    tp.setPluginData('r1', PLUGIN, { user: 'alice', 'fx/post/a': `run:other:${Date.now()}` });
    await assert.rejects(
      ledger().once('post/a', async () => 'mine'),
      (err: unknown) => isPluginError(err, 'BUSY'),
    );
    tp.setPluginData('r1', PLUGIN, { user: 'alice', 'fx/post/a': `run:other:${Date.now() - 5_000}` });
    options.known.forget('r1');
    const asked: string[] = [];
    const result = await ledger().once('post/a', async () => 'mine', {
      find: async () => {
        asked.push('find');
        return undefined;
      },
    });
    assert.deepEqual(asked, ['find']);
    assert.equal(result, 'mine');
  });

  it('two instances racing for one effect: exactly one runs it', async () => {
    const { tp, ledger } = setup();
    await ledger('a').create({ user: 'alice' });
    const a = ledger('a');
    const b = ledger('b');
    await a.load();
    await b.load();
    let runs = 0;
    const effect = async () => {
      runs += 1;
      await new Promise((r) => setTimeout(r, 10));
      return 'C1/1.0';
    };
    const outcomes = await Promise.allSettled([a.once('post/x', effect), b.once('post/x', effect)]);
    await Promise.allSettled([a.flush(), b.flush()]);
    assert.equal(runs, 1);
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ['fulfilled', 'rejected']);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    assert.ok(isPluginError(rejected.reason, 'BUSY'));
    assert.equal(tp.pluginData('r1', PLUGIN)?.['fx/post/x'], 'ok:C1/1.0');
  });

  it('folds concurrent intents of one request into one compare-and-swap', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    const before = tp.updates.length;
    const gates: Array<() => void> = [];
    const runs = ['a', 'b', 'c'].map((n) =>
      l.once(`post/${n}`, async () => {
        await new Promise<void>((r) => gates.push(r));
        return n;
      }),
    );
    while (gates.length < 3) await new Promise((r) => setImmediate(r));
    assert.equal(tp.updates.length - before, 1, 'three intents, one write');
    for (const g of gates) g();
    assert.deepEqual(await Promise.all(runs), ['a', 'b', 'c']);
    assert.ok(tp.updates.length - before <= 3);
  });

  it('writes against what it last saw; a concurrent writer costs a re-read and its keys survive', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    // A Go plugin (or a replica) writes meanwhile.
    tp.setPluginData('r1', PLUGIN, { ...tp.pluginData('r1', PLUGIN), user: 'alice', reviews_count: '1' });
    await l.update((d) => ({ ...d, messages: 'C1/1' }));
    assert.deepEqual(tp.pluginData('r1', PLUGIN), { user: 'alice', reviews_count: '1', messages: 'C1/1' });
  });

  it('retries a plugin-data write that fails transiently, bound to shutdown rather than to the caller', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    tp.failNext('updatePluginData', new PluginError('CONNECTION_PROBLEM', 'unavailable'), 3);
    await l.update((d) => ({ ...d, messages: 'C1/1' }));
    assert.equal(tp.pluginData('r1', PLUGIN)?.messages, 'C1/1');
  });

  it('keeps recording after the request is deleted (its entry stays writable); cannot create one for a gone request', async () => {
    const { tp, ledger } = setup();
    const l = ledger();
    await l.create({ user: 'alice' });
    tp.remove('r1', false);
    await l.once('expired/a', async () => 'sent');
    await l.flush();
    assert.equal(tp.pluginData('r1', PLUGIN)?.['fx/expired/a'], 'ok:sent');
    const gone = new RequestLedger('r2', {
      store: createPluginDataStore(tp, PLUGIN),
      known: new KnownData(),
      owner: 'me',
      leaseMs: 1,
      signal: new AbortController().signal,
      logger: createCaptureLogger(),
    });
    gone.assumeAbsent();
    await assert.rejects(gone.create({ user: 'x' }), (err: unknown) => isPluginError(err, 'NOT_FOUND'));
  });

  it('a done record that cannot be written poisons the ledger: nothing queued after it lands, until a fresh read', async () => {
    const { tp, ledger } = setup({ writeAttempts: 2 });
    const l = ledger();
    await l.create({ user: 'alice' });
    await l.once('post/a', async () => 'C1/1.0');
    // The done record and the step's own record would share a write; Teleport refuses it for good.
    tp.failNext('updatePluginData', new PluginError('ACCESS_DENIED', 'denied'), 1);
    await assert.rejects(l.update((d) => ({ ...d, announced: 'ok' })));
    assert.equal(tp.pluginData('r1', PLUGIN)?.announced, undefined, 'the step is not recorded over the lost record');
    await assert.rejects(
      l.update((d) => ({ ...d, other: '1' })),
      'later writes fail too',
    );
    await l.load(true);
    // The record still says run: the next attempt finds the effect instead of repeating it.
    let runs = 0;
    assert.equal(await l.once('post/a', async () => void runs++, { find: async () => 'C1/1.0' }), 'C1/1.0');
    assert.equal(runs, 0);
    await l.update((d) => ({ ...d, announced: 'ok' }));
    assert.equal(tp.pluginData('r1', PLUGIN)?.['fx/post/a'], 'ok:C1/1.0');
  });

  it('creates optimistically without reading; an existing entry turns the create into a read', async () => {
    const { tp, ledger } = setup();
    tp.setPluginData('r1', PLUGIN, { user: 'go-plugin', messages: 'C1/1' });
    const l = ledger();
    l.assumeAbsent();
    assert.equal(await l.create({ user: 'alice' }), false);
    assert.deepEqual(l.data, { user: 'go-plugin', messages: 'C1/1' });
    assert.equal(tp.callCount('getPluginData'), 1);
  });
});
