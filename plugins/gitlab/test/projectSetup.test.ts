import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { isOutcomeUnknown } from '@teleport-plugin/core';
import { GitlabClient } from '../src/client.js';
import { ensureLabels, ensureProjectHook } from '../src/projectSetup.js';
import { FakeGitLab, type FakeGlProject } from '../src/testing/index.js';

const POLICY = { attempts: 3, baseMs: 1, capMs: 5, maxRetryAfterMs: 5_000 };
const URL = 'https://gitlab-hook:s3cret@plugins.example.com/gitlab/webhook';
const LEGACY = 'https://gitlab-hook:s3cret@plugins.example.com/webhook';

let gl: FakeGitLab;
let project: FakeGlProject;

before(async () => {
  gl = new FakeGitLab({ maxPerPage: 2 });
  await gl.start();
});
after(() => gl.close());
beforeEach(() => {
  gl.http.clearFaults();
  project = gl.addProject(`ops/setup-${gl.projects.length + 1}`);
});

/** A fresh client per "process": nothing is remembered between starts but what GitLab holds. */
function start(): GitlabClient {
  return new GitlabClient({ url: gl.url, token: gl.token, policy: POLICY });
}

const hookPosts = (): number => gl.http.callsTo('POST', `/api/v4/projects/${project.id}/hooks`).length;
const hookPuts = (): number => gl.http.callsTo('PUT', new RegExp(`^/api/v4/projects/${project.id}/hooks/\\d+$`)).length;

describe('labels', () => {
  test("an empty project gets the four labels with upstream's names and colours, once", async () => {
    const first = await ensureLabels(start(), project.id);
    assert.deepEqual(first.names, { pending: 'Teleport: Pending', approved: 'Teleport: Approved', denied: 'Teleport: Denied', expired: 'Teleport: Expired' });
    assert.deepEqual(first.created, ['Teleport: Pending', 'Teleport: Approved', 'Teleport: Denied', 'Teleport: Expired']);
    assert.deepEqual(
      project.labels.map((l) => [l.name, l.color]),
      [
        ['Teleport: Pending', '#FFECDB'],
        ['Teleport: Approved', '#428BCA'],
        ['Teleport: Denied', '#D9534F'],
        ['Teleport: Expired', '#7F8C8D'],
      ],
    );
    const again = await ensureLabels(start(), project.id);
    assert.deepEqual(again.created, []);
    assert.deepEqual(again.names, first.names);
    assert.equal(project.labels.length, 4);
  });

  test('existing labels that reduce to a key are reused as they are spelled', async () => {
    gl.addLabel(project, 'teleport:approved', '#000000');
    gl.addLabel(project, 'bug');
    const setup = await ensureLabels(start(), project.id);
    assert.equal(setup.names.approved, 'teleport:approved');
    assert.deepEqual(setup.created, ['Teleport: Pending', 'Teleport: Denied', 'Teleport: Expired']);
    assert.equal(project.labels.length, 5);
  });

  test('two replicas starting together create each label once (409 counts as done)', async () => {
    const [a, b] = await Promise.all([ensureLabels(start(), project.id), ensureLabels(start(), project.id)]);
    assert.deepEqual(a.names, b.names);
    assert.equal(project.labels.length, 4);
  });
});

describe('the project hook', () => {
  test('created once for issue events with the secret; a restart finds it and creates none', async () => {
    const first = await ensureProjectHook(start(), project.id, { url: URL, token: 'secret-1' });
    assert.equal(first.action, 'created');
    assert.equal(project.hooks.length, 1);
    assert.deepEqual(
      { url: project.hooks[0]!.url, token: project.hooks[0]!.token, issues: project.hooks[0]!.issuesEvents, push: project.hooks[0]!.pushEvents },
      { url: URL, token: 'secret-1', issues: true, push: false },
    );
    const posts = hookPosts();
    const restart = await ensureProjectHook(start(), project.id, { url: URL, token: 'secret-1' });
    assert.equal(restart.action, 'updated');
    assert.deepEqual(restart.drift, []);
    assert.equal(restart.hook.id, first.hook.id);
    assert.equal(hookPosts(), posts, 'no second POST after a restart');
    assert.equal(project.hooks.length, 1);
  });

  test('drift is repaired: events turned off, secret rotated in the config', async () => {
    const first = await ensureProjectHook(start(), project.id, { url: URL, token: 'old-secret' });
    const hook = project.hooks[0]!;
    hook.issuesEvents = false;
    const puts = hookPuts();
    const repaired = await ensureProjectHook(start(), project.id, { url: URL, token: 'new-secret' });
    assert.deepEqual(repaired.drift, ['issues_events']);
    assert.equal(repaired.hook.id, first.hook.id);
    assert.equal(hookPuts(), puts + 1);
    assert.equal(hook.issuesEvents, true);
    assert.equal(hook.token, 'new-secret', 'the write-only token is always sent again');
  });

  test('a hook whose URL GitLab shows with the password masked is still ours', async () => {
    const masked = new FakeGitLab({ maskHookPasswords: true });
    await masked.start();
    try {
      const p = masked.addProject('ops/masked');
      const c = new GitlabClient({ url: masked.url, token: masked.token, policy: POLICY });
      await ensureProjectHook(c, p.id, { url: URL, token: 't' });
      const again = await ensureProjectHook(c, p.id, { url: URL, token: 't' });
      assert.equal(again.action, 'updated');
      assert.deepEqual(again.drift, ['url'], 'the masked URL differs, so it is written again');
      assert.equal(p.hooks.length, 1);
      assert.equal(p.hooks[0]!.url, URL);
    } finally {
      await masked.close();
    }
  });

  test('two replicas starting together end with one hook', async () => {
    const results = await Promise.all([1, 2, 3].map(() => ensureProjectHook(start(), project.id, { url: URL, token: 't' })));
    assert.equal(project.hooks.length, 1);
    assert.ok(
      results.every((r) => r.hook.id === project.hooks[0]!.id),
      JSON.stringify(results.map((r) => r.hook.id)),
    );
  });

  test('copies of our hook (made by hand, or by a race) are removed; the oldest stays', async () => {
    const oldest = gl.addHook(project, { url: URL, token: 'x' });
    gl.addHook(project, { url: 'https://plugins.example.com/gitlab/webhook', token: 'y' });
    gl.addHook(project, { url: 'https://ci.example.com/hook', token: 'z' });
    const setup = await ensureProjectHook(start(), project.id, { url: URL, token: 't' });
    assert.equal(setup.hook.id, oldest.id);
    assert.equal(setup.removed.length, 1);
    assert.deepEqual(project.hooks.map((h) => h.url).sort(), ['https://ci.example.com/hook', URL]);
  });

  test("the Go plugin's hook (<public_addr>/webhook) is re-pointed, not duplicated", async () => {
    const legacy = gl.addHook(project, { url: LEGACY, token: 'go-secret', pushEvents: true });
    const setup = await ensureProjectHook(start(), project.id, { url: URL, token: 'go-secret', legacyUrls: [LEGACY] });
    assert.equal(setup.action, 'updated');
    assert.deepEqual(setup.drift, ['url']);
    assert.equal(setup.hook.id, legacy.id);
    assert.equal(project.hooks.length, 1);
    assert.equal(project.hooks[0]!.url, URL);
  });

  test('a create whose answer was lost is found, not repeated', async () => {
    gl.fail({ method: 'POST', path: /\/hooks$/, afterEffect: true, drop: true });
    const setup = await ensureProjectHook(start(), project.id, { url: URL, token: 't' });
    assert.equal(setup.action, 'created');
    assert.equal(project.hooks.length, 1);
    assert.equal(hookPosts(), 1);
  });

  test('a create that surely failed is reported', async () => {
    gl.fail({ method: 'POST', path: /\/hooks$/, status: 500 });
    await assert.rejects(ensureProjectHook(start(), project.id, { url: URL, token: 't' }), (err: unknown) => isOutcomeUnknown(err));
    assert.equal(project.hooks.length, 0, 'the fake refused before acting');
  });
});
