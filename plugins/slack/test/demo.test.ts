import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createCaptureLogger, parseConfig, toToml } from '@teleport-plugin/core';
import * as testkit from '@teleport-plugin/testkit';
import slack from '../src/index.js';

describe('demo provider', () => {
  it('starts a fake Slack and describes what it received', async () => {
    const service = await slack.demo!.start({ testkit, teleport: undefined, logger: createCaptureLogger() });
    try {
      assert.equal(service.section.token, 'xoxb-demo');
      assert.match(String(service.section.api_url), /^http:\/\/127\.0\.0\.1:\d+\/api\/$/);
      const text = toToml({ slack: service.section, ...service.topLevel });
      const loaded = parseConfig(`[teleport]\nidentity = "/dev/null"\n${text}`, 'demo.toml');
      const config = slack.parseConfig(loaded.section('slack'), loaded.context);
      assert.deepEqual(config.roleToRecipients, { '*': ['access-requests'] });
      const res = await fetch(`${config.apiUrl}chat.postMessage`, {
        method: 'POST',
        headers: { authorization: 'Bearer xoxb-demo', 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'access-requests', text: 'hello' }),
      });
      assert.equal(((await res.json()) as { ok: boolean }).ok, true);
      assert.deepEqual(
        service.describe().map((l) => l.replace(/\d+\.\d+/, 'TS')),
        ['message TS in #access-requests: hello'],
      );
    } finally {
      await service.close();
    }
  });
});
