// The rule cache (loading per adapter and integration, events, broken rules, fallback) and the
// router (recipients from rules or the static config, the requester left out, dedupe, facts,
// automatic-review decisions with deny precedence), on an in-memory Teleport.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError } from '../src/errors.js';
import { createCaptureLogger, type CaptureLogger } from '../src/log/capture-logger.js';
import { emptyRoutingConfig, type RoutingConfig } from '../src/routing/config.js';
import { Router } from '../src/routing/router.js';
import { RuleCache } from '../src/routing/ruleCache.js';
import type { FactProvider } from '../src/routing/types.js';
import { MemoryTeleport, makeAccessRequest } from '../src/testing/memoryTeleport.js';
import type { AccessMonitoringRule } from '../src/teleport/types.js';

function setup(options: { adapters?: string[]; config?: Partial<RoutingConfig>; teleport?: MemoryTeleport } = {}) {
  const teleport = options.teleport ?? new MemoryTeleport();
  const logger = createCaptureLogger();
  const adapters = options.adapters ?? ['slack', 'email'];
  const config = { ...emptyRoutingConfig(), ...options.config };
  const rules = new RuleCache({
    client: teleport,
    logger,
    notificationNames: adapters,
    ...(config.automaticReview ? { integration: config.automaticReview.integration } : {}),
    retryMs: 20,
  });
  const router = new Router({ getUser: (name) => teleport.getUser(name), logger, adapters, config, rules });
  return { teleport, logger, rules, router };
}

const notify = (
  name: string,
  condition: string,
  plugin: string,
  recipients: string[],
  extra: Partial<AccessMonitoringRule> = {},
): Partial<AccessMonitoringRule> & { name: string; condition: string } => ({
  name,
  condition,
  notification: { name: plugin, recipients },
  ...extra,
});

const review = (name: string, condition: string, decision: 'APPROVED' | 'DENIED', integration = 'oncall'): Partial<AccessMonitoringRule> & { name: string; condition: string } => ({
  name,
  condition,
  desiredState: 'reviewed',
  automaticReview: { integration, decision, reason: '' },
});

function warnings(logger: CaptureLogger, pattern: RegExp): number {
  return logger.entries.filter((e) => e.level === 'warn' && pattern.test(e.message)).length;
}

describe('rule cache', () => {
  it('loads the rules of each adapter and of the integration with one filtered listing each', async () => {
    const { teleport, rules } = setup({ config: { automaticReview: { integration: 'oncall' } } });
    teleport.putRule(notify('to-slack', 'true', 'slack', ['#a']), false);
    teleport.putRule(notify('to-mattermost', 'true', 'mattermost', ['t/c']), false);
    teleport.putRule(review('approve', 'true', 'APPROVED'), false);
    teleport.putRule({ ...review('not-reviewed', 'true', 'APPROVED'), desiredState: '' }, false);
    teleport.putRule({ ...notify('other-subject', 'true', 'slack', ['#b']), subjects: ['access_list'] }, false);
    rules.onInit(['access_request', 'access_monitoring_rule']);
    await rules.ready();
    assert.equal(teleport.callCount('listAccessMonitoringRules'), 3, 'slack, email, the integration');
    assert.equal(rules.status.state, 'loaded');
    assert.deepEqual(
      rules.all().map((r) => r.name),
      ['approve', 'to-slack'],
    );
    assert.deepEqual(
      rules.notificationRules('slack').map((r) => r.name),
      ['to-slack'],
    );
    assert.deepEqual(
      rules.reviewRules().map((r) => r.name),
      ['approve'],
    );
  });

  it('is kept current from rule events: put, a put that no longer applies, delete', async () => {
    const { rules } = setup();
    rules.onInit(undefined);
    await rules.ready();
    const rule = (r: Partial<AccessMonitoringRule> & { name: string; condition: string }): AccessMonitoringRule => ({
      subjects: ['access_request'],
      states: [],
      desiredState: '',
      schedules: {},
      ...r,
    });
    rules.onEvent({ type: 'rule-put', rule: rule(notify('r1', 'true', 'slack', ['#a'])) });
    assert.deepEqual(
      rules.notificationRules('slack').map((r) => r.name),
      ['r1'],
    );
    const v = rules.version;
    rules.onEvent({ type: 'rule-put', rule: rule(notify('r1', 'true', 'jira', [])) });
    assert.deepEqual(rules.notificationRules('slack'), [], 'renamed to another plugin: dropped');
    assert.ok(rules.version > v);
    rules.onEvent({ type: 'rule-put', rule: rule(notify('r2', 'true', 'email', ['a@example.com'])) });
    rules.onEvent({ type: 'rule-delete', name: 'r2' });
    assert.deepEqual(rules.all(), []);
  });

  it('events that arrive during a load are applied after it, in order', async () => {
    const { teleport, rules } = setup({ adapters: ['slack'] });
    teleport.putRule(notify('r1', 'true', 'slack', ['#old']), false);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const list = teleport.listAccessMonitoringRules.bind(teleport);
    teleport.listAccessMonitoringRules = async (f) => {
      const out = await list(f);
      await gate;
      return out;
    };
    rules.onInit(undefined);
    const rule = (r: Partial<AccessMonitoringRule> & { name: string; condition: string }): AccessMonitoringRule => ({
      subjects: ['access_request'],
      states: [],
      desiredState: '',
      schedules: {},
      ...r,
    });
    rules.onEvent({ type: 'rule-put', rule: rule(notify('r1', 'true', 'slack', ['#new'])) });
    rules.onEvent({ type: 'rule-put', rule: rule(notify('r2', 'true', 'slack', ['#two'])) });
    rules.onEvent({ type: 'rule-delete', name: 'r2' });
    release();
    await rules.ready();
    assert.deepEqual(
      rules.all().map((r) => [r.name, r.notification?.recipients]),
      [['r1', ['#new']]],
    );
  });

  it('a rule that does not compile is logged once and skipped; the others still route', async () => {
    const { teleport, rules, logger } = setup({ adapters: ['slack'] });
    teleport.putRule(notify('broken', 'contains(access_request.spec.roles', 'slack', ['#x']), false);
    teleport.putRule(
      notify('bad-zone', 'true', 'slack', ['#y'], { schedules: { s: { timezone: 'Mars/Olympus', shifts: [{ weekday: 'Monday', start: '09:00', end: '17:00' }] } } }),
      false,
    );
    teleport.putRule(notify('fine', 'true', 'slack', ['#z']), false);
    rules.onInit(undefined);
    await rules.ready();
    rules.onInit(undefined);
    await rules.ready();
    assert.deepEqual(
      rules.notificationRules('slack').map((r) => r.name),
      ['fine'],
    );
    assert.equal(warnings(logger, /does not compile/), 2, 'once per rule, not per load');
    assert.match(rules.brokenReason('broken') ?? '', /invalid condition at line 1/);
    assert.match(rules.brokenReason('bad-zone') ?? '', /invalid timezone "Mars\/Olympus"/);
  });

  for (const [access, pattern] of [
    ['denied', /may not read them \(add access_monitoring_rule: \[read, list\]\)/],
    ['unimplemented', /has no Access Monitoring Rules service/],
  ] as const) {
    it(`rules that cannot be read (${access}) fall back with one warning, however many INITs`, async () => {
      const { teleport, rules, logger, router } = setup({ adapters: ['slack'] });
      teleport.rulesAccess = access;
      for (let i = 0; i < 3; i++) {
        rules.onInit(['access_request']);
        await rules.ready();
      }
      assert.equal(rules.status.state, 'unavailable');
      assert.equal(warnings(logger, pattern), 1);
      router.forAdapter('slack').declareRecipients({ static: () => ['#static'] });
      const plan = await router.plan('slack', makeAccessRequest());
      assert.deepEqual([plan.source, plan.recipients], ['static', ['#static']]);
      assert.match(plan.why, pattern);
      // Granted later: the next INIT routes by rules again.
      teleport.rulesAccess = 'ok';
      teleport.putRule(notify('r', 'true', 'slack', ['#rule']), false);
      rules.onInit(['access_request', 'access_monitoring_rule']);
      await rules.ready();
      assert.deepEqual((await router.plan('slack', makeAccessRequest())).recipients, ['#rule']);
    });
  }

  it('a transient failure keeps the rules loaded before and tries again', async () => {
    const { teleport, rules } = setup({ adapters: ['slack'] });
    teleport.putRule(notify('r', 'true', 'slack', ['#a']), false);
    rules.onInit(undefined);
    await rules.ready();
    teleport.failNext('listAccessMonitoringRules', new PluginError('CONNECTION_PROBLEM', 'reset'));
    teleport.putRule(notify('r2', 'true', 'slack', ['#b']), false);
    rules.onInit(undefined);
    await rules.ready();
    assert.deepEqual(
      rules.all().map((r) => r.name),
      ['r'],
    );
    const deadline = Date.now() + 2_000;
    while (rules.all().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(
      rules.all().map((r) => r.name),
      ['r', 'r2'],
      'the retry loaded the new rule',
    );
    rules.stop();
  });
});

describe('router: recipients', () => {
  async function loaded(rulesToPut: Array<Partial<AccessMonitoringRule> & { name: string; condition: string }>, config: Partial<RoutingConfig> = {}) {
    const s = setup({ config });
    for (const r of rulesToPut) s.teleport.putRule(r, false);
    s.rules.onInit(undefined);
    await s.rules.ready();
    return s;
  }

  it('recipients of every matching rule replace the static config; no match falls back to it', async () => {
    const { router } = await loaded([
      notify('dba', 'contains(access_request.spec.roles, "db")', 'slack', ['#dba', 'dba-lead@example.com']),
      notify('all-db', 'contains_any(access_request.spec.roles, set("db", "admin"))', 'slack', ['#dba', '#audit']),
      notify('email-only', 'true', 'email', ['x@example.com']),
    ]);
    router.forAdapter('slack').declareRecipients({ static: () => ['#access'] });
    const db = await router.plan('slack', makeAccessRequest({ roles: ['db'] }));
    assert.equal(db.source, 'rules');
    // Rules by name: all-db, then dba; duplicates once.
    assert.deepEqual(db.recipients, ['#dba', '#audit', 'dba-lead@example.com']);
    assert.deepEqual(
      db.rules.map((r) => r.name),
      ['all-db', 'dba'],
    );
    const editor = await router.plan('slack', makeAccessRequest({ roles: ['editor'] }));
    assert.deepEqual([editor.source, editor.recipients], ['static', ['#access']]);
    assert.match(editor.why, /none of the 2 rules naming "slack" matched/);
  });

  it('a matching rule without recipients leaves the static config in use', async () => {
    const { router } = await loaded([notify('empty', 'true', 'slack', [])]);
    router.forAdapter('slack').declareRecipients({ static: () => ['#access'] });
    const plan = await router.plan('slack', makeAccessRequest());
    assert.deepEqual([plan.source, plan.recipients], ['static', ['#access']]);
    assert.match(plan.why, /name no recipients/);
  });

  it('a rule that fails to evaluate is skipped, never fatal', async () => {
    const { router, teleport } = await loaded([
      notify('traits', 'contains(user.traits["team"], "sre")', 'slack', ['#sre']),
      notify('roles', 'contains(access_request.spec.roles, "editor")', 'slack', ['#editors']),
    ]);
    // The requester is not a Teleport user the plugin can read: traits unknown.
    const plan = await router.plan('slack', makeAccessRequest());
    assert.deepEqual(plan.recipients, ['#editors']);
    teleport.addUser('alice@example.com', { team: ['sre'] });
    const withTraits = await router.plan('slack', makeAccessRequest({ user: 'alice@example.com' }));
    assert.deepEqual(withTraits.recipients.sort(), ['#editors', '#sre']);
  });

  it('schedules in other timezones: the same instant routes by the shift it falls in there', async () => {
    const { router } = await loaded([
      notify('tokyo-day', 'true', 'slack', ['#tokyo'], { schedules: { day: { timezone: 'Asia/Tokyo', shifts: [{ weekday: 'Monday', start: '09:00', end: '17:00' }] } } }),
      notify('sf-evening', 'true', 'slack', ['#sf'], {
        schedules: { evening: { timezone: 'America/Los_Angeles', shifts: [{ weekday: 'Sunday', start: '17:00', end: '23:59' }] } },
      }),
    ]);
    // Monday 2026-01-05 01:30 UTC = Monday 10:30 in Tokyo = Sunday 17:30 in San Francisco.
    const both = await router.plan('slack', makeAccessRequest({ created: new Date('2026-01-05T01:30:00Z') }));
    assert.deepEqual(both.recipients.sort(), ['#sf', '#tokyo']);
    assert.deepEqual(
      both.rules.map((r) => [r.name, r.schedule]),
      [
        ['sf-evening', 'evening'],
        ['tokyo-day', 'day'],
      ],
    );
    // Monday 09:00 UTC = 18:00 in Tokyo (after the shift) = Monday 01:00 in San Francisco.
    const none = await router.plan('slack', makeAccessRequest({ created: new Date('2026-01-05T09:00:00Z') }));
    assert.equal(none.source, 'static');
  });

  it('the requester is never among the recipients (rules, static, suggested reviewers)', async () => {
    const { router } = await loaded([notify('r', 'contains(access_request.spec.roles, "db")', 'slack', ['Alice@Example.com', '#dba'])]);
    router.forAdapter('slack').declareRecipients({ static: (r) => ['#access', ...r.suggestedReviewers] });
    const fromRules = await router.plan('slack', makeAccessRequest({ roles: ['db'] }));
    assert.deepEqual(fromRules.recipients, ['#dba']);
    assert.deepEqual(fromRules.dropped, [{ recipient: 'Alice@Example.com', reason: 'requester', detail: 'the requester is never asked to review their own request' }]);
    const fromStatic = await router.plan('slack', makeAccessRequest({ suggestedReviewers: ['alice@example.com', 'bob@example.com'] }));
    assert.deepEqual(fromStatic.recipients, ['#access', 'bob@example.com']);
  });

  it('dedupe: a person reached by a preferred adapter is left out of the others; channels are not', async () => {
    const { router } = await loaded([], { dedupe: ['slack', 'email'] });
    router.forAdapter('slack').declareRecipients({ static: () => ['#ops', 'bob@example.com', 'carol@example.com'], people: true });
    router.forAdapter('email').declareRecipients({ static: () => ['BOB@example.com', 'dave@example.com'], people: true });
    const slack = await router.plan('slack', makeAccessRequest());
    assert.deepEqual(slack.recipients, ['#ops', 'bob@example.com', 'carol@example.com'], 'the preferred adapter keeps everyone');
    const email = await router.plan('email', makeAccessRequest());
    assert.deepEqual(email.recipients, ['dave@example.com']);
    assert.deepEqual(email.dropped, [{ recipient: 'BOB@example.com', reason: 'dedupe', detail: 'reached through "slack" (preferred in [routing] dedupe)' }]);
  });

  it('without dedupe every adapter reaches its own recipients', async () => {
    const { router } = await loaded([]);
    router.forAdapter('slack').declareRecipients({ static: () => ['bob@example.com'], people: true });
    router.forAdapter('email').declareRecipients({ static: () => ['bob@example.com'], people: true });
    assert.deepEqual((await router.plan('email', makeAccessRequest())).recipients, ['bob@example.com']);
  });

  it('routing by rules off: the static config, and no listing at all', async () => {
    const s = setup({ config: { rules: false } });
    s.router.forAdapter('slack').declareRecipients({ static: () => ['#access'] });
    const plan = await s.router.plan('slack', makeAccessRequest());
    assert.equal(plan.source, 'static');
    assert.match(plan.why, /\[routing\] rules = false/);
  });
});

describe('router: automatic review decisions', () => {
  let onCall: FactProvider & { value: string[] };

  async function withRules(rules: Array<Partial<AccessMonitoringRule> & { name: string; condition: string }>) {
    const s = setup({ adapters: ['pager'], config: { automaticReview: { integration: 'oncall' } } });
    for (const r of rules) s.teleport.putRule(r, false);
    s.rules.onInit(undefined);
    await s.rules.ready();
    onCall = {
      names: ['pager.on_call', 'pager.tier'],
      value: ['true'],
      async facts() {
        return { 'pager.on_call': this.value, 'pager.tier': ['1'] };
      },
    };
    s.router.forAdapter('pager').provideFacts(onCall);
    return s;
  }

  it('deny beats approve, whatever the order of the rules', async () => {
    const { router } = await withRules([
      review('a-approve', 'contains(access_request.spec.roles, "editor")', 'APPROVED'),
      review('z-deny', 'access_request.spec.request_reason == ""', 'DENIED'),
    ]);
    const denied = await router.reviewDecision(makeAccessRequest({ requestReason: '' }));
    assert.equal(denied?.decision, 'DENIED');
    assert.equal(denied?.rule, 'z-deny');
    assert.match(denied?.why ?? '', /overrules approving rule "a-approve": deny beats approve/);
    const approved = await router.reviewDecision(makeAccessRequest({ requestReason: 'incident 42' }));
    assert.equal(approved?.decision, 'APPROVED');
    assert.match(approved?.reason ?? '', /^Approved automatically by access monitoring rule "a-approve"/);
  });

  it("rules of other integrations, and without desired_state reviewed, are not this integration's", async () => {
    const { router } = await withRules([review('builtin', 'true', 'APPROVED', 'builtin'), { ...review('no-state', 'true', 'APPROVED'), desiredState: '' }]);
    const d = await router.reviewDecision(makeAccessRequest());
    assert.equal(d?.decision, undefined);
    assert.match(d?.why ?? '', /no Access Monitoring Rule names the integration "oncall"/);
  });

  it('facts are read as traits, only for rules that read them; a trait of the same name cannot pose as a fact', async () => {
    const { router, teleport } = await withRules([review('on-call', 'contains(user.traits["pager.on_call"], "true") && contains(user.traits["pager.tier"], "1")', 'APPROVED')]);
    // Only facts are read: the requester's traits are not even looked up.
    const d = await router.reviewDecision(makeAccessRequest());
    assert.equal(d?.decision, 'APPROVED');
    assert.deepEqual(d?.evaluation.facts, { 'pager.on_call': ['true'], 'pager.tier': ['1'] });
    assert.equal(d?.evaluation.traits, 'not-needed');
    assert.equal(teleport.callCount('getUser'), 0);
    onCall.value = ['false'];
    teleport.addUser('alice@example.com', { 'pager.on_call': ['true'] });
    const spoofed = await router.reviewDecision(makeAccessRequest());
    assert.equal(spoofed?.decision, undefined, 'the fact says false; the trait of that name is ignored');
  });

  it('facts that cannot be computed make the rules reading them fail (skipped), not false', async () => {
    const { router } = await withRules([review('deny-off-call', '!contains(user.traits["pager.on_call"], "true")', 'DENIED')]);
    onCall.facts = async function () {
      throw new Error('PagerDuty is down');
    };
    const d = await router.reviewDecision(makeAccessRequest());
    assert.equal(d?.decision, undefined, 'an outage must not deny everyone');
    assert.equal(d?.evaluation.outcomes[0]?.status, 'error');
    assert.match(d?.evaluation.outcomes[0]?.reason ?? '', /facts not available \(pager\.on_call\): PagerDuty is down/);
  });

  it('long-term requests are never approved automatically, but may be denied', async () => {
    const { router } = await withRules([review('approve', 'true', 'APPROVED')]);
    const d = await router.reviewDecision(makeAccessRequest({ requestKind: 'LONG_TERM' }));
    assert.equal(d?.decision, undefined);
    assert.match(d?.why ?? '', /long-term requests are never approved automatically/);
  });
});
