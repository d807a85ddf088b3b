import type { AccessMonitoringRule } from '../teleport/types.js';
import type { ConditionContext } from './buildConditionContext.js';
import { compileSchedules } from './compileSchedules.js';
import { describe, evaluateCondition } from './evaluateCondition.js';
import { parseCondition } from './parseCondition.js';

/** The outcome of one rule for one request, with a reason a person can read (`explain`). */
export interface RuleOutcome {
  /** The rule's name. */
  name: string;
  /** The rule as given, so callers can take recipients or the review decision from it. */
  rule: AccessMonitoringRule;
  /** `error`: the rule could not be compiled or evaluated; it is skipped, never fatal. */
  status: 'match' | 'no-match' | 'error';
  reason: string;
  /** The schedule the request falls in, for a matching rule that has schedules. */
  schedule?: string;
}

export interface CompiledRule {
  readonly ok: true;
  readonly name: string;
  readonly rule: AccessMonitoringRule;
  /** Schedules first (the request's creation time), then the condition. Never throws. */
  matches(ctx: ConditionContext): RuleOutcome;
}

export interface RuleCompileFailure {
  readonly ok: false;
  readonly name: string;
  readonly rule: AccessMonitoringRule;
  readonly error: {
    /** Which part of the rule is wrong. */
    part: 'condition' | 'schedules';
    /** Plain message, with line and column for conditions. */
    message: string;
    /** 0-based offset into the condition, for condition errors. */
    position?: number;
  };
}

export type CompileRuleResult = CompiledRule | RuleCompileFailure;

/**
 * Checks a rule's condition and schedules once, so matching a request is cheap and a broken rule
 * is reported by name. Pure: no I/O, no clock (the request's creation time is the instant).
 */
export function compileRule(rule: AccessMonitoringRule): CompileRuleResult {
  const name = rule.name;
  const parsed = parseCondition(rule.condition);
  if (!parsed.ok) {
    return {
      ok: false,
      name,
      rule,
      error: { part: 'condition', message: `invalid condition at ${parsed.error.describe()}`, position: parsed.error.position },
    };
  }
  const scheduled = compileSchedules(rule.schedules);
  if (!scheduled.ok) return { ok: false, name, rule, error: { part: 'schedules', message: `invalid schedules: ${scheduled.error}` } };
  const condition = parsed.condition;
  const schedules = Object.keys(rule.schedules).length > 0 ? scheduled.schedules : undefined;

  return {
    ok: true,
    name,
    rule,
    matches(ctx: ConditionContext): RuleOutcome {
      const outcome = (status: RuleOutcome['status'], reason: string, schedule?: string): RuleOutcome => ({
        name,
        rule,
        status,
        reason,
        ...(schedule !== undefined ? { schedule } : {}),
      });
      let schedule: string | undefined;
      if (schedules) {
        if (!ctx.creationTime) return outcome('error', 'the rule has schedules but the request creation time is not known');
        schedule = schedules.containing(ctx.creationTime);
        if (schedule === undefined) {
          return outcome('no-match', `created at ${ctx.creationTime.toISOString()}, outside every schedule: ${schedules.describe(ctx.creationTime)}`);
        }
      }
      const result = evaluateCondition(condition, ctx);
      if (!result.ok) return outcome('error', `condition could not be evaluated: ${result.error}`);
      const within = schedule !== undefined ? ` within schedule "${schedule}"` : '';
      if (result.value === true) return outcome('match', `condition is true${within}`, schedule);
      if (result.value === false) return outcome('no-match', 'condition is false');
      // Upstream counts a non-boolean condition as false rather than as an error.
      return outcome('no-match', `condition is not boolean (it is ${describe(result.value)}), which counts as false`);
    },
  };
}
