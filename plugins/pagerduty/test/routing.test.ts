// PagerDuty and routing: the incident's service from Access Monitoring Rules (exactly one), on-call
// facts for automatic-review rules (on call, tier, services), the rule-based on-call approval with
// deny precedence, and reminder notes on the incident.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { emptyRoutingConfig, type AccessMonitoringRule, type RoutingConfig } from '@teleport-plugin/core';
import { startAdapterTest, type AdapterTest } from '@teleport-plugin/core/testing';
import { PagerDutyClient } from '../src/client.js';
import { onCallFacts } from '../src/onCallFacts.js';
import { FakePagerDuty } from '../src/testing/index.js';
import type { FakePdEscalationPolicy, FakePdUser } from '../src/testing/index.js';
import { TUNING, makeRequest, memoryTeleport, pdConfig, tunedAdapter } from './helpers/contexts.js';

let pd: FakePagerDuty;
let prod: FakePdEscalationPolicy;
let db: FakePdEscalationPolicy;
let alice: FakePdUser;
let bob: FakePdUser;
let carol: FakePdUser;

before(async () => {
  pd = new FakePagerDuty({ apiKey: 'pd-test-key', maxLimit: 2 });
  await pd.start();
  pd.addUser('bot@example.com', 'Teleport Bot');
  pd.addService('Access Requests');
  prod = pd.addEscalationPolicy('Production on-call');
  pd.addService('Production', prod);
  pd.addService('Payments', prod);
  db = pd.addEscalationPolicy('Database on-call');
  pd.addService('Database', db);
  alice = pd.addUser('alice@example.com', 'Alice');
  bob = pd.addUser('bob@example.com', 'Bob');
  carol = pd.addUser('carol@example.com', 'Carol');
  pd.addUser('dave@example.com', 'Dave');
  pd.addOnCall(alice, prod, 1);
  pd.addOnCall(bob, db, 2);
  pd.addOnCall(carol, prod, 1);
});

after(async () => {
  await pd?.close();
});

const rule = (r: Partial<AccessMonitoringRule> & { name: string; condition: string }): Partial<AccessMonitoringRule> & { name: string; condition: string } => r;

async function start(rules: ReturnType<typeof rule>[], routing: Partial<RoutingConfig> = {}): Promise<AdapterTest> {
  const teleport = memoryTeleport();
  for (const r of rules) teleport.putRule(r, false);
  return startAdapterTest(tunedAdapter(), pdConfig(pd.url), { teleport, runtime: { routing: { ...emptyRoutingConfig(), ...routing } } });
}

describe('on-call facts', () => {
  it('on call, at which tier, in which services; off call and unknown users are "false"', async () => {
    const facts = onCallFacts(new PagerDutyClient({ apiEndpoint: pd.url, apiKey: 'pd-test-key', userEmail: 'bot@example.com', ...TUNING }));
    assert.deepEqual(await facts.facts(makeRequest({ user: 'alice@example.com' })), {
      'pagerduty.on_call': ['true'],
      'pagerduty.on_call_tier': ['1'],
      'pagerduty.on_call_services': ['Payments', 'Production'],
    });
    assert.deepEqual(await facts.facts(makeRequest({ user: 'bob@example.com' })), {
      'pagerduty.on_call': ['true'],
      'pagerduty.on_call_tier': ['2'],
      'pagerduty.on_call_services': ['Database'],
    });
    const off = { 'pagerduty.on_call': ['false'], 'pagerduty.on_call_tier': [], 'pagerduty.on_call_services': [] };
    assert.deepEqual(await facts.facts(makeRequest({ user: 'dave@example.com' })), off);
    assert.deepEqual(await facts.facts(makeRequest({ user: 'nobody@example.com' })), off);
    assert.deepEqual(await facts.facts(makeRequest({ user: 'not-an-email' })), off);
  });
});

describe('PagerDuty routed by rules', () => {
  it('a rule naming pagerduty picks the service, without the notify annotation', async () => {
    const t = await start([
      rule({ name: 'prod-to-pd', condition: 'contains(access_request.spec.roles, "editor")', notification: { name: 'pagerduty', recipients: ['Production'] } }),
    ]);
    try {
      t.teleport.put(makeRequest({ id: 'rt-1' }));
      await t.settled();
      const incident = pd.incidentByKey('teleport-access-request/rt-1');
      assert.ok(incident, 'an incident was opened');
      assert.equal(incident.serviceId, pd.services.find((s) => s.name === 'Production')!.id);
    } finally {
      await t.close();
    }
  });

  it('several services named: the first one, with a warning naming the others', async () => {
    const t = await start([
      rule({ name: 'a', condition: 'true', notification: { name: 'pagerduty', recipients: ['Database'] } }),
      rule({ name: 'b', condition: 'true', notification: { name: 'pagerduty', recipients: ['Production'] } }),
    ]);
    try {
      t.teleport.put(makeRequest({ id: 'rt-2' }));
      await t.settled();
      assert.equal(pd.incidentByKey('teleport-access-request/rt-2')?.serviceId, pd.services.find((s) => s.name === 'Database')!.id);
      const warning = t.logger.entries.find((e) => /name several PagerDuty services/.test(e.message));
      assert.equal(warning?.fields['ignored'], 'Production');
    } finally {
      await t.close();
    }
  });

  it('no rule: the notify annotation, as before', async () => {
    const t = await start([]);
    try {
      t.teleport.put(makeRequest({ id: 'rt-3', systemAnnotations: { pagerduty_notify_service: ['Access Requests'] } }));
      await t.settled();
      assert.equal(pd.incidentByKey('teleport-access-request/rt-3')?.serviceId, pd.services.find((s) => s.name === 'Access Requests')!.id);
    } finally {
      await t.close();
    }
  });
});

describe('on-call approval as a rule', () => {
  const ON_CALL_TIER_1 = 'contains(user.traits["pagerduty.on_call"], "true") && contains_any(user.traits["pagerduty.on_call_tier"], set("1"))';

  it('approves tier-1 on-call requesters, leaves the others, and deny beats approve; each decision logged with the rule and facts', async () => {
    const t = await start(
      [
        rule({ name: 'on-call-tier-1', condition: ON_CALL_TIER_1, desiredState: 'reviewed', automaticReview: { integration: 'oncall', decision: 'APPROVED', reason: 'on call' } }),
        rule({
          name: 'never-admin',
          condition: 'contains(access_request.spec.roles, "admin")',
          desiredState: 'reviewed',
          automaticReview: { integration: 'oncall', decision: 'DENIED', reason: '' },
        }),
        rule({ name: 'page-prod', condition: 'true', notification: { name: 'pagerduty', recipients: ['Production'] } }),
      ],
      { automaticReview: { integration: 'oncall' } },
    );
    try {
      t.teleport.put(makeRequest({ id: 'oc-alice', user: 'alice@example.com', roles: ['editor'] }));
      t.teleport.put(makeRequest({ id: 'oc-bob', user: 'bob@example.com', roles: ['editor'] }));
      t.teleport.put(makeRequest({ id: 'oc-carol', user: 'carol@example.com', roles: ['admin'] }));
      await t.settled();
      assert.equal(t.teleport.requests.get('oc-alice')?.state, 'APPROVED');
      assert.equal(t.teleport.requests.get('oc-bob')?.state, 'PENDING', 'on call at tier 2 only');
      assert.equal(t.teleport.requests.get('oc-carol')?.state, 'DENIED', 'on call at tier 1, but the deny rule wins');
      const logged = t.logger.entries.find((e) => /Automatic review: APPROVED by access monitoring rule "on-call-tier-1"/.test(e.message));
      assert.deepEqual(JSON.parse(String(logged?.fields['facts'])), {
        'pagerduty.on_call': ['true'],
        'pagerduty.on_call_tier': ['1'],
        'pagerduty.on_call_services': ['Payments', 'Production'],
      });
      assert.ok(t.logger.entries.some((e) => /Automatic review: DENIED by access monitoring rule "never-admin"/.test(e.message)));
      // Decided before it was announced: nobody is paged for it.
      assert.equal(pd.incidentByKey('teleport-access-request/oc-alice'), undefined);
      assert.equal(pd.incidentByKey('teleport-access-request/oc-carol'), undefined);
      assert.ok(pd.incidentByKey('teleport-access-request/oc-bob'), 'the undecided one pages');
      const explained = await t.runtime.explain('oc-bob');
      assert.equal(explained.automaticReview?.decision, 'none');
      assert.deepEqual(explained.automaticReview?.facts['pagerduty.on_call_tier'], ['2']);
    } finally {
      await t.close();
    }
  });
});

describe('reminders on the incident', () => {
  it('a note per reminder, each once', async () => {
    const t = await start([rule({ name: 'page', condition: 'true', notification: { name: 'pagerduty', recipients: ['Access Requests'] } })], {
      followUp: { pagerduty: { remindEveryMs: 150, remindTimes: 2, escalateAfterMs: undefined, escalateTo: [] } },
    });
    try {
      t.teleport.put(makeRequest({ id: 'rm-1', created: new Date() }));
      const notes = () => pd.incidentByKey('teleport-access-request/rm-1')?.notes.map((n) => n.content) ?? [];
      const deadline = Date.now() + 4_000;
      while (notes().filter((n) => n.startsWith('Reminder')).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        notes().map((n) => n.slice(0, 14)),
        ['Reminder 1 of ', 'Reminder 2 of '],
      );
    } finally {
      await t.close();
    }
  });
});
