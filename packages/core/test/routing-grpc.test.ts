// Routing against the gRPC fake Teleport (mutual TLS, the real client and watch): rules written
// with the admin API reach the runtime through ListAccessMonitoringRulesWithFilter and the
// access_monitoring_rule watch kind; a plugin role without rule access falls back with one warning;
// the automatic review is submitted as the plugin's user.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTeleportClient, type ConnectedTeleportClient } from '../src/teleport/client.js';
import { ChatService, chatAdapter, eventually, startRouted, type Routed } from './routing-helpers.js';
import { loadFakeTeleport, type FakeTeleportLike } from './teleport-testkit.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';

let tp: FakeTeleportLike;
let dir: string;
const clients: ConnectedTeleportClient[] = [];

before(async () => {
  const FakeTeleport = await loadFakeTeleport();
  dir = await mkdtemp(path.join(tmpdir(), 'tp-routing-'));
  tp = await FakeTeleport.start();
  tp.addPluginUser('routing-plugin', { readAccessMonitoringRules: true, canReview: true });
  tp.addPluginUser('plain-plugin', { readAccessMonitoringRules: false });
  tp.addRequester('alice@example.com', { requestRoles: ['editor', 'db'] });
});

after(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await tp?.close();
  await rm(dir, { recursive: true, force: true });
});

async function client(user: string): Promise<ConnectedTeleportClient> {
  const c = await createTeleportClient({ addr: tp.addr, identityFile: await tp.writeIdentityFile(dir, { user, fileName: user }) }, createCaptureLogger());
  clients.push(c);
  return c;
}

async function posted(chat: ChatService, requestId: string): Promise<string[]> {
  await eventually(() => chat.of('post', requestId).length > 0, `posts for ${requestId}`);
  await new Promise((r) => setTimeout(r, 50));
  return chat
    .of('post', requestId)
    .map((p) => p.to)
    .sort();
}

describe('routing over gRPC', () => {
  it('rules from ListAccessMonitoringRulesWithFilter, kept current by the access_monitoring_rule watch kind', async () => {
    tp.admin.upsertAccessMonitoringRule({ name: 'dba', condition: 'contains(access_request.spec.roles, "db")', notification: { name: 'chat', recipients: ['#dba'] } });
    const chat = new ChatService();
    let t: Routed | undefined;
    try {
      t = await startRouted(await client('routing-plugin'), [chatAdapter('chat', chat, { '*': ['#access'] })]);
      const watch = tp.calls.filter((c) => c.method === 'WatchEvents' && c.caller === 'routing-plugin').at(-1);
      assert.deepEqual(
        (watch?.request as { Kinds: Array<{ Kind: string }> }).Kinds.map((k) => k.Kind),
        ['access_request', 'access_monitoring_rule'],
      );
      const listed = () => tp.calls.filter((c) => c.method === 'AccessMonitoringRulesService.ListAccessMonitoringRulesWithFilter' && c.caller === 'routing-plugin');
      await eventually(() => listed().length > 0, 'rules listed after INIT');
      const lists = listed();
      assert.deepEqual(
        lists.map((c) => (c.request as { notification_name: string }).notification_name),
        ['chat'],
      );

      const r1 = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['db'] });
      assert.deepEqual(await posted(chat, r1), ['#dba']);

      // Written while running: the PUT event on the stream updates the routing.
      tp.admin.upsertAccessMonitoringRule({ name: 'dba', condition: 'contains(access_request.spec.roles, "db")', notification: { name: 'chat', recipients: ['#dba-oncall'] } });
      await eventually(async () => (await t!.runtime.explain(r1)).adapters[0]?.recipients?.recipients.includes('#dba-oncall') ?? false, 'rule update applied');
      const r2 = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['db'] });
      assert.deepEqual(await posted(chat, r2), ['#dba-oncall']);

      tp.admin.deleteAccessMonitoringRule('dba');
      await eventually(async () => (await t!.runtime.explain(r2)).rules.cached.length === 0, 'rule delete applied');
      const r3 = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['db'] });
      assert.deepEqual(await posted(chat, r3), ['#access']);
    } finally {
      await t?.stop();
    }
  });

  it('a plugin role without rule access: the static map, one warning', async () => {
    tp.admin.upsertAccessMonitoringRule({ name: 'dba2', condition: 'true', notification: { name: 'chat', recipients: ['#dba'] } });
    const chat = new ChatService();
    const t = await startRouted(await client('plain-plugin'), [chatAdapter('chat', chat, { '*': ['#access'] })]);
    try {
      const r = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
      assert.deepEqual(await posted(chat, r), ['#access']);
      const warned = t.logger.entries.filter((e) => e.level === 'warn' && /Cannot load Access Monitoring Rules/.test(e.message));
      assert.equal(warned.length, 1, 'one warning (the watch dropped the kind quietly with partial success)');
    } finally {
      await t.stop();
      tp.admin.deleteAccessMonitoringRule('dba2');
    }
  });

  it('the automatic review is a review by the plugin user; Teleport applies it', async () => {
    tp.admin.upsertAccessMonitoringRule({
      name: 'editors',
      condition: 'contains(access_request.spec.roles, "editor") && !is_empty(access_request.spec.request_reason)',
      desiredState: 'reviewed',
      automaticReview: { integration: 'oncall', decision: 'APPROVED', reason: 'editors with a reason' },
    });
    const chat = new ChatService();
    const t = await startRouted(await client('routing-plugin'), [chatAdapter('chat', chat, { '*': ['#access'] })], { automaticReview: { integration: 'oncall' } });
    try {
      const r = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'deploy' });
      await tp.waitFor(() => tp.admin.getRequest(r)?.state === 'APPROVED', 5_000, 'approved');
      const reviews = tp.admin.getRequest(r)!.reviews;
      assert.deepEqual(
        reviews.map((rv) => [rv.author, rv.proposedState]),
        [['routing-plugin', 'APPROVED']],
      );
      assert.equal(reviews[0]!.reason, 'Approved automatically by access monitoring rule "editors": editors with a reason');
      await eventually(() => chat.of('post', r).length === 1, 'announced');
      assert.deepEqual(
        chat.of('post', r).map((p) => [p.status, p.asks]),
        [['APPROVED', false]],
      );
    } finally {
      await t.stop();
      tp.admin.deleteAccessMonitoringRule('editors');
    }
  });
});
