import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CheckItem } from '@teleport-plugin/core';
import { checkGitlab } from '../src/check.js';
import { GitlabClient } from '../src/client.js';
import type { GitlabConfig } from '../src/config.js';
import { ensureLabels, ensureProjectHook } from '../src/projectSetup.js';
import { FakeGitLab, type FakeGlProject } from '../src/testing/index.js';

const POLICY = { attempts: 2, baseMs: 1, capMs: 5, maxRetryAfterMs: 5_000 };

let gl: FakeGitLab;
before(async () => {
  gl = new FakeGitLab();
  await gl.start();
});
after(() => gl.close());

function config(project: FakeGlProject | string, extra: Partial<GitlabConfig> = {}): GitlabConfig {
  return {
    url: gl.url,
    token: gl.token,
    projectId: typeof project === 'string' ? project : project.pathWithNamespace,
    webhookSecret: 's',
    webhookUrl: 'https://hook:pw@plugins.example.com/gitlab/webhook',
    webhookUrlRedacted: 'https://hook:REDACTED@plugins.example.com/gitlab/webhook',
    upstreamWebhookUrl: 'https://hook:pw@plugins.example.com/webhook',
    ...extra,
  };
}

async function check(cfg: GitlabConfig, token = cfg.token, url = gl.url): Promise<CheckItem[]> {
  return checkGitlab(new GitlabClient({ url, token, policy: POLICY }), cfg);
}

function item(items: CheckItem[], name: string): CheckItem {
  const found = items.find((i) => i.name === name);
  assert.ok(found, `no "${name}" in ${JSON.stringify(items)}`);
  return found;
}

test('a set-up project passes every item', async () => {
  const project = gl.addProject('ops/checked');
  const cfg = config(project);
  const client = new GitlabClient({ url: gl.url, token: gl.token, policy: POLICY });
  await ensureLabels(client, project.id);
  const hook = await ensureProjectHook(client, project.id, { url: cfg.webhookUrl, token: cfg.webhookSecret });
  const items = await check(cfg);
  assert.deepEqual(
    items.map((i) => [i.name, i.ok]),
    [
      ['token', true],
      ['project', true],
      ['labels', true],
      ['webhook', true],
    ],
  );
  assert.match(item(items, 'token').detail ?? '', /^teleport-bot \(id \d+\), scopes api$/);
  assert.equal(item(items, 'project').detail, `ops/checked (id ${project.id}) at ${gl.url}`);
  assert.match(item(items, 'labels').detail ?? '', /^found "Teleport: Pending", "Teleport: Approved", "Teleport: Denied", "Teleport: Expired"$/);
  assert.equal(item(items, 'webhook').detail, `hook ${hook.hook.id} calls https://hook:REDACTED@plugins.example.com/gitlab/webhook on issue events`);
  assert.ok(!JSON.stringify(items).includes(':pw@'), 'the hook password is never shown');
});

test('a fresh project passes too: labels and hook are created at start', async () => {
  const items = await check(config(gl.addProject('ops/fresh')));
  assert.ok(
    items.every((i) => i.ok),
    JSON.stringify(items),
  );
  assert.match(item(items, 'labels').detail ?? '', /created at start: "Teleport: Pending"/);
  assert.match(item(items, 'webhook').detail ?? '', /no hook calls https:\/\/hook:REDACTED@plugins\.example\.com\/gitlab\/webhook yet: start creates it/);
});

test("the Go plugin's hook is reported as re-pointed at start", async () => {
  const project = gl.addProject('ops/from-go');
  gl.addHook(project, { url: 'https://hook:pw@plugins.example.com/webhook', token: 's' });
  assert.match(
    item(await check(config(project)), 'webhook').detail ?? '',
    /the Go plugin's hook \d+ calls https:\/\/hook:REDACTED@plugins\.example\.com\/webhook: start re-points it/,
  );
});

test('a refused token stops the check and names gitlab.token', async () => {
  const items = await check(config(gl.addProject('ops/refused')), 'glpat-wrong');
  assert.equal(items.length, 1);
  assert.equal(items[0]!.ok, false);
  assert.match(items[0]!.detail ?? '', /gitlab\.token/);
});

test('a token without the api scope fails, naming the scope', async () => {
  gl.addToken('glpat-read-only', { scopes: ['read_api', 'read_user'], name: 'ro' });
  const items = await check(config(gl.addProject('ops/ro')), 'glpat-read-only');
  assert.deepEqual(items, [{ name: 'token', ok: false, detail: `token "ro" of teleport-bot (id ${gl.bot.id}) has scopes read_api, read_user: gitlab.token needs the api scope` }]);
});

test('an unknown project fails, naming gitlab.project_id', async () => {
  const items = await check(config('nobody/here'));
  assert.equal(item(items, 'project').ok, false);
  assert.match(item(items, 'project').detail ?? '', /check gitlab\.project_id/);
  assert.equal(items.length, 2);
});

test('without the Maintainer role the webhook item fails in plain words', async () => {
  const items = await check(config(gl.addProject('ops/developer', { role: 'developer' })));
  assert.equal(item(items, 'labels').ok, true);
  assert.equal(item(items, 'webhook').ok, false);
  assert.match(item(items, 'webhook').detail ?? '', /Maintainer/);
});

test('a hook with issue events off fails until start repairs it', async () => {
  const project = gl.addProject('ops/events-off');
  gl.addHook(project, { url: 'https://plugins.example.com/gitlab/webhook', issuesEvents: false });
  assert.match(item(await check(config(project)), 'webhook').detail ?? '', /issue events off/);
});

test('GitLab before 15.5 (no token introspection): the token passes, scopes unverified', async () => {
  const old = new FakeGitLab({ noTokenIntrospection: true });
  await old.start();
  try {
    const project = old.addProject('ops/old');
    const items = await checkGitlab(new GitlabClient({ url: old.url, token: old.token, policy: POLICY }), { ...config(project), url: old.url, token: old.token });
    assert.equal(item(items, 'token').ok, true);
    assert.match(item(items, 'token').detail ?? '', /scopes not verifiable/);
  } finally {
    await old.close();
  }
});
