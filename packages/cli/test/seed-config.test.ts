import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadAdapter, loadConfig } from '@teleport-plugin/core';
import { tableOwners } from '../src/adapters.js';
import { ROOT } from './helpers.js';

const FIXTURES = path.join(ROOT, 'packages/core/test/fixtures');

// The seed article's Slack plugin.toml (Go plugin era) must run unchanged with the real adapter.
test('the seed article plugin.toml passes the slack adapter unchanged', async () => {
  const cfg = await loadConfig(path.join(FIXTURES, 'seed-slack.toml'), { env: {} });
  const slack = await loadAdapter('slack', { from: [ROOT] });
  const parsed = slack.parseConfig(cfg.section('slack'), cfg.context) as { token?: string; roleToRecipients?: Record<string, string[]> };
  assert.equal(parsed.token, '<token-id>');
  assert.deepEqual(parsed.roleToRecipients, { '*': ['requests'] });
  assert.deepEqual(cfg.reportUnknownKeys(), []);
  assert.equal(cfg.warnings.length, 1);
  assert.match(cfg.warnings[0] ?? '', /seed-slack\.toml:7: \[slack\] recipients: is deprecated/);
});

test('Go-layout slack and pagerduty examples pass their adapters', async () => {
  const slack = await loadAdapter('slack', { from: [ROOT] });
  const pagerduty = await loadAdapter('pagerduty', { from: [ROOT] });
  // The Go slack file reads its app token from a file: give it one where the file says.
  const dir = await mkdtemp(path.join(tmpdir(), 'go-slack-'));
  await writeFile(path.join(dir, 'app-token'), 'xapp-from-file\n');
  const text = (await readFile(path.join(FIXTURES, 'slack.toml'), 'utf8')).replaceAll('/var/lib/teleport/plugins/slack/app-token', path.join(dir, 'app-token'));
  await writeFile(path.join(dir, 'slack.toml'), text);
  const s = await loadConfig(path.join(dir, 'slack.toml'), { env: {}, tableOwners: tableOwners() });
  assert.deepEqual(s.pluginSections, ['slack']);
  const parsed = slack.parseConfig(s.section('slack'), s.context) as { review: { enabled: boolean; appToken?: string; slackUserIdTrait?: string } };
  // The Go plugin's top-level [review] is honoured (it used to be skipped silently).
  assert.deepEqual([parsed.review.enabled, parsed.review.appToken, parsed.review.slackUserIdTrait], [true, 'xapp-from-file', 'slack_user_id']);
  assert.deepEqual(s.reportUnknownKeys(), []);
  await rm(dir, { recursive: true, force: true });
  const p = await loadConfig(path.join(FIXTURES, 'pagerduty.toml'), { env: {} });
  pagerduty.parseConfig(p.section('pagerduty'), p.context);
  assert.deepEqual(p.reportUnknownKeys(), []);
});
