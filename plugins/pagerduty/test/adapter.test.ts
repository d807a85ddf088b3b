import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PluginError } from '@teleport-plugin/core';
import { adapterContext } from '@teleport-plugin/core/testing';
import { createPagerDutyHandlers, pagerDutyAdapter } from '../src/adapter.js';
import { FakePagerDuty } from '../src/testing/index.js';
import { TUNING, afterCall, annotated, infoMessages, makeRequest, makeReview, memoryTeleport, pdConfig, pdWorld, problems, startFakePagerDuty } from './helpers/contexts.js';
import type { PdWorld, WorldOptions } from './helpers/contexts.js';

/**
 * The adapter's behaviour, in the real runtime on a MemoryTeleport (startAdapterTest) against the
 * fake PagerDuty: a PUT is `teleport.put(request)`, an expiry `teleport.remove(id)`, and every
 * assertion follows `settled()`. setup() and check() run on core's adapterContext.
 */

async function world(t: { after(fn: () => Promise<void>): void }, options: WorldOptions = {}): Promise<PdWorld> {
  const w = await pdWorld(options);
  t.after(() => w.close());
  return w;
}

test('a pending request opens exactly one incident on the notify service; plugin data is the Go layout plus our records', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();

  assert.equal(w.pd.incidents.length, 1);
  const incident = w.pd.incidents[0]!;
  assert.equal(incident.title, 'Access request from alice@example.com');
  assert.equal(incident.incidentKey, 'teleport-access-request/req-1');
  assert.equal(incident.serviceId, w.notify.id);
  assert.equal(
    incident.details,
    'alice@example.com requested permissions for roles editor, auditor on Teleport at 25 Nov 26 09:05 UTC.\n' +
      'Reason: deploy hotfix\nTo approve or deny the request, proceed to https://teleport.example.com/web/requests/req-1\n',
  );
  assert.equal(incident.from, 'bot@example.com');
  assert.deepEqual(w.data(req.id), {
    // The Go plugin's keys...
    user: 'alice@example.com',
    roles: 'editor,auditor',
    created: String(Date.UTC(2026, 10, 25, 9, 5, 0) / 1000),
    request_reason: 'deploy hotfix',
    incident_id: incident.id,
    service_id: w.notify.id,
    // ...and the runtime's records: the announcement done, the incident opened (with its keys).
    announced: 'ok',
    'fx/open': `ok:incident_id=${incident.id}&service_id=${w.notify.id}`,
  });

  // The same request delivered again (a redelivered PUT): nothing is opened or even looked up.
  const before = w.pd.calls.length;
  w.teleport.put(req);
  await w.t.settled();
  assert.equal(w.pd.calls.length, before);
  assert.deepEqual(problems(w.t.logger), []);
});

test('on call in the second of two policies: approved, naming that service', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  w.teleport.put(annotated());
  await w.t.settled();

  assert.deepEqual(w.teleport.decisions, [
    {
      requestId: 'req-1',
      review: { proposedState: 'APPROVED', reason: 'Access requested by user Alice (Alice@Example.com) who is on call in service(s) Production' },
    },
  ]);
  const oncalls = w.pd.http.callsTo('GET', '/oncalls');
  assert.equal(oncalls.length, 1);
  assert.deepEqual(oncalls[0]?.query.getAll('user_ids[]'), [w.alice.id]);
  assert.deepEqual(oncalls[0]?.query.getAll('escalation_policy_ids[]').sort(), [w.dbPolicy.id, w.prodPolicy.id].sort());
  assert.ok(infoMessages(w.t.logger).some((m) => m.startsWith('Auto-approved')));
  // The approval resolved the request: the plugin's own review is noted, then the incident closed.
  const incident = w.pd.incidents[0]!;
  assert.equal(incident.status, 'resolved');
  assert.match(incident.notes[0]?.content ?? '', /^access-plugin reviewed the request at .+\.\nResolution: APPROVED\.\nReason: Access requested by user Alice/);
  assert.equal(incident.notes[1]?.content.split('\n')[0], 'Access request has been approved');
  assert.equal(w.data('req-1')?.['resolution'], 'approved');
});

test('a long-term request is never auto-approved, even with the requester on call (the incident still opens)', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  w.teleport.put(
    makeRequest({
      requestKind: 'LONG_TERM',
      requestedResources: [{ clusterName: 'c', kind: 'node', name: 'db-1', subResourceName: '' }],
      systemAnnotations: { pagerduty_notify_service: ['access requests'], pagerduty_services: ['Production'] },
    }),
  );
  await w.t.settled();
  assert.deepEqual(w.teleport.decisions, []);
  assert.equal(w.pd.incidents.length, 1);
  assert.equal(w.pd.http.callsTo('GET', '/oncalls').length, 0);
  const entry = w.t.logger.entries.find((e) => e.message.includes('long-term'));
  assert.equal(entry?.level, 'info');
});

test('on call only in an unrelated policy: no review, and the reason is logged at info', async (t) => {
  const w = await world(t);
  const other = w.pd.addEscalationPolicy('Unrelated');
  w.pd.addOnCall(w.alice, other, 1);
  w.teleport.put(annotated());
  await w.t.settled();
  assert.deepEqual(w.teleport.decisions, []);
  const entry = w.t.logger.entries.find((e) => e.message.includes('not on call'));
  assert.equal(entry?.level, 'info');
  assert.equal(entry?.message, 'Not auto-approving: the requester is not on call in services Databases, Production');
  assert.equal(entry?.fields['services'], 'Databases, Production');
  assert.equal(entry?.fields['requestId'], 'req-1');
});

test('requester unknown to PagerDuty, or not an email, or no services annotation: nothing, with an info reason', async (t) => {
  const w = await world(t);
  w.teleport.put(makeRequest({ id: 'r-unknown', user: 'carol@example.com', systemAnnotations: { pagerduty_services: ['Production'] } }));
  w.teleport.put(makeRequest({ id: 'r-name', user: 'carol', systemAnnotations: { pagerduty_services: ['Production'] } }));
  w.teleport.put(makeRequest({ id: 'r-bare' }));
  await w.t.settled();

  assert.deepEqual(w.teleport.decisions, []);
  assert.equal(w.pd.incidents.length, 0);
  const info = infoMessages(w.t.logger);
  assert.ok(info.includes('Not auto-approving: the requester is not a PagerDuty user'), info.join('\n'));
  assert.ok(info.includes('Not auto-approving: the requester is not an email address'), info.join('\n'));
  assert.ok(info.includes('Not auto-approving: the request has no services annotation'), info.join('\n'));
  const unknownLine = w.t.logger.entries.find((e) => e.message.includes('not a PagerDuty user'));
  assert.equal(unknownLine?.fields['requestId'], 'r-unknown');
  // No incident wanted is not a failure: every announcement is done.
  for (const id of ['r-unknown', 'r-name', 'r-bare']) assert.equal(w.data(id)?.['announced'], 'ok', id);
});

test('missing services are skipped; none found is logged', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  w.teleport.put(annotated(['Nope', 'Production']));
  await w.t.settled();
  assert.equal(w.teleport.decisions.length, 1);
  assert.ok(w.t.logger.entries.some((e) => e.level === 'info' && e.message.includes('service not found') && e.fields['service'] === 'Nope'));

  w.teleport.put(annotated(['Nope'], ['access requests'], { id: 'req-2' }));
  await w.t.settled();
  assert.ok(infoMessages(w.t.logger, 'req-2').includes('Not auto-approving: none of the services exist in PagerDuty'));
  assert.equal(w.teleport.decisions.length, 1);
});

test('on_call_max_escalation_level: a level-2 shift does not count with a limit of 1, does with 2', async (t) => {
  const strict = await world(t, { extraConfig: 'on_call_max_escalation_level = 1\n' });
  strict.pd.addOnCall(strict.alice, strict.prodPolicy, 2);
  strict.teleport.put(annotated());
  await strict.t.settled();
  assert.deepEqual(strict.teleport.decisions, []);
  const line = strict.t.logger.entries.find((e) => e.message.includes('not on call'));
  assert.equal(line?.message, 'Not auto-approving: the requester is not on call in services Databases, Production within escalation levels 1..1');
  assert.equal(line?.level, 'info');
  assert.equal(line?.fields['maxEscalationLevel'], 1);

  const relaxed = await world(t, { extraConfig: 'on_call_max_escalation_level = 2\n' });
  relaxed.pd.addOnCall(relaxed.alice, relaxed.prodPolicy, 2);
  relaxed.teleport.put(annotated());
  await relaxed.t.settled();
  assert.equal(relaxed.teleport.decisions.length, 1);
});

test('on-calls spanning several pages are all read', async (t) => {
  const w = await world(t, { extraConfig: 'on_call_max_escalation_level = 2\n' });
  // Page size is 2: the qualifying shift is on the second page.
  w.pd.addOnCall(w.alice, w.dbPolicy, 3);
  w.pd.addOnCall(w.alice, w.dbPolicy, 4);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  w.teleport.put(annotated());
  await w.t.settled();
  const pages = w.pd.http.callsTo('GET', '/oncalls');
  assert.deepEqual(
    pages.map((c) => c.query.get('offset')),
    ['0', '2'],
  );
  assert.equal(w.teleport.decisions.length, 1);
  assert.match(w.teleport.decisions[0]!.review!.reason ?? '', /service\(s\) Production$/);
});

test('already reviewed is not an error', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  // The plugin's own review is already there (an earlier run), the request still pending.
  w.teleport.put(annotated(undefined, undefined, { reviews: [makeReview({ author: 'access-plugin', reason: 'earlier' })] }));
  await w.t.settled();
  assert.deepEqual(w.teleport.decisions, []);
  assert.equal(w.teleport.callCount('submitAccessReview'), 1);
  assert.ok(infoMessages(w.t.logger, 'req-1').includes('Auto-approval already submitted earlier'));
  assert.equal(w.data('req-1')?.['announced'], 'ok');
  assert.deepEqual(problems(w.t.logger), []);
});

test('notify service not found: the error names it, and auto-approval still runs', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  w.teleport.put(annotated(['Production'], ['Missing Service']));
  await w.t.settled();
  assert.equal(w.teleport.decisions.length, 1);
  assert.equal(w.pd.incidents.length, 0);
  const failed = w.t.logger.entries.filter((e) => e.level === 'error' && e.message.startsWith('handler failed'));
  assert.ok(failed.length > 0, problems(w.t.logger).join('\n'));
  assert.match(String(failed[0]!.fields['error']), /PagerDuty service "Missing Service" \(request annotation pagerduty_notify_service\) does not exist/);
  // A missing service is the user's to fix: not retried in a loop, and the announcement stays owed.
  assert.equal(failed[0]!.fields['attempts'], 1);
  assert.match(w.data('req-1')?.['announced'] ?? '', /^run:/);
});

test('never two incidents: the create is recorded by a retry when writing its record failed', async (t) => {
  const w = await world(t);
  // Teleport fails the plugin-data write that records the incident (every try the ledger makes).
  afterCall(w.pd, 'POST', '/incidents', () => {
    w.teleport.failNext('updatePluginData', new PluginError('CONNECTION_PROBLEM', 'injected: Teleport unavailable'), 4);
  });
  w.teleport.put(annotated([]));
  await w.t.settled();

  assert.equal(w.pd.incidents.length, 1);
  assert.equal(w.pd.http.callsTo('POST', '/incidents').length, 1, 'the retry asked PagerDuty instead of creating again');
  assert.equal(w.pd.http.callsTo('GET', '/incidents').length, 1);
  assert.equal(w.data('req-1')?.['incident_id'], w.pd.incidents[0]!.id);
  assert.equal(w.data('req-1')?.['announced'], 'ok');
  assert.ok(infoMessages(w.t.logger, 'req-1').includes('effect had happened already; recorded, not repeated'));

  // Once it is recorded, nothing is even looked up again.
  const calls = w.pd.calls.length;
  w.teleport.put(annotated([]));
  await w.t.settled();
  assert.equal(w.pd.calls.length, calls);
});

test('never two incidents: a create that timed out and was sent again', async (t) => {
  // The handler attempt's deadline is the call's deadline: the first create is abandoned after
  // 300 ms, the retried attempt must find the incident it may have opened.
  const w = await world(t, { runtime: { handlerTimeoutMs: 300 } });
  w.pd.fail({ method: 'POST', path: '/incidents', delayMs: 1_000 });
  w.teleport.put(annotated([]));
  await w.t.settled();
  // Wait for the delayed first create to reach the fake too.
  await w.pd.http.waitFor((calls) => calls.filter((c) => c.method === 'POST' && c.path === '/incidents').length === 2);
  assert.equal(w.pd.incidents.length, 1);
  assert.equal(w.data('req-1')?.['incident_id'], w.pd.incidents[0]!.id);
});

test('reviews become notes; the resolution adds a note and resolves the incident', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  const incident = w.pd.incidents[0]!;

  const reviews = [makeReview({ author: 'bob', reason: 'fine' }), makeReview({ author: 'carol', proposedState: 'DENIED', reason: '' })];
  w.teleport.put({ ...req, reviews });
  await w.t.settled();
  w.teleport.put({ ...req, reviews, state: 'APPROVED', resolveReason: 'approved by bob' });
  await w.t.settled();

  assert.deepEqual(
    incident.notes.map((n) => n.content),
    [
      'bob reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: APPROVED.\nReason: fine.',
      'carol reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: DENIED.\n',
      'Access request has been approved\nReason: approved by bob',
    ],
  );
  assert.ok(incident.notes.every((n) => n.from === 'bot@example.com'));
  assert.equal(incident.status, 'resolved');
  const put = w.pd.http.callsTo('PUT', `/incidents/${incident.id}`);
  assert.equal(put.length, 1);
  assert.deepEqual(put[0]?.json, { incident: { type: 'incident_reference', status: 'resolved' } });
  assert.equal(put[0]?.headers['from'], 'bot@example.com');
  const data = w.data(req.id);
  assert.equal(data?.['reviews_count'], '2');
  assert.equal(data?.['resolution'], 'approved');
  assert.equal(data?.['resolve_reason'], 'approved by bob');
  assert.equal(data?.['fx/note/review/0'], 'ok');
  assert.equal(data?.['fx/note/review/1'], 'ok');
  assert.equal(data?.['fx/note/resolution'], 'ok');
  // The normal path never asks PagerDuty what it already has.
  assert.equal(w.pd.http.callsTo('GET', /\/notes$/).length, 0);
  assert.equal(w.pd.http.callsTo('GET', '/incidents').length, 0);
});

test('a retried onReviewed posts only the notes the failed try did not (fx/note/review/<i>)', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  const incident = w.pd.incidents[0]!;
  const notesPath = `/incidents/${incident.id}/notes`;

  // The second note POST answers 500 before storing anything. A note POST is not repeated by the
  // client (a 5xx may mean it was stored), so the first try fails after one of its two notes.
  afterCall(w.pd, 'POST', notesPath, () => {
    w.pd.fail({ method: 'POST', path: notesPath, status: 500 });
  });
  const reviews = [makeReview({ author: 'bob', reason: 'fine' }), makeReview({ author: 'carol', proposedState: 'DENIED', reason: '' })];
  w.teleport.put({ ...req, reviews });
  await w.t.settled();

  assert.deepEqual(
    incident.notes.map((n) => n.content),
    ['bob reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: APPROVED.\nReason: fine.', 'carol reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: DENIED.\n'],
  );
  assert.deepEqual(
    w.pd.http.callsTo('POST', notesPath).map((c) => c.status),
    [201, 500, 201],
  );
  // The retry asked PagerDuty about the note whose outcome was unknown (and only that one).
  assert.equal(w.pd.http.callsTo('GET', notesPath).length, 1);
  assert.equal(w.data(req.id)?.['reviews_count'], '2');

  // A later review (only it is "added") is numbered from the request's full review list.
  w.teleport.put({ ...req, reviews: [...reviews, makeReview({ author: 'dave', reason: 'ok' })] });
  await w.t.settled();
  assert.equal(incident.notes.length, 3);
  const data = w.data(req.id);
  assert.deepEqual([data?.['fx/note/review/0'], data?.['fx/note/review/1'], data?.['fx/note/review/2']], ['ok', 'ok', 'ok']);
  assert.equal(data?.['reviews_count'], '3');
  // Go keys untouched.
  assert.equal(data?.['incident_id'], incident.id);
  assert.equal(data?.['user'], 'alice@example.com');
});

test('a retried onResolved after a failed resolve PUT posts the closing note once and resolves', async (t) => {
  const w = await world(t);
  const req = w.teleport.put(annotated([]));
  await w.t.settled();
  const incident = w.pd.incidents[0]!;

  // Every attempt of the client's resolve PUT fails (it retries 5xx on an idempotent PUT, 4 tries).
  w.pd.fail({ method: 'PUT', path: `/incidents/${incident.id}`, status: 500, times: 4 });
  w.teleport.put({ ...req, state: 'APPROVED', resolveReason: 'approved by bob' });
  await w.t.settled();

  assert.deepEqual(
    incident.notes.map((n) => n.content),
    ['Access request has been approved\nReason: approved by bob'],
  );
  assert.equal(incident.status, 'resolved');
  assert.deepEqual(
    w.pd.http.callsTo('PUT', `/incidents/${incident.id}`).map((c) => c.status),
    [500, 500, 500, 500, 200],
  );
  assert.equal(w.data(req.id)?.['fx/note/resolution'], 'ok');
  assert.equal(w.data(req.id)?.['resolution'], 'approved');
  assert.ok(w.t.logger.entries.some((e) => e.message === 'handler failed; retrying' && e.fields['handler'] === 'onResolved'));
});

test('expiry resolves the incident with an "expired" note; no incident means no calls', async (t) => {
  const w = await world(t);
  w.teleport.put(annotated([]));
  await w.t.settled();
  w.teleport.remove('req-1');
  await w.t.settled();
  const incident = w.pd.incidents[0]!;
  assert.deepEqual(
    incident.notes.map((n) => n.content),
    ['Access request has been expired\n'],
  );
  assert.equal(incident.status, 'resolved');
  assert.equal(w.data('req-1')?.['resolution'], 'expired');

  const before = w.pd.calls.length;
  const quiet = w.teleport.put(makeRequest({ id: 'req-quiet' }));
  await w.t.settled();
  w.teleport.put({ ...quiet, reviews: [makeReview()] });
  await w.t.settled();
  w.teleport.put({ ...quiet, reviews: [makeReview()], state: 'DENIED' });
  await w.t.settled();
  assert.equal(w.pd.calls.length, before);
  assert.equal(w.data('req-quiet')?.['resolution'], 'denied');
});

test('check: key, user_email and check_services, in plain words', async (t) => {
  const fixture = await startFakePagerDuty();
  t.after(() => fixture.pd.close());
  const checkWith = async (extra = '', prepare?: (teleport: ReturnType<typeof memoryTeleport>) => void, withoutRoleListing = false) => {
    const teleport = memoryTeleport();
    prepare?.(teleport);
    const { ctx } = adapterContext('pagerduty', pdConfig(fixture.pd.url, extra), { teleport });
    const handlers = createPagerDutyHandlers(withoutRoleListing ? { ...ctx, teleport: { ...ctx.teleport, listRoles: undefined } } : ctx, TUNING);
    return handlers.check!(AbortSignal.timeout(5_000));
  };

  const items = await checkWith('check_services = ["Production", "Nope", "Ghost"]\n');
  assert.deepEqual(
    items.map((i) => [i.name, i.ok]),
    [
      ['PagerDuty API key', true],
      ['PagerDuty user_email', true],
      ['PagerDuty services', false],
    ],
  );
  assert.match(items[2]!.detail ?? '', /not found in PagerDuty: Ghost \(check_services\); Nope \(check_services\)\./);

  // Teleport actions without role listing: only check_services counts.
  const skipped = await checkWith('', undefined, true);
  assert.equal(skipped[2]?.ok, true);
  assert.match(skipped[2]?.detail ?? '', /none named \(from check_services\)/);
  // Role listing, but no role names a service.
  const noRoles = await checkWith();
  assert.equal(noRoles[2]?.ok, true);
  assert.equal(noRoles[2]?.detail, 'none named (from the pagerduty_notify_service / pagerduty_services annotations of 0 of 0 Teleport roles)');

  // With role access: every annotated name in every role, merged with check_services (case-insensitively).
  const fromRoles = await checkWith('check_services = ["production"]\n', (teleport) => {
    teleport.addRole('dev', { requestAnnotations: { pagerduty_notify_service: ['Access Requests'], pagerduty_services: ['Production', 'Databases'] } });
    teleport.addRole('dba', { requestAnnotations: { pagerduty_services: ['Databasez', '{{external.pd_services}}'] } });
    teleport.addRole('auditor', { requestAnnotations: { other: ['x'] } });
  });
  const services = fromRoles.filter((i) => i.name === 'PagerDuty services');
  assert.deepEqual(
    services.map((i) => i.ok),
    [true, false],
  );
  assert.equal(services[0]?.detail, 'not checkable (filled in from user traits at request time): {{external.pd_services}} (role dba)');
  assert.match(services[1]?.detail ?? '', /^not found in PagerDuty: Databasez \(role dba\)\. /);

  const deniedItems = await checkWith('', (teleport) => {
    teleport.failNext('listRoles', new PluginError('ACCESS_DENIED', 'access denied to perform action "list" on "role"'));
  });
  assert.equal(deniedItems[2]?.ok, true);
  assert.match(deniedItems[2]?.detail ?? '', /^not checked: the plugin's Teleport role may not list roles \(add rule resources \[role\], verbs \[list, read\]/);

  const { ctx } = adapterContext('pagerduty', pdConfig(fixture.pd.url), { teleport: memoryTeleport() });
  const bad = await createPagerDutyHandlers({ ...ctx, config: { ...ctx.config, apiKey: 'wrong' } }, TUNING).check!(AbortSignal.timeout(5_000));
  assert.equal(bad.length, 1);
  assert.equal(bad[0]?.ok, false);
  assert.match(bad[0]?.detail ?? '', /rejected pagerduty\.api_key \(HTTP 401\)/);

  fixture.pd.users.splice(
    fixture.pd.users.findIndex((u) => u.email === 'bot@example.com'),
    1,
  );
  const noBot = await checkWith();
  assert.equal(noBot[1]?.ok, false);
  assert.match(noBot[1]?.detail ?? '', /No PagerDuty user has the email bot@example.com/);
});

test('429 and 5xx on the way: the handler still ends with one incident and one approval', async (t) => {
  const w = await world(t);
  w.pd.addOnCall(w.alice, w.prodPolicy, 1);
  w.pd.fail({ method: 'POST', path: '/incidents', status: 429, headers: { 'retry-after': '0' } });
  w.pd.fail({ method: 'GET', path: '/oncalls', status: 503, times: 2 });
  w.teleport.put(annotated());
  await w.t.settled();
  assert.deepEqual(
    w.pd.http.callsTo('POST', '/incidents').map((c) => c.status),
    [429, 201],
  );
  assert.deepEqual(
    w.pd.http.callsTo('GET', '/oncalls').map((c) => c.status),
    [503, 503, 200],
  );
  assert.equal(w.pd.incidents.length, 1);
  assert.equal(w.data('req-1')?.['incident_id'], w.pd.incidents[0]!.id);
  assert.equal(w.teleport.decisions.length, 1);
  // Absorbed inside one handler attempt: the runtime never had to retry it.
  assert.ok(!w.t.logger.entries.some((e) => e.message === 'handler failed; retrying'));
});

test('setup refuses a rejected API key with one user-facing line, as the Go plugin does at start-up', async (t) => {
  const pd = new FakePagerDuty({ apiKey: 'the-real-key' });
  await pd.start();
  t.after(() => pd.close());
  const { ctx } = adapterContext('pagerduty', pdConfig(pd.url)); // pdConfig uses api_key "pd-test-key"
  await assert.rejects(pagerDutyAdapter.setup(ctx), (err: Error & { code?: string; userFacing?: boolean }) => {
    assert.equal(err.code, 'CONFIG');
    assert.equal(err.userFacing, true);
    assert.match(err.message, /rejected \[pagerduty\] api_key \(HTTP 401\)/);
    return true;
  });
  const good = new FakePagerDuty({ apiKey: 'pd-test-key' });
  await good.start();
  t.after(() => good.close());
  const handlers = await pagerDutyAdapter.setup(adapterContext('pagerduty', pdConfig(good.url)).ctx);
  assert.equal(typeof handlers.onPending, 'function');
  assert.equal(good.http.callsTo('GET', '/abilities').length, 1);
});
