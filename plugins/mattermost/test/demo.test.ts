import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCaptureLogger, parseConfig, toToml } from '@teleport-plugin/core';
import { makeAccessRequest, startAdapterTest } from '@teleport-plugin/core/testing';
import mattermost from '../src/index.js';
import { parseMattermostConfig } from '../src/config.js';
import { testAdapter } from './helpers.js';

test('demo: the fake Mattermost and its config make a request posted to demo/access-requests, decided, and the requester told', async () => {
  const service = await mattermost.demo!.start({ testkit: {}, teleport: {}, logger: createCaptureLogger() });
  try {
    assert.deepEqual(service.describe(), ['Mattermost: no posts yet']);
    // What the CLI's demo does with the section and the top-level tables: a config file.
    const toml = `[teleport]\naddr = "localhost:3025"\nidentity = "/unused"\n${toToml({ mattermost: service.section, ...service.topLevel })}`;
    const loaded = parseConfig(toml, 'demo.toml', { env: {} });
    const config = parseMattermostConfig(loaded.section('mattermost'), loaded.context);
    assert.deepEqual(config.roleToRecipients, { '*': ['demo/access-requests'] });
    const t = await startAdapterTest(testAdapter, config);
    try {
      const req = t.teleport.put(makeAccessRequest({ id: 'demo-1', user: 'alice@example.com', requestReason: 'demo' }));
      await t.settled();
      t.teleport.review(req.id, 'carol', 'APPROVED', 'fine', true);
      await t.settled();
      const lines = service.describe();
      assert.equal(lines[0], 'Mattermost post in demo/access-requests: request demo-1 by alice@example.com [✅ APPROVED]');
      assert.equal(lines[1], '  edited 1 time(s)');
      assert.match(lines[2] ?? '', /^ {2}reply: carol reviewed the request at .+ UTC\.$/);
      assert.equal(lines[3], 'Mattermost post in DM with alice@example.com: Your access request demo-1 has been approved.');
      assert.equal(lines.length, 4);
    } finally {
      await t.close();
    }
  } finally {
    await service.close();
  }
});
