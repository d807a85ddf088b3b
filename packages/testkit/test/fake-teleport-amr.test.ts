// The fake's Access Monitoring Rules: the teleport.accessmonitoringrules.v1 service (CRUD, lists,
// filters, paging), upstream's validation texts, RBAC, old servers (UNIMPLEMENTED), the
// `access_monitoring_rule` watch kind and the admin helpers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { FakeTeleport, FakeTeleportError, rawTeleportClient, type AccessMonitoringRuleInput, type RawTeleportClient } from '../src/index.js';

interface WireRule {
  metadata: { name: string; namespace: string; revision: string; labels: Record<string, string> } | null;
  kind: string;
  version: string;
  spec: {
    subjects: string[];
    condition: string;
    notification: { name: string; recipients: string[] } | null;
    automatic_review: { integration: string; decision: string; reason: string } | null;
    desired_state: string;
    schedules: Record<string, { time: { timezone: string; shifts: Array<{ weekday: string; start: string; end: string }> } | null }>;
  } | null;
}

interface WireEvent {
  Type: 'INIT' | 'PUT' | 'DELETE';
  Resource?: string;
  WatchStatus?: { Spec: { Kinds: Array<{ Kind: string }> } };
  AccessMonitoringRule?: WireRule;
  ResourceHeader?: { Kind: string; Version: string; Metadata: { Name: string } };
}

let tp: FakeTeleport;
let admin: RawTeleportClient;
let plugin: RawTeleportClient;
let reader: RawTeleportClient;
const streams: grpc.ClientReadableStream<WireEvent>[] = [];

before(async () => {
  tp = await FakeTeleport.start();
  tp.addPluginUser('rule-reader', { readAccessMonitoringRules: true });
  admin = await rawTeleportClient(tp, { user: FakeTeleport.ADMIN_USER });
  plugin = await rawTeleportClient(tp, { user: FakeTeleport.PLUGIN_USER });
  reader = await rawTeleportClient(tp, { user: 'rule-reader' });
});

after(async () => {
  for (const s of streams) s.cancel();
  admin.close();
  plugin.close();
  reader.close();
  await tp.close();
});

/** A valid v18 rule on the wire; `patch` edits a copy. */
function wireRule(name: string, patch: (r: WireRule) => void = () => undefined): WireRule {
  const rule: WireRule = {
    metadata: { name, namespace: 'default', revision: '', labels: {} },
    kind: 'access_monitoring_rule',
    version: 'v1',
    spec: {
      subjects: ['access_request'],
      condition: 'contains(access_request.spec.roles, "editor")',
      notification: { name: 'slack', recipients: ['#access'] },
      automatic_review: { integration: 'builtin', decision: 'APPROVED', reason: '' },
      desired_state: 'reviewed',
      schedules: { office: { time: { timezone: 'Europe/Lisbon', shifts: [{ weekday: 'Monday', start: '09:00', end: '17:00' }] } } },
    },
  };
  patch(rule);
  return rule;
}

function status(code: grpc.status, details?: string | RegExp) {
  return (err: unknown): boolean => {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `${e.code} ${e.details}`);
    if (typeof details === 'string') assert.equal(e.details, details);
    else if (details) assert.match(e.details, details);
    return true;
  };
}

function watch(client: RawTeleportClient, request: unknown): { events: WireEvent[]; error: () => grpc.ServiceError | undefined } {
  const events: WireEvent[] = [];
  let error: grpc.ServiceError | undefined;
  const s = client.stream<WireEvent>('WatchEvents', request);
  s.on('data', (e: WireEvent) => {
    events.push(e);
    tp.state.emit('change');
  });
  s.on('error', (e: grpc.ServiceError) => {
    error = e;
    tp.state.emit('change');
  });
  streams.push(s);
  return { events, error: () => error };
}

const call = <T = WireRule>(c: RawTeleportClient, method: string, request: unknown): Promise<T> => c.callAccessMonitoringRules<T>(method, request);

test('Create, Get, Update, Upsert and Delete, with revisions and the right error codes', async () => {
  const created = await call(admin, 'CreateAccessMonitoringRule', { rule: wireRule('crud') });
  assert.equal(created.metadata?.name, 'crud');
  assert.ok(created.metadata?.revision, 'a revision is assigned');
  assert.equal(created.spec?.automatic_review?.decision, 'APPROVED');
  assert.deepEqual(created.spec?.schedules['office']?.time?.shifts, [{ weekday: 'Monday', start: '09:00', end: '17:00' }]);
  await assert.rejects(call(admin, 'CreateAccessMonitoringRule', { rule: wireRule('crud') }), status(grpc.status.ALREADY_EXISTS));

  const got = await call(admin, 'GetAccessMonitoringRule', { name: 'crud' });
  assert.deepEqual(got, created);

  const updated = await call(admin, 'UpdateAccessMonitoringRule', { rule: wireRule('crud', (r) => (r.spec!.notification!.recipients = ['#other'])) });
  assert.deepEqual(updated.spec?.notification?.recipients, ['#other']);
  assert.notEqual(updated.metadata?.revision, created.metadata?.revision);
  await assert.rejects(call(admin, 'UpdateAccessMonitoringRule', { rule: wireRule('missing') }), status(grpc.status.NOT_FOUND));

  const upserted = await call(admin, 'UpsertAccessMonitoringRule', { rule: wireRule('upserted') });
  assert.equal(upserted.metadata?.name, 'upserted');
  await call(admin, 'UpsertAccessMonitoringRule', { rule: wireRule('upserted', (r) => (r.spec!.condition = 'true')) });
  assert.equal(tp.admin.getAccessMonitoringRule('upserted')?.condition, 'true');

  assert.deepEqual(await call(admin, 'DeleteAccessMonitoringRule', { name: 'crud' }), {});
  await assert.rejects(call(admin, 'GetAccessMonitoringRule', { name: 'crud' }), status(grpc.status.NOT_FOUND));
  await assert.rejects(call(admin, 'DeleteAccessMonitoringRule', { name: 'crud' }), status(grpc.status.NOT_FOUND));
  tp.admin.deleteAccessMonitoringRule('upserted');
  assert.deepEqual(tp.admin.listAccessMonitoringRules(), []);
});

test("validation answers INVALID_ARGUMENT with upstream's texts", async () => {
  const cases: Array<[string, (r: WireRule) => void, string]> = [
    ['kind', (r) => (r.kind = 'role'), 'invalid kind for access monitoring rule: "role"'],
    ['metadata', (r) => (r.metadata = null), 'accessMonitoringRule metadata is missing'],
    ['version', (r) => (r.version = 'v2'), 'accessMonitoringRule version "v2" is not supported'],
    ['spec', (r) => (r.spec = null), 'accessMonitoringRule spec is missing'],
    ['subjects', (r) => (r.spec!.subjects = []), 'accessMonitoringRule subject is missing'],
    ['condition missing', (r) => (r.spec!.condition = ''), 'accessMonitoringRule condition is missing'],
    ['notification name', (r) => (r.spec!.notification!.name = ''), 'accessMonitoringRule notification plugin name is missing'],
    ['integration', (r) => (r.spec!.automatic_review!.integration = ''), 'accessMonitoringRule automatic_review integration is missing'],
    ['decision missing', (r) => (r.spec!.automatic_review!.decision = ''), 'accessMonitoringRule automatic_review decision is missing'],
    ['decision', (r) => (r.spec!.automatic_review!.decision = 'x'), 'accessMonitoringRule automatic_review decision "x" is not supported'],
    ['desired state', (r) => (r.spec!.desired_state = 'x'), 'accessMonitoringRule desired_state "x" is not supported'],
    [
      'neither',
      (r) => {
        r.spec!.notification = null;
        r.spec!.automatic_review = null;
      },
      'one of notification or automatic_review must be configured if subjects contain "access_request"',
    ],
    [
      'condition invalid',
      (r) => (r.spec!.condition = 'contains(access_request.spec.roles'),
      'accessMonitoringRule condition is invalid: line 1, column 35: expected ")" to close the call to contains, got the end of the condition',
    ],
    ['schedule time', (r) => (r.spec!.schedules['office']!.time = null), 'validating spec.schedules\n\tspec.schedules[office].time is required'],
    [
      'no shifts',
      (r) => (r.spec!.schedules['office']!.time!.shifts = []),
      'validating spec.schedules\n\tvalidating spec.schedules[office].time\n\t\tat least one shift is required',
    ],
    [
      'timezone',
      (r) => (r.spec!.schedules['office']!.time!.timezone = 'Mars/Base'),
      'validating spec.schedules\n\tvalidating spec.schedules[office].time\n\t\tinvalid timezone "Mars/Base"',
    ],
    [
      'weekday',
      (r) => (r.spec!.schedules['office']!.time!.shifts[0]!.weekday = 'Funday'),
      'validating spec.schedules\n\tvalidating spec.schedules[office].time\n\t\tshift is invalid\n\t\t\tfailed to parse weekday: Funday',
    ],
    [
      'start after end',
      (r) => (r.spec!.schedules['office']!.time!.shifts[0]!.start = '18:00'),
      'validating spec.schedules\n\tvalidating spec.schedules[office].time\n\t\tshift is invalid\n\t\t\tstart time must be before end time',
    ],
  ];
  for (const [what, patch, details] of cases) {
    await assert.rejects(
      call(admin, 'CreateAccessMonitoringRule', { rule: wireRule(`invalid-${what.replace(/ /g, '-')}`, patch) }),
      status(grpc.status.INVALID_ARGUMENT, details),
      what,
    );
  }
  // The spec's short texts are all there, verbatim.
  for (const text of [
    'notification plugin name is missing',
    'automatic_review integration is missing',
    'automatic_review decision is missing',
    'notification or automatic_review must be configured',
    'automatic_review decision "x" is not supported',
    'desired_state "x" is not supported',
    'accessMonitoringRule condition is invalid',
    'time is required',
    'at least one shift is required',
    'invalid timezone',
    'start time must be before end time',
  ]) {
    assert.ok(
      cases.some(([, , d]) => d.includes(text)),
      text,
    );
  }
  assert.deepEqual(tp.admin.listAccessMonitoringRules(), [], 'nothing invalid was stored');
  // Rules for other subjects need neither a valid request condition nor an action.
  await call(admin, 'CreateAccessMonitoringRule', {
    rule: wireRule('other-subject', (r) => {
      r.spec!.subjects = ['access_list'];
      r.spec!.condition = 'something_else()';
      r.spec!.notification = null;
      r.spec!.automatic_review = null;
      r.spec!.schedules = {};
    }),
  });
  tp.admin.deleteAccessMonitoringRule('other-subject');
});

test('RBAC: reads need access_monitoring_rule read (+list for lists), writes their own verbs; the plugin gets read/list only when granted', async () => {
  tp.admin.upsertAccessMonitoringRule({ name: 'rbac', condition: 'true', notification: { name: 'slack' } });
  const denied = (verb: string) => status(grpc.status.PERMISSION_DENIED, `access denied to perform action "${verb}" on "access_monitoring_rule"`);
  await assert.rejects(call(plugin, 'ListAccessMonitoringRulesWithFilter', { page_size: 10 }), denied('read'));
  await assert.rejects(call(plugin, 'ListAccessMonitoringRules', { page_size: 10 }), denied('read'));
  await assert.rejects(call(plugin, 'GetAccessMonitoringRule', { name: 'rbac' }), denied('read'));

  const listed = await call<{ rules: WireRule[] }>(reader, 'ListAccessMonitoringRulesWithFilter', { page_size: 10 });
  assert.deepEqual(
    listed.rules.map((r) => r.metadata?.name),
    ['rbac'],
  );
  assert.equal((await call(reader, 'GetAccessMonitoringRule', { name: 'rbac' })).metadata?.name, 'rbac');
  await assert.rejects(call(reader, 'CreateAccessMonitoringRule', { rule: wireRule('nope') }), denied('create'));
  await assert.rejects(call(reader, 'UpdateAccessMonitoringRule', { rule: wireRule('rbac') }), denied('update'));
  await assert.rejects(call(reader, 'UpsertAccessMonitoringRule', { rule: wireRule('rbac') }), denied('create'));
  await assert.rejects(call(reader, 'DeleteAccessMonitoringRule', { name: 'rbac' }), denied('delete'));

  // read without list is not enough for listing.
  tp.upsertRole({ name: 'read-only-rules', rules: [{ resources: ['access_monitoring_rule'], verbs: ['read'] }] });
  tp.upsertUser({ name: 'half-reader', roles: ['read-only-rules'] });
  const half = await rawTeleportClient(tp, { user: 'half-reader' });
  try {
    await assert.rejects(call(half, 'ListAccessMonitoringRules', {}), denied('list'));
    assert.equal((await call(half, 'GetAccessMonitoringRule', { name: 'rbac' })).metadata?.name, 'rbac');
  } finally {
    half.close();
  }
  tp.admin.deleteAccessMonitoringRule('rbac');
});

test('List and ListWithFilter page by name; the filter matches subjects, notification name and review integration', async () => {
  const mk = (name: string, extra: Omit<AccessMonitoringRuleInput, 'name' | 'condition'>) => tp.admin.upsertAccessMonitoringRule({ name, condition: 'true', ...extra });
  mk('a-slack', { notification: { name: 'slack', recipients: ['#a'] } });
  mk('b-slack', { notification: { name: 'slack', recipients: ['#b'] } });
  mk('c-mattermost', { notification: { name: 'mattermost' } });
  mk('d-review', { automaticReview: { integration: 'builtin', decision: 'DENIED' }, desiredState: 'reviewed' });
  mk('e-both', { notification: { name: 'slack' }, automaticReview: { integration: 'pagerduty', decision: 'APPROVED' }, desiredState: 'reviewed' });
  mk('f-lists', { subjects: ['access_request', 'access_list'], notification: { name: 'slack' } });

  const pages: string[][] = [];
  let token = '';
  do {
    const page = await call<{ rules: WireRule[]; next_page_token: string }>(reader, 'ListAccessMonitoringRules', { page_size: 4, page_token: token });
    pages.push(page.rules.map((r) => r.metadata!.name));
    token = page.next_page_token;
  } while (token);
  assert.deepEqual(pages, [
    ['a-slack', 'b-slack', 'c-mattermost', 'd-review'],
    ['e-both', 'f-lists'],
  ]);

  const filtered = async (filter: object, pageSize = 1000): Promise<string[][]> => {
    const out: string[][] = [];
    let t = '';
    do {
      const page = await call<{ rules: WireRule[]; next_page_token: string }>(reader, 'ListAccessMonitoringRulesWithFilter', { page_size: pageSize, page_token: t, ...filter });
      out.push(page.rules.map((r) => r.metadata!.name));
      t = page.next_page_token;
    } while (t);
    return out;
  };
  assert.deepEqual(await filtered({ subjects: ['access_request'], notification_name: 'slack' }), [['a-slack', 'b-slack', 'e-both', 'f-lists']]);
  assert.deepEqual(await filtered({ subjects: ['access_request'], notification_name: 'slack' }, 3), [['a-slack', 'b-slack', 'e-both'], ['f-lists']]);
  assert.deepEqual(await filtered({ automatic_review_name: 'builtin' }), [['d-review']]);
  assert.deepEqual(await filtered({ automatic_review_name: 'pagerduty', notification_name: 'slack' }), [['e-both']]);
  assert.deepEqual(await filtered({ subjects: ['access_list'] }), [['f-lists']]);
  assert.deepEqual(await filtered({ notification_name: 'discord' }), [[]]);
  for (const r of tp.admin.listAccessMonitoringRules()) tp.admin.deleteAccessMonitoringRule(r.name);
});

test('old servers: the service answers UNIMPLEMENTED and the watch kind is unknown', async () => {
  for (const opts of [{ version: '15.4.22' }, { accessMonitoringRulesImplemented: false }]) {
    const old = await FakeTeleport.start(opts);
    const c = await rawTeleportClient(old, { user: FakeTeleport.ADMIN_USER });
    try {
      assert.equal(old.accessMonitoringRulesImplemented, false);
      await assert.rejects(
        c.callAccessMonitoringRules('ListAccessMonitoringRulesWithFilter', { page_size: 1000 }),
        status(grpc.status.UNIMPLEMENTED, 'unknown service teleport.accessmonitoringrules.v1.AccessMonitoringRulesService'),
      );
      assert.equal(old.calls.at(-1)?.method, 'AccessMonitoringRulesService.ListAccessMonitoringRulesWithFilter', 'the call is recorded');
      // The admin can still read and list access requests; the rule kind is dropped or refused.
      const partial = c.stream<WireEvent>('WatchEvents', { Kinds: [{ Kind: 'access_request' }, { Kind: 'access_monitoring_rule' }], AllowPartialSuccess: true });
      const init = await new Promise<WireEvent>((resolve, reject) => {
        partial.once('data', resolve);
        partial.once('error', reject);
      });
      assert.deepEqual(
        init.WatchStatus?.Spec.Kinds.map((k) => k.Kind),
        ['access_request'],
      );
      partial.cancel();
      const strict = c.stream<WireEvent>('WatchEvents', { Kinds: [{ Kind: 'access_request' }, { Kind: 'access_monitoring_rule' }] });
      const err = await new Promise<grpc.ServiceError>((resolve) => strict.once('error', resolve));
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.equal(err.details, 'resource type "access_monitoring_rule" is not supported by this event stream');
    } finally {
      c.close();
      await old.close();
    }
  }
  const v16 = await FakeTeleport.start({ version: '16.0.0' });
  assert.equal(v16.accessMonitoringRulesImplemented, true);
  await v16.close();
});

test('watch kind access_monitoring_rule: PUT carries the rule (Event 54), DELETE only its header; partial success drops it without read', async () => {
  const w = watch(reader, { Kinds: [{ Kind: 'access_request' }, { Kind: 'access_monitoring_rule' }], AllowPartialSuccess: true });
  await tp.waitFor(() => w.events.length >= 1, 5000, 'INIT');
  assert.deepEqual(
    w.events[0]?.WatchStatus?.Spec.Kinds.map((k) => k.Kind),
    ['access_request', 'access_monitoring_rule'],
  );

  // The preset plugin user may not read rules: with partial success the kind is dropped ...
  const dropped = watch(plugin, { Kinds: [{ Kind: 'access_request' }, { Kind: 'access_monitoring_rule' }], AllowPartialSuccess: true });
  await tp.waitFor(() => dropped.events.length >= 1, 5000, 'INIT without rules');
  assert.deepEqual(
    dropped.events[0]?.WatchStatus?.Spec.Kinds.map((k) => k.Kind),
    ['access_request'],
  );
  // ... and without it the watch is refused.
  const refused = watch(plugin, { Kinds: [{ Kind: 'access_request' }, { Kind: 'access_monitoring_rule' }] });
  const err = await tp.waitFor(() => refused.error(), 5000, 'refusal');
  assert.equal(err.code, grpc.status.PERMISSION_DENIED);
  assert.equal(err.details, 'access denied to perform action "read" on "access_monitoring_rule"');

  tp.admin.upsertAccessMonitoringRule({
    name: 'watched',
    condition: 'contains(access_request.spec.roles, "editor")',
    notification: { name: 'slack', recipients: ['#access'] },
    schedules: { weekdays: { timezone: 'UTC', shifts: [{ weekday: 'Tuesday', start: '08:00', end: '18:00' }] } },
  });
  await call(admin, 'UpsertAccessMonitoringRule', { rule: wireRule('watched-rpc') });
  tp.admin.deleteAccessMonitoringRule('watched');
  await call(admin, 'DeleteAccessMonitoringRule', { name: 'watched-rpc' });
  await tp.waitFor(() => w.events.length >= 5, 5000, '4 rule events');
  const events = w.events.slice(1);
  assert.deepEqual(
    events.map((e) => [e.Type, e.Resource, e.AccessMonitoringRule?.metadata?.name ?? e.ResourceHeader?.Metadata.Name]),
    [
      ['PUT', 'AccessMonitoringRule', 'watched'],
      ['PUT', 'AccessMonitoringRule', 'watched-rpc'],
      ['DELETE', 'ResourceHeader', 'watched'],
      ['DELETE', 'ResourceHeader', 'watched-rpc'],
    ],
  );
  const put = events[0]!.AccessMonitoringRule!;
  assert.equal(put.kind, 'access_monitoring_rule');
  assert.equal(put.version, 'v1');
  assert.deepEqual(put.spec?.notification, { name: 'slack', recipients: ['#access'] });
  assert.equal(put.spec?.automatic_review, null);
  assert.deepEqual(put.spec?.schedules['weekdays']?.time, { timezone: 'UTC', shifts: [{ weekday: 'Tuesday', start: '08:00', end: '18:00' }] });
  assert.deepEqual([events[2]!.ResourceHeader?.Kind, events[2]!.ResourceHeader?.Version], ['access_monitoring_rule', 'v1']);
  // The stream that dropped the kind saw none of it.
  assert.ok(dropped.events.every((e) => e.Type === 'INIT' || !e.AccessMonitoringRule));
  assert.ok(dropped.events.every((e) => e.ResourceHeader?.Kind !== 'access_monitoring_rule'));
});

test('admin helpers validate like the RPCs and return plain copies', () => {
  assert.throws(
    () => tp.admin.upsertAccessMonitoringRule({ name: 'bad', condition: 'true' }),
    (err: unknown) => err instanceof FakeTeleportError && err.kind === 'BadParameter' && /one of notification or automatic_review must be configured/.test(err.message),
  );
  assert.throws(() => tp.admin.upsertAccessMonitoringRule({ name: 'bad', condition: 'nope(', notification: { name: 'slack' } }), /accessMonitoringRule condition is invalid/);
  assert.throws(
    () => tp.admin.deleteAccessMonitoringRule('never-existed'),
    (err: unknown) => err instanceof FakeTeleportError && err.kind === 'NotFound',
  );
  const rec = tp.admin.upsertAccessMonitoringRule({
    name: 'copy',
    condition: 'true',
    automaticReview: { integration: 'pagerduty', decision: 'APPROVED', reason: 'on call' },
    desiredState: 'reviewed',
    labels: { team: 'sre' },
  });
  assert.deepEqual(rec.automaticReview, { integration: 'pagerduty', decision: 'APPROVED', reason: 'on call' });
  assert.deepEqual(rec.subjects, ['access_request']);
  assert.deepEqual(rec.labels, { team: 'sre' });
  rec.subjects.push('mutated');
  assert.deepEqual(tp.admin.getAccessMonitoringRule('copy')?.subjects, ['access_request'], 'a copy, not the stored record');
  assert.equal(tp.admin.getAccessMonitoringRule('absent'), undefined);
  tp.admin.deleteAccessMonitoringRule('copy');
});
