import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DecorrelatedBackoff, sleep } from '../src/backoff.js';
import { isPluginError } from '../src/errors.js';

describe('DecorrelatedBackoff', () => {
  it('stays within [base, cap] and follows min(cap, base + rand·(3·prev − base))', () => {
    let r = 0;
    const b = new DecorrelatedBackoff({ baseMs: 20, capMs: 5000, random: () => r });
    r = 0;
    assert.equal(b.next(), 20);
    r = 0.5;
    assert.equal(b.next(), 20 + 0.5 * (3 * 20 - 20)); // 40
    r = 0.999;
    assert.ok(Math.abs(b.next() - (20 + 0.999 * (3 * 40 - 20))) < 1e-9);
    for (let i = 0; i < 50; i++) b.next();
    assert.equal(b.next(), 5000, 'capped');
  });

  it('never leaves the bounds with real randomness, and grows towards the cap', () => {
    const b = new DecorrelatedBackoff({ baseMs: 1, capMs: 1000 });
    let max = 0;
    for (let i = 0; i < 500; i++) {
      const d = b.next();
      assert.ok(d >= 1 && d <= 1000, `delay ${d} out of bounds`);
      max = Math.max(max, d);
    }
    assert.ok(max > 100, `expected growth, max was ${max}`);
  });

  it('reset() starts again from the base', () => {
    const b = new DecorrelatedBackoff({ baseMs: 10, capMs: 100, random: () => 0.99 });
    for (let i = 0; i < 10; i++) b.next();
    b.reset();
    assert.ok(b.next() <= 10 + 0.99 * 20 + 1e-9);
  });

  it('rejects nonsense bounds', () => {
    assert.throws(() => new DecorrelatedBackoff({ baseMs: 0, capMs: 10 }), RangeError);
    assert.throws(() => new DecorrelatedBackoff({ baseMs: 10, capMs: 5 }), RangeError);
  });
});

describe('sleep', () => {
  it('resolves after the delay', async () => {
    const t0 = performance.now();
    await sleep(20);
    assert.ok(performance.now() - t0 >= 15);
  });

  it('rejects with SHUTDOWN as soon as the signal aborts', async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const p = sleep(10_000, ac.signal);
    setImmediate(() => ac.abort());
    await assert.rejects(p, (err) => isPluginError(err, 'SHUTDOWN'));
    assert.ok(performance.now() - t0 < 1000);
    await assert.rejects(sleep(1, ac.signal), (err) => isPluginError(err, 'SHUTDOWN'));
  });
});
