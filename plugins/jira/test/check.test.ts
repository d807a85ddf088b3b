import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckItem } from '@teleport-plugin/core';
import { checkJira } from '../src/check.js';
import { JiraClient } from '../src/client.js';
import type { JiraConfig } from '../src/config.js';
import { FakeJira, type FakeJiraOptions } from '../src/testing/index.js';

const FAST = { attempts: 2, baseMs: 1, capMs: 5, maxRetryAfterMs: 1_000 };

async function runCheck(fake: FakeJiraOptions, config: Partial<JiraConfig> = {}): Promise<Record<string, CheckItem>> {
  const jira = new FakeJira(fake);
  await jira.start();
  const full: JiraConfig = {
    url: jira.url,
    username: jira.bot.emailAddress,
    apiToken: jira.bot.apiToken!,
    project: 'REQ',
    issueType: 'Task',
    webhook: { secret: 'a-long-webhook-secret', token: undefined, basicAuth: undefined, clientCert: false, allowUnauthenticated: false },
    ...config,
  };
  const client = new JiraClient({ ...full, policy: FAST });
  try {
    const items = await checkJira(client, full);
    return Object.fromEntries(items.map((i) => [i.name, i]));
  } finally {
    client.close();
    await jira.close();
  }
}

test('a well-set-up site passes every check', async () => {
  const items = await runCheck({});
  assert.deepEqual(Object.keys(items), ['credentials', 'project', 'issue type', 'statuses', 'permissions', 'webhook authentication']);
  for (const item of Object.values(items)) assert.equal(item.ok, true, `${item.name}: ${item.detail}`);
  assert.match(items['credentials']!.detail!, /as Teleport Jira bot \(jira-bot@example\.com\)/);
  assert.equal(items['statuses']!.detail, 'Pending, Approved, Denied, Expired');
  assert.match(items['webhook authentication']!.detail!, /jira\.webhook_secret/);
});

test('a board without the four statuses is reported by check, naming what is missing', async () => {
  const items = await runCheck({ workflow: { statuses: ['To Do', 'In Progress', 'Done', 'Approved'] } });
  assert.equal(items['statuses']!.ok, false);
  assert.match(items['statuses']!.detail!, /lacks Pending, Denied, Expired/);
  assert.match(items['statuses']!.detail!, /it has To Do, In Progress, Done, Approved/);
});

test('a missing issue type, project or permission says which key or permission to fix', async () => {
  const noType = await runCheck({ issueTypes: ['Bug', 'Story'] });
  assert.equal(noType['issue type']!.ok, false);
  assert.match(noType['issue type']!.detail!, /no issue type "Task" \(jira\.issue_type\); it has "Bug", "Story"/);

  const noProject = await runCheck({}, { project: 'NOPE' });
  assert.equal(noProject['project']!.ok, false);
  assert.match(noProject['project']!.detail!, /jira\.project/);
  assert.equal(noProject['statuses'], undefined, 'statuses are not looked up without a project');

  const unset = await runCheck({}, { project: '' });
  assert.match(unset['project']!.detail!, /jira\.project is not set/);

  const cannot = await runCheck({ permissions: { TRANSITION_ISSUES: false, ADD_COMMENTS: false } });
  assert.equal(cannot['permissions']!.ok, false);
  assert.match(cannot['permissions']!.detail!, /lacks TRANSITION_ISSUES, ADD_COMMENTS in project REQ/);
});

test('bad credentials stop the check early, with the keys to fix', async () => {
  const items = await runCheck({}, { apiToken: 'wrong' });
  assert.deepEqual(Object.keys(items), ['credentials', 'webhook authentication']);
  assert.equal(items['credentials']!.ok, false);
  assert.match(items['credentials']!.detail!, /jira\.username and jira\.api_token/);
});

test('an unauthenticated webhook is flagged', async () => {
  const items = await runCheck({}, { webhook: { secret: undefined, token: undefined, basicAuth: undefined, clientCert: false, allowUnauthenticated: true } });
  const item = items['webhook authentication']!;
  assert.equal(item.ok, true);
  assert.equal(item.warning, true, 'shown as WARN by check');
  assert.match(item.detail!, /anyone who can reach it can approve or deny/);
});
