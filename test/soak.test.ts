// The soak in small: a few hundred requests through `teleport-plugin start --plugin slack
// --plugin pagerduty` (real child processes) with every fault kind of `npm run soak`, a second
// replica and a SIGKILL. Every request must end with exactly the Slack messages, thread replies,
// requester DM and PagerDuty incident, notes and status it should have: lost 0 / duplicated 0 /
// stale 0. (test/soak/ holds the harness; test/soak-checker.test.ts tests the checker itself.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isClean } from './soak/checker.js';
import { runSoak } from './soak/harness.js';
import { FAULT_KINDS } from './soak/plan.js';

describe('soak (small)', { timeout: 115_000 }, () => {
  it('every request ends lost 0 / duplicated 0 / stale 0 under every fault kind, two replicas and a SIGKILL', async () => {
    const lines: string[] = [];
    const outcome = await runSoak({
      requests: 240,
      rate: 12,
      seed: 20_240_601,
      requesters: 12,
      kills: 1,
      replicaSeconds: 8,
      settleSeconds: 30,
      idleSeconds: 12,
      out: (line) => lines.push(line),
      // Ends (and cleans up) before the test's own timeout would leave it running.
      signal: AbortSignal.timeout(105_000),
    });
    const log = lines.join('\n');
    for (const kind of FAULT_KINDS.filter((k) => k !== 'plugin-exit')) {
      assert.ok(
        outcome.faults.some((f) => f.kind === kind),
        `no ${kind} fault was injected:\n${log}`,
      );
    }
    assert.deepEqual(outcome.workloadErrors, [], log);
    assert.ok(isClean(outcome.result), `${outcome.report}\n\n--- the whole run ---\n${log}`);
  });
});
