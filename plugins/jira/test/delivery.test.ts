// Exactly once on Jira: lost answers, unsent writes, crashes, restarts and two replicas never
// make a second issue or comment, and never lose one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTeleport, makeAccessReview } from '@teleport-plugin/core/testing';
import { JiraClient } from '../src/client.js';
import { jiraSnapshot } from '../src/pluginData.js';
import { commentMarker, commentText } from '../src/tracker.js';
import { FakeJira } from '../src/testing/index.js';
import { FAST, newRequest, startJiraTest } from './helpers.js';

const ISSUE = '/rest/api/2/issue';
const COMMENTS = /^\/rest\/api\/2\/issue\/\d+\/comment$/;
const SEARCH = '/rest/api/2/search/jql';
/** Older than any lease: its owner is gone. */
const LONG_AGO = () => Date.now() - 10 * 60_000;

function botClient(jira: FakeJira): JiraClient {
  return new JiraClient({ url: jira.url, username: jira.bot.emailAddress, apiToken: jira.bot.apiToken!, project: jira.projectKey, issueType: 'Task', policy: FAST });
}

describe('jira: exactly-once delivery', () => {
  it('a create whose answer is lost after the issue was made: found by its property, recorded, not made twice', async () => {
    const j = await startJiraTest();
    try {
      j.jira.fail({ method: 'POST', path: ISSUE, afterEffect: true, drop: true });
      const r = j.teleport.put(newRequest());
      await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue id recorded');
      const issue = j.issueFor(r.id);
      assert.equal(j.t.data(r.id)?.['issue_id'], issue.id);
      assert.equal(j.t.data(r.id)?.['fx/open'], `ok:issue_id=${issue.id}&issue_key=${issue.key}`);
      assert.equal(j.jira.http.callsTo('POST', ISSUE).length, 1, 'posted once');
      assert.ok(j.jira.http.callsTo('GET', SEARCH).length >= 1, 'asked Jira before doing anything else');
      assert.ok(j.t.logger.entries.some((e) => e.message === 'effect had happened already; recorded, not repeated'));
    } finally {
      await j.close();
    }
  });

  it('a create that got no answer and did not happen: made after asking (nothing lost)', async () => {
    const j = await startJiraTest();
    try {
      j.jira.fail({ method: 'POST', path: ISSUE, drop: true });
      const r = j.teleport.put(newRequest());
      await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue id recorded');
      assert.equal(j.jira.issuesForRequest(r.id).length, 1);
      const calls = j.jira.http.calls.filter((c) => (c.method === 'POST' && c.path === ISSUE) || c.path === SEARCH).map((c) => `${c.method} ${c.path}`);
      // Dropped, then searched (the search index is given time), then made.
      assert.equal(calls[0], `POST ${ISSUE}`);
      assert.equal(calls.at(-1), `POST ${ISSUE}`);
      assert.ok(calls.slice(1, -1).every((c) => c === `GET ${SEARCH}`) && calls.length >= 3, calls.join(', '));
    } finally {
      await j.close();
    }
  });

  it('429 (Retry-After) and 5xx on reads and transitions go through the outbound policy; nothing doubles', async () => {
    const j = await startJiraTest();
    try {
      j.jira.fail({ method: 'POST', path: ISSUE, status: 429, headers: { 'retry-after': '0' } });
      const r = j.teleport.put(newRequest());
      await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
      assert.equal(j.jira.issuesForRequest(r.id).length, 1);
      const issue = j.issueFor(r.id);
      j.jira.fail({ method: 'GET', path: `${ISSUE}/${issue.id}`, status: 503 });
      j.jira.fail({ method: 'POST', path: `${ISSUE}/${issue.id}/transitions`, status: 500, afterEffect: true });
      j.teleport.review(r.id, 'reviewer1@example.com', 'APPROVED', 'ok', true);
      await j.until(() => j.t.data(r.id)?.['resolution'] === 'approved', 'the resolution');
      assert.equal(j.issueFor(r.id).status, 'Approved');
      assert.equal(j.issueFor(r.id).changelog.length, 1, 'moved once');
      assert.deepEqual(
        j.issueFor(r.id).comments.map((c) => c.body.split('\n')[0]?.replace(/ at \*.*$/, '')),
        ['*reviewer1@example.com* reviewed the request', 'Access request has been approved'],
      );
    } finally {
      await j.close();
    }
  });

  it('a comment whose answer is lost is found by its marker; one that was not made is made after asking', async () => {
    const j = await startJiraTest();
    try {
      const r = j.teleport.put(newRequest());
      await j.until(() => Boolean(j.t.data(r.id)?.['issue_id']), 'the issue');
      const issue = j.issueFor(r.id);
      j.jira.fail({ method: 'POST', path: COMMENTS, afterEffect: true, drop: true });
      j.teleport.review(r.id, 'reviewer1@example.com', 'APPROVED', 'okay');
      await j.until(() => j.t.data(r.id)?.['reviews_count'] === '1', 'the review counted');
      j.jira.fail({ method: 'POST', path: COMMENTS, drop: true });
      j.teleport.review(r.id, 'reviewer2@example.com', 'APPROVED', 'fine');
      await j.until(() => j.t.data(r.id)?.['reviews_count'] === '2', 'the second review counted');
      j.jira.fail({ method: 'POST', path: COMMENTS, status: 502, afterEffect: true });
      j.teleport.remove(r.id);
      await j.until(() => j.issueFor(r.id).status === 'Expired', 'expiry');
      const bodies = j.issueFor(r.id).comments.map((c) => c.body);
      assert.equal(bodies.length, 3, bodies.join('\n---\n'));
      assert.match(bodies[0]!, /^\*reviewer1@example\.com\*/);
      assert.match(bodies[1]!, /^\*reviewer2@example\.com\*/);
      assert.equal(bodies[2], 'Access request has been expired\n');
      assert.equal(j.jira.http.callsTo('POST', `${ISSUE}/${issue.id}/comment`).length, 4, 'lost, dropped + again, lost');
      assert.equal(j.t.data(r.id)?.['fx/note/review/0'], 'ok:found', 'settled by finding it');
      assert.equal(j.t.data(r.id)?.['fx/note/resolution'], 'ok:found');
      assert.equal(j.t.data(r.id)?.['fx/note/review/1'], 'ok', 'posted after asking');
    } finally {
      await j.close();
    }
  });

  it('crash recovery: an announcement and a comment left "running" by a dead instance are adopted, not repeated', async () => {
    const jira = new FakeJira();
    await jira.start();
    const teleport = new MemoryTeleport();
    const client = botClient(jira);
    try {
      // What the dead instance did: opened the issue, and posted the first review's comment, but
      // recorded neither (it crashed after the effects).
      const first = newRequest();
      teleport.put(first, false);
      teleport.setPluginData(first.id, 'jira', { ...jiraSnapshot(first), announced: `run:dead:${LONG_AGO()}`, 'fx/open': `run:dead:${LONG_AGO()}` });
      await client.createIssue({ requestId: first.id, summary: 'made by the dead instance', description: '' });

      const second = newRequest();
      const review = makeAccessReview('reviewer1@example.com', 'APPROVED', 'okay', new Date());
      teleport.put({ ...second, reviews: [review] }, false);
      const made = await client.createIssue({ requestId: second.id, summary: 'second', description: '' });
      const note = { kind: 'review' as const, requestId: second.id, index: 0, review };
      await client.addComment(made.id, commentText(note), commentMarker(note));
      teleport.setPluginData(second.id, 'jira', {
        ...jiraSnapshot(second),
        issue_id: made.id,
        issue_key: made.key,
        announced: 'ok',
        'fx/open': `ok:issue_id=${made.id}`,
        'fx/note/review/0': `run:dead:${LONG_AGO()}`,
      });

      const j = await startJiraTest({ jira, teleport, instanceId: 'alive' });
      try {
        await j.until(() => j.t.data(first.id)?.['announced'] === 'ok' && j.t.data(second.id)?.['reviews_count'] === '1', 'both adopted');
        assert.equal(jira.issuesForRequest(first.id).length, 1, 'no second issue');
        assert.equal(j.t.data(first.id)?.['issue_id'], jira.issuesForRequest(first.id)[0]!.id);
        assert.equal(jira.issue(made.id)?.comments.length, 1, 'no second comment');
        assert.equal(j.t.data(second.id)?.['fx/note/review/0'], 'ok:found');
        assert.equal(jira.http.callsTo('POST', ISSUE).length, 2, 'only the dead instance posted issues');
      } finally {
        await j.close();
      }
    } finally {
      client.close();
      await jira.close();
    }
  });

  it('a request resolved while the plugin was stopped is finished after the restart', async () => {
    const jira = new FakeJira();
    await jira.start();
    const teleport = new MemoryTeleport();
    try {
      const a = await startJiraTest({ jira, teleport, instanceId: 'first' });
      const r = teleport.put(newRequest());
      await a.until(() => Boolean(a.t.data(r.id)?.['issue_id']), 'the issue');
      await a.close();

      // While stopped: a review approves it, and another request expires.
      teleport.review(r.id, 'reviewer1@example.com', 'APPROVED', 'while you were out', true);
      const b = await startJiraTest({ jira, teleport, instanceId: 'second', noWebhook: true });
      try {
        await b.until(() => b.t.data(r.id)?.['resolution'] === 'approved', 'the resolution after restart');
        const issue = b.issueFor(r.id);
        assert.equal(issue.status, 'Approved');
        assert.deepEqual(
          issue.comments.map((c) => c.body.split('\n')[0]?.replace(/ at \*.*$/, '')),
          ['*reviewer1@example.com* reviewed the request', 'Access request has been approved'],
        );
      } finally {
        await b.close();
      }
    } finally {
      await jira.close();
    }
  });

  it('two runtimes on one Teleport never double an issue, a comment, a transition or a decision', async () => {
    const jira = new FakeJira();
    await jira.start();
    const teleport = new MemoryTeleport();
    const a = await startJiraTest({ jira, teleport, instanceId: 'replica-a' });
    const b = await startJiraTest({ jira, teleport, instanceId: 'replica-b' });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(teleport.put(newRequest()).id);
      const both = async (predicate: () => boolean, what: string): Promise<void> => {
        await a.until(predicate, what);
        await b.until(predicate, what);
      };
      await both(() => ids.every((id) => Boolean(teleport.pluginData(id, 'jira')?.['issue_id'])), 'every issue');
      for (const id of ids) teleport.review(id, 'reviewer1@example.com', 'APPROVED', 'one');
      await both(() => ids.every((id) => teleport.pluginData(id, 'jira')?.['reviews_count'] === '1'), 'every review');
      // Half are decided in Jira (both replicas get the webhook), half in Teleport.
      for (const [n, id] of ids.entries()) {
        if (n % 2 === 0) {
          const deliveries = await jira.transitionAs(a.reviewer, jira.issuesForRequest(id)[0]!.id, 'Denied');
          assert.deepEqual(deliveries.map((d) => JSON.parse(d.responseBody).result).sort(), ['already', 'applied']);
        } else {
          teleport.review(id, 'reviewer2@example.com', 'APPROVED', 'two', true);
        }
      }
      await both(() => ids.every((id) => (teleport.pluginData(id, 'jira')?.['resolution'] ?? '') !== ''), 'every resolution');
      for (const [n, id] of ids.entries()) {
        const issues = jira.issuesForRequest(id);
        assert.equal(issues.length, 1);
        const issue = issues[0]!;
        const comments = issue.comments.map((c) => c.body.split('\n')[0]?.replace(/ at \*.*$/, ''));
        if (n % 2 === 0) {
          assert.deepEqual(comments, ['*reviewer1@example.com* reviewed the request', 'Access request has been denied']);
          assert.equal(issue.status, 'Denied');
          assert.equal(teleport.decisions.filter((d) => d.requestId === id && d.change).length, 1);
        } else {
          assert.deepEqual(comments, ['*reviewer1@example.com* reviewed the request', '*reviewer2@example.com* reviewed the request', 'Access request has been approved']);
          assert.equal(issue.status, 'Approved');
        }
        assert.equal(issue.changelog.length, 1, 'moved once');
      }
      assert.equal(jira.http.callsTo('POST', ISSUE).length, ids.length);
    } finally {
      await a.close();
      await b.close();
      await jira.close();
    }
  });
});
