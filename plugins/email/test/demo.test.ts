import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCaptureLogger, parseConfig, toToml } from '@teleport-plugin/core';
import { startAdapterTest } from '@teleport-plugin/core/testing';
import emailAdapter from '../src/index.js';
import { newRequest } from './helpers.js';

test('demo: a real SMTP server in-process; the config it gives (as the CLI writes it) sends threaded mails', async () => {
  const service = await emailAdapter.demo!.start({ testkit: {}, teleport: {}, logger: createCaptureLogger() });
  try {
    assert.match(service.describe()[0] ?? '', /^SMTP server 127\.0\.0\.1:\d+: no mails yet$/);
    // What `teleport-plugin demo` writes: top-level tables, then the adapter's own section.
    const toml = toToml({ teleport: { addr: '127.0.0.1:3025', identity: '/unused' }, ...service.topLevel, email: service.section });
    const loaded = parseConfig(toml, 'demo.toml', { logger: createCaptureLogger() });
    const config = emailAdapter.parseConfig(loaded.section('email'), loaded.context);
    assert.deepEqual(loaded.reportUnknownKeys(), []);
    assert.equal(config.smtp?.startTlsPolicy, 'opportunistic');

    const t = await startAdapterTest(emailAdapter, config);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.review(r.id, 'carol@example.com', 'APPROVED', 'go ahead', true);
      await t.settled();
      const lines = service.describe();
      assert.equal(lines.length, 2 * 3 + 1, lines.join('\n'));
      assert.ok(
        lines.some((l) => /^mail to reviewers@example\.com: ".+": You have a new Role Request: Status: ⏳ PENDING$/.test(l)),
        lines.join('\n'),
      );
      assert.ok(
        lines.some((l) =>
          /^mail to security@example\.com: ".+": Role Request has been resolved: Status: ✅ APPROVED \(go ahead\) \(reply in the thread of <teleport-.+>\)$/.test(l),
        ),
        lines.join('\n'),
      );
      assert.ok(
        lines.some((l) => /^mail to alice@example\.com: ".+": Your Role Request has been approved:/.test(l)),
        lines.join('\n'),
      );
    } finally {
      await t.close();
    }
  } finally {
    await service.close();
  }
});
