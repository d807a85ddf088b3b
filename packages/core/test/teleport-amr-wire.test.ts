// Access Monitoring Rules on the wire, without a server: bytes built BY HAND from upstream's field
// numbers (teleport.accessmonitoringrules.v1, teleport.header.v1.Metadata, proto.Event = 54) are
// decoded with our loaded proto and mapped; what we send is read back field by field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MethodDefinition } from '@grpc/proto-loader';
import { AMR_SERVICE, AUTH_SERVICE, loadTeleportProto } from '../src/teleport/proto.js';
import { fromAccessMonitoringRuleFilter, toAccessMonitoringRule, toWatchEvent } from '../src/teleport/mapping.js';
import type { WireEvent, WireListAccessMonitoringRulesResponse } from '../src/teleport/wire.js';
import { bytesField, mapEntry, msg, readFields, str, strings, sub, ts, vint } from './protobuf-bytes.js';

function method(name: string, serviceName: string): MethodDefinition<object, object> {
  const service = loadTeleportProto().definition[serviceName] as Record<string, MethodDefinition<object, object>>;
  const def = service[name];
  assert.ok(def, `${serviceName}/${name} in proto`);
  return def;
}
const listWithFilter = (): MethodDefinition<object, object> => method('ListAccessMonitoringRulesWithFilter', AMR_SERVICE);
const decodeEvent = (bytes: number[]): WireEvent => method('WatchEvents', AUTH_SERVICE).responseDeserialize(Buffer.from(bytes)) as WireEvent;

/** A v18 rule: every field set, plus the reserved 5 and an unknown 99 that must be skipped. */
function fullRuleBytes(name = 'sre-on-call'): number[] {
  const metadata = [str(1, name), str(2, 'default'), str(3, 'routes SRE requests'), mapEntry(5, 'team', str(2, 'sre')), ts(6, 1_893_456_000n), str(8, 'rev-7')];
  const shift = (weekday: string, start: string, end: string): number[] => msg(1, str(1, weekday), str(2, start), str(3, end));
  const spec = [
    str(1, 'access_request'),
    str(2, 'pending'),
    str(3, 'contains_all(set("access"), access_request.spec.roles)'),
    msg(4, str(1, 'slack'), str(2, 'teleport-access'), str(2, 'alice@example.com')),
    msg(5, str(1, 'legacy')), // reserved "automatic_approval": an old server's bytes are skipped
    msg(6, str(1, 'builtin'), str(2, 'APPROVED'), str(3, 'on call')),
    str(7, 'reviewed'),
    mapEntry(8, 'evenings', msg(2, msg(1, shift('Friday', '17:00', '23:59'), shift('Saturday', '00:00', '06:00'), str(2, 'America/Los_Angeles')))),
    mapEntry(8, 'office', msg(2, msg(1, shift('Monday', '09:00', '17:00')))),
    str(99, 'a field from the future'),
  ];
  return [...msg(1, ...metadata), ...str(2, 'access_monitoring_rule'), ...str(3, ''), ...str(4, 'v1'), ...msg(5, ...spec)];
}

test('ListAccessMonitoringRulesResponse (rules 1, next_page_token 2) decodes a v18 rule with every field', () => {
  const bytes = [...bytesField(1, fullRuleBytes()), ...str(2, 'page-2')];
  const wire = listWithFilter().responseDeserialize(Buffer.from(bytes)) as WireListAccessMonitoringRulesResponse;
  assert.equal(wire.next_page_token, 'page-2');
  assert.equal(wire.rules.length, 1);
  assert.equal(wire.rules[0]!.metadata?.revision, 'rev-7', 'header Metadata.revision is 8');
  assert.deepEqual(wire.rules[0]!.metadata?.labels, { team: 'sre' }, 'header Metadata.labels is 5');
  assert.equal(String(wire.rules[0]!.metadata?.expires?.seconds), '1893456000', 'header Metadata.expires is 6');
  assert.equal(wire.rules[0]!.kind, 'access_monitoring_rule');
  assert.equal(wire.rules[0]!.version, 'v1');
  assert.deepEqual(toAccessMonitoringRule(wire.rules[0]!), {
    name: 'sre-on-call',
    subjects: ['access_request'],
    states: ['pending'],
    condition: 'contains_all(set("access"), access_request.spec.roles)',
    notification: { name: 'slack', recipients: ['teleport-access', 'alice@example.com'] },
    automaticReview: { integration: 'builtin', decision: 'APPROVED', reason: 'on call' },
    desiredState: 'reviewed',
    schedules: {
      evenings: {
        timezone: 'America/Los_Angeles',
        shifts: [
          { weekday: 'Friday', start: '17:00', end: '23:59' },
          { weekday: 'Saturday', start: '00:00', end: '06:00' },
        ],
      },
      office: { timezone: '', shifts: [{ weekday: 'Monday', start: '09:00', end: '17:00' }] },
    },
  });
});

test('a v16/v17 rule (notification only) maps with no automatic review, no desired state, no schedules', () => {
  const rule = [
    ...msg(1, str(1, 'notify-dev')),
    ...str(2, 'access_monitoring_rule'),
    ...str(4, 'v1'),
    ...msg(5, str(1, 'access_request'), str(3, 'true'), msg(4, str(1, 'mattermost'), str(2, 'team/channel'))),
  ];
  const wire = listWithFilter().responseDeserialize(Buffer.from(bytesField(1, rule))) as WireListAccessMonitoringRulesResponse;
  assert.equal(wire.next_page_token, '');
  const mapped = toAccessMonitoringRule(wire.rules[0]!);
  assert.deepEqual(mapped, {
    name: 'notify-dev',
    subjects: ['access_request'],
    states: [],
    condition: 'true',
    notification: { name: 'mattermost', recipients: ['team/channel'] },
    desiredState: '',
    schedules: {},
  });
  assert.equal('automaticReview' in mapped, false);
});

test('a schedule without `time` keeps its name with no shifts (the evaluator reports it)', () => {
  const rule = [...msg(1, str(1, 'r')), ...msg(5, str(1, 'access_request'), mapEntry(8, 'broken', msg(2)))];
  const wire = listWithFilter().responseDeserialize(Buffer.from(bytesField(1, rule))) as WireListAccessMonitoringRulesResponse;
  assert.deepEqual(toAccessMonitoringRule(wire.rules[0]!).schedules, { broken: { timezone: '', shifts: [] } });
});

test('proto.Event: AccessMonitoringRule is oneof member 54 (PUT -> rule-put); DELETE header of kind access_monitoring_rule -> rule-delete', () => {
  const put = decodeEvent([...vint(1, 1), ...bytesField(54, fullRuleBytes('r1'))]);
  assert.equal(put.Type, 'PUT');
  assert.equal(put.Resource, 'AccessMonitoringRule');
  const ev = toWatchEvent(put);
  assert.ok(ev?.type === 'rule-put');
  assert.equal(ev.rule.name, 'r1');
  assert.equal(ev.rule.notification?.name, 'slack');

  const header = (kind: string, name: string, version: string): number[] => msg(2, str(1, kind), str(3, version), msg(4, str(1, name), str(2, 'default')));
  const del = toWatchEvent(decodeEvent([...vint(1, 2), ...header('access_monitoring_rule', 'r1', 'v1')]));
  assert.deepEqual(del, { type: 'rule-delete', name: 'r1' });
  // Access request events are unchanged.
  const delRequest = toWatchEvent(decodeEvent([...vint(1, 2), ...header('access_request', 'req-1', 'v3')]));
  assert.deepEqual(delRequest, { type: 'delete', requestId: 'req-1' });
  // Other kinds stay ignored.
  assert.equal(toWatchEvent(decodeEvent([...vint(1, 2), ...header('role', 'editor', 'v7')])), undefined);
});

test('ListAccessMonitoringRulesWithFilterRequest: page_size 1 (int64), page_token 2, subjects 3, notification_name 4, nothing in 5, automatic_review_name 6', () => {
  const def = listWithFilter();
  assert.equal(def.path, '/teleport.accessmonitoringrules.v1.AccessMonitoringRulesService/ListAccessMonitoringRulesWithFilter');
  const bytes = def.requestSerialize(fromAccessMonitoringRuleFilter({ subjects: ['access_request'], notificationName: 'slack', automaticReviewName: 'builtin' }, 1000, 'tok'));
  const fields = readFields(bytes);
  assert.deepEqual(
    fields.map((f) => f.field),
    [1, 2, 3, 4, 6],
  );
  assert.equal(fields.find((f) => f.field === 1)?.value, 1000n);
  assert.deepEqual(strings(bytes, 2), ['tok']);
  assert.deepEqual(strings(bytes, 3), ['access_request']);
  assert.deepEqual(strings(bytes, 4), ['slack']);
  assert.deepEqual(strings(bytes, 6), ['builtin']);
  // An empty filter: no subjects, and the strings are proto3 defaults ("" = any).
  const empty = def.requestSerialize(fromAccessMonitoringRuleFilter({}, 1000, ''));
  assert.equal(strings(empty, 3).length, 0);
  for (const field of [2, 4, 6])
    assert.ok(
      strings(empty, field).every((v) => v === ''),
      `field ${field}`,
    );
});

test("service methods and their paths are upstream's", () => {
  const service = loadTeleportProto().definition[AMR_SERVICE] as Record<string, MethodDefinition<object, object>>;
  assert.deepEqual(Object.keys(service).sort(), [
    'CreateAccessMonitoringRule',
    'DeleteAccessMonitoringRule',
    'GetAccessMonitoringRule',
    'ListAccessMonitoringRules',
    'ListAccessMonitoringRulesWithFilter',
    'UpdateAccessMonitoringRule',
    'UpsertAccessMonitoringRule',
  ]);
  for (const [name, def] of Object.entries(service)) {
    assert.equal(def.path, `/teleport.accessmonitoringrules.v1.AccessMonitoringRulesService/${name}`);
  }
  // Get/Delete take { name = 1 }; Create/Update/Upsert take { rule = 1 }; List takes page_size 1 / page_token 2.
  assert.deepEqual(
    readFields(method('GetAccessMonitoringRule', AMR_SERVICE).requestSerialize({ name: 'r' })).map((f) => f.field),
    [1],
  );
  assert.deepEqual(
    readFields(method('DeleteAccessMonitoringRule', AMR_SERVICE).requestSerialize({ name: 'r' })).map((f) => f.field),
    [1],
  );
  const list = readFields(method('ListAccessMonitoringRules', AMR_SERVICE).requestSerialize({ page_size: 5, page_token: 't' }));
  assert.deepEqual(
    list.map((f) => [f.field, f.wireType]),
    [
      [1, 0],
      [2, 2],
    ],
  );
});

test('a rule we send: header Metadata name 1 / labels 5 / revision 8, spec automatic_review 6, desired_state 7, schedules 8 -> Schedule.time 1 -> TimeSchedule shifts 1 / timezone 2', () => {
  const bytes = method('UpsertAccessMonitoringRule', AMR_SERVICE).requestSerialize({
    rule: {
      metadata: { name: 'r', labels: { a: 'b' }, revision: '9' },
      kind: 'access_monitoring_rule',
      version: 'v1',
      spec: {
        subjects: ['access_request'],
        condition: 'true',
        automatic_review: { integration: 'builtin', decision: 'DENIED' },
        desired_state: 'reviewed',
        schedules: { night: { time: { timezone: 'UTC', shifts: [{ weekday: 'Sunday', start: '00:00', end: '05:00' }] } } },
      },
    },
  });
  const rule = sub(bytes, 1)!;
  const metadata = sub(rule, 1)!;
  assert.deepEqual(strings(metadata, 1), ['r']);
  assert.deepEqual(
    readFields(metadata).map((f) => f.field),
    [1, 5, 8],
  );
  assert.deepEqual(strings(rule, 2), ['access_monitoring_rule']);
  assert.deepEqual(strings(rule, 4), ['v1']);
  const spec = sub(rule, 5)!;
  assert.deepEqual(
    readFields(spec).map((f) => f.field),
    [1, 3, 6, 7, 8],
  );
  assert.deepEqual(strings(sub(spec, 6)!, 2), ['DENIED']);
  const entry = sub(spec, 8)!;
  assert.deepEqual(strings(entry, 1), ['night']);
  const time = sub(sub(entry, 2)!, 1)!;
  assert.deepEqual(strings(time, 2), ['UTC']);
  const shift = sub(time, 1)!;
  assert.deepEqual([strings(shift, 1), strings(shift, 2), strings(shift, 3)], [['Sunday'], ['00:00'], ['05:00']]);
});
