// Whole rules: buildConditionContext from a domain AccessRequest, compileRule (condition and
// schedules checked once), and matchingRules with a reason per rule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildConditionContext } from '../src/amr/buildConditionContext.js';
import { compileRule } from '../src/amr/compileRule.js';
import { matchingRules } from '../src/amr/matchingRules.js';
import type { AccessMonitoringRule, AccessRequest } from '../src/teleport/types.js';

function request(patch: Partial<AccessRequest> = {}): AccessRequest {
  return {
    id: '0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b',
    user: 'alice@example.com',
    roles: ['access'],
    state: 'PENDING',
    // Friday 2025-03-07 18:30 in Los Angeles (PST, UTC-8).
    created: new Date('2025-03-08T02:30:00Z'),
    accessExpires: new Date('2025-03-08T03:30:00Z'),
    resourceExpires: new Date('2025-03-08T04:30:00Z'),
    requestReason: 'deploy',
    resolveReason: '',
    resolveAnnotations: {},
    systemAnnotations: { pagerduty_services: ['svc-a'] },
    thresholds: [],
    reviews: [],
    suggestedReviewers: ['carol@example.com'],
    requestedResources: [],
    loginHint: '',
    dryRun: false,
    maxDuration: undefined,
    sessionTtl: undefined,
    assumeStartTime: undefined,
    promotedAccessList: undefined,
    requestKind: 'UNDEFINED',
    ...patch,
  };
}

function rule(patch: Partial<AccessMonitoringRule> & { name: string }): AccessMonitoringRule {
  return { subjects: ['access_request'], states: [], condition: 'true', desiredState: '', schedules: {}, ...patch };
}

/** The example of the shared spec, as the client maps it. */
const SRE_ON_CALL = rule({
  name: 'sre-on-call',
  condition: 'contains_all(set("access"), access_request.spec.roles) &&\ncontains_any(user.traits["team"], set("sre"))',
  desiredState: 'reviewed',
  automaticReview: { integration: 'builtin', decision: 'APPROVED', reason: '' },
  notification: { name: 'slack', recipients: ['teleport-access'] },
  schedules: { evenings: { timezone: 'America/Los_Angeles', shifts: [{ weekday: 'Friday', start: '17:00', end: '23:59' }] } },
});

test("buildConditionContext: request fields, traits when known, expiry is the request object's", () => {
  const ctx = buildConditionContext({ request: request(), userTraits: { team: ['sre'] } });
  assert.deepEqual([...ctx.roles], ['access']);
  assert.deepEqual([...ctx.suggestedReviewers], ['carol@example.com']);
  assert.deepEqual(ctx.systemAnnotations, { pagerduty_services: ['svc-a'] });
  assert.equal(ctx.user, 'alice@example.com');
  assert.equal(ctx.requestReason, 'deploy');
  assert.equal(ctx.creationTime?.toISOString(), '2025-03-08T02:30:00.000Z');
  assert.equal(ctx.expiry?.toISOString(), '2025-03-08T04:30:00.000Z', 'resourceExpires, as upstream Expiry()');
  assert.deepEqual(ctx.userTraits, { team: ['sre'] });
  // No resources requested: the labels are known to be empty.
  assert.deepEqual(ctx.resourceLabelsUnion, {});
  assert.deepEqual(ctx.resourceLabelsIntersection, {});
  assert.ok(Object.isFrozen(ctx));
  assert.equal(buildConditionContext({ request: request() }).userTraits, undefined, 'traits not looked up');
});

test('buildConditionContext: resource label union and intersection (same name AND value on every resource)', () => {
  const withResources = request({
    requestedResources: [
      { clusterName: 'example.com', kind: 'node', name: 'a', subResourceName: '' },
      { clusterName: 'example.com', kind: 'node', name: 'b', subResourceName: '' },
    ],
  });
  const unknown = buildConditionContext({ request: withResources });
  assert.equal(unknown.resourceLabelsUnion, undefined, 'resources requested but their labels not looked up');
  assert.equal(unknown.resourceLabelsIntersection, undefined);
  const ctx = buildConditionContext({
    request: withResources,
    resourceLabels: [
      { env: 'prod', team: 'db', region: 'eu', constructor: 'x' },
      { env: 'prod', team: 'web', owner: 'bob' },
    ],
  });
  assert.deepEqual(ctx.resourceLabelsUnion, { env: ['prod'], team: ['db', 'web'], region: ['eu'], constructor: ['x'], owner: ['bob'] });
  assert.deepEqual(ctx.resourceLabelsIntersection, { env: ['prod'] });
  assert.deepEqual(buildConditionContext({ request: withResources, resourceLabels: [] }).resourceLabelsIntersection, {});
});

test("the spec's example rule: inside the Friday-evening schedule in Los Angeles, condition true", () => {
  const compiled = compileRule(SRE_ON_CALL);
  assert.ok(compiled.ok);
  const outcome = compiled.matches(buildConditionContext({ request: request(), userTraits: { team: ['sre', 'dev'] } }));
  assert.equal(outcome.status, 'match');
  assert.equal(outcome.schedule, 'evenings');
  assert.equal(outcome.reason, 'condition is true within schedule "evenings"');
  assert.equal(outcome.rule, SRE_ON_CALL);
  assert.equal(outcome.name, 'sre-on-call');
});

test('schedules are checked before the condition', () => {
  const compiled = compileRule(SRE_ON_CALL);
  assert.ok(compiled.ok);
  // Friday 16:59 in Los Angeles: outside, and the (unknown) traits are never read.
  const early = compiled.matches(buildConditionContext({ request: request({ created: new Date('2025-03-08T00:59:00Z') }) }));
  assert.equal(early.status, 'no-match');
  // The explanation shows the shifts and the time it was in the schedule's zone.
  assert.equal(early.reason, 'created at 2025-03-08T00:59:00.000Z, outside every schedule: "evenings" (America/Los_Angeles: friday 17:00-23:59; it was friday 16:59 there)');
  // Inside the schedule, the condition needs the traits: not known -> error, reported not thrown.
  const noTraits = compiled.matches(buildConditionContext({ request: request() }));
  assert.equal(noTraits.status, 'error');
  assert.equal(noTraits.reason, "condition could not be evaluated: the requester's traits are not known");
  // Inside the schedule, condition false.
  const otherTeam = compiled.matches(buildConditionContext({ request: request(), userTraits: { team: ['dev'] } }));
  assert.deepEqual([otherTeam.status, otherTeam.reason], ['no-match', 'condition is false']);
  // A scheduled rule with no creation time cannot be decided.
  const noTime = compiled.matches(buildConditionContext({ request: request({ created: undefined }), userTraits: { team: ['sre'] } }));
  assert.deepEqual([noTime.status, noTime.reason], ['error', 'the rule has schedules but the request creation time is not known']);
});

test('a rule without schedules ignores the time; a non-boolean condition counts as false', () => {
  const always = compileRule(rule({ name: 'always', condition: 'contains(access_request.spec.roles, "access")' }));
  assert.ok(always.ok);
  const outcome = always.matches(buildConditionContext({ request: request({ created: undefined }) }));
  assert.deepEqual([outcome.status, outcome.reason, outcome.schedule], ['match', 'condition is true', undefined]);
  assert.equal('schedule' in outcome, false);

  const setValued = compileRule(rule({ name: 'set-valued', condition: 'access_request.spec.roles' }));
  assert.ok(setValued.ok);
  const o = setValued.matches(buildConditionContext({ request: request() }));
  assert.deepEqual([o.status, o.reason], ['no-match', 'condition is not boolean (it is a set), which counts as false']);
});

test('compileRule reports a bad condition with its position, and bad schedules', () => {
  const badCondition = compileRule(rule({ name: 'typo', condition: 'contains(access_request.spec.roles, "x") &&\n  is_emtpy(set())' }));
  assert.ok(!badCondition.ok);
  assert.equal(badCondition.name, 'typo');
  assert.deepEqual(badCondition.error, {
    part: 'condition',
    message: 'invalid condition at line 2, column 3: unknown function "is_emtpy"',
    position: 46,
  });
  const badZone = compileRule(rule({ name: 'tz', schedules: { s: { timezone: 'Nowhere/Land', shifts: [{ weekday: 'Monday', start: '01:00', end: '02:00' }] } } }));
  assert.ok(!badZone.ok);
  assert.deepEqual(badZone.error, { part: 'schedules', message: 'invalid schedules: schedule "s": invalid timezone "Nowhere/Land"' });
  const empty = compileRule(rule({ name: 'empty', condition: '' }));
  assert.ok(!empty.ok);
  assert.equal(empty.error.message, 'invalid condition at line 1, column 1: the condition is empty');
});

test("matchingRules: every rule's outcome, in order, compiled or not; a broken rule never hides the others", () => {
  const ctx = buildConditionContext({ request: request(), userTraits: { team: ['sre'] } });
  const precompiled = compileRule(rule({ name: 'precompiled', condition: 'access_request.spec.user == "alice@example.com"' }));
  const outcomes = matchingRules(
    [
      SRE_ON_CALL,
      rule({ name: 'broken', condition: 'contains(' }),
      rule({ name: 'other-role', condition: 'contains(access_request.spec.roles, "admin")' }),
      precompiled,
      rule({ name: 'annotations', condition: 'contains(access_request.spec.system_annotations["pagerduty_services"], "svc-a")' }),
      rule({ name: 'reason', condition: '!is_empty(access_request.spec.request_reason) && access_request.spec.suggested_reviewers.contains("carol@example.com")' }),
    ],
    ctx,
  );
  assert.deepEqual(
    outcomes.map((o) => [o.name, o.status, o.reason]),
    [
      ['sre-on-call', 'match', 'condition is true within schedule "evenings"'],
      ['broken', 'error', 'invalid condition at line 1, column 10: unexpected end of the condition'],
      ['other-role', 'no-match', 'condition is false'],
      ['precompiled', 'match', 'condition is true'],
      ['annotations', 'match', 'condition is true'],
      ['reason', 'match', 'condition is true'],
    ],
  );
  assert.equal(outcomes[0]?.rule.notification?.recipients[0], 'teleport-access', 'the rule comes back with its outcome');
  assert.deepEqual(matchingRules([], ctx), []);
});
