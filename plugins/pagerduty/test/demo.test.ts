import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createCaptureLogger, parseConfig } from '@teleport-plugin/core';
import * as testkit from '@teleport-plugin/testkit';
import { FakeTeleport, startHarness } from '@teleport-plugin/testkit';
import pagerDutyAdapter from '../src/index.js';
import { parsePagerDutyConfig } from '../src/config.js';

test('demo: the fake PagerDuty, role annotations and an on-call requester make a request auto-approved', async () => {
  const tp = await FakeTeleport.start({ advancedWorkflows: true });
  tp.addRequester('alice@example.com', { requestRoles: ['editor'] });
  const service = await pagerDutyAdapter.demo!.start({ testkit, teleport: tp, cluster: testkit.demoCluster(tp), logger: createCaptureLogger() });
  let harness: Awaited<ReturnType<typeof startHarness>> | undefined;
  try {
    assert.deepEqual(tp.state.roles.get('alice@example.com-requester')?.requestAnnotations, {
      pagerduty_notify_service: ['Teleport Access Requests'],
      pagerduty_services: ['Teleport Access Requests'],
    });
    assert.deepEqual(service.describe(), ['PagerDuty: no incidents yet']);

    const s = service.section;
    const toml = `[teleport]\naddr = "${tp.addr}"\nidentity = "/unused"\n[pagerduty]\napi_key = "${String(s['api_key'])}"\nuser_email = "${String(s['user_email'])}"\napi_endpoint = "${String(s['api_endpoint'])}"\n`;
    const config = parsePagerDutyConfig(parseConfig(toml, 'demo.toml').section('pagerduty'));
    harness = await startHarness({ teleport: tp, adapters: [{ adapter: pagerDutyAdapter, config }], pluginUser: { canReview: true } });

    const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'demo' });
    await tp.waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 15_000, 'demo auto-approval');
    await tp.waitFor(() => service.describe().some((l) => l.includes('[resolved]')), 15_000, 'demo incident resolved');
    const lines = service.describe();
    assert.match(lines[0] ?? '', /^PagerDuty incident \S+ on "Teleport Access Requests": Access request from alice@example.com \[resolved\]$/);
    assert.ok(
      lines.some((l) => l.startsWith('  note: Access request has been approved')),
      lines.join('\n'),
    );
  } finally {
    await harness?.stop();
    await service.close();
    await tp.close();
  }
});
