import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadAdapter, loadConfig } from '@teleport-plugin/core';
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
  const s = await loadConfig(path.join(FIXTURES, 'slack.toml'), { env: {} });
  slack.parseConfig(s.section('slack'), s.context);
  assert.deepEqual(s.reportUnknownKeys(), []);
  const p = await loadConfig(path.join(FIXTURES, 'pagerduty.toml'), { env: {} });
  pagerduty.parseConfig(p.section('pagerduty'), p.context);
  assert.deepEqual(p.reportUnknownKeys(), []);
});
