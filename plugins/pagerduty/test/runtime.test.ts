import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { FakeTeleport, startHarness } from '@teleport-plugin/testkit';
import type { Harness } from '@teleport-plugin/testkit';
import { FakePagerDuty } from '../src/testing/index.js';
import type { FakePdEscalationPolicy, FakePdUser } from '../src/testing/index.js';
import { pdConfig, tunedAdapter } from './helpers/contexts.js';

/**
 * The adapter inside the real runtime (real gRPC client over mutual TLS, watcher, dispatcher,
 * plugin data with CAS) against the fake Teleport and the fake PagerDuty. The client is tuned for
 * tests (short backoff); setup()'s key probe over this path is covered by demo.test.ts.
 */

let pd: FakePagerDuty;
let tp: FakeTeleport;
let harness: Harness;
let prodPolicy: FakePdEscalationPolicy;
let alice: FakePdUser;

before(async () => {
  pd = new FakePagerDuty({ apiKey: 'pd-test-key', maxLimit: 2 });
  await pd.start();
  pd.addUser('bot@example.com', 'Teleport Bot');
  pd.addService('Access Requests');
  prodPolicy = pd.addEscalationPolicy('Production on-call');
  pd.addService('Production', prodPolicy);
  alice = pd.addUser('alice@example.com', 'Alice');
  pd.addUser('bob@example.com', 'Bob');
  pd.addOnCall(pd.addUser('carol@example.com', 'Carol'), prodPolicy, 1);

  tp = await FakeTeleport.start({ advancedWorkflows: true });
  const annotations = { pagerduty_notify_service: ['Access Requests'], pagerduty_services: ['Production'] };
  tp.addRequester('alice@example.com', { requestRoles: ['editor'], requestAnnotations: annotations });
  tp.addRequester('bob@example.com', { requestRoles: ['editor'], requestAnnotations: annotations });
  tp.addRequester('carol@example.com', { requestRoles: ['editor'], requestAnnotations: annotations });
  tp.addReviewer('reviewer', { reviewRoles: ['editor'] });
  harness = await startHarness({
    teleport: tp,
    adapters: [{ adapter: tunedAdapter(), config: pdConfig(pd.url) }],
    // Auto-approval reviews as the plugin's own user, which needs review rights.
    pluginUser: { canReview: ['editor'] },
  });
});

after(async () => {
  await harness?.stop();
  await tp?.close();
  await pd?.close();
});

const incidentFor = (id: string) => pd.incidentByKey(`teleport-access-request/${id}`);

test('an on-call requester: one incident, auto-approved, incident resolved; plugin data as the Go plugin', async () => {
  pd.addOnCall(alice, prodPolicy, 1);
  const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason: 'hotfix' });
  await tp.waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 15_000, 'auto-approval');
  const request = tp.admin.getRequest(id)!;
  assert.equal(request.reviews[0]?.author, FakeTeleport.PLUGIN_USER);
  assert.equal(request.reviews[0]?.reason, 'Access requested by user Alice (alice@example.com) who is on call in service(s) Production');

  await tp.waitFor(() => incidentFor(id)?.status === 'resolved', 15_000, 'incident resolved');
  const incident = incidentFor(id)!;
  assert.match(incident.details, /^alice@example.com requested permissions for roles editor on Teleport at .+\.\nReason: hotfix\n/);
  assert.equal(incident.notes.at(-1)?.content.split('\n')[0], 'Access request has been approved');
  assert.equal(pd.incidents.filter((i) => i.incidentKey === incident.incidentKey).length, 1);

  const data = await tp.waitFor(
    () => {
      const d = tp.admin.pluginData(id, 'pagerduty');
      return d?.['resolution'] ? d : undefined;
    },
    10_000,
    'resolution in plugin data',
  );
  assert.equal(data['incident_id'], incident.id);
  assert.equal(data['user'], 'alice@example.com');
  assert.equal(data['roles'], 'editor');
  assert.equal(data['request_reason'], 'hotfix');
  assert.match(data['created'] ?? '', /^\d+$/);
  assert.equal(data['resolution'], 'approved');
});

test('not on call: incident only; a human review becomes a note; denial resolves it', async () => {
  const id = await tp.admin.createRequest({ user: 'bob@example.com', roles: ['editor'], reason: 'look around' });
  await tp.waitFor(() => tp.admin.pluginData(id, 'pagerduty')?.['incident_id'], 15_000, 'incident id stored');
  await tp.admin.review(id, { author: 'reviewer', state: 'DENIED', reason: 'not today' });
  await tp.waitFor(() => incidentFor(id)?.status === 'resolved', 15_000, 'incident resolved');
  const notes = incidentFor(id)!.notes.map((n) => n.content);
  assert.equal(notes.length, 2, notes.join('\n---\n'));
  assert.match(notes[0]!, /^reviewer reviewed the request at .+\.\nResolution: DENIED\.\nReason: not today\.$/);
  assert.equal(notes[1], 'Access request has been denied\nReason: not today');
  assert.equal(tp.admin.getRequest(id)?.reviews.length, 1);
  const logs = harness.logger.entries ?? [];
  assert.ok(logs.some((e) => e.level === 'info' && e.message.includes('not on call') && e.fields['requestId'] === id));
});

test('expiry resolves the incident', async () => {
  const id = await tp.admin.createRequest({ user: 'bob@example.com', roles: ['editor'] });
  await tp.waitFor(() => tp.admin.pluginData(id, 'pagerduty')?.['incident_id'], 15_000, 'incident id stored');
  await tp.admin.expire(id);
  await tp.waitFor(() => incidentFor(id)?.status === 'resolved', 15_000, 'incident resolved');
  assert.equal(incidentFor(id)!.notes.at(-1)?.content, 'Access request has been expired\n');
});

test('PagerDuty failing more than the client retries: the runtime retries the handler, still one incident', async () => {
  // 5 answers of 500 outlast the client's 4 attempts; the runtime's second try then succeeds.
  pd.fail({ method: 'POST', path: '/incidents', status: 500, times: 5 });
  const id = await tp.admin.createRequest({ user: 'bob@example.com', roles: ['editor'] });
  await tp.waitFor(() => tp.admin.pluginData(id, 'pagerduty')?.['incident_id'], 20_000, 'incident id stored');
  assert.equal(pd.incidents.filter((i) => i.incidentKey === `teleport-access-request/${id}`).length, 1);
  const posts = pd.http
    .callsTo('POST', '/incidents')
    .filter((c) => (c.json as { incident?: { incident_key?: string } })?.incident?.incident_key === `teleport-access-request/${id}`);
  assert.ok(posts.length >= 6, `expected the failed tries and a success, saw ${posts.length} POSTs`);
  assert.ok((harness.logger.entries ?? []).some((e) => e.message === 'handler failed; retrying'));
});

test('a retried handler approves again: Teleport\'s "already reviewed" is fine, one review, one incident', async () => {
  // The first try cannot open the incident (4 answers of 500 use up the client's attempts) but
  // does approve, then fails; the runtime's second try opens the incident and approves again.
  pd.fail({ method: 'POST', path: '/incidents', status: 500, times: 4 });
  const id = await tp.admin.createRequest({ user: 'carol@example.com', roles: ['editor'] });
  await tp.waitFor(() => incidentFor(id)?.status === 'resolved', 20_000, 'incident opened and resolved');
  const request = tp.admin.getRequest(id)!;
  assert.equal(request.state, 'APPROVED');
  assert.deepEqual(
    request.reviews.map((r) => r.author),
    [FakeTeleport.PLUGIN_USER],
  );
  assert.equal(pd.incidents.filter((i) => i.incidentKey === `teleport-access-request/${id}`).length, 1);
  const submits = tp.calls.filter((c) => c.method === 'SubmitAccessReview' && JSON.stringify(c.request).includes(id));
  assert.equal(submits.length, 2, 'the retry must have submitted again');
  const logs = (harness.logger.entries ?? []).filter((e) => e.fields['requestId'] === id);
  assert.ok(
    logs.some((e) => e.level === 'info' && e.message === 'Auto-approval already submitted earlier'),
    logs.map((e) => e.message).join('\n'),
  );
});
