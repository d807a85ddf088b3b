import { TtlCache, isEmail, type AccessRequest, type FactProvider } from '@teleport-plugin/core';
import type { PagerDutyClient, PdService, PdUser } from './client.js';

export const FACT_ON_CALL = 'pagerduty.on_call';
export const FACT_ON_CALL_TIER = 'pagerduty.on_call_tier';
export const FACT_ON_CALL_SERVICES = 'pagerduty.on_call_services';

/**
 * Facts about the requester for automatic-review conditions (Access Monitoring Rules of the
 * `[automatic_review]` integration), read as traits of the requester:
 *
 * - `user.traits["pagerduty.on_call"]`: `["true"]` when the requester (a Teleport user named by
 *   their email) is on call right now for at least one PagerDuty service, else `["false"]`;
 * - `user.traits["pagerduty.on_call_tier"]`: the escalation level they are on call at (`["1"]` for
 *   first responders; the lowest one if several), `[]` when not on call;
 * - `user.traits["pagerduty.on_call_services"]`: the names of the services whose escalation policy
 *   has them on call (any level).
 *
 * So on-call approval is one rule instead of role annotations:
 * `contains(user.traits["pagerduty.on_call"], "true") && contains_any(user.traits["pagerduty.on_call_tier"], set("1", "2"))`.
 */
export function onCallFacts(client: PagerDutyClient): FactProvider {
  const users = new TtlCache<PdUser>({ max: 5_000, ttlMs: 10 * 60_000, negativeTtlMs: 60_000 });
  const services = new TtlCache<PdService[]>({ max: 1, ttlMs: 10 * 60_000 });
  return {
    names: [FACT_ON_CALL, FACT_ON_CALL_TIER, FACT_ON_CALL_SERVICES],
    async facts(request: AccessRequest, signal?: AbortSignal) {
      const off = { [FACT_ON_CALL]: ['false'], [FACT_ON_CALL_TIER]: [], [FACT_ON_CALL_SERVICES]: [] };
      // Teleport users and PagerDuty users meet only through the email address.
      if (!isEmail(request.user)) return off;
      const user = await users.get(request.user.toLowerCase(), () => client.findUserByEmail(request.user, signal));
      if (!user) return off;
      const onCalls = (await client.listOnCalls(user.id, [], signal)).filter((o) => o.userType === 'user_reference' && o.userId === user.id);
      if (onCalls.length === 0) return off;
      const all = (await services.get('all', () => client.listServices(signal))) ?? [];
      const levels = new Map<string, number>();
      for (const o of onCalls) {
        const level = o.escalationLevel ?? Number.MAX_SAFE_INTEGER;
        levels.set(o.escalationPolicyId, Math.min(level, levels.get(o.escalationPolicyId) ?? Number.MAX_SAFE_INTEGER));
      }
      const mine = all.filter((s) => levels.has(s.escalationPolicyId));
      if (mine.length === 0) return off;
      const tier = Math.min(...mine.map((s) => levels.get(s.escalationPolicyId)!));
      return {
        [FACT_ON_CALL]: ['true'],
        [FACT_ON_CALL_TIER]: tier === Number.MAX_SAFE_INTEGER ? [] : [String(tier)],
        [FACT_ON_CALL_SERVICES]: [...new Set(mine.map((s) => s.name))].sort(),
      };
    },
  };
}
