import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './helpers.js';

// The README's first command: the real runtime, the real slack and pagerduty adapters, local fakes.
test('demo runs the three scenarios and shuts down cleanly', async () => {
  const r = await runCli(['demo'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /Fake Teleport "example\.com"/);
  assert.match(r.stdout, /Runtime started: one Teleport connection, one watch stream, adapters slack, pagerduty/);
  assert.match(r.stdout, /^1\. alice@example\.com requests role editor.*\n(.*\n)*? {3}state: APPROVED/m);
  assert.match(r.stdout, /^2\. bob requests role dba.*\n(.*\n)*? {3}state: DENIED \(not during the freeze\)/m);
  assert.match(r.stdout, /^3\. bob requests role editor.*\n(.*\n)*? {3}state: deleted \(expired\)/m);
  assert.ok(!/did not record/.test(r.stdout), r.stdout);
  assert.match(r.stdout, /\[slack\]\n {4}message /);
  assert.match(r.stdout, /\[pagerduty\]\n {4}PagerDuty incident /);
  assert.match(r.stdout, /request 1 slack: .*resolution=APPROVED/);
  assert.match(r.stdout, /Successfully shut down\./);
  assert.equal(r.stderr, '', 'no warnings or errors on a clean demo');
});

test('demo skips adapters it cannot load, and fails when none is left', async () => {
  const r = await runCli(['demo', '--plugin', 'nosuchadapter'], { timeoutMs: 20_000 });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /skipping nosuchadapter: adapter "nosuchadapter" not found/);
  assert.equal(r.stderr, 'teleport-plugin: error: no adapter could be loaded for the demo (tried nosuchadapter)\n');
});
