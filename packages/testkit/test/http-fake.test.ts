import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpFake } from '../src/index.js';

test('a fault with `until` stops matching at that time, used up or not', async () => {
  const fake = new HttpFake('until-test').route('GET', '/ping', () => ({ body: { ok: true } }));
  await fake.start();
  try {
    fake.fail({ status: 503, times: 100, until: Date.now() + 300 });
    assert.equal((await fetch(`${fake.url}/ping`)).status, 503);
    await new Promise((r) => setTimeout(r, 350));
    assert.equal((await fetch(`${fake.url}/ping`)).status, 200);
    // A fault without `until` still waits for its calls however long that takes.
    fake.fail({ status: 429 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal((await fetch(`${fake.url}/ping`)).status, 429);
    assert.deepEqual(
      fake.calls.map((c) => [c.status, c.injected]),
      [
        [503, true],
        [200, false],
        [429, true],
      ],
    );
  } finally {
    await fake.close();
  }
});
