// Start-up: a site the plugin cannot work with is a fatal error in plain words (upstream's health
// check, plus the issue type and the four statuses); `check` is the same list.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isPluginError } from '@teleport-plugin/core';
import { adapterContext } from '@teleport-plugin/core/testing';
import jiraAdapter from '../src/index.js';
import { createJiraHandlers } from '../src/adapter.js';
import { JiraClient } from '../src/client.js';
import type { JiraConfig } from '../src/config.js';
import { FakeJira } from '../src/testing/index.js';
import { FAST, startJiraTest } from './helpers.js';

async function startupError(options: Parameters<typeof startJiraTest>[0]): Promise<Error> {
  try {
    const j = await startJiraTest(options);
    await j.close();
  } catch (err) {
    return err as Error;
  }
  throw new Error('start-up succeeded');
}

describe('jira start-up', () => {
  it('rejected credentials are fatal, naming the keys', async () => {
    const err = await startupError({ config: { apiToken: 'wrong' } });
    assert.ok(isPluginError(err, 'CONFIG'), String(err));
    assert.ok(err.userFacing);
    assert.match(err.message, /^adapter "jira" failed to start: Jira at http:\/\/127\.0\.0\.1:\d+ rejected \[jira\] username and api_token \(HTTP 401\)$/);
  });

  it('a board without the four statuses is refused at start, not discovered at the first request', async () => {
    const err = await startupError({ fake: { workflow: { statuses: ['Pending', 'Approved', 'Denied'] } } });
    assert.ok(isPluginError(err, 'CONFIG'), String(err));
    assert.match(err.message, /not ready for the plugin: statuses: the Task workflow of REQ lacks Expired/);
  });

  it('missing permissions or project are refused at start, as upstream', async () => {
    const perms = await startupError({ fake: { permissions: { TRANSITION_ISSUES: false } } });
    assert.match(perms.message, /permissions: jira-bot@example\.com lacks TRANSITION_ISSUES in project REQ/);
    const project = await startupError({ config: { project: 'NOPE' } });
    assert.match(project.message, /project: .*jira\.project/);
  });

  it('an unreachable Jira is a start-up error naming jira.url', async () => {
    const jira = new FakeJira();
    await jira.start();
    await jira.close();
    const err = await startupError({ jira, noWebhook: true });
    assert.ok(isPluginError(err, 'UNREACHABLE'), String(err));
    assert.match(err.message, /cannot check Jira at http:\/\/127\.0\.0\.1:\d+ \(\[jira\] url\)/);
  });

  it('the adapter is the default export, with the Go layout and a demo', () => {
    assert.equal(jiraAdapter.name, 'jira');
    assert.equal(typeof jiraAdapter.demo?.start, 'function');
    assert.equal(jiraAdapter.pluginData?.resolutionTag?.('APPROVED'), 'approved');
    assert.deepEqual(Object.keys(jiraAdapter.pluginData!.snapshot!({ id: 'x', user: 'u', roles: ['a', 'b'], created: undefined, requestReason: 'r' } as never)).sort(), [
      'created',
      'issue_id',
      'issue_key',
      'request_reason',
      'resolution',
      'resolve_reason',
      'reviews_count',
      'roles',
      'user',
    ]);
  });

  it('check: every item, and the explicit opt-out shown as a warning', async () => {
    const jira = new FakeJira();
    await jira.start();
    const config: JiraConfig = {
      url: jira.url,
      username: jira.bot.emailAddress,
      apiToken: jira.bot.apiToken!,
      project: 'REQ',
      issueType: 'Task',
      webhook: { secret: undefined, token: undefined, basicAuth: undefined, clientCert: false, allowUnauthenticated: true },
    };
    const { ctx, close } = adapterContext('jira', config);
    const client = new JiraClient({ ...config, policy: FAST });
    try {
      const handlers = createJiraHandlers(ctx, client);
      const items = await handlers.check!(AbortSignal.timeout(5_000));
      assert.deepEqual(
        items.map((i) => [i.name, i.ok, i.warning ?? false]),
        [
          ['credentials', true, false],
          ['project', true, false],
          ['issue type', true, false],
          ['statuses', true, false],
          ['permissions', true, false],
          ['webhook authentication', true, true],
        ],
      );
      // Without a secret or token, the route leaves caller checks to the shared server.
      assert.deepEqual(
        handlers.routes!.map((r) => [r.method, r.path, r.legacyPath, r.selfAuthenticated ?? false, r.maxBodyBytes]),
        [
          ['POST', '/', '/', false, 25 * 1024 * 1024],
          ['GET', '/status', '/status', false, undefined],
        ],
      );
    } finally {
      client.close();
      await close();
      await jira.close();
    }
  });
});
