// [routing], [automatic_review], [reminders] and [<adapter>.reminders]: values, errors that name
// the key, and unknown-key warnings that stay correct with the core reading these tables.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../src/config/load-config.js';
import { isPluginError } from '../src/errors.js';
import { parseRoutingConfig } from '../src/routing/config.js';

const TELEPORT = `[teleport]\naddr = "localhost:3025"\nidentity = "/tmp/id"\n`;

function load(text: string, adapters = ['slack', 'email']) {
  const config = parseConfig(TELEPORT + text, 'plugin.toml', { env: {} });
  // As `start` does: adapters read their sections, then the core its tables, then unknown keys.
  for (const name of adapters) config.section(name).string('token');
  const routing = parseRoutingConfig(config, adapters);
  return { routing, unknown: config.reportUnknownKeys(), config };
}

describe('routing config', () => {
  it('defaults: rules on, no dedupe, no integration, no follow-ups', () => {
    const { routing, unknown } = load('');
    assert.deepEqual(routing, {
      rules: true,
      dedupe: [],
      automaticReview: undefined,
      followUp: {},
      deadline: undefined,
      accessListReminders: { enabled: true, adapters: undefined },
    });
    assert.deepEqual(unknown, []);
  });

  it('[access_list_reminders]: enabled and plugins, an adapter not running is named and ignored', () => {
    const { routing, config } = load('[access_list_reminders]\nenabled = false\nplugins = ["slack", "jira"]\n');
    assert.deepEqual(routing.accessListReminders, { enabled: false, adapters: ['slack', 'jira'] });
    assert.ok(
      config.warnings.some((w) => /access_list_reminders.*plugins.*"jira"/.test(w)),
      config.warnings.join('\n'),
    );
    assert.throws(() => load('[access_list_reminders]\nenabled = "yes"\n'), /access_list_reminders.*enabled/);
    // A core table, not a plugin: a file that chooses its plugins by their tables still means [slack] only.
    const alone = parseConfig(`${TELEPORT}[slack]\ntoken = "x"\n[access_list_reminders]\nenabled = false\n`, 'plugin.toml', { env: {} });
    assert.deepEqual(alone.pluginSections, ['slack']);
  });

  it('reads every key; adapter tables override the global one key by key', () => {
    const { routing, unknown, config } = load(`
[routing]
rules = true
dedupe = ["slack", "email"]

[automatic_review]
integration = "oncall"

[reminders]
every = "30m"
times = 3
escalate_after = "2h"
escalate_to = ["sre-leads"]
deny_after = "8h"
deny_reason = "Nobody answered within 8 hours"

[slack]
token = "x"
[slack.reminders]
every = "15m"
escalate_to = ["#sre-leads"]

[email]
token = "y"
[email.reminders]
every = "0"
`);
    assert.deepEqual(unknown, []);
    assert.deepEqual(config.pluginSections.sort(), ['email', 'slack'], 'core tables are not taken for plugins');
    assert.equal(routing.automaticReview?.integration, 'oncall');
    assert.deepEqual(routing.dedupe, ['slack', 'email']);
    assert.deepEqual(routing.followUp['slack'], { remindEveryMs: 15 * 60_000, remindTimes: 3, escalateAfterMs: 2 * 3_600_000, escalateTo: ['#sre-leads'] });
    // every = "0" turns reminders off for email; the escalation still applies.
    assert.deepEqual(routing.followUp['email'], { remindEveryMs: undefined, remindTimes: 3, escalateAfterMs: 2 * 3_600_000, escalateTo: ['sre-leads'] });
    assert.deepEqual(routing.deadline, { afterMs: 8 * 3_600_000, reason: 'Nobody answered within 8 hours' });
  });

  it('a typo in a core table is an unknown key with a suggestion', () => {
    const { unknown } = load(`
[reminders]
evry = "30m"
[automatic_review]
integration = "oncall"
intgration = "x"
`);
    assert.equal(unknown.length, 2, unknown.join('\n'));
    assert.match(unknown[0]!, /plugin\.toml:\d+: unknown key reminders\.evry \(did you mean reminders\.every\?\)/);
    assert.match(unknown[1]!, /unknown key automatic_review\.intgration \(did you mean automatic_review\.integration\?\)/);
  });

  it('errors name the key and what was expected', () => {
    const fails = (text: string, pattern: RegExp): void => {
      assert.throws(
        () => load(text),
        (err: unknown) => isPluginError(err, 'CONFIG') && pattern.test(err.message),
      );
    };
    fails('[automatic_review]\n', /\[automatic_review\] integration/);
    fails('[automatic_review]\nintegration = ""\n', /\[automatic_review\] integration: required/);
    fails('[reminders]\nevery = "soon"\n', /\[reminders\] every: expected a duration/);
    fails('[reminders]\nescalate_after = "2h"\n', /\[reminders\] escalate_to: required with escalate_after/);
    fails('[reminders]\ndeny_reason = "x"\n', /\[reminders\] deny_reason: requires deny_after too/);
    fails('[reminders]\ndeny_after = "0"\n', /\[reminders\] deny_after: expected a positive duration/);
    fails('[slack]\n[slack.reminders]\ndeny_after = "1h"\n', /\[slack\.reminders\] deny_after: cannot be set per adapter/);
  });

  it('dedupe naming an adapter that is not running is a warning, and is ignored', () => {
    const { routing, config } = load('[routing]\ndedupe = ["mattermost", "slack"]\n');
    assert.deepEqual(routing.dedupe, ['slack']);
    assert.ok(
      config.warnings.some((w) => /\[routing\] dedupe.*"mattermost", which is not running/.test(w)),
      config.warnings.join('\n'),
    );
  });

  it('[automatic_review] wait: 10 s by default, from 0s to 1m', () => {
    assert.equal(load('[automatic_review]\nintegration = "oncall"\n').routing.automaticReview?.waitMs, 10_000);
    assert.equal(load('[automatic_review]\nintegration = "oncall"\nwait = "0s"\n').routing.automaticReview?.waitMs, 0);
    assert.equal(load('[automatic_review]\nintegration = "oncall"\nwait = "45s"\n').routing.automaticReview?.waitMs, 45_000);
    for (const bad of ['"2m"', '"soon"']) {
      assert.throws(
        () => load(`[automatic_review]\nintegration = "oncall"\nwait = ${bad}\n`),
        (err: unknown) => isPluginError(err, 'CONFIG') && /\[automatic_review\] wait: .*(from "0s"|duration)/.test(err.message),
        bad,
      );
    }
  });

  it('"builtin" as the integration is allowed with a warning', () => {
    const { routing, config } = load('[automatic_review]\nintegration = "builtin"\n');
    assert.equal(routing.automaticReview?.integration, 'builtin');
    assert.ok(config.warnings.some((w) => /Teleport Enterprise's own integration/.test(w)));
  });
});
