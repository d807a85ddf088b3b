import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadTeleportProto } from '@teleport-plugin/core/internal/proto';
import { FakeTeleport, FakeTeleportError, rawTeleportClient, type RawTeleportClient, type TraceKind } from '../src/index.js';

let tp: FakeTeleport;
// RSA key generation is slow; it runs on the thread pool while the other tests run.
const rsaTeleport = FakeTeleport.start({ clusterName: 'legacy.example', keyType: 'rsa' });
const clients: RawTeleportClient[] = [];

async function client(user: string, opts: { expired?: boolean } = {}): Promise<RawTeleportClient> {
  const identity = await tp.issueIdentity({ user, ...(opts.expired ? { expired: true } : {}) });
  const c = await rawTeleportClient(tp, { identity });
  clients.push(c);
  return c;
}

async function rejects(p: Promise<unknown>, code: grpc.status, message?: RegExp): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, code, `expected code ${grpc.status[code]}, got ${grpc.status[e.code]}: ${e.details}`);
    if (message) assert.match(e.details, message);
    return e;
  }
  assert.fail(`expected ${grpc.status[code]}`);
}

before(async () => {
  tp = await FakeTeleport.start({ advancedWorkflows: true, proxyPublicAddr: 'teleport.example.com:443' });
  tp.addRequester('requester@example.com');
  tp.addRequester('advanced@example.com', {
    thresholds: [{ approve: 2, deny: 2 }],
    requestAnnotations: { pagerduty_notify_service: ['Teleport Alerts'], team: ['{{external.team}}'] },
    suggestedReviewers: ['lead@example.com'],
    traits: { team: ['platform'] },
  });
  tp.addReviewer('reviewer1@example.com');
  tp.addReviewer('reviewer2@example.com');
  tp.addReviewer('reviewer3@example.com');
  tp.addPluginUser('jira', { canSetState: true });
  tp.addPluginUser('pagerduty', { canReview: ['editor'] });
});

after(async () => {
  for (const c of clients) c.close();
  await tp.close();
  await (await rsaTeleport).close();
});

test('Ping reports cluster, version, features and proxy address', async () => {
  const c = await client('access-plugin');
  const res = await c.call('Ping', {});
  assert.equal(res.ClusterName, 'example.com');
  assert.equal(res.ServerVersion, '18.0.0');
  assert.equal(res.ServerFeatures.AdvancedAccessWorkflows, true);
  assert.equal(res.ProxyPublicAddr, 'teleport.example.com:443');
  const rec = tp.calls.find((r) => r.method === 'Ping');
  assert.equal(rec?.caller, 'access-plugin');
});

test('an expired client certificate is refused at the TLS handshake', async () => {
  const c = await client('access-plugin', { expired: true });
  const before = tp.calls.length;
  await rejects(c.call('Ping', {}), grpc.status.UNAVAILABLE);
  assert.equal(tp.calls.length, before, 'nothing reached the handlers');
});

test('a certificate from another cluster is refused', async () => {
  const other = await FakeTeleport.start({ clusterName: 'other.example' });
  try {
    const identity = await other.issueIdentity({ user: 'access-plugin' });
    const c = await rawTeleportClient(tp, { identity });
    clients.push(c);
    const before = tp.calls.length;
    await rejects(c.call('Ping', {}), grpc.status.UNAVAILABLE);
    assert.equal(tp.calls.length, before, 'nothing reached the handlers');
  } finally {
    await other.close();
  }
});

test('mutual TLS is required: a client without a certificate never reaches a handler', async () => {
  const Auth = (loadTeleportProto().grpcObject['proto'] as grpc.GrpcObject)['AuthService'] as grpc.ServiceClientConstructor;
  const anonymous = new Auth(tp.addr, grpc.credentials.createSsl(Buffer.from(tp.pki.hostCaPem())), {
    'grpc.ssl_target_name_override': 'teleport.cluster.local',
  });
  const before = tp.calls.length;
  try {
    const ping = new Promise((resolve, reject) =>
      (anonymous as unknown as { Ping: (r: unknown, cb: (e: Error | null, r: unknown) => void) => void }).Ping({}, (e, r) => (e ? reject(e) : resolve(r))),
    );
    await rejects(ping, grpc.status.UNAVAILABLE);
  } finally {
    anonymous.close();
  }
  assert.equal(tp.calls.length, before, 'nothing reached the handlers');
});

test('unknown users get PERMISSION_DENIED beyond Ping', async () => {
  const c = await client('nobody');
  await c.call('Ping', {});
  await rejects(c.call('GetPluginData', { Kind: 'access_request', Resource: 'x', Plugin: 'slack' }), grpc.status.PERMISSION_DENIED);
});

test('client version gate: non-semver or too old `version` header is rejected, absent is fine', async () => {
  const c = await client('access-plugin');
  await rejects(c.call('Ping', {}, { version: '0.1.0' }), grpc.status.PERMISSION_DENIED, /client version is unsupported/);
  await rejects(c.call('Ping', {}, { version: 'banana' }), grpc.status.PERMISSION_DENIED);
  assert.equal((await c.call('Ping', {}, { version: '17.0.0' })).ServerVersion, '18.0.0');
});

test('create: ID is a UUID, state PENDING, expiries set, annotations and suggested reviewers from roles', async () => {
  const c = await client('advanced@example.com');
  const before = Date.now();
  const res = await c.call('CreateAccessRequestV2', {
    Spec: { User: 'advanced@example.com', Roles: ['editor'], RequestReason: 'because of', SuggestedReviewers: ['reviewer1@example.com'] },
  });
  assert.match(res.Metadata.Name, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(res.Kind, 'access_request');
  assert.equal(res.Version, 'v3');
  assert.equal(res.Spec.State, 'PENDING');
  assert.ok(Number(res.Spec.Created.seconds) * 1000 >= before - 1000);
  assert.ok(Number(res.Spec.Expires.seconds) > Number(res.Spec.Created.seconds));
  assert.ok(res.Metadata.Expires && Number(res.Metadata.Expires.seconds) > 0);
  assert.equal(res.Spec.MaxDuration.seconds, '-62135596800', 'unset non-nullable timestamp is Go zero time');
  assert.deepEqual(res.Spec.SystemAnnotations.Values.pagerduty_notify_service.Values, ['Teleport Alerts']);
  assert.deepEqual(res.Spec.SystemAnnotations.Values.team.Values, ['platform']);
  assert.deepEqual([...res.Spec.SuggestedReviewers].sort(), ['lead@example.com', 'reviewer1@example.com']);
  assert.equal(res.Spec.Thresholds[0].Approve, 2);
  assert.equal(tp.admin.getRequest(res.Metadata.Name)?.state, 'PENDING');
});

test('create: a role the user may not request -> PERMISSION_DENIED; on behalf of others -> PERMISSION_DENIED', async () => {
  const c = await client('requester@example.com');
  await rejects(c.call('CreateAccessRequestV2', { Spec: { User: 'requester@example.com', Roles: ['admin'] } }), grpc.status.PERMISSION_DENIED, /can not request role "admin"/);
  await rejects(c.call('CreateAccessRequestV2', { Spec: { User: 'advanced@example.com', Roles: ['editor'] } }), grpc.status.PERMISSION_DENIED);
  await assert.rejects(tp.admin.createRequest({ user: 'requester@example.com', roles: ['admin'] }), /can not request role/);
});

test('review: default threshold approves with one review; the response is the updated request', async () => {
  const id = await tp.admin.createRequest({ user: 'requester@example.com', roles: ['editor'], reason: 'because of' });
  const c = await client('reviewer1@example.com');
  const res = await c.call('SubmitAccessReview', { RequestID: id, Review: { Author: '', ProposedState: 'APPROVED', Reason: 'lgtm' } });
  assert.equal(res.Spec.State, 'APPROVED');
  assert.equal(res.Spec.Reviews.length, 1);
  assert.equal(res.Spec.Reviews[0].Author, 'reviewer1@example.com', 'empty author filled with the caller');
  assert.equal(res.Spec.ResolveReason, 'lgtm');
  // Reviewing a resolved request is refused.
  const c2 = await client('reviewer2@example.com');
  await rejects(
    c2.call('SubmitAccessReview', { RequestID: id, Review: { Author: 'reviewer2@example.com', ProposedState: 'DENIED' } }),
    grpc.status.PERMISSION_DENIED,
    /already approved/,
  );
});

test('review: thresholds approve 2 / deny 2', async () => {
  const approveId = await tp.admin.createRequest({ user: 'advanced@example.com', roles: ['editor'] });
  let snap = await tp.admin.review(approveId, { author: 'reviewer1@example.com', state: 'APPROVED', reason: 'one' });
  assert.equal(snap.state, 'PENDING');
  snap = await tp.admin.review(approveId, { author: 'reviewer2@example.com', state: 'APPROVED', reason: 'two' });
  assert.equal(snap.state, 'APPROVED');
  assert.deepEqual(
    snap.reviews.map((r) => r.author),
    ['reviewer1@example.com', 'reviewer2@example.com'],
  );

  const denyId = await tp.admin.createRequest({ user: 'advanced@example.com', roles: ['editor'] });
  await tp.admin.review(denyId, { author: 'reviewer1@example.com', state: 'DENIED' });
  assert.equal(tp.admin.getRequest(denyId)?.state, 'PENDING');
  await tp.admin.review(denyId, { author: 'reviewer2@example.com', state: 'APPROVED' });
  assert.equal(tp.admin.getRequest(denyId)?.state, 'PENDING');
  await tp.admin.review(denyId, { author: 'reviewer3@example.com', state: 'DENIED', reason: 'no' });
  assert.equal(tp.admin.getRequest(denyId)?.state, 'DENIED');
  assert.equal(tp.admin.getRequest(denyId)?.resolveReason, 'no', 'the triggering review gives the resolve reason');
});

test('review: every threshold set of a role must be met (two granting roles)', async () => {
  tp.upsertRole({ name: 'strict-requester', requestRoles: ['editor'], thresholds: [{ name: 'two', approve: 2, deny: 1 }] });
  tp.upsertRole({ name: 'loose-requester', requestRoles: ['editor'] });
  tp.upsertUser({ name: 'both@example.com', roles: ['strict-requester', 'loose-requester'] });
  const id = await tp.admin.createRequest({ user: 'both@example.com', roles: ['editor'] });
  assert.equal((await tp.admin.review(id, { author: 'reviewer1@example.com', state: 'APPROVED' })).state, 'PENDING');
  assert.equal((await tp.admin.review(id, { author: 'reviewer2@example.com', state: 'APPROVED' })).state, 'APPROVED');
  const id2 = await tp.admin.createRequest({ user: 'both@example.com', roles: ['editor'] });
  assert.equal((await tp.admin.review(id2, { author: 'reviewer1@example.com', state: 'DENIED' })).state, 'DENIED', 'any deny threshold met denies');
});

test('review: threshold filters decide which reviews count', async () => {
  tp.upsertRole({ name: 'security', reviewRoles: ['editor'] });
  tp.upsertUser({ name: 'sec@example.com', roles: ['security'], traits: { team: ['sec'] } });
  tp.addRequester('filtered@example.com', {
    thresholds: [{ name: 'security', filter: 'contains(reviewer.roles, "security") && !equals(review.reason, "rubber stamp")', approve: 1, deny: 1 }],
  });
  const id = await tp.admin.createRequest({ user: 'filtered@example.com', roles: ['editor'] });
  assert.equal((await tp.admin.review(id, { author: 'reviewer1@example.com', state: 'APPROVED' })).state, 'PENDING', 'non-matching reviewer counts for nothing');
  assert.equal((await tp.admin.review(id, { author: 'sec@example.com', state: 'APPROVED', reason: 'checked' })).state, 'APPROVED');
  assert.throws(
    () => tp.upsertRole({ name: 'bad', requestRoles: ['editor'], thresholds: [{ filter: 'regexp.match(reviewer.roles, "x")', approve: 1, deny: 1 }] }),
    /invalid threshold predicate/,
  );
  tp.upsertRole({ name: 'ok', thresholds: [{ filter: 'contains(reviewer.traits["team"], "sec") || equals(request.reason, "x")', approve: 1, deny: 1 }] });
});

test('review: self-review, second review, foreign author and non-reviewers are refused', async () => {
  const id = await tp.admin.createRequest({ user: 'advanced@example.com', roles: ['editor'] });
  const requester = await client('advanced@example.com');
  await rejects(requester.call('SubmitAccessReview', { RequestID: id, Review: { ProposedState: 'APPROVED' } }), grpc.status.PERMISSION_DENIED, /cannot submit reviews/);
  const r1 = await client('reviewer1@example.com');
  await r1.call('SubmitAccessReview', { RequestID: id, Review: { Author: 'reviewer1@example.com', ProposedState: 'APPROVED' } });
  const again = await rejects(
    r1.call('SubmitAccessReview', { RequestID: id, Review: { Author: 'reviewer1@example.com', ProposedState: 'APPROVED' } }),
    grpc.status.PERMISSION_DENIED,
  );
  assert.ok(again.details.endsWith('has already reviewed this request'), again.details);
  await rejects(r1.call('SubmitAccessReview', { RequestID: id, Review: { Author: 'reviewer2@example.com', ProposedState: 'APPROVED' } }), grpc.status.PERMISSION_DENIED);
  const plugin = await client('access-plugin');
  await rejects(plugin.call('SubmitAccessReview', { RequestID: id, Review: { ProposedState: 'APPROVED' } }), grpc.status.PERMISSION_DENIED);
  // A plugin granted review_requests (PagerDuty auto-approve) may review.
  const pd = await client('pagerduty');
  const res = await pd.call('SubmitAccessReview', { RequestID: id, Review: { Author: 'pagerduty', ProposedState: 'APPROVED', Reason: 'on call' } });
  assert.equal(res.Spec.State, 'APPROVED');
  // The admin identity may submit on behalf of another author.
  const id2 = await tp.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
  const admin = await client('admin');
  const res2 = await admin.call('SubmitAccessReview', { RequestID: id2, Review: { Author: 'reviewer3@example.com', ProposedState: 'DENIED' } });
  assert.equal(res2.Spec.Reviews[0].Author, 'reviewer3@example.com');
  assert.equal(res2.Spec.State, 'DENIED');
  await rejects(admin.call('SubmitAccessReview', { RequestID: 'no-such-id', Review: { ProposedState: 'DENIED' } }), grpc.status.NOT_FOUND);
});

test('SetAccessRequestState records the delegator and resolve reason; needs access_request update', async () => {
  const id = await tp.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
  const plain = await client('access-plugin');
  await rejects(plain.call('SetAccessRequestState', { ID: id, State: 'APPROVED' }), grpc.status.PERMISSION_DENIED);
  const jira = await client('jira');
  await jira.call('SetAccessRequestState', { ID: id, State: 'APPROVED', Reason: 'approved in Jira', Delegator: 'jira:boss@example.com' });
  const snap = tp.admin.getRequest(id);
  assert.equal(snap?.state, 'APPROVED');
  assert.equal(snap?.resolveReason, 'approved in Jira');
  const entry = tp.admin.auditLog().find((e) => e.requestId === id && e.type === 'access_request.update');
  assert.equal(entry?.delegator, 'jira:boss@example.com');
  assert.equal(entry?.state, 'APPROVED');
  const d = await tp.admin.deny(await tp.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] }), { reason: 'nope', delegator: 'slack:U1' });
  assert.equal(d.state, 'DENIED');
  assert.equal(tp.auditLog().at(-1)?.delegator, 'slack:U1');
  await assert.rejects(tp.admin.approve(id), /already been set/);
});

test('list: ListAccessRequests pages with Limit/StartKey/NextKey and filters; GetAccessRequestsV2 streams', async () => {
  const user = 'pager@example.com';
  tp.addRequester(user);
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push(await tp.admin.createRequest({ user, roles: ['editor'], reason: `r${i}` }));
  await tp.admin.approve(ids[4]!);
  const c = await client('access-plugin');
  const seen: string[] = [];
  let startKey = '';
  let pages = 0;
  do {
    const page = await c.call('ListAccessRequests', { Filter: { User: user }, Limit: 2, StartKey: startKey });
    seen.push(...page.AccessRequests.map((r: { Metadata: { Name: string } }) => r.Metadata.Name));
    startKey = page.NextKey;
    pages++;
  } while (startKey);
  assert.equal(pages, 3);
  assert.deepEqual(seen, ids);
  const pending = await c.call('ListAccessRequests', { Filter: { User: user, State: 'PENDING' } });
  assert.equal(pending.AccessRequests.length, 4);
  const one = await c.call('ListAccessRequests', { Filter: { ID: ids[2] } });
  assert.deepEqual(
    one.AccessRequests.map((r: { Metadata: { Name: string } }) => r.Metadata.Name),
    [ids[2]],
  );
  const streamed = await c.collect('GetAccessRequestsV2', { User: user, State: 'APPROVED' });
  assert.deepEqual(
    streamed.map((r: { Metadata: { Name: string } }) => r.Metadata.Name),
    [ids[4]],
  );
  // Requesters without list permission see only their own requests.
  const self = await client(user);
  const own = await self.collect('GetAccessRequestsV2', {});
  assert.equal(own.length, 5);
  const other = await client('requester@example.com');
  assert.equal((await other.collect('GetAccessRequestsV2', { User: user })).length, 0);
});

test('DeleteAccessRequest needs delete permission and removes the request', async () => {
  const id = await tp.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
  await rejects((await client('access-plugin')).call('DeleteAccessRequest', { ID: id }), grpc.status.PERMISSION_DENIED);
  await (await client('admin')).call('DeleteAccessRequest', { ID: id });
  assert.equal(tp.admin.getRequest(id), undefined);
  assert.equal(tp.auditLog().at(-1)?.type, 'access_request.delete');
});

test('GetRole, GetUser and UsersService.GetUser', async () => {
  tp.upsertRole({ name: 'dev', allowLogins: ['{{internal.logins}}', 'ubuntu'], requestRoles: ['editor'] });
  tp.upsertUser({ name: 'dev@example.com', roles: ['dev'], traits: { logins: ['dev1'] } });
  const c = await client('access-plugin');
  const role = await c.call('GetRole', { Name: 'dev' });
  assert.deepEqual(role.Spec.Allow.Logins, ['{{internal.logins}}', 'ubuntu']);
  assert.deepEqual(role.Spec.Allow.Request.Roles, ['editor']);
  await rejects(c.call('GetRole', { Name: 'missing' }), grpc.status.NOT_FOUND);
  const legacy = await c.call('GetUser', { Name: 'dev@example.com' });
  assert.deepEqual(legacy.Spec.Traits.Values.logins.Values, ['dev1']);
  const modern = await c.callUsers('GetUser', { name: 'dev@example.com' });
  assert.deepEqual(modern.user.Spec.Roles, ['dev']);
  const noRead = await client('requester@example.com');
  await rejects(noRead.call('GetUser', { Name: 'dev@example.com' }), grpc.status.PERMISSION_DENIED);
});

test('old servers: ListAccessRequests and UsersService answer UNIMPLEMENTED', async () => {
  const old = await FakeTeleport.start({ version: '15.1.9', listAccessRequestsImplemented: false, usersServiceImplemented: false });
  try {
    const c = await rawTeleportClient(old, { user: 'access-plugin' });
    clients.push(c);
    assert.equal((await c.call('Ping', {})).ServerVersion, '15.1.9');
    await rejects(c.call('ListAccessRequests', {}), grpc.status.UNIMPLEMENTED);
    await rejects(c.callUsers('GetUser', { name: 'admin' }), grpc.status.UNIMPLEMENTED);
    assert.equal((await c.collect('GetAccessRequestsV2', {})).length, 0);
    // v15 does not gate client versions by default.
    await c.call('Ping', {}, { version: '0.1.0' });
  } finally {
    await old.close();
  }
});

test("identity files carry the user's roles; --format=tls files work for a direct mTLS connection (RSA suite)", async () => {
  const rsa = await rsaTeleport;
  const dir = await mkdtemp(path.join(tmpdir(), 'tk-ft-'));
  try {
    const idFile = await rsa.writeIdentityFile(dir, { user: 'access-plugin' });
    const pems = (await readFile(idFile, 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.match(new X509Certificate(pems[0]!).subject, /^O=access-plugin$/m);
    const trio = await rsa.writeTlsTrio(dir, { user: 'access-plugin' });
    const [key, crt, cas] = await Promise.all([trio.clientKey, trio.clientCrt, trio.rootCas].map((f) => readFile(f)));
    const Auth = (loadTeleportProto().grpcObject['proto'] as grpc.GrpcObject)['AuthService'] as grpc.ServiceClientConstructor;
    const c = new Auth(rsa.addr, grpc.credentials.createSsl(cas!, key!, crt!), { 'grpc.ssl_target_name_override': 'teleport.cluster.local' });
    try {
      const res = await new Promise<{ ClusterName: string }>((resolve, reject) =>
        (c as unknown as { Ping: (r: unknown, cb: (e: Error | null, r: { ClusterName: string }) => void) => void }).Ping({}, (e, r) => (e ? reject(e) : resolve(r))),
      );
      assert.equal(res.ClusterName, 'legacy.example');
    } finally {
      c.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('CreateAccessRequestV2 with DryRun validates without storing or emitting', async () => {
  const c = await client('requester@example.com');
  const before = tp.admin.listRequests().length;
  const res = await c.call('CreateAccessRequestV2', { Spec: { User: 'requester@example.com', Roles: ['editor'], DryRun: true } });
  assert.equal(res.Spec.DryRun, true);
  assert.equal(res.Spec.State, 'PENDING');
  assert.equal(tp.admin.listRequests().length, before);
  assert.equal(tp.admin.getRequest(res.Metadata.Name), undefined);
});

test('trace errors map to gRPC codes as api/trail does (shared spec section 9)', async () => {
  const spec: Record<TraceKind, number> = {
    NotFound: 5,
    AlreadyExists: 6,
    AccessDenied: 7,
    BadParameter: 3,
    CompareFailed: 9,
    ConnectionProblem: 14,
    LimitExceeded: 8,
    NotImplemented: 12,
  };
  for (const [kind, code] of Object.entries(spec) as Array<[TraceKind, number]>) {
    assert.equal(new FakeTeleportError(kind, 'x').grpcCode, code, kind);
  }
  // End to end, the same mapping reaches a client with the server's message intact.
  const c = await client('access-plugin');
  await rejects(c.call('GetRole', { Name: 'nope' }), grpc.status.NOT_FOUND, /^role nope is not found$/);
  await rejects(c.call('GetPluginData', { Kind: 'node', Resource: 'x', Plugin: 'p' }), grpc.status.INVALID_ARGUMENT, /unsupported resource kind/);
  const id = await tp.admin.createRequest({ user: 'requester@example.com', roles: ['editor'] });
  await c.call('UpdatePluginData', { Kind: 'access_request', Resource: id, Plugin: 'p', Set: { a: '1' } });
  await rejects(
    c.call('UpdatePluginData', { Kind: 'access_request', Resource: id, Plugin: 'p', Set: { a: '2' }, Expect: { a: '9' } }),
    grpc.status.FAILED_PRECONDITION,
    /^expectations not met for field "a"$/,
  );
});
