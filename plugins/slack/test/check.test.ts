import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, isPluginError } from '@teleport-plugin/core';
import { adapterContext } from '@teleport-plugin/core/testing';
import { setupSlack } from '../src/adapter.js';
import { checkSlack } from '../src/check.js';
import { SlackClient } from '../src/client.js';
import { FAST_POLICY, baseConfig, startFakeSlack, type FakeSlack } from './helpers.js';

let fake: FakeSlack;
before(async () => {
  fake = await startFakeSlack();
});
after(() => fake.close());

const run = (token: string, roleToRecipients: Record<string, string[]>) => {
  const client = new SlackClient({ token, apiUrl: fake.apiUrl, logger: createCaptureLogger(), policy: FAST_POLICY });
  return checkSlack(client, baseConfig(fake, { roleToRecipients }), AbortSignal.timeout(5000));
};

describe('check', () => {
  it('passes for a good token, scopes and channels', async () => {
    const items = await run(fake.token, { '*': ['access-requests', '#dev-access', 'C0ACCESS', 'a@example.com'] });
    assert.ok(
      items.every((i) => i.ok),
      JSON.stringify(items),
    );
    assert.deepEqual(
      items.map((i) => i.name),
      ['slack token', 'slack scopes', 'slack channels'],
    );
  });

  it('explains an invalid token in plain words', async () => {
    const items = await run('xoxb-wrong', { '*': ['access-requests'] });
    assert.equal(items.length, 1);
    assert.equal(items[0]!.ok, false);
    assert.match(items[0]!.detail ?? '', /not valid \(invalid_auth\).*Bot User OAuth Token/);
  });

  it('names missing scopes', async () => {
    const saved = fake.scopes;
    fake.scopes = ['chat:write', 'users:read', 'channels:read'];
    try {
      const items = await run(fake.token, { '*': ['access-requests'] });
      const scopes = items.find((i) => i.name === 'slack scopes');
      assert.equal(scopes?.ok, false);
      assert.match(scopes?.detail ?? '', /missing users:read\.email, im:write, groups:read, channels:history, groups:history, im:history/);
    } finally {
      fake.scopes = saved;
    }
  });

  it('names unknown channels and channels without the bot', async () => {
    const items = await run(fake.token, { '*': ['access-requests'], dev: ['no-such-channel', 'private-ops'] });
    const channels = items.find((i) => i.name === 'slack channels');
    assert.equal(channels?.ok, false);
    assert.match(channels?.detail ?? '', /unknown channel\(s\) in role_to_recipients: no-such-channel/);
    const membership = items.find((i) => i.name === 'slack channel membership');
    assert.match(membership?.detail ?? '', /not in: private-ops.*\/invite/);
  });

  it('fails setup with a plain message when Slack rejects the token', async () => {
    const t = adapterContext('slack', { ...baseConfig(fake), token: 'xoxb-wrong' });
    await assert.rejects(setupSlack(t.ctx), (err) => isPluginError(err, 'CONFIG') && err.userFacing && /\[slack\] token/.test(err.message));
    await t.close();
    const down = adapterContext('slack', { ...baseConfig(fake), apiUrl: 'http://127.0.0.1:1/api/' });
    await assert.rejects(setupSlack(down.ctx, { policy: { attempts: 1 } }), (err) => isPluginError(err, 'UNREACHABLE') && /\[slack\] api_url/.test(err.message));
    await down.close();
    // An address that redirects (http for https, a wrong path): said once, not retried, not followed.
    const calls = fake.calls.length;
    fake.fail({ path: '/api/auth.test', status: 301, headers: { location: 'https://slack.com/api/auth.test' } });
    const moved = adapterContext('slack', baseConfig(fake));
    await assert.rejects(
      setupSlack(moved.ctx),
      (err) => isPluginError(err, 'CONFIG') && err.userFacing && /\[slack\] api_url\): Slack auth\.test: the service answered with a redirect/.test(err.message),
    );
    assert.equal(fake.calls.length - calls, 1);
    await moved.close();
  });
});
