import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { runCli } from './helpers.js';

// The README's first command: the real runtime, all six adapters, local fakes (a real SMTP server).
test('demo runs all six adapters through the four-request story and an Access List reminder, and shuts down cleanly', async () => {
  // --pending-deprecation makes Node 20 print what Node 22+ prints anyway (DEP0040 from pdjs's
  // fetch stack), so "no warnings" below holds for the Node the image ships too.
  const r = await runCli(['demo'], { timeoutMs: 60_000, env: { NODE_OPTIONS: '--pending-deprecation' } });
  const out = r.stdout;
  assert.equal(r.code, 0, out + r.stderr);
  assert.match(out, /Fake Teleport "example\.com"/);
  assert.match(out, /Runtime started: one Teleport connection, one watch stream, 6 adapters: slack, mattermost, email, jira, gitlab, pagerduty/);
  assert.match(out, /^\* email: a real SMTP server at 127\.0\.0\.1:\d+, in this process \(loopback, so no STARTTLS\)$/m);
  // One [http] server for both webhook adapters.
  assert.match(out, /^ {2}\[http\] 127\.0\.0\.1:(\d+): one server for the webhooks of jira and gitlab/m);
  const everyone =
    /announced by: slack \(a Slack message\), mattermost \(a Mattermost post\), email \(mails\), jira \(a Jira issue\), gitlab \(a GitLab issue\), pagerduty \(a PagerDuty incident\)\n/;
  const story = out.split(/^(?=\d\. )/m).slice(1);
  assert.equal(story.length, 5, out);
  for (const step of story.slice(0, 4)) {
    assert.match(step, everyone, step);
    assert.match(step, /(outcome|expiry) recorded by: all 6\n/, step);
  }
  assert.match(
    story[0]!,
    /^1\. bob requests role editor: .*\(to be approved in Jira\)\n(.*\n)*? {3}-> Dana \(Jira\) moves ACCESS-1 to Approved in Jira; the webhook approves the request \(delegator jira:dana@example\.com\)\n {3}state: APPROVED \(approved from the Jira board\)/,
  );
  assert.match(
    story[1]!,
    /^2\. bob requests role dba: .*\(to be denied with a GitLab label\)\n(.*\n)*? {3}-> Erin \(GitLab\) adds the label "Teleport: Denied" to issue #2 in GitLab; GitLab calls the plugin's webhook \(answered 204\)\n {3}state: DENIED/,
  );
  assert.match(
    story[2]!,
    /^3\. alice@example\.com requests role editor: .*\(to be auto-approved: the requester is on call in PagerDuty\)\n(.*\n)*? {3}-> nobody acts: the pagerduty adapter finds her on call and approves it\n {3}state: APPROVED \(Access requested by user alice/,
  );
  assert.match(story[3]!, /^4\. bob requests role editor: .*\(to be left to expire\)\n(.*\n)*? {3}state: deleted \(expired\)/);
  // 5: an Access List due for review: its owner is reminded by every notifier, once.
  assert.match(
    story[4]!,
    /^5\. Access List "Production access" \(owner alice@example\.com\) is due for its review on \d{4}-\d\d-\d\d\n {3}-> its owner is reminded by: slack, mattermost, email /,
  );
  assert.match(story[4]!, /slack plugin data \(kind access_list\): user_notifications=\{"alice@example\.com":"[^"]+"\}/);
  assert.match(out, /in DM with alice: Access List \*Production access\* is due for a review by \d{4}-\d\d-\d\d\. Please review it soon!/);
  assert.match(out, /mail to alice@example\.com: "Access List Production access is due for review by \d{4}-\d\d-\d\d"/);
  assert.ok(!/did not (record|announce)/.test(out), out);
  // What each adapter did: the Jira approval reached every other adapter.
  assert.match(out, /\[slack\]\n {4}message \S+ in #access-requests \(updated 1x\)/);
  assert.match(out, /Mattermost post in demo\/access-requests: request \S+ by bob \[✅ APPROVED\]/);
  assert.match(out, /mail to reviewers@example\.com: .*Role Request has been resolved: Status: ✅ APPROVED \(approved from the Jira board\)/);
  assert.match(out, /Jira issue ACCESS-1: bob requested editor \[Approved\]/);
  assert.match(out, /issue #1 "Access request from bob" \[closed\] labels: Teleport: Approved\n {6}note: Access request has been approved \| Reason: approved from the Jira board/);
  assert.match(
    out,
    /PagerDuty incident \S+ on "Teleport Access Requests": Access request from bob \[resolved\]\n {6}note: Access request has been approved \| Reason: approved from the Jira board/,
  );
  assert.match(out, /issue #2 "Access request from bob" \[closed\] labels: Teleport: Denied\n {6}erin added the label "Teleport: Denied"/);
  // What each stored: the Go layouts, per adapter.
  assert.match(out, /request 1 slack: .*resolution=APPROVED/);
  assert.match(out, /request 1 jira: .*issue_key=ACCESS-1 .*resolution=approved/);
  assert.match(out, /request 2 gitlab: .*issue_iid=2 .*resolution=denied/);
  assert.match(out, /request 3 pagerduty: .*incident_id=\S+ .*resolution=approved/);
  assert.match(out, /request 4 email: .*resolution=EXPIRED/);
  assert.match(out, /Successfully shut down\./);
  // Seconds, not minutes: the story waits on events, never on fixed sleeps.
  const took = Number(/^Done in ([\d.]+) s\.$/m.exec(out)?.[1]);
  assert.ok(took < 20, `the demo took ${took} s`);
  assert.equal(r.stderr, '', 'no warnings or errors on a clean demo');
});

test('--plugin narrows the demo: slack and pagerduty tell the story without Jira or GitLab', async () => {
  const r = await runCli(['demo', '--plugin', 'slack', '--plugin', 'pagerduty'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /2 adapters: slack, pagerduty\n/);
  assert.doesNotMatch(r.stdout, /\[http\]/, 'no webhook adapter, no HTTP server');
  assert.match(
    r.stdout,
    /^1\. bob requests role editor: .*\(to be approved by carol in Teleport\)\n(.*\n)*? {3}-> carol approves it in Teleport: "go ahead"\n {3}state: APPROVED/m,
  );
  assert.match(r.stdout, /^2\. bob requests role dba: .*\n(.*\n)*? {3}state: DENIED \(not during the freeze\)/m);
  assert.match(r.stdout, /^3\. alice@example\.com requests role editor: .*\n(.*\n)*? {3}state: APPROVED \(Access requested by user alice/m);
  assert.match(r.stdout, /^4\. bob requests role editor.*\n(.*\n)*? {3}state: deleted \(expired\)\n {3}expiry recorded by: both/m);
  assert.match(r.stdout, /\[pagerduty\]\n {4}PagerDuty incident /);
  assert.equal(r.stderr, '');
});

test('only the two fetch-stack deprecations are hidden; other warnings still print', async () => {
  const moduleUrl = new URL('../src/quiet-warnings.js', import.meta.url).href;
  const script = `
    await import(${JSON.stringify(moduleUrl)});
    process.emitWarning('punycode', 'DeprecationWarning', 'DEP0040');
    process.emitWarning('url.parse', 'DeprecationWarning', 'DEP0169');
    process.emitWarning('still here', 'DeprecationWarning', 'DEP0999');
    process.emitWarning('plain warning');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 0, stderr);
  assert.doesNotMatch(stderr, /DEP0040|DEP0169/);
  assert.match(stderr, /\[DEP0999\] DeprecationWarning: still here/);
  assert.match(stderr, /Warning: plain warning/);
});

test('demo skips adapters it cannot load, and fails when none is left', async () => {
  const r = await runCli(['demo', '--plugin', 'nosuchadapter'], { timeoutMs: 20_000 });
  assert.equal(r.code, 1);
  assert.match(r.stdout, /skipping nosuchadapter: adapter "nosuchadapter" not found/);
  assert.equal(r.stderr, 'teleport-plugin: error: no adapter could be loaded for the demo (tried nosuchadapter)\n');
});
