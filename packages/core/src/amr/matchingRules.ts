import type { AccessMonitoringRule } from '../teleport/types.js';
import type { ConditionContext } from './buildConditionContext.js';
import { compileRule, type CompileRuleResult, type RuleOutcome } from './compileRule.js';

/**
 * Every rule's outcome for one request, in the order given (matching or not, with the reason),
 * for routing and for explaining the routing. Rules may be given as compiled once (compileRule)
 * and reused across requests; a rule that does not compile comes back as an `error` outcome.
 */
export function matchingRules(rules: ReadonlyArray<AccessMonitoringRule | CompileRuleResult>, ctx: ConditionContext): RuleOutcome[] {
  return rules.map((r) => {
    const compiled = isCompiled(r) ? r : compileRule(r);
    if (compiled.ok) return compiled.matches(ctx);
    return { name: compiled.name, rule: compiled.rule, status: 'error', reason: compiled.error.message };
  });
}

function isCompiled(r: AccessMonitoringRule | CompileRuleResult): r is CompileRuleResult {
  return typeof (r as Partial<CompileRuleResult>).ok === 'boolean';
}
