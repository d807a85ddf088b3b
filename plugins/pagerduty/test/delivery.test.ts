import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AccessRequest, PluginData } from '@teleport-plugin/core';
import type { MemoryTeleport } from '@teleport-plugin/core/testing';
import { PagerDutyClient } from '../src/client.js';
import { pagerDutySnapshot } from '../src/pluginData.js';
import type { PdFixture, PdWorld, WorldOptions } from './helpers/contexts.js';
import { annotated, incidentKeyOf, infoMessages, makeRequest, makeReview, pdWorld, problems } from './helpers/contexts.js';

/**
 * The delivery guarantees, each in the real runtime (startAdapterTest on a MemoryTeleport)
 * against the fake PagerDuty: what PagerDuty ends up holding (one incident per request, one note
 * per review, one closing note) and what plugin data records, through lost answers, 5xx after
 * the effect, crashes, rate limits, expiry and restarts.
 */

async function world(t: { after(fn: () => Promise<void>): void }, options: WorldOptions = {}): Promise<PdWorld> {
  const w = await pdWorld(options);
  t.after(() => w.close());
  return w;
}

const REVIEW_NOTE_BOB = 'bob reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: APPROVED.\nReason: fine.';

/** Plugin data as Teleport stores it (no empty values). */
function stored(data: PluginData): PluginData {
  return Object.fromEntries(Object.entries(data).filter(([, v]) => v !== ''));
}

/** What a runtime that died mid-announcement leaves: its `run` records, older than any lease. */
function crashedEntry(request: AccessRequest, records: Record<string, true>, owner = 'dead-owner', at = Date.now() - 10 * 60_000): PluginData {
  const data: PluginData = { ...stored(pagerDutySnapshot(request)), announced: `run:${owner}:${at}` };
  for (const key of Object.keys(records)) data[key] = `run:${owner}:${at}`;
  return data;
}

/** The incident PagerDuty created for `request` before the runtime that asked for it died. */
async function createdBeforeTheCrash(fixture: PdFixture, request: AccessRequest): Promise<string> {
  const client = new PagerDutyClient({ apiEndpoint: fixture.pd.url, apiKey: 'pd-test-key', userEmail: 'bot@example.com' });
  const incident = await client.createIncident({
    title: `Access request from ${request.user}`,
    incidentKey: incidentKeyOf(request.id),
    serviceId: fixture.notify.id,
    details: 'd',
  });
  return incident.id;
}

async function reviewAndApprove(w: PdWorld, request: AccessRequest): Promise<void> {
  const reviews = [makeReview({ author: 'bob', reason: 'fine' })];
  w.teleport.put({ ...request, reviews });
  await w.t.settled();
  w.teleport.put({ ...request, reviews, state: 'APPROVED', resolveReason: 'approved by bob' });
  await w.t.settled();
}

test('(a) an incident create whose answer is lost after PagerDuty created it: one incident, recorded; notes and resolution still land', async (t) => {
  const w = await world(t);
  // PagerDuty creates the incident, then the connection drops: the plugin never sees the answer.
  w.pd.fail({ method: 'POST', path: '/incidents', afterEffect: true, drop: true });
  const req = w.teleport.put(annotated([]));
  await w.t.settled();

  const incidents = w.incidentsOf(req.id);
  assert.equal(incidents.length, 1);
  const incident = incidents[0]!;
  // The create was sent again (safe: PagerDuty refuses a second open incident with the key), and
  // the refusal led the client to the incident the lost answer was about.
  assert.deepEqual(
    w.pd.http.callsTo('POST', '/incidents').map((c) => c.status),
    [0, 400],
  );
  const data = w.data(req.id);
  assert.equal(data?.['incident_id'], incident.id);
  assert.equal(data?.['service_id'], w.notify.id);
  assert.equal(data?.['announced'], 'ok');

  await reviewAndApprove(w, req);
  assert.equal(w.pd.incidents.length, 1);
  assert.deepEqual(
    incident.notes.map((n) => n.content),
    [REVIEW_NOTE_BOB, 'Access request has been approved\nReason: approved by bob'],
  );
  assert.equal(incident.status, 'resolved');
  assert.equal(w.data(req.id)?.['resolution'], 'approved');
});

test('(a) the same with a 5xx answered after the create: one incident, recorded', async (t) => {
  const w = await world(t);
  w.pd.fail({ method: 'POST', path: '/incidents', afterEffect: true, status: 502 });
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  assert.equal(w.incidentsOf(req.id).length, 1);
  assert.deepEqual(
    w.pd.http.callsTo('POST', '/incidents').map((c) => c.status),
    [502, 400],
  );
  assert.equal(w.data(req.id)?.['incident_id'], w.incidentsOf(req.id)[0]!.id);
});

test('(b) a review note answered 5xx after it was stored: the retry finds it and does not post it twice', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  const incident = w.pd.incidents[0]!;
  const notesPath = `/incidents/${incident.id}/notes`;

  w.pd.fail({ method: 'POST', path: notesPath, afterEffect: true, status: 502 });
  await reviewAndApprove(w, req);

  assert.deepEqual(
    incident.notes.map((n) => n.content),
    [REVIEW_NOTE_BOB, 'Access request has been approved\nReason: approved by bob'],
  );
  // The review note was posted once (502), then looked for (GET notes) instead of posted again;
  // the closing note went the normal way (no look-up).
  assert.deepEqual(
    w.pd.http.callsTo('POST', notesPath).map((c) => c.status),
    [502, 201],
  );
  assert.equal(w.pd.http.callsTo('GET', notesPath).length, 1);
  const data = w.data(req.id);
  assert.equal(data?.['fx/note/review/0'], 'ok:found');
  assert.equal(data?.['fx/note/resolution'], 'ok');
  assert.equal(data?.['reviews_count'], '1');
  assert.equal(data?.['resolution'], 'approved');
  assert.ok(infoMessages(w.t.logger, req.id).includes('effect had happened already; recorded, not repeated'));
});

test('(c) a crash between the create and its record: a new runtime adopts the incident, and opens no second one', async (t) => {
  const open = annotated([], undefined, { id: 'req-open' });
  // The on-call engineer resolved this one in PagerDuty meanwhile: PagerDuty's de-duplication
  // (open incidents only) would not stop a second incident here; only finding it does.
  const resolved = annotated([], undefined, { id: 'req-resolved' });
  const ids: Record<string, string> = {};
  const w = await world(t, {
    async before(fixture, teleport) {
      for (const request of [open, resolved]) {
        teleport.put(request, false);
        ids[request.id] = await createdBeforeTheCrash(fixture, request);
        teleport.setPluginData(request.id, 'pagerduty', crashedEntry(request, { 'fx/open': true }));
      }
      fixture.pd.incidents.find((i) => i.id === ids[resolved.id])!.status = 'resolved';
    },
  });

  assert.equal(w.pd.incidents.length, 2);
  // Only the two creates made before the crash.
  assert.equal(w.pd.http.callsTo('POST', '/incidents').length, 2);
  for (const request of [open, resolved]) {
    const data = w.data(request.id);
    assert.equal(data?.['incident_id'], ids[request.id], request.id);
    assert.equal(data?.['service_id'], w.notify.id, request.id);
    assert.equal(data?.['fx/open'], `ok:incident_id=${ids[request.id]}&service_id=${w.notify.id}`, request.id);
    assert.equal(data?.['announced'], 'ok', request.id);
    const said = infoMessages(w.t.logger, request.id);
    assert.ok(said.includes('taking over the announcement of a request another instance left unfinished'), said.join('\n'));
    assert.ok(said.includes('effect had happened already; recorded, not repeated'), said.join('\n'));
  }

  // The adopted incidents carry on: notes and the resolution land on them.
  await reviewAndApprove(w, open);
  const incident = w.pd.incidents.find((i) => i.id === ids[open.id])!;
  assert.deepEqual(
    incident.notes.map((n) => n.content),
    [REVIEW_NOTE_BOB, 'Access request has been approved\nReason: approved by bob'],
  );
  assert.equal(incident.status, 'resolved');
  assert.equal(w.pd.incidents.length, 2);
});

test('(c) a record of an instance that is still alive (fresh lease) is left to it: no PagerDuty call, nothing written', async (t) => {
  const req = annotated([], undefined, { id: 'req-busy' });
  let entry: PluginData = {};
  const w = await world(t, {
    before(_fixture, teleport) {
      teleport.put(req, false);
      entry = crashedEntry(req, { 'fx/open': true }, 'live-replica', Date.now());
      teleport.setPluginData(req.id, 'pagerduty', entry);
    },
  });
  assert.equal(w.pd.calls.length, 0);
  assert.deepEqual(w.data(req.id), entry);
  assert.equal(w.teleport.updates.length, 0);
});

test('(d) the always-429 bound in the runtime: each handler try makes at most 4 requests; nothing is left "maybe done"', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  const notesPath = `/incidents/${w.pd.incidents[0]!.id}/notes`;

  w.pd.fail({ method: 'POST', path: notesPath, status: 429, times: 1_000 });
  w.teleport.put({ ...req, reviews: [makeReview({ author: 'bob', reason: 'fine' })] });
  await w.t.settled();
  // startAdapterTest's runtime tries a handler 4 times: 4 tries x (pdjs's 3 retries + 1).
  const posts = w.pd.http.callsTo('POST', notesPath);
  assert.equal(posts.length, 16);
  assert.ok(posts.every((c) => c.status === 429));
  assert.ok(w.t.logger.entries.some((e) => e.message === 'handler failed; retrying' && /HTTP 429/.test(String(e.fields['error']))));
  // A 429 means PagerDuty did nothing: the record is cleared (no "run" left to settle by asking).
  assert.equal(w.data(req.id)?.['fx/note/review/0'], undefined);
  assert.equal(w.data(req.id)?.['reviews_count'], undefined);

  // PagerDuty lets us in again: the next reconciliation posts the note, once, without asking first.
  w.pd.http.clearFaults();
  await w.t.runtime.reconcile();
  await w.t.settled();
  assert.deepEqual(
    w.pd.incidents[0]!.notes.map((n) => n.content),
    [REVIEW_NOTE_BOB],
  );
  assert.equal(w.pd.http.callsTo('POST', notesPath).length, 17);
  assert.equal(w.pd.http.callsTo('GET', notesPath).length, 0);
  assert.equal(w.data(req.id)?.['reviews_count'], '1');
});

test('(e) expiry after the request was deleted: noted and resolved once, and recorded (plugin data stays writable)', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  w.teleport.put({ ...req, reviews: [makeReview({ author: 'bob', reason: 'fine' })] });
  await w.t.settled();
  const incident = w.pd.incidents[0]!;

  // The first try of onExpired posts the closing note, then cannot resolve (4 x 500): retried.
  w.pd.fail({ method: 'PUT', path: `/incidents/${incident.id}`, status: 500, times: 4 });
  const writes = w.teleport.updates.length;
  w.teleport.remove(req.id);
  await w.t.settled();

  assert.equal(w.teleport.requests.has(req.id), false);
  assert.deepEqual(
    incident.notes.map((n) => n.content),
    [REVIEW_NOTE_BOB, 'Access request has been expired\n'],
  );
  assert.equal(incident.status, 'resolved');
  assert.deepEqual(
    w.pd.http.callsTo('PUT', `/incidents/${incident.id}`).map((c) => c.status),
    [500, 500, 500, 500, 200],
  );
  const data = w.data(req.id);
  assert.equal(data?.['resolution'], 'expired');
  assert.equal(data?.['fx/note/resolution'], 'ok');
  assert.equal(data?.['incident_id'], incident.id);
  assert.ok(w.teleport.updates.length > writes, 'written after the deletion');

  // Once: a redelivered delete and a reconciliation find it finished.
  const calls = w.pd.calls.length;
  w.teleport.remove(req.id);
  const report = await w.t.runtime.reconcile();
  await w.t.settled();
  assert.equal(report?.gone, 0);
  assert.equal(w.pd.calls.length, calls);
});

test('(f) on-call auto-approval happens although opening the incident failed; once the request is approved it is not attempted again', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  // PagerDuty refuses the incident (final, not retried by the handler).
  w.pd.fail({ method: 'POST', path: '/incidents', status: 400, body: { error: { code: 2001, message: 'Invalid Input Provided', errors: ['Service is disabled'] } } });
  const req = w.teleport.put(annotated(['Production']));
  await w.t.settled();

  // Approved on the first try, whose incident failed...
  assert.deepEqual(
    w.teleport.decisions.map((d) => [d.requestId, d.review?.proposedState]),
    [[req.id, 'APPROVED']],
  );
  const failed = w.t.logger.entries.find((e) => e.level === 'error' && e.message.startsWith('handler failed'));
  assert.match(String(failed?.fields['error']), /HTTP 400 \(Service is disabled\)/);
  // ...then the approved request's announcement was done again: the incident opened, but the
  // on-call look-ups and the review were not repeated for a request no longer pending.
  assert.deepEqual(
    w.pd.http.callsTo('POST', '/incidents').map((c) => c.status),
    [400, 201],
  );
  assert.equal(w.pd.http.callsTo('GET', '/users').length, 1);
  assert.equal(w.pd.http.callsTo('GET', '/oncalls').length, 1);
  assert.equal(w.teleport.callCount('submitAccessReview'), 1);

  const incident = w.pd.incidents[0]!;
  assert.equal(incident.status, 'resolved');
  assert.match(incident.notes[0]?.content ?? '', /^access-plugin reviewed the request at /);
  assert.equal(incident.notes[1]?.content.split('\n')[0], 'Access request has been approved');
  assert.equal(w.data(req.id)?.['announced'], 'ok');
  assert.equal(w.data(req.id)?.['resolution'], 'approved');
});

test('(f) an announcement finished after a restart for a request approved meanwhile: incident opened, no auto-approval attempted', async (t) => {
  const req = annotated(['Production'], undefined, {
    id: 'req-approved',
    state: 'APPROVED',
    resolveReason: 'approved by bob',
    reviews: [makeReview({ author: 'bob', reason: 'fine' })],
  });
  const w = await world(t, {
    before(fixture, teleport) {
      // Alice is on call, but a human approved while no plugin was running.
      fixture.pd.addOnCall(fixture.alice, fixture.prodPolicy, 1);
      teleport.put(req, false);
      teleport.setPluginData(req.id, 'pagerduty', crashedEntry(req, {}));
    },
  });
  assert.equal(w.pd.http.callsTo('GET', '/users').length, 0);
  assert.equal(w.pd.http.callsTo('GET', '/oncalls').length, 0);
  assert.equal(w.teleport.callCount('submitAccessReview'), 0);
  const incident = w.incidentsOf(req.id)[0];
  assert.ok(incident, 'the incident is opened all the same');
  assert.deepEqual(
    incident.notes.map((n) => n.content),
    [REVIEW_NOTE_BOB, 'Access request has been approved\nReason: approved by bob'],
  );
  assert.equal(incident.status, 'resolved');
  assert.equal(w.data(req.id)?.['resolution'], 'approved');
  assert.deepEqual(problems(w.t.logger), []);
});

test('(g) a restart replays nothing: a second runtime over the same Teleport makes no PagerDuty call and writes nothing', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  const bob = { user: 'bob@example.com' };
  // Auto-approved and resolved.
  w.teleport.put(annotated(['Production'], undefined, { id: 'r-approved' }));
  // Reviewed and denied by a human.
  const denied = w.teleport.put(annotated(['Production'], undefined, { id: 'r-denied', ...bob }));
  // Expired (deleted unresolved).
  w.teleport.put(annotated([], undefined, { id: 'r-expired', ...bob }));
  // Still pending, with a review noted; and one that wants no incident at all.
  const pending = w.teleport.put(annotated(['Production'], undefined, { id: 'r-pending', ...bob }));
  w.teleport.put(makeRequest({ id: 'r-quiet', ...bob }));
  await w.t.settled();
  const denial = [makeReview({ author: 'carol', proposedState: 'DENIED', reason: 'no' })];
  w.teleport.put({ ...denied, reviews: denial, state: 'DENIED', resolveReason: 'no' });
  w.teleport.remove('r-expired');
  w.teleport.put({ ...pending, reviews: [makeReview({ author: 'carol', reason: 'ok by me' })] });
  await w.t.settled();
  assert.equal(w.pd.incidents.length, 4);
  const ids = ['r-approved', 'r-denied', 'r-expired', 'r-pending', 'r-quiet'];
  const finished = Object.fromEntries(ids.map((id) => [id, w.data(id)]));
  assert.deepEqual(
    ids.map((id) => finished[id]?.['resolution'] ?? ''),
    ['approved', 'denied', 'expired', '', ''],
  );
  await w.t.runtime.stop(2_000);

  const unchanged = (teleport: MemoryTeleport, what: string): void => {
    for (const id of ids) assert.deepEqual(teleport.pluginData(id, 'pagerduty'), finished[id], `${what}: plugin data of ${id}`);
  };
  const calls = w.pd.calls.length;
  const writes = w.teleport.updates.length;
  const second = await w.restart();
  const report = await second.runtime.reconcile();
  await second.settled();
  assert.equal(report?.dispatched, 0);
  assert.deepEqual(
    w.pd.calls.slice(calls).map((c) => `${c.method} ${c.path}`),
    [],
  );
  assert.equal(w.teleport.updates.length, writes);
  unchanged(w.teleport, 'restart');
  await second.runtime.stop(2_000);

  // A Teleport client that cannot read plugin data in bulk: the reconciliation hands every existing
  // request to the dispatcher, and the records in their plugin data stop every step.
  w.teleport.bulkPluginData = false;
  const third = await w.restart();
  await third.runtime.reconcile();
  await third.settled();
  assert.ok(w.teleport.callCount('getPluginData') > 0, 'the requests were looked at');
  assert.deepEqual(
    w.pd.calls.slice(calls).map((c) => `${c.method} ${c.path}`),
    [],
  );
  unchanged(w.teleport, 'restart without bulk reads');
  assert.deepEqual(
    problems(third.logger).filter((p) => !p.includes('cannot read plugin data in bulk')),
    [],
  );
});

test('(h) an API key refused while running (401): the incident waits, /readyz shows the key, and once it works the incident is opened once', async (t) => {
  const w = await world(t);
  w.pd.fail({ method: 'POST', path: '/incidents', status: 401, body: { error: { message: 'Invalid Credentials', code: 2006 } }, times: 1_000 });
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  assert.equal(w.incidentsOf(req.id).length, 0);
  const readiness = w.t.runtime.readiness();
  assert.equal(readiness.ready, false);
  assert.match(Object.values(readiness.adapters)[0]?.reason ?? '', /HTTP 401/);

  w.pd.http.clearFaults();
  await w.t.runtime.reconcile();
  await w.t.settled();
  assert.equal(w.incidentsOf(req.id).length, 1);
  assert.equal(w.t.runtime.readiness().ready, true);
});
