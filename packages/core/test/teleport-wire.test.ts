// Wire compatibility without any server: protobuf bytes are built BY HAND from the field numbers
// of the shared spec (§3), decoded with our loaded proto, and mapped to domain types. If a field
// number in proto/ drifted from upstream, these tests fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MethodDefinition } from '@grpc/proto-loader';
import { AUTH_SERVICE, USERS_SERVICE, loadTeleportProto } from '../src/teleport/proto.js';
import {
  fromPluginDataUpdate,
  fromReviewSubmission,
  fromStateChange,
  toAccessRequest,
  toClusterInfo,
  toPluginData,
  toRoleInfo,
  toUserInfo,
  toWatchEvent,
  ZERO_TIME_SECONDS,
} from '../src/teleport/mapping.js';
import type {
  WireAccessRequest,
  WireEvent,
  WireListAccessRequestsResponse,
  WireListUsersResponse,
  WirePingResponse,
  WirePluginDataSeq,
  WireRole,
  WireUser,
} from '../src/teleport/wire.js';

// ---- a tiny protobuf writer (independent of protobufjs) ------------------------------------------

function varint(value: bigint | number): number[] {
  // int64 negatives are written as 10-byte two's complement varints.
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return out;
}
const key = (field: number, wireType: number): number[] => varint((field << 3) | wireType);
const vint = (field: number, value: bigint | number): number[] => [...key(field, 0), ...varint(value)];
const bytesField = (field: number, payload: number[]): number[] => [...key(field, 2), ...varint(payload.length), ...payload];
const str = (field: number, s: string): number[] => bytesField(field, [...Buffer.from(s, 'utf8')]);
const msg = (field: number, ...parts: number[][]): number[] => bytesField(field, parts.flat());
const ts = (field: number, seconds: bigint | number, nanos = 0): number[] => msg(field, vint(1, seconds), ...(nanos ? [vint(2, nanos)] : []));
const mapEntry = (field: number, k: string, value: number[]): number[] => msg(field, str(1, k), value);

// ---- a tiny protobuf reader, to look at bytes our proto produced --------------------------------

interface RawField {
  field: number;
  wireType: number;
  value: bigint | Buffer;
}
function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const b = buf[pos++]!;
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}
function readFields(buf: Buffer): RawField[] {
  const out: RawField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [k, p1] = readVarint(buf, pos);
    const field = Number(k >> 3n);
    const wireType = Number(k & 7n);
    if (wireType === 0) {
      const [v, p2] = readVarint(buf, p1);
      out.push({ field, wireType, value: v });
      pos = p2;
    } else if (wireType === 2) {
      const [len, p2] = readVarint(buf, p1);
      out.push({ field, wireType, value: buf.subarray(p2, p2 + Number(len)) });
      pos = p2 + Number(len);
    } else {
      throw new Error(`unexpected wire type ${wireType}`);
    }
  }
  return out;
}
function mapEntries(buf: Buffer, field: number): Array<{ key: string; value: string; valuePresent: boolean }> {
  return readFields(buf)
    .filter((f) => f.field === field)
    .map((f) => {
      const inner = readFields(f.value as Buffer);
      const k = inner.find((x) => x.field === 1);
      const v = inner.find((x) => x.field === 2);
      return {
        key: k ? (k.value as Buffer).toString('utf8') : '',
        value: v ? (v.value as Buffer).toString('utf8') : '',
        valuePresent: v !== undefined,
      };
    });
}

function method(name: string, serviceName: string = AUTH_SERVICE): MethodDefinition<object, object> {
  const service = loadTeleportProto().definition[serviceName] as Record<string, MethodDefinition<object, object>>;
  const def = service[name];
  assert.ok(def, `${name} in proto`);
  return def;
}
const decodeEvent = (bytes: number[]): WireEvent => method('WatchEvents').responseDeserialize(Buffer.from(bytes)) as WireEvent;

// ---- fixtures -------------------------------------------------------------------------------

const REQUEST_ID = '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
const EXPIRES = 1_893_456_000n; // 2030-01-01T00:00:00Z
const RESOURCE_EXPIRY = 1_893_459_600n; // one hour later
const CREATED_REVIEW = 1_767_225_600n; // 2026-01-01T00:00:00Z

function accessRequestBytes(opts: { resourceExpiry?: boolean; metadataExpires?: boolean } = {}): number[] {
  const spec = [
    str(1, 'alice@example.com'),
    str(2, 'editor'),
    str(2, 'auditor'),
    vint(3, 1), // PENDING
    ts(4, ZERO_TIME_SECONDS), // Created: Go zero time = unset
    ts(5, EXPIRES, 500_000_000),
    str(6, 'deploy hotfix'),
    msg(8), // ResolveAnnotations: always emitted, may be empty
    msg(9, mapEntry(1, 'pagerduty_notify_service', msg(2, str(1, 'Teleport Access'))), mapEntry(1, 'pagerduty_services', msg(2, str(1, 'svc-a'), str(1, 'svc-b')))),
    msg(10, str(1, 'default'), vint(3, 1), vint(4, 1)),
    msg(12, str(1, 'bob'), str(2, 'reviewer'), vint(3, 2), str(4, 'looks fine'), ts(5, CREATED_REVIEW), msg(6)),
    str(13, 'carol@example.com'),
    msg(14, str(1, 'example.com'), str(2, 'node'), str(3, 'db-1')),
    str(15, 'root'),
    ts(17, ZERO_TIME_SECONDS), // MaxDuration unset
    ts(18, EXPIRES), // SessionTTL
    ...(opts.resourceExpiry ? [ts(22, RESOURCE_EXPIRY)] : []),
    str(99, 'a field from the future'), // unknown: must be skipped
  ];
  const metadata = [str(1, REQUEST_ID), str(2, 'default'), ...(opts.metadataExpires ? [ts(6, EXPIRES + 7200n)] : [])];
  return [...str(1, 'access_request'), ...str(3, 'v3'), ...msg(4, ...metadata), ...msg(5, ...spec)];
}

// ---- tests ----------------------------------------------------------------------------------

test('PUT event with AccessRequest (Event field 14) decodes and maps to the domain request', () => {
  const bytes = [...vint(1, 1), ...bytesField(14, accessRequestBytes({ resourceExpiry: true, metadataExpires: true }))];
  const wire = decodeEvent(bytes);
  assert.equal(wire.Type, 'PUT');
  assert.equal(wire.Resource, 'AccessRequest');
  const event = toWatchEvent(wire);
  assert.ok(event && event.type === 'put');
  const r = event.request;
  assert.equal(r.id, REQUEST_ID);
  assert.equal(r.user, 'alice@example.com');
  assert.deepEqual(r.roles, ['editor', 'auditor']);
  assert.equal(r.state, 'PENDING');
  assert.equal(r.created, undefined, 'zero Go time means unset');
  assert.equal(r.maxDuration, undefined);
  assert.equal(r.accessExpires?.toISOString(), '2030-01-01T00:00:00.500Z');
  assert.equal(r.sessionTtl?.toISOString(), '2030-01-01T00:00:00.000Z');
  assert.equal(r.resourceExpires?.toISOString(), '2030-01-01T01:00:00.000Z', 'Spec.ResourceExpiry wins over Metadata.Expires');
  assert.equal(r.requestReason, 'deploy hotfix');
  assert.deepEqual(r.resolveAnnotations, {});
  assert.deepEqual(r.systemAnnotations, {
    pagerduty_notify_service: ['Teleport Access'],
    pagerduty_services: ['svc-a', 'svc-b'],
  });
  assert.deepEqual(r.thresholds, [{ name: 'default', filter: '', approve: 1, deny: 1 }]);
  assert.equal(r.reviews.length, 1);
  assert.deepEqual(r.reviews[0], {
    author: 'bob',
    roles: ['reviewer'],
    proposedState: 'APPROVED',
    reason: 'looks fine',
    created: new Date('2026-01-01T00:00:00Z'),
    annotations: {},
    assumeStartTime: undefined,
  });
  assert.deepEqual(r.suggestedReviewers, ['carol@example.com']);
  assert.deepEqual(r.requestedResources, [{ clusterName: 'example.com', kind: 'node', name: 'db-1', subResourceName: '' }]);
  assert.equal(r.loginHint, 'root');
  assert.equal(r.dryRun, false);
  assert.equal(r.promotedAccessList, undefined);
});

test('resourceExpires falls back to Metadata.Expires when Spec.ResourceExpiry is absent (v15 servers)', () => {
  const wire = method('GetAccessRequestsV2').responseDeserialize(Buffer.from(accessRequestBytes({ metadataExpires: true })));
  const r = toAccessRequest(wire as WireAccessRequest);
  assert.equal(r.resourceExpires?.toISOString(), '2030-01-01T02:00:00.000Z');
  const bare = toAccessRequest(method('GetAccessRequestsV2').responseDeserialize(Buffer.from(accessRequestBytes())) as WireAccessRequest);
  assert.equal(bare.resourceExpires, undefined);
});

test('AccessRequestSpecV3 scalar fields keep their numbers (states, dry run, promoted list)', () => {
  const spec = [
    str(1, 'dave'),
    vint(3, 4), // PROMOTED
    str(7, 'promoted to list'),
    msg(8, mapEntry(1, 'ticket', msg(2, str(1, 'OPS-1')))),
    vint(16, 1),
    msg(20, str(1, 'list-1'), str(2, 'On-call list')),
    ts(21, EXPIRES),
  ];
  const bytes = [...msg(4, str(1, 'req-2')), ...msg(5, ...spec)];
  const r = toAccessRequest(method('GetAccessRequestsV2').responseDeserialize(Buffer.from(bytes)) as WireAccessRequest);
  assert.equal(r.state, 'PROMOTED');
  assert.equal(r.resolveReason, 'promoted to list');
  assert.deepEqual(r.resolveAnnotations, { ticket: ['OPS-1'] });
  assert.equal(r.dryRun, true);
  assert.deepEqual(r.promotedAccessList, { name: 'list-1', title: 'On-call list' });
  assert.equal(r.assumeStartTime?.toISOString(), '2030-01-01T00:00:00.000Z');
  assert.equal(r.created, undefined, 'an absent timestamp is unset too');
});

test('INIT event carries WatchStatus (field 43) with the accepted kinds', () => {
  // Type INIT = 0 is the proto3 default, so Go does not write field 1 at all.
  const watchStatus = [str(1, 'watch_status'), str(3, 'v1'), msg(4, str(1, 'watch_status')), msg(5, msg(1, str(1, 'access_request'), mapEntry(4, 'state', str(2, 'PENDING'))))];
  const wire = decodeEvent(bytesField(43, watchStatus.flat()));
  assert.equal(wire.Type, 'INIT');
  assert.equal(wire.Resource, 'WatchStatus');
  assert.deepEqual(toWatchEvent(wire), { type: 'init', acceptedKinds: ['access_request'] });
});

test('DELETE event carries only a ResourceHeader (field 2); the id is Metadata.Name', () => {
  const header = [str(1, 'access_request'), str(3, 'v3'), msg(4, str(1, REQUEST_ID), str(2, 'default'))];
  const wire = decodeEvent([...vint(1, 2), ...bytesField(2, header.flat())]);
  assert.equal(wire.Type, 'DELETE');
  assert.deepEqual(toWatchEvent(wire), { type: 'delete', requestId: REQUEST_ID });
});

test('events for oneof members we do not declare are skipped, not misread', () => {
  // Field 45 (AccessList) is not in our trimmed Event; it must decode to "no resource".
  const wire = decodeEvent([...vint(1, 1), ...msg(45, str(1, 'list'))]);
  assert.equal(wire.Type, 'PUT');
  assert.equal(toWatchEvent(wire), undefined);
});

test('PluginDataUpdateParams hand-made bytes decode with "" values kept', () => {
  const bytes = [
    ...str(1, 'access_request'),
    ...str(2, REQUEST_ID),
    ...str(3, 'slack'),
    ...mapEntry(4, 'messages', str(2, 'C1/1700000000.1')),
    ...mapEntry(4, 'resolution', str(2, '')), // explicit empty value
    ...msg(4, str(1, 'resolve_reason')), // value omitted entirely (also means "")
    ...mapEntry(5, 'messages', str(2, '')),
  ];
  const decoded = method('UpdatePluginData').requestDeserialize(Buffer.from(bytes)) as Record<string, unknown>;
  assert.equal(decoded['Kind'], 'access_request');
  assert.equal(decoded['Resource'], REQUEST_ID);
  assert.equal(decoded['Plugin'], 'slack');
  assert.deepEqual(decoded['Set'], { messages: 'C1/1700000000.1', resolution: '', resolve_reason: '' });
  assert.deepEqual(decoded['Expect'], { messages: '' });
});

test('our PluginDataUpdateParams encoding carries "" map entries and omits an empty Expect', () => {
  const serialize = method('UpdatePluginData').requestSerialize;
  const withCas = serialize(fromPluginDataUpdate({ resource: REQUEST_ID, plugin: 'slack', set: { user: 'alice', resolution: '' }, expect: { user: '', resolution: '' } }));
  const top = readFields(withCas);
  assert.equal((top.find((f) => f.field === 1)?.value as Buffer).toString(), 'access_request', 'kind defaults to access_request');
  assert.equal((top.find((f) => f.field === 2)?.value as Buffer).toString(), REQUEST_ID);
  assert.equal((top.find((f) => f.field === 3)?.value as Buffer).toString(), 'slack');
  const set = mapEntries(withCas, 4);
  assert.deepEqual(set.map((e) => [e.key, e.value]).sort(), [
    ['resolution', ''],
    ['user', 'alice'],
  ]);
  const expect = mapEntries(withCas, 5);
  assert.deepEqual(expect.map((e) => e.key).sort(), ['resolution', 'user'], '"" entries in Expect are on the wire (key must be absent)');
  assert.ok(expect.every((e) => e.value === ''));

  const noCas = serialize(fromPluginDataUpdate({ resource: REQUEST_ID, plugin: 'slack', set: { user: 'alice' }, expect: {} }));
  assert.equal(mapEntries(noCas, 5).length, 0, 'empty Expect = no field 5 = no compare-and-swap');
});

test('RequestStateSetter carries the delegator in field 3', () => {
  const bytes = method('SetAccessRequestState').requestSerialize(fromStateChange(REQUEST_ID, { state: 'APPROVED', reason: 'ok', delegator: 'jira:alice@example.com' }));
  const fields = readFields(bytes);
  assert.equal((fields.find((f) => f.field === 1)?.value as Buffer).toString(), REQUEST_ID);
  assert.equal(fields.find((f) => f.field === 2)?.value, 2n, 'State APPROVED = 2');
  assert.equal((fields.find((f) => f.field === 3)?.value as Buffer).toString(), 'jira:alice@example.com');
  assert.equal((fields.find((f) => f.field === 4)?.value as Buffer).toString(), 'ok');
});

test('every field AccessRequestSpecV3 can carry decodes (11 RoleThresholdMapping, 19 reserved, 23 DryRunEnrichment)', () => {
  const spec = [
    str(1, 'erin'),
    vint(3, 1),
    mapEntry(11, 'editor', msg(2, msg(1, vint(1, 0)))), // RoleThresholdMapping: editor -> {Sets: [{Indexes: [0]}]}
    str(19, 'promoted title (reserved upstream)'),
    msg(23, str(1, 'required'), str(2, 'Which ticket?')),
  ];
  const wire = method('GetAccessRequestsV2').responseDeserialize(Buffer.from([...msg(4, str(1, 'req-3')), ...msg(5, ...spec)])) as WireAccessRequest;
  // Fields core's types leave out (it maps none of them), decoded all the same.
  const decoded = wire.Spec as unknown as Record<string, unknown>;
  assert.deepEqual(decoded['RoleThresholdMapping'], { editor: { Sets: [{ Indexes: [0] }] } });
  assert.deepEqual(decoded['DryRunEnrichment'], { ReasonMode: 'required', ReasonPrompts: ['Which ticket?'] });
  const r = toAccessRequest(wire);
  assert.equal(r.user, 'erin');
  assert.equal(r.state, 'PENDING');
});

test('RequestKind is field 24 (enum AccessRequestKind: UNDEFINED 0, SHORT_TERM 1, LONG_TERM 2); absent reads UNDEFINED', () => {
  const decode = (...spec: number[][]) =>
    toAccessRequest(method('GetAccessRequestsV2').responseDeserialize(Buffer.from([...msg(4, str(1, 'req-k')), ...msg(5, str(1, 'fay'), ...spec)])) as WireAccessRequest);
  assert.equal(decode(vint(24, 2)).requestKind, 'LONG_TERM');
  assert.equal(decode(vint(24, 1)).requestKind, 'SHORT_TERM');
  assert.equal(decode().requestKind, 'UNDEFINED', 'servers that predate the field');
  assert.equal(decode(vint(24, 7)).requestKind, 'UNDEFINED', 'a kind newer than us is not a failure');
  // A neighbouring field must not be mistaken for it.
  const r = decode(vint(24, 2), msg(25, str(1, 'grouping')), msg(23, str(1, 'optional')));
  assert.equal(r.requestKind, 'LONG_TERM');
  assert.equal(r.user, 'fay');
});

test('PingResponse: version 2, features 3 -> AdvancedAccessWorkflows 7, proxy address 4', () => {
  const bytes = [...str(1, 'example.com'), ...str(2, '17.4.8'), ...msg(3, vint(1, 1), vint(7, 1)), ...str(4, 'teleport.example.com:443'), ...vint(5, 1)];
  const info = toClusterInfo(method('Ping').responseDeserialize(Buffer.from(bytes)) as WirePingResponse);
  assert.deepEqual(info, {
    clusterName: 'example.com',
    serverVersion: '17.4.8',
    advancedAccessWorkflows: true,
    proxyPublicAddr: 'teleport.example.com:443',
    webProxyUrl: 'https://teleport.example.com',
  });
});

test('ListAccessRequestsResponse (1 AccessRequests, 2 NextKey) and PluginDataSeq (1 -> Spec 5 -> Entries 1 -> Data 1)', () => {
  const page = method('ListAccessRequests').responseDeserialize(Buffer.from([...bytesField(1, accessRequestBytes()), ...str(2, 'next-key')])) as WireListAccessRequestsResponse;
  assert.equal(page.NextKey, 'next-key');
  assert.equal(toAccessRequest(page.AccessRequests[0]!).id, REQUEST_ID);

  const entry = msg(2, mapEntry(1, 'messages', str(2, 'C1/1')), mapEntry(1, 'reviews_count', str(2, '2')));
  const pluginData = [str(1, 'plugin_data'), str(2, 'access_request'), str(3, 'v3'), msg(4, str(1, REQUEST_ID)), msg(5, mapEntry(1, 'slack', entry))];
  const seq = method('GetPluginData').responseDeserialize(Buffer.from(msg(1, ...pluginData))) as WirePluginDataSeq;
  assert.deepEqual(toPluginData(seq, 'slack'), { messages: 'C1/1', reviews_count: '2' });
  assert.equal(toPluginData(seq, 'pagerduty'), undefined);
});

test('RoleV6: Allow 2 -> Logins 1, Request 6 (Roles 1, Annotations 3, Thresholds 4, SuggestedReviewers 5), ReviewRequests 15', () => {
  const allow = [
    str(1, '{{internal.logins}}'),
    msg(6, str(1, 'editor'), msg(3, mapEntry(1, 'pagerduty_notify_service', msg(2, str(1, 'Ops')))), msg(4, str(1, 't'), vint(3, 2), vint(4, 1)), str(5, 'lead')),
    msg(15, str(1, 'editor')),
  ];
  const bytes = [...str(1, 'role'), ...str(3, 'v7'), ...msg(4, str(1, 'dev')), ...msg(5, msg(2, ...allow), msg(3, str(1, 'root')))];
  assert.deepEqual(toRoleInfo(method('GetRole').responseDeserialize(Buffer.from(bytes)) as WireRole), {
    name: 'dev',
    allowLogins: ['{{internal.logins}}'],
    requestRoles: ['editor'],
    requestAnnotations: { pagerduty_notify_service: ['Ops'] },
    requestThresholds: [{ name: 't', filter: '', approve: 2, deny: 1 }],
    requestSuggestedReviewers: ['lead'],
    reviewRoles: ['editor'],
  });
});

test('role listing: ListRolesRequest Limit 1 / StartKey 2; ListRolesResponse Roles 1 / NextKey 2; GetRolesResponse Roles 1', () => {
  const req = readFields(method('ListRoles').requestSerialize({ Limit: 200, StartKey: 'team-200' }));
  assert.deepEqual(
    req.map((f) => [f.field, f.wireType]),
    [
      [1, 0],
      [2, 2],
    ],
  );
  assert.equal(req[0]?.value, 200n);
  assert.equal((req[1]?.value as Buffer).toString(), 'team-200');
  const role = (name: string): number[] => [...str(1, 'role'), ...str(3, 'v7'), ...msg(4, str(1, name))];
  const page = method('ListRoles').responseDeserialize(Buffer.from([...bytesField(1, role('a')), ...bytesField(1, role('b')), ...str(2, 'c')])) as {
    Roles: WireRole[];
    NextKey: string;
  };
  assert.deepEqual(
    page.Roles.map((r) => toRoleInfo(r).name),
    ['a', 'b'],
  );
  assert.equal(page.NextKey, 'c');
  const all = method('GetRoles').responseDeserialize(Buffer.from(bytesField(1, role('x')))) as { Roles: WireRole[] };
  assert.deepEqual(
    all.Roles.map((r) => toRoleInfo(r).name),
    ['x'],
  );
  assert.equal(method('GetRoles').requestSerialize({}).length, 0, 'google.protobuf.Empty');
});

test('users: teleport.users.v1 GetUserRequest is name 1 / with_secrets 3, legacy is Name 1 / WithSecrets 2; Traits are UserSpecV2 5', () => {
  const modern = readFields(method('GetUser', USERS_SERVICE).requestSerialize({ name: 'alice', with_secrets: true }));
  assert.deepEqual(
    modern.map((f) => f.field),
    [1, 3],
  );
  const legacy = readFields(method('GetUser').requestSerialize({ Name: 'alice', WithSecrets: true }));
  assert.deepEqual(
    legacy.map((f) => f.field),
    [1, 2],
  );

  const user = [...str(1, 'user'), ...str(3, 'v2'), ...msg(4, str(1, 'alice')), ...msg(5, str(4, 'dev'), msg(5, mapEntry(1, 'logins', msg(2, str(1, 'alice'), str(1, 'root')))))];
  const res = method('GetUser', USERS_SERVICE).responseDeserialize(Buffer.from(bytesField(1, user))) as { user: WireUser };
  assert.deepEqual(toUserInfo(res.user), { name: 'alice', roles: ['dev'], traits: { logins: ['alice', 'root'] } });
  const legacyRes = method('GetUser').responseDeserialize(Buffer.from(user)) as WireUser;
  assert.deepEqual(toUserInfo(legacyRes), { name: 'alice', roles: ['dev'], traits: { logins: ['alice', 'root'] } });
});

test('users: ListUsersRequest is page_size 1 / page_token 2 / with_secrets 3; ListUsersResponse is users 1 (repeated UserV2) / next_page_token 2', () => {
  const req = readFields(method('ListUsers', USERS_SERVICE).requestSerialize({ page_size: 200, page_token: 'bob', with_secrets: true }));
  assert.deepEqual(
    req.map((f) => f.field),
    [1, 2, 3],
  );
  assert.equal(req[0]?.value, 200n);
  assert.equal((req[1]?.value as Buffer).toString(), 'bob');
  assert.equal(req[2]?.value, 1n);

  const user = (name: string, id: string): number[] =>
    bytesField(1, [...str(1, 'user'), ...str(3, 'v2'), ...msg(4, str(1, name)), ...msg(5, msg(5, mapEntry(1, 'slack_user_id', msg(2, str(1, id)))))]);
  const res = method('ListUsers', USERS_SERVICE).responseDeserialize(
    Buffer.from([...user('octocat', 'U0OCTO'), ...user('alice@example.com', 'U0ALICE'), ...str(2, 'carol')]),
  ) as WireListUsersResponse;
  assert.equal(res.next_page_token, 'carol');
  assert.deepEqual(res.users.map(toUserInfo), [
    { name: 'octocat', roles: [], traits: { slack_user_id: ['U0OCTO'] } },
    { name: 'alice@example.com', roles: [], traits: { slack_user_id: ['U0ALICE'] } },
  ]);
  // The last page: no token at all (proto3 default).
  const last = method('ListUsers', USERS_SERVICE).responseDeserialize(Buffer.from([])) as WireListUsersResponse;
  assert.deepEqual([last.users, last.next_page_token], [[], '']);
});

test('AccessReviewSubmission: RequestID 1, Review 2 (Author 1, ProposedState 3 = DENIED 3, Reason 4)', () => {
  const fields = readFields(method('SubmitAccessReview').requestSerialize(fromReviewSubmission(REQUEST_ID, { proposedState: 'DENIED', reason: 'no' })));
  assert.equal((fields.find((f) => f.field === 1)?.value as Buffer).toString(), REQUEST_ID);
  const review = readFields(fields.find((f) => f.field === 2)?.value as Buffer);
  assert.equal(review.find((f) => f.field === 3)?.value, 3n);
  assert.equal((review.find((f) => f.field === 4)?.value as Buffer).toString(), 'no');
  const author = review.find((f) => f.field === 1);
  assert.ok(author === undefined || (author.value as Buffer).length === 0, 'empty Author: the server fills in the caller');
});
