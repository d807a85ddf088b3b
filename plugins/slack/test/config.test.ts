import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPluginError, parseConfig } from '@teleport-plugin/core';
import slack from '../src/index.js';

let dir: string;
let identity: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'slack-config-'));
  identity = join(dir, 'identity');
  await writeFile(identity, 'placeholder');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function load(body: string) {
  const text = `[teleport]\naddr = "localhost:3025"\nidentity = ${JSON.stringify(identity)}\n\n${body}`;
  const loaded = parseConfig(text, 'teleport-slack.toml', { cwd: dir });
  return { loaded, config: slack.parseConfig(loaded.section('slack'), loaded.context) };
}

function configError(body: string): string {
  try {
    load(body);
  } catch (err) {
    assert.ok(isPluginError(err, 'CONFIG'), `expected a CONFIG error, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected a config error');
}

describe('slack config', () => {
  it('reads token, default api_url and role_to_recipients', () => {
    const { config } = load('[slack]\ntoken = "xoxb-1"\n[role_to_recipients]\n"*" = "general"\n"dev" = ["dev", "a@example.com"]\n');
    assert.equal(config.token, 'xoxb-1');
    assert.equal(config.apiUrl, 'https://slack.com/api/');
    assert.deepEqual(config.roleToRecipients, { '*': ['general'], dev: ['dev', 'a@example.com'] });
    assert.equal(config.review.enabled, false);
  });

  it('accepts upstream apiurl and adds the trailing slash', () => {
    const { config } = load('[slack]\ntoken = "xoxb-1"\napiurl = "http://127.0.0.1:9/api"\n[role_to_recipients]\n"*" = "general"\n');
    assert.equal(config.apiUrl, 'http://127.0.0.1:9/api/');
  });

  it('reads the token from a file when it starts with /', async () => {
    const file = join(dir, 'token');
    await writeFile(file, 'xoxb-from-file\n');
    const { config } = load(`[slack]\ntoken = ${JSON.stringify(file)}\n[role_to_recipients]\n"*" = "general"\n`);
    assert.equal(config.token, 'xoxb-from-file');
  });

  it('reads the token from env:NAME and from token_file', async () => {
    process.env.SLACK_ADAPTER_TEST_TOKEN = 'xoxb-from-env';
    try {
      assert.equal(load('[slack]\ntoken = "env:SLACK_ADAPTER_TEST_TOKEN"\n[role_to_recipients]\n"*" = "general"\n').config.token, 'xoxb-from-env');
    } finally {
      delete process.env.SLACK_ADAPTER_TEST_TOKEN;
    }
    const file = join(dir, 'token-file');
    await writeFile(file, 'xoxb-token-file\n');
    assert.equal(load(`[slack]\ntoken_file = ${JSON.stringify(file)}\n[role_to_recipients]\n"*" = "general"\n`).config.token, 'xoxb-token-file');
  });

  it('accepts [slack.role_to_recipients] and ignores deprecated recipients when a map is given', () => {
    const { config, loaded } = load('[slack]\ntoken = "xoxb-1"\nrecipients = ["old"]\n[slack.role_to_recipients]\n"*" = ["new"]\n');
    assert.deepEqual(config.roleToRecipients, { '*': ['new'] });
    assert.ok(
      loaded.warnings.some((w) => /recipients/.test(w)),
      `warnings: ${loaded.warnings.join('; ')}`,
    );
  });

  it('requires the token', () => {
    assert.match(configError('[slack]\n[role_to_recipients]\n"*" = "general"\n'), /\[slack\] token/);
  });

  it('requires a non-empty "*" in role_to_recipients and names the key', () => {
    assert.match(configError('[slack]\ntoken = "xoxb-1"\n'), /role_to_recipients/);
    assert.match(configError('[slack]\ntoken = "xoxb-1"\n[role_to_recipients]\n"dev" = "dev"\n'), /role_to_recipients.*"\*"/);
    assert.match(configError('[slack]\ntoken = "xoxb-1"\n[role_to_recipients]\n"*" = []\n'), /role_to_recipients/);
  });

  it('turns deprecated slack.recipients into "*" with a warning', () => {
    const { config, loaded } = load('[slack]\ntoken = "xoxb-1"\nrecipients = ["ops", "b@example.com"]\n');
    assert.deepEqual(config.roleToRecipients, { '*': ['ops', 'b@example.com'] });
    assert.ok(
      loaded.warnings.some((w) => /recipients/.test(w)),
      `warnings: ${loaded.warnings.join('; ')}`,
    );
  });

  it('validates [slack.review] when enabled', () => {
    const base = '[slack]\ntoken = "xoxb-1"\n[role_to_recipients]\n"*" = "general"\n[slack.review]\nenabled = true\n';
    assert.match(configError(base), /\[slack\.review\] app_token/);
    assert.match(configError(`${base}app_token = "xapp-1"\n`), /slack_user_id_trait/);
    const { config } = load(`${base}signing_secret = "s3cret"\nslack_user_id_trait = "slack_id"\n`);
    assert.deepEqual(config.review, {
      enabled: true,
      appToken: undefined,
      signingSecret: 's3cret',
      slackUserIdTrait: 'slack_id',
      allowEmailUsernameMatch: false,
    });
    assert.equal(load(`${base}app_token = "xapp-1"\nallow_email_username_match = true\n`).config.review.allowEmailUsernameMatch, true);
  });

  it('ships an example config that parses', async () => {
    const example = slack.exampleConfig?.() ?? '';
    assert.match(example, /\[slack\]/);
    const file = join(dir, 'bot-token');
    await writeFile(file, 'xoxb-x');
    const { config } = load(example.replace('/var/lib/teleport/plugins/slack/bot-token', file));
    assert.deepEqual(config.roleToRecipients['*'], ['access-requests']);
  });
});
