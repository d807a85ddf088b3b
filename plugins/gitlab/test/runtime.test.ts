// The GitLab adapter in the real runtime (watcher, dispatcher, ledger, reconciliation, HTTP
// server) on an in-memory Teleport, against the real-HTTP fake GitLab, which calls the plugin's
// webhook as GitLab does.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { isPluginError, type AccessRequest } from '@teleport-plugin/core';
import { MemoryTeleport, adapterContext, makeAccessRequest, startAdapterTest, type AdapterTest } from '@teleport-plugin/core/testing';
import { createGitlabAdapter } from '../src/adapter.js';
import type { GitlabConfig } from '../src/config.js';
import { gitlabSnapshot } from '../src/pluginData.js';
import { issueDescription, reviewNote } from '../src/render.js';
import { FakeGitLab, type FakeGlIssue, type FakeGlProject } from '../src/testing/index.js';
import { freePort } from './helpers.js';

const POLICY = { attempts: 3, baseMs: 1, capMs: 5, maxRetryAfterMs: 5_000 };
const SECRET = 'hook-secret';
const adapter = createGitlabAdapter({ client: { policy: POLICY } });

let gl: FakeGitLab;
before(async () => {
  gl = new FakeGitLab();
  await gl.start();
});
after(() => gl.close());

let projects = 0;
const newProject = (role?: 'developer'): FakeGlProject => gl.addProject(`ops/runtime-${++projects}`, role ? { role } : {});

function configFor(project: FakeGlProject | string, port: number, extra: Partial<GitlabConfig> = {}): GitlabConfig {
  const base = `http://127.0.0.1:${port}`;
  return {
    url: gl.url,
    token: gl.token,
    projectId: typeof project === 'string' ? project : project.pathWithNamespace,
    webhookSecret: SECRET,
    webhookUrl: `${base}/gitlab/webhook`,
    webhookUrlRedacted: `${base}/gitlab/webhook`,
    upstreamWebhookUrl: `${base}/webhook`,
    ...extra,
  };
}

interface Plugin {
  t: AdapterTest;
  /** Where GitLab's hook points (public_addr). */
  base: string;
  port: number;
}

/**
 * The adapter in a runtime. `port` is public_addr's (the registered hook); `listenPort` where
 * this runtime listens (a second replica behind the same address listens elsewhere).
 */
async function startPlugin(
  project: FakeGlProject,
  options: { port?: number; listenPort?: number; teleport?: MemoryTeleport; instanceId?: string; config?: Partial<GitlabConfig>; fake?: FakeGitLab } = {},
): Promise<Plugin> {
  const port = options.port ?? (await freePort());
  const listenPort = options.listenPort ?? port;
  const config = configFor(project, port, { ...(options.fake && { url: options.fake.url, token: options.fake.token }), ...options.config });
  const t = await startAdapterTest(adapter, config, {
    ...(options.teleport && { teleport: options.teleport }),
    runtime: { http: { listenAddr: `127.0.0.1:${listenPort}` }, insecureNoTls: true, ...(options.instanceId && { instanceId: options.instanceId }) },
  });
  return { t, base: `http://127.0.0.1:${port}`, port };
}

const newRequest = (extra: Partial<AccessRequest> = {}): AccessRequest =>
  makeAccessRequest({ id: randomUUID(), user: 'alice@example.com', roles: ['editor', 'auditor'], requestReason: 'deploy hotfix', ...extra });

const issuesFor = (project: FakeGlProject, requestId: string): FakeGlIssue[] => project.issues.filter((i) => i.description.includes(requestId));

function onlyIssue(project: FakeGlProject, requestId: string): FakeGlIssue {
  const issues = issuesFor(project, requestId);
  assert.equal(issues.length, 1, `expected one issue for ${requestId}, found ${issues.length}`);
  return issues[0]!;
}

const notes = (issue: FakeGlIssue): string[] => gl.notesOf(issue).map((n) => n.body);

/** Polls until `predicate` holds (work started by webhooks and reconciliation, not by events). */
async function waitFor(predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An Issue Hook in which `actor` added `label` (as GitLab sends it), whatever the issue holds now. */
function labelAddedPayload(project: FakeGlProject, issue: FakeGlIssue, actor: string, label: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const user = gl.userNamed(actor) ?? gl.addUser({ username: actor });
  const payload = gl.issueHookPayload(project, issue, user, 'update', []);
  const previous = issue.labels.map((title, i) => ({ id: 100 + i, title }));
  payload['changes'] = { labels: { previous, current: [...previous, { id: 999, title: label }] } };
  payload['object_attributes'] = { ...(payload['object_attributes'] as Record<string, unknown>), ...overrides };
  return payload;
}

describe('issues for requests', () => {
  test('a request opens one issue with the pending label; reviews become notes; resolved in Teleport: note, outcome label, closed', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.equal(issue.title, 'Access request from alice@example.com');
      assert.equal(issue.description, issueDescription(r, undefined));
      assert.match(issue.description, new RegExp(`Request ID is \`${r.id}\`\\.$`));
      assert.deepEqual(issue.labels, ['Teleport: Pending']);
      assert.equal(issue.state, 'opened');
      const data = t.data(r.id)!;
      assert.equal(data['project_id'], String(project.id));
      assert.equal(data['issue_iid'], String(issue.iid));
      assert.equal(data['issue_id'], String(issue.id));
      assert.equal(data['user'], 'alice@example.com');
      assert.equal(data['roles'], 'editor,auditor');
      assert.equal(data['request_reason'], 'deploy hotfix');

      t.teleport.review(r.id, 'bob@example.com', 'APPROVED', 'looks fine');
      t.teleport.review(r.id, 'carol@example.com', 'APPROVED', 'ok by me', true);
      await t.settled();
      const reviews = t.teleport.requests.get(r.id)!.reviews;
      assert.deepEqual(notes(issue), [reviewNote(reviews[0]!), reviewNote(reviews[1]!), 'Access request has been approved\n\nReason: ok by me']);
      assert.equal(issue.state, 'closed');
      assert.deepEqual(issue.labels, ['Teleport: Approved']);
      assert.equal(t.data(r.id)?.['resolution'], 'approved');
      assert.equal(t.data(r.id)?.['reviews_count'], '2');

      // Nothing is done twice when the runtime looks again.
      const calls = gl.calls.length;
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(notes(issue).length, 3);
      assert.equal(gl.calls.slice(calls).filter((c) => c.method !== 'GET').length, 0);
    } finally {
      await t.close();
    }
  });

  test('denied in Teleport: the reason in the closing note, the denied label', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest({ requestReason: '' }));
      await t.settled();
      t.teleport.review(r.id, 'bob@example.com', 'DENIED', 'not during the freeze', true);
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.equal(notes(issue).at(-1), 'Access request has been denied\n\nReason: not during the freeze');
      assert.deepEqual(issue.labels, ['Teleport: Denied']);
      assert.equal(issue.state, 'closed');
      assert.equal(t.data(r.id)?.['resolution'], 'denied');
    } finally {
      await t.close();
    }
  });

  test('expiry: a note, the expired label, the issue closed', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.remove(r.id);
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.deepEqual(notes(issue), ['Access request has been expired\n\n']);
      assert.deepEqual(issue.labels, ['Teleport: Expired']);
      assert.equal(issue.state, 'closed');
      assert.equal(t.data(r.id)?.['resolution'], 'expired');
    } finally {
      await t.close();
    }
  });

  test('429 and 5xx go through the outbound policy: the issue opened once, the close retried', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      gl.rateLimit({ times: 1, retryAfterS: 1, method: 'POST', path: /\/issues$/ });
      const r = t.teleport.put(newRequest());
      await t.settled();
      onlyIssue(project, r.id);
      const posts = gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`);
      assert.deepEqual(
        posts.map((c) => c.status),
        [429, 201],
      );
      assert.ok(posts[1]!.at - posts[0]!.at >= 900, 'Retry-After was honoured');

      gl.fail({ method: 'PUT', path: /\/issues\/\d+$/, status: 502, times: 2 });
      t.teleport.review(r.id, 'bob@example.com', 'APPROVED', '', true);
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.equal(issue.state, 'closed');
      assert.deepEqual(
        gl.http.callsTo('PUT', `/api/v4/projects/${project.id}/issues/${issue.iid}`).map((c) => c.status),
        [502, 502, 200],
      );
    } finally {
      await t.close();
    }
  });
});

describe('decisions by label', () => {
  test('a reviewer adds "Teleport: Approved": approved with delegator gitlab:<email>, then note, label, closed', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      const deliveries = await gl.addLabelAs('carol', project, issue.iid, 'Teleport: Approved');
      assert.deepEqual(
        deliveries.map((d) => d.status),
        [204],
      );
      assert.deepEqual(
        t.teleport.decisions.map((d) => d.change),
        [{ state: 'APPROVED', delegator: 'gitlab:carol@example.com' }],
      );
      await t.settled();
      await gl.settled();
      assert.equal(issue.state, 'closed');
      assert.deepEqual(issue.labels, ['Teleport: Approved']);
      assert.deepEqual(notes(issue), ['Access request has been approved\n\n']);
      assert.equal(t.data(r.id)?.['resolution'], 'approved');
      // Closing made GitLab call the hook again (the bot's own label change): it decided nothing.
      assert.ok(gl.deliveries.length >= 2);
      assert.ok(gl.deliveries.every((d) => d.status === 204));
      assert.equal(t.teleport.decisions.length, 1);
    } finally {
      await t.close();
    }
  });

  test('"Teleport: Denied" denies; with GitLab hiding emails the delegator is gitlab:<username>', async () => {
    const hidden = new FakeGitLab({ redactHookEmails: true });
    await hidden.start();
    const project = hidden.addProject('ops/hidden-emails');
    const { t } = await startPlugin(project, { fake: hidden });
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const [issue] = project.issues;
      const deliveries = await hidden.addLabelAs('dave', project, issue!.iid, 'Teleport: Denied');
      assert.deepEqual(
        deliveries.map((d) => d.status),
        [204],
      );
      assert.deepEqual(
        t.teleport.decisions.map((d) => d.change),
        [{ state: 'DENIED', delegator: 'gitlab:dave' }],
      );
      await t.settled();
      assert.deepEqual(issue!.labels, ['Teleport: Denied']);
      assert.equal(issue!.state, 'closed');
      assert.equal(t.data(r.id)?.['resolution'], 'denied');
    } finally {
      await t.close();
      await hidden.close();
    }
  });

  test('a label on a request already decided, or on an issue the plugin did not open, changes nothing', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.review(r.id, 'bob@example.com', 'DENIED', 'no', true);
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.deepEqual(
        (await gl.addLabelAs('carol', project, issue.iid, 'Teleport: Approved')).map((d) => d.status),
        [204],
      );
      const other = gl.addIssue(project, { title: 'unrelated', description: 'no request here', author: gl.addUser({ username: 'erin' }) });
      assert.deepEqual(
        (await gl.addLabelAs('carol', project, other.iid, 'Teleport: Approved')).map((d) => d.status),
        [204],
      );
      await t.settled();
      assert.equal(t.teleport.decisions.length, 0);
      assert.equal(t.teleport.requests.get(r.id)?.state, 'DENIED');
    } finally {
      await t.close();
    }
  });

  test('a label on the issue of a request that is gone: nothing decided, the issue closed as expired', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      // Deleted without the plugin hearing of it (a missed event).
      t.teleport.remove(r.id, false);
      assert.deepEqual(
        (await gl.addLabelAs('carol', project, issue.iid, 'Teleport: Approved')).map((d) => d.status),
        [204],
      );
      await waitFor(() => issue.state === 'closed', 'the issue closed by the resync');
      await t.settled();
      assert.equal(t.teleport.decisions.length, 0);
      assert.ok(issue.labels.includes('Teleport: Expired'), issue.labels.join(', '));
      assert.deepEqual(notes(issue), ['Access request has been expired\n\n']);
      assert.equal(t.data(r.id)?.['resolution'], 'expired');
    } finally {
      await t.close();
    }
  });

  test('authentication: a wrong or missing token gets 401 and changes nothing; bad calls are refused or ignored', async () => {
    const project = newProject();
    const { t, base } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      const payload = labelAddedPayload(project, issue, 'carol', 'Teleport: Approved');
      const url = `${base}/gitlab/webhook`;
      const send = async (o: { token?: string; event?: string; contentType?: string; payload?: unknown; rawBody?: string; url?: string }) =>
        (
          await gl.sendIssueHook({
            url: o.url ?? url,
            token: o.token ?? SECRET,
            payload: o.payload ?? payload,
            ...(o.rawBody !== undefined && { rawBody: o.rawBody }),
            ...(o.event && { event: o.event }),
            ...(o.contentType && { contentType: o.contentType }),
          })
        )[0]!;

      const wrong = await send({ token: 'not-the-secret' });
      assert.equal(wrong.status, 401);
      assert.doesNotMatch(wrong.responseBody, /secret|token/i);
      assert.equal((await send({ token: '' })).status, 401);
      assert.equal((await send({ token: `${SECRET}x` })).status, 401);
      // The token is checked first: a caller without it learns nothing about its payload.
      assert.equal((await send({ token: 'nope', rawBody: '{not json' })).status, 401);
      assert.equal((await send({ contentType: 'text/plain' })).status, 400);
      assert.equal((await send({ rawBody: '{not json' })).status, 400);
      assert.equal((await send({ event: 'Note Hook' })).status, 204);
      // A forged issue: the request id is right, the issue is not the one recorded for it.
      assert.equal((await send({ payload: labelAddedPayload(project, issue, 'carol', 'Teleport: Approved', { id: issue.id + 1 }) })).status, 204);
      assert.equal((await send({ payload: labelAddedPayload(project, issue, 'carol', 'Teleport: Approved', { iid: issue.iid + 1 }) })).status, 204);
      assert.equal((await send({ payload: labelAddedPayload(project, issue, 'carol', 'Teleport: Approved', { project_id: project.id + 1 }) })).status, 204);
      // The plugin's own label changes never decide.
      assert.equal((await send({ payload: labelAddedPayload(project, issue, gl.bot.username, 'Teleport: Approved') })).status, 204);
      assert.equal(t.teleport.decisions.length, 0);
      assert.equal(t.teleport.requests.get(r.id)?.state, 'PENDING');
      assert.equal(issue.state, 'opened');

      // Upstream's URL (<public_addr>/webhook) is served too, with the same checks.
      assert.equal((await send({ url: `${base}/webhook`, token: 'wrong' })).status, 401);
      assert.equal((await send({ url: `${base}/webhook` })).status, 204);
      assert.deepEqual(
        t.teleport.decisions.map((d) => d.change),
        [{ state: 'APPROVED', delegator: 'gitlab:carol@example.com' }],
      );
      await t.settled();
      assert.equal(issue.state, 'closed');
    } finally {
      await t.close();
    }
  });

  test('a body over 25 MiB is refused (413) before it is read', async () => {
    const project = newProject();
    const { t, base } = await startPlugin(project);
    try {
      const res = await fetch(`${base}/gitlab/webhook`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-gitlab-token': SECRET, 'x-gitlab-event': 'Issue Hook' },
        body: Buffer.alloc(25 * 1024 * 1024 + 1, 0x20),
      });
      assert.equal(res.status, 413);
    } finally {
      await t.close();
    }
  });
});

describe('the project at start-up', () => {
  test('labels and the hook are created once; a restart repairs drift and duplicates nothing', async () => {
    const project = newProject();
    const port = await freePort();
    let { t } = await startPlugin(project, { port });
    try {
      assert.deepEqual(
        project.labels.map((l) => l.name),
        ['Teleport: Pending', 'Teleport: Approved', 'Teleport: Denied', 'Teleport: Expired'],
      );
      assert.equal(project.hooks.length, 1);
      const hook = project.hooks[0]!;
      assert.deepEqual({ url: hook.url, token: hook.token, issues: hook.issuesEvents }, { url: `http://127.0.0.1:${port}/gitlab/webhook`, token: SECRET, issues: true });
      await t.close();

      // Someone turned issue events off and the secret was rotated in the config.
      hook.issuesEvents = false;
      ({ t } = await startPlugin(project, { port, config: { webhookSecret: 'rotated' } }));
      assert.equal(project.hooks.length, 1);
      assert.equal(project.hooks[0]!.id, hook.id);
      assert.equal(hook.issuesEvents, true);
      assert.equal(hook.token, 'rotated');
      assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/hooks`).length, 1, 'one hook ever created');
      assert.equal(project.labels.length, 4);
      assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/labels`).length, 4, 'labels created once');
    } finally {
      await t.close();
    }
  });

  test("the Go plugin's hook (<public_addr>/webhook) is re-pointed, and its labels reused", async () => {
    const project = newProject();
    const port = await freePort();
    const legacy = gl.addHook(project, { url: `http://127.0.0.1:${port}/webhook`, token: SECRET, pushEvents: true });
    gl.addLabel(project, 'teleport:pending');
    const { t } = await startPlugin(project, { port });
    try {
      assert.deepEqual(
        project.hooks.map((h) => [h.id, h.url]),
        [[legacy.id, `http://127.0.0.1:${port}/gitlab/webhook`]],
      );
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.deepEqual(onlyIssue(project, r.id).labels, ['teleport:pending']);
    } finally {
      await t.close();
    }
  });

  test('fatal start-up problems are one plain line naming what to fix', async () => {
    const port = await freePort();
    const fails = async (config: GitlabConfig, pattern: RegExp, code?: string): Promise<void> => {
      const teleport = new MemoryTeleport();
      await assert.rejects(startAdapterTest(adapter, config, { teleport, runtime: { http: { listenAddr: `127.0.0.1:${port}` }, insecureNoTls: true } }), (err: unknown) => {
        assert.ok(isPluginError(err), String(err));
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes('\n'), err.message);
        if (code) assert.equal(err.code, code);
        assert.equal(err.userFacing, true, err.message);
        return true;
      });
      await teleport.close();
    };
    const project = newProject();
    await fails(
      { ...configFor(project, port), token: 'glpat-wrong' },
      /^adapter "gitlab" failed to start: GitLab at http:\/\/127\.0\.0\.1:\d+ rejected \[gitlab\] token \(HTTP 401\)/,
      'CONFIG',
    );
    await fails(configFor('nobody/nothing', port), /GitLab project "nobody\/nothing" not found .*gitlab\.project_id/, 'NOT_FOUND');
    await fails(
      configFor(newProject('developer'), port),
      /refused \[gitlab\] token the right to set up the project webhook \(HTTP 403\): its user needs the Maintainer role/,
      'CONFIG',
    );
    await fails(
      { ...configFor(project, port), url: `http://127.0.0.1:${await freePort()}` },
      /cannot reach GitLab at http:\/\/127\.0\.0\.1:\d+ \(\[gitlab\] url\) to find the project/,
      'UNREACHABLE',
    );
  });

  test('check: token and scopes, project, labels, the hook and its URL', async () => {
    const project = newProject();
    const port = await freePort();
    const { ctx, close } = adapterContext('gitlab', configFor(project, port));
    try {
      const handlers = await adapter.setup(ctx);
      const items = await handlers.check!(AbortSignal.timeout(5_000));
      assert.deepEqual(
        items.map((i) => [i.name, i.ok]),
        [
          ['token', true],
          ['project', true],
          ['labels', true],
          ['webhook', true],
        ],
      );
      assert.match(items[3]!.detail ?? '', new RegExp(`^hook ${project.hooks[0]!.id} calls http://127\\.0\\.0\\.1:${port}/gitlab/webhook on issue events$`));
    } finally {
      await close();
    }
  });
});

describe('exactly once', () => {
  test('an issue created whose answer was lost is found again (label and request id) and recorded, not created twice', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      gl.fail({ method: 'POST', path: /\/issues$/, afterEffect: true, drop: true });
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).length, 1);
      assert.ok(
        gl.http.callsTo('GET', `/api/v4/projects/${project.id}/issues`).some((c) => c.query.get('search') === r.id),
        'the issue was looked up',
      );
      assert.equal(t.data(r.id)?.['issue_iid'], String(issue.iid));
      assert.equal(t.data(r.id)?.['fx/open'], `ok:project_id=${project.id}&issue_iid=${issue.iid}&issue_id=${issue.id}`);
    } finally {
      await t.close();
    }
  });

  test('an unanswered create that did NOT happen is done after asking: nothing lost', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      gl.fail({ method: 'POST', path: /\/issues$/, drop: true });
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      assert.deepEqual(
        gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).map((c) => c.status),
        [0, 201],
      );
      assert.ok(
        gl.http.callsTo('GET', `/api/v4/projects/${project.id}/issues`).some((c) => c.query.get('search') === r.id),
        'asked before creating again',
      );
      assert.equal(t.data(r.id)?.['issue_iid'], String(issue.iid));
    } finally {
      await t.close();
    }
  });

  test('a note whose answer was lost is found and not repeated; one that never arrived is added', async () => {
    const project = newProject();
    const { t } = await startPlugin(project);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const issue = onlyIssue(project, r.id);
      gl.fail({ method: 'POST', path: /\/notes$/, afterEffect: true, drop: true });
      t.teleport.review(r.id, 'bob@example.com', 'APPROVED', 'fine');
      await t.settled();
      gl.fail({ method: 'POST', path: /\/notes$/, drop: true });
      t.teleport.remove(r.id);
      await t.settled();
      assert.equal(notes(issue).length, 2, notes(issue).join('\n---\n'));
      assert.match(notes(issue)[0]!, /^\*\*bob@example\.com\*\* reviewed the request at \*\*.+\*\*\.\n\nResolution: \*\*APPROVED\*\*\.\n\nReason: fine\.$/);
      assert.equal(notes(issue)[1], 'Access request has been expired\n\n');
      assert.equal(issue.state, 'closed');
      assert.equal(t.data(r.id)?.['fx/note/review/0'], 'ok:found');
      // Lost after the effect, then dropped before it, then added.
      assert.deepEqual(
        gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues/${issue.iid}/notes`).map((c) => c.status),
        [0, 0, 201],
      );
    } finally {
      await t.close();
    }
  });

  test('crash recovery: a run record left by a dead instance while GitLab holds the issue: adopted, no duplicate', async () => {
    const project = newProject();
    const teleport = new MemoryTeleport();
    const r = teleport.put(newRequest(), false);
    // The dead instance opened the issue, then died before recording it.
    const existing = gl.addIssue(project, { title: 'Access request from alice@example.com', description: issueDescription(r, undefined), labels: ['Teleport: Pending'] });
    const dead = `run:dead0001:${Date.now() - 3_600_000}`;
    teleport.setPluginData(r.id, 'gitlab', { ...gitlabSnapshot(r), announced: dead, 'fx/open': dead });
    // The reconciliation after the watch's INIT finds the unfinished announcement.
    const { t } = await startPlugin(project, { teleport });
    try {
      await waitFor(() => t.data(r.id)?.['announced'] === 'ok', 'the announcement taken over');
      await t.settled();
      assert.deepEqual(
        issuesFor(project, r.id).map((i) => i.iid),
        [existing.iid],
      );
      assert.equal(gl.http.callsTo('POST', `/api/v4/projects/${project.id}/issues`).length, 0);
      assert.equal(t.data(r.id)?.['issue_iid'], String(existing.iid));
      assert.equal(t.data(r.id)?.['issue_id'], String(existing.id));
      // And it is carried on from there.
      t.teleport.review(r.id, 'bob@example.com', 'APPROVED', '', true);
      await t.settled();
      assert.equal(existing.state, 'closed');
      assert.equal(notes(existing).length, 2);
    } finally {
      await t.close();
    }
  });

  test('a request resolved while the plugin was stopped is finished after the restart', async () => {
    const project = newProject();
    const teleport = new MemoryTeleport();
    const port = await freePort();
    let { t } = await startPlugin(project, { teleport, port });
    const r = t.teleport.put(newRequest());
    await t.settled();
    await t.close();
    try {
      teleport.put({ ...teleport.requests.get(r.id)!, state: 'APPROVED', resolveReason: 'approved while you slept' }, false);
      ({ t } = await startPlugin(project, { teleport, port }));
      await waitFor(() => t.data(r.id)?.['resolution'] === 'approved', 'the resolution recorded');
      const issue = onlyIssue(project, r.id);
      assert.equal(issue.state, 'closed');
      assert.deepEqual(issue.labels, ['Teleport: Approved']);
      assert.deepEqual(notes(issue), ['Access request has been approved\n\nReason: approved while you slept']);
      assert.equal(project.hooks.length, 1);
    } finally {
      await t.close();
    }
  });

  test('two runtimes over one Teleport never double an issue, a note or a hook', async () => {
    const project = newProject();
    const teleport = new MemoryTeleport();
    const port = await freePort();
    const [a, b] = await Promise.all([
      startPlugin(project, { teleport, port, instanceId: 'replica-a' }),
      startPlugin(project, { teleport, port, listenPort: await freePort(), instanceId: 'replica-b' }),
    ]);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) ids.push(teleport.put(newRequest()).id);
      await Promise.all([a.t.settled(), b.t.settled()]);
      for (const id of ids) teleport.review(id, 'bob@example.com', 'APPROVED', 'fine');
      await Promise.all([a.t.settled(), b.t.settled()]);
      for (const id of ids) teleport.remove(id);
      await Promise.all([a.t.settled(), b.t.settled()]);
      await waitFor(() => ids.every((id) => teleport.pluginData(id, 'gitlab')?.['resolution'] === 'expired'), 'every expiry recorded');
      for (const id of ids) {
        const issue = onlyIssue(project, id);
        assert.equal(issue.state, 'closed');
        assert.equal(notes(issue).length, 2, `${id}: ${notes(issue).join(' | ')}`);
      }
      assert.equal(project.hooks.length, 1);
      assert.equal(project.labels.length, 4);
    } finally {
      await a.t.close();
      await b.t.close();
    }
  });
});
