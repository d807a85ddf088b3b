// Upstream's Jira suite (jira/testlib/suite.go), scenario by scenario, through the real runtime
// against the fake Jira: issue creation, review comments, resolution from Teleport, expiry, and
// approval or denial by a Jira transition whose webhook decides the request.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JIRA_REASON_LIMIT } from '../src/render.js';
import { answer, newRequest, startJiraTest, type JiraTest } from './helpers.js';

describe('jira adapter: upstream scenarios', () => {
  let j: JiraTest;
  before(async () => {
    j = await startJiraTest({ fake: { issueTypes: ['Task', 'Story'] } });
  });
  after(() => j.close());

  it('a new request opens one issue: summary, wiki-markup description, property, Go plugin data', async () => {
    const r = j.teleport.put(newRequest());
    await j.until(() => (j.t.data(r.id)?.['issue_id'] ?? '') !== '', 'the issue id in plugin data');
    const issue = j.issueFor(r.id);
    assert.equal(issue.projectKey, 'REQ');
    assert.equal(issue.issueType, 'Task');
    assert.equal(issue.status, 'Pending');
    assert.equal(issue.summary, 'requester-oss@example.com requested editor');
    assert.equal(issue.properties['teleportAccessRequestId'], r.id);
    assert.match(issue.description, /^User \*requester-oss@example\.com\* requested an access on \*.+\* with the following roles:\n\n\* editor\n/);
    assert.ok(issue.description.includes('Reason: *because of*'), issue.description);
    assert.ok(issue.description.includes(`Request ID: *${r.id}*`), issue.description);
    const data = j.t.data(r.id)!;
    assert.equal(data['issue_id'], issue.id);
    assert.equal(data['issue_key'], issue.key);
    assert.equal(data['user'], 'requester-oss@example.com');
    assert.equal(data['roles'], 'editor');
    assert.equal(data['request_reason'], 'because of');
    assert.match(data['created'] ?? '', /^\d+$/);
    assert.equal(data['fx/open'], `ok:issue_id=${issue.id}&issue_key=${encodeURIComponent(issue.key)}`);
    // Announced once: a reconciliation does not open another.
    await j.t.runtime.reconcile();
    await j.t.settled();
    assert.equal(j.jira.issuesForRequest(r.id).length, 1);
  });

  it('a large request reason is cut to 3000 characters in the description', async () => {
    const r = j.teleport.put(newRequest({ requestReason: `because of ${'A'.repeat(JIRA_REASON_LIMIT + 10)}` }));
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    const match = /Reason: \*because of (A+)\*/.exec(j.issueFor(r.id).description);
    assert.ok(match, 'reason not found in the description');
    assert.equal(match[1]!.length, JIRA_REASON_LIMIT - 'because of '.length);
  });

  it('a custom issue type is used', async () => {
    const custom = await startJiraTest({ jira: j.jira, config: { issueType: 'Story' }, noWebhook: true });
    try {
      const r = custom.teleport.put(newRequest());
      await custom.until(() => Boolean(custom.t.data(r.id)?.['issue_id']), 'the issue');
      assert.equal(custom.issueFor(r.id).issueType, 'Story');
    } finally {
      await custom.close();
    }
  });

  it('a comment per review, in order, counted in plugin data', async () => {
    const r = j.teleport.put(newRequest({ user: 'requester1@example.com' }));
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    j.teleport.review(r.id, 'reviewer1@example.com', 'APPROVED', 'okay');
    j.teleport.review(r.id, 'reviewer2@example.com', 'DENIED', 'not okay');
    await j.until(() => j.t.data(r.id)?.['reviews_count'] === '2', 'two reviews counted');
    const bodies = j.issueFor(r.id).comments.map((c) => c.body);
    assert.equal(bodies.length, 2);
    assert.match(bodies[0]!, /^\*reviewer1@example\.com\* reviewed the request at \*.+\*\.\nResolution: \*APPROVED\*\.\nReason: okay\.$/);
    assert.match(bodies[1]!, /^\*reviewer2@example\.com\* reviewed the request at \*.+\*\.\nResolution: \*DENIED\*\.\nReason: not okay\.$/);
    assert.equal(j.issueFor(r.id).status, 'Pending');
    // Each comment carries its marker (what makes a lost answer findable).
    assert.deepEqual(j.issueFor(r.id).comments[1]!.properties['teleportAccessRequestComment'], { requestId: r.id, kind: 'review', index: 1 });
  });

  for (const [state, status, last] of [
    ['APPROVED', 'Approved', 'finally okay'],
    ['DENIED', 'Denied', 'finally not okay'],
  ] as const) {
    it(`resolution in Teleport (${state.toLowerCase()}): review comments, a closing comment, the transition to ${status}`, async () => {
      const r = j.teleport.put(newRequest({ user: 'requester1@example.com' }));
      await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
      j.teleport.review(r.id, 'reviewer1@example.com', state, state === 'APPROVED' ? 'okay' : 'not okay');
      j.teleport.review(r.id, 'reviewer2@example.com', state, last, true);
      await j.until(() => j.t.data(r.id)?.['resolution'] !== '', 'the resolution');
      const data = j.t.data(r.id)!;
      assert.equal(data['resolution'], state.toLowerCase());
      assert.equal(data['resolve_reason'], last);
      assert.equal(data['reviews_count'], '2');
      const issue = j.issueFor(r.id);
      assert.equal(issue.status, status);
      assert.equal(issue.changelog.length, 1);
      assert.equal(issue.changelog[0]!.author, j.jira.bot);
      assert.equal(issue.comments.length, 3);
      assert.equal(issue.comments[2]!.body, `Access request has been ${state.toLowerCase()}\nReason: ${last}`);
    });
  }

  it('expiry: a closing comment and the transition to Expired', async () => {
    const r = j.teleport.put(newRequest());
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    j.teleport.remove(r.id);
    await j.until(() => j.issueFor(r.id).status === 'Expired', 'the issue to be Expired');
    const issue = j.issueFor(r.id);
    assert.equal(issue.comments.at(-1)!.body, 'Access request has been expired\n');
    assert.equal(j.t.data(r.id)?.['resolution'], 'expired');
  });

  it('a promoted request has no status upstream: it goes to Approved (or Promoted where the workflow has one)', async () => {
    const r = j.teleport.put(newRequest());
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    j.teleport.put({ ...j.teleport.requests.get(r.id)!, state: 'PROMOTED', resolveReason: 'added to access list' });
    await j.until(() => j.t.data(r.id)?.['resolution'] === 'promoted', 'the resolution');
    assert.equal(j.issueFor(r.id).status, 'Approved');
    assert.equal(j.issueFor(r.id).comments.at(-1)!.body, 'Access request has been promoted\nReason: added to access list');

    const withPromoted = await startJiraTest({ fake: { workflow: { statuses: ['Pending', 'Approved', 'Denied', 'Expired', 'Promoted'] } } });
    try {
      const p = withPromoted.teleport.put(newRequest());
      await withPromoted.until(() => Boolean(withPromoted.t.data(p.id)?.['issue_id']), 'the issue');
      withPromoted.teleport.put({ ...withPromoted.teleport.requests.get(p.id)!, state: 'PROMOTED' });
      await withPromoted.until(() => withPromoted.issueFor(p.id).status === 'Promoted', 'the issue to be Promoted');
    } finally {
      await withPromoted.close();
    }
  });

  for (const [status, state] of [
    ['Approved', 'APPROVED'],
    ['Denied', 'DENIED'],
  ] as const) {
    it(`a move to ${status} in Jira ${state.toLowerCase()} the request, with the mover as delegator; the issue is synced`, async () => {
      const r = j.teleport.put(newRequest());
      await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
      const issue = j.issueFor(r.id);
      const [delivery] = await j.jira.transitionAs(j.reviewer, issue.id, status);
      assert.equal(delivery?.status, 200, delivery?.responseBody);
      assert.equal(answer(delivery!)['result'], 'applied');
      assert.equal(j.teleport.requests.get(r.id)?.state, state);
      const decisions = j.teleport.decisions.filter((d) => d.requestId === r.id);
      assert.deepEqual(
        decisions.map((d) => d.change),
        [{ state, delegator: 'jira:reviewer@example.com' }],
      );
      // The request's own event closes the issue through the normal flow: a comment, no second move.
      await j.until(() => j.t.data(r.id)?.['resolution'] === state.toLowerCase(), 'the resolution');
      assert.equal(j.issueFor(r.id).status, status);
      assert.equal(j.issueFor(r.id).changelog.length, 1, 'only the reviewer moved it');
      assert.equal(j.issueFor(r.id).comments.at(-1)!.body, `Access request has been ${state.toLowerCase()}\n`);
      assert.equal(j.jira.http.callsTo('POST', `/rest/api/2/issue/${issue.id}/transitions`).length, 0);
    });
  }

  it('approval with a reason: the reviewer\'s "Reason:" comment, on the lines after it (as upstream)', async () => {
    const r = j.teleport.put(newRequest());
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    const issue = j.issueFor(r.id);
    await j.jira.transitionAs(j.reviewer, issue.id, 'Approved', { comment: "hi! i'm going to approve this request.\nReason:\n\nfoo\nbar\nbaz" });
    assert.equal(j.teleport.requests.get(r.id)?.state, 'APPROVED');
    assert.equal(j.teleport.requests.get(r.id)?.resolveReason, 'foo\nbar\nbaz');
    await j.until(() => j.t.data(r.id)?.['resolution'] === 'approved', 'the resolution');
    assert.equal(j.issueFor(r.id).comments.at(-1)!.body, 'Access request has been approved\nReason: foo\nbar\nbaz');
  });

  it('denial with a reason: the newest "reason:" comment of the user who moved the issue, not another user\'s', async () => {
    const r = j.teleport.put(newRequest());
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    const issue = j.issueFor(r.id);
    const t0 = Date.now() - 10_000;
    j.jira.commentAs(j.reviewer, issue.id, "hi! i'm rejecting the request.\nreason: bar baz", new Date(t0));
    j.jira.commentAs(j.reviewer, issue.id, "hi! i'm rejecting the request.\nreason: foo bar baz", new Date(t0 + 1000));
    j.jira.commentAs(j.reviewer, issue.id, 'comment 1', new Date(t0 + 2000));
    j.jira.commentAs(j.other, issue.id, 'reason: test', new Date(t0 + 3000));
    await j.jira.transitionAs(j.reviewer, issue.id, 'Denied');
    const request = j.teleport.requests.get(r.id)!;
    assert.equal(request.state, 'DENIED');
    assert.equal(request.resolveReason, 'foo bar baz');
    assert.equal(j.teleport.decisions.find((d) => d.requestId === r.id)?.change?.delegator, 'jira:reviewer@example.com');
    await j.until(() => j.t.data(r.id)?.['resolution'] === 'denied', 'the resolution');
    assert.equal(j.issueFor(r.id).comments.at(-1)!.body, 'Access request has been denied\nReason: foo bar baz');
  });

  it('a Jira user whose email is hidden is named by account id', async () => {
    const hidden = j.jira.addUser('hidden@example.com', { hideEmail: true });
    const r = j.teleport.put(newRequest());
    await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
    await j.jira.transitionAs(hidden, j.issueFor(r.id).id, 'Approved');
    assert.equal(j.teleport.decisions.find((d) => d.requestId === r.id)?.change?.delegator, `jira:${hidden.accountId}`);
  });
});
