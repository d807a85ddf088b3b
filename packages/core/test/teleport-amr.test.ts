// The Teleport client's Access Monitoring Rules against the fake Teleport (real gRPC over mutual
// TLS): listing with filter and paging, error mapping, and rule events on the watch stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { isPluginError, type PluginError } from '../src/errors.js';
import { createTeleportClient, type ConnectedTeleportClient } from '../src/teleport/client.js';
import type { WatchEvent, WatchStream } from '../src/teleport/types.js';
import { createCaptureLogger } from '../src/log/capture-logger.js';
import { loadFakeTeleport, type FakeTeleportLike, type FakeTeleportStatic } from './teleport-testkit.js';

let FakeTeleport: FakeTeleportStatic;
let tp: FakeTeleportLike;
let dir: string;
/** May read and list rules. */
let reader: ConnectedTeleportClient;
/** The preset plugin user: no rule permissions. */
let plugin: ConnectedTeleportClient;
const logger = createCaptureLogger();

before(async () => {
  FakeTeleport = await loadFakeTeleport();
  dir = await mkdtemp(path.join(tmpdir(), 'tp-amr-'));
  tp = await FakeTeleport.start();
  tp.addPluginUser('rule-reader', { readAccessMonitoringRules: true });
  tp.addRequester('alice@example.com');
  reader = await createTeleportClient({ addr: tp.addr, identityFile: await tp.writeIdentityFile(dir, { user: 'rule-reader', fileName: 'reader' }) }, logger);
  plugin = await createTeleportClient({ addr: tp.addr, identityFile: await tp.writeIdentityFile(dir, { user: 'access-plugin', fileName: 'plugin' }) }, logger);
});

after(async () => {
  await reader?.close();
  await plugin?.close();
  await tp?.close();
  await rm(dir, { recursive: true, force: true });
});

function code(expected: string, fragment?: string) {
  return (err: unknown): boolean => {
    assert.ok(isPluginError(err), `expected PluginError, got ${String(err)}`);
    assert.equal((err as PluginError).code, expected, (err as PluginError).message);
    if (fragment) assert.ok((err as PluginError).message.includes(fragment), (err as PluginError).message);
    return true;
  };
}

async function nextEvent(it: AsyncIterator<WatchEvent>, timeoutMs = 5000): Promise<WatchEvent> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no watch event within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    assert.equal(r.done, false, 'stream ended');
    return r.value as WatchEvent;
  } finally {
    clearTimeout(timer);
  }
}

function clearRules(): void {
  for (const r of tp.admin.listAccessMonitoringRules()) tp.admin.deleteAccessMonitoringRule(r.name);
}

test('listAccessMonitoringRules: ListAccessMonitoringRulesWithFilter with the filter, mapped to the domain type', async (t) => {
  t.after(clearRules);
  tp.admin.upsertAccessMonitoringRule({
    name: 'sre-on-call',
    condition: 'contains_all(set("access"), access_request.spec.roles) && contains_any(user.traits["team"], set("sre"))',
    desiredState: 'reviewed',
    automaticReview: { integration: 'builtin', decision: 'APPROVED' },
    notification: { name: 'slack', recipients: ['teleport-access'] },
    schedules: { evenings: { timezone: 'America/Los_Angeles', shifts: [{ weekday: 'Friday', start: '17:00', end: '23:59' }] } },
  });
  tp.admin.upsertAccessMonitoringRule({ name: 'mattermost-only', condition: 'true', notification: { name: 'mattermost', recipients: ['team/channel'] } });
  tp.admin.upsertAccessMonitoringRule({ name: 'review-only', condition: 'true', automaticReview: { integration: 'pagerduty', decision: 'DENIED' }, desiredState: 'reviewed' });

  const slack = await reader.listAccessMonitoringRules({ subjects: ['access_request'], notificationName: 'slack' });
  assert.deepEqual(slack, [
    {
      name: 'sre-on-call',
      subjects: ['access_request'],
      states: [],
      condition: 'contains_all(set("access"), access_request.spec.roles) && contains_any(user.traits["team"], set("sre"))',
      notification: { name: 'slack', recipients: ['teleport-access'] },
      automaticReview: { integration: 'builtin', decision: 'APPROVED', reason: '' },
      desiredState: 'reviewed',
      schedules: { evenings: { timezone: 'America/Los_Angeles', shifts: [{ weekday: 'Friday', start: '17:00', end: '23:59' }] } },
    },
  ]);
  const call = tp.calls.filter((c) => c.method === 'AccessMonitoringRulesService.ListAccessMonitoringRulesWithFilter').at(-1);
  assert.ok(call);
  assert.equal(call.caller, 'rule-reader');
  assert.equal(call.metadata['version'], '18.0.0', "the server's own version, as on every call after Ping");
  assert.deepEqual(call.request, {
    page_size: '1000',
    page_token: '',
    subjects: ['access_request'],
    notification_name: 'slack',
    automatic_review_name: '',
  });

  const reviews = await reader.listAccessMonitoringRules({ automaticReviewName: 'pagerduty' });
  assert.deepEqual(
    reviews.map((r) => [r.name, r.automaticReview?.decision, 'notification' in r]),
    [['review-only', 'DENIED', false]],
  );
  const all = await reader.listAccessMonitoringRules({});
  assert.deepEqual(
    all.map((r) => r.name),
    ['mattermost-only', 'review-only', 'sre-on-call'],
  );
});

test('listAccessMonitoringRules follows next_page_token (1000 per page)', async (t) => {
  t.after(clearRules);
  const names: string[] = [];
  for (let i = 0; i < 2003; i += 1) {
    const name = `rule-${String(i).padStart(4, '0')}`;
    names.push(name);
    tp.admin.upsertAccessMonitoringRule({ name, condition: 'true', notification: { name: i % 2 === 0 ? 'slack' : 'email' } });
  }
  const before = tp.calls.length;
  const rules = await reader.listAccessMonitoringRules({});
  assert.deepEqual(
    rules.map((r) => r.name),
    names,
  );
  const pages = tp.calls.slice(before).filter((c) => c.method === 'AccessMonitoringRulesService.ListAccessMonitoringRulesWithFilter');
  assert.deepEqual(
    pages.map((c) => (c.request as { page_token: string }).page_token),
    ['', 'rule-1000', 'rule-2000'],
  );
  const slack = await reader.listAccessMonitoringRules({ notificationName: 'slack' });
  assert.equal(slack.length, 1002);
  assert.ok(slack.every((r) => r.notification?.name === 'slack'));
});

test('errors: PERMISSION_DENIED is ACCESS_DENIED, UNIMPLEMENTED (old servers) is NOT_IMPLEMENTED', async () => {
  await assert.rejects(
    plugin.listAccessMonitoringRules({ notificationName: 'slack' }),
    code('ACCESS_DENIED', 'ListAccessMonitoringRulesWithFilter: access denied to perform action "read" on "access_monitoring_rule"'),
  );
  const old = await FakeTeleport.start({ version: '15.4.22' });
  try {
    old.addPluginUser('rule-reader', { readAccessMonitoringRules: true });
    const c = await createTeleportClient({ addr: old.addr, identityFile: await old.writeIdentityFile(dir, { user: 'rule-reader', fileName: 'old' }) }, logger);
    try {
      await assert.rejects(c.listAccessMonitoringRules({}), code('NOT_IMPLEMENTED', 'ListAccessMonitoringRulesWithFilter:'));
    } finally {
      await c.close();
    }
  } finally {
    await old.close();
  }
});

/** Opens a watch and returns its iterator after INIT. */
async function watchAfterInit(client: ConnectedTeleportClient, accessMonitoringRules?: boolean): Promise<{ stream: WatchStream; it: AsyncIterator<WatchEvent>; init: WatchEvent }> {
  const stream = client.watchAccessRequests(accessMonitoringRules === undefined ? {} : { accessMonitoringRules });
  const it = stream[Symbol.asyncIterator]();
  const init = await nextEvent(it);
  return { stream, it, init };
}

test('watchAccessRequests({ accessMonitoringRules: true }): both kinds with partial success; rule-put carries the rule, rule-delete its name', async (t) => {
  t.after(clearRules);
  const { stream, it, init } = await watchAfterInit(reader, true);
  t.after(() => stream.close());
  assert.deepEqual(init, { type: 'init', acceptedKinds: ['access_request', 'access_monitoring_rule'] });
  const watchCall = tp.calls.filter((c) => c.method === 'WatchEvents' && c.caller === 'rule-reader').at(-1);
  const req = watchCall?.request as { Kinds: Array<{ Kind: string }>; AllowPartialSuccess: boolean };
  assert.deepEqual(
    req.Kinds.map((k) => k.Kind),
    ['access_request', 'access_monitoring_rule'],
  );
  assert.equal(req.AllowPartialSuccess, true);

  tp.admin.upsertAccessMonitoringRule({ name: 'watched', condition: 'true', notification: { name: 'slack', recipients: ['#a'] } });
  const put = await nextEvent(it);
  assert.deepEqual(put, {
    type: 'rule-put',
    rule: { name: 'watched', subjects: ['access_request'], states: [], condition: 'true', notification: { name: 'slack', recipients: ['#a'] }, desiredState: '', schedules: {} },
  });
  const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
  const request = await nextEvent(it);
  assert.ok(request.type === 'put' && request.request.id === id, 'access requests still arrive');
  tp.admin.deleteAccessMonitoringRule('watched');
  assert.deepEqual(await nextEvent(it), { type: 'rule-delete', name: 'watched' });
});

test('without read on rules the kind is dropped (INIT says so) and requests still arrive', async (t) => {
  t.after(clearRules);
  const { stream, it, init } = await watchAfterInit(plugin, true);
  t.after(() => stream.close());
  assert.deepEqual(init, { type: 'init', acceptedKinds: ['access_request'] });
  tp.admin.upsertAccessMonitoringRule({ name: 'unseen', condition: 'true', notification: { name: 'slack' } });
  const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
  const next = await nextEvent(it);
  assert.ok(next.type === 'put' && next.request.id === id, `the rule PUT was not delivered (got ${next.type})`);
});

test('the option off (default) sends exactly the old watch: one kind, no partial success, no rule events', async (t) => {
  t.after(clearRules);
  for (const option of [undefined, false]) {
    const { stream, it, init } = await watchAfterInit(reader, option);
    try {
      assert.deepEqual(init, { type: 'init', acceptedKinds: ['access_request'] });
      const req = tp.calls.filter((c) => c.method === 'WatchEvents' && c.caller === 'rule-reader').at(-1)?.request as {
        Kinds: Array<{ Kind: string; Filter: Record<string, string> }>;
        AllowPartialSuccess: boolean;
      };
      assert.deepEqual(
        req.Kinds.map((k) => [k.Kind, k.Filter]),
        [['access_request', {}]],
      );
      assert.equal(req.AllowPartialSuccess, false);
      tp.admin.upsertAccessMonitoringRule({ name: `quiet-${String(option)}`, condition: 'true', notification: { name: 'slack' } });
      const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'] });
      const next = await nextEvent(it);
      assert.ok(next.type === 'put' && next.request.id === id, `no rule event (got ${next.type})`);
    } finally {
      stream.close();
    }
  }
});

test('an old server drops the rule kind under partial success; the watch still works', async () => {
  const old = await FakeTeleport.start({ version: '15.4.22' });
  try {
    old.addPluginUser('rule-reader', { readAccessMonitoringRules: true });
    const c = await createTeleportClient({ addr: old.addr, identityFile: await old.writeIdentityFile(dir, { user: 'rule-reader', fileName: 'old-watch' }) }, logger);
    try {
      const { stream, init } = await watchAfterInit(c, true);
      assert.deepEqual(init, { type: 'init', acceptedKinds: ['access_request'] });
      stream.close();
    } finally {
      await c.close();
    }
  } finally {
    await old.close();
  }
});
