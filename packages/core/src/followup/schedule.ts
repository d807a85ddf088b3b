import type { PluginData } from '../teleport/types.js';
import type { FollowUpPlan } from '../routing/config.js';
import type { FollowUpStep } from '../routing/types.js';

/**
 * When follow-ups are due, from the request's creation time: reminder n at `created + n * every`
 * (n = 1..times), the escalation at `created + escalate_after`. Pure: the adapter's plugin data
 * says which steps are done (`followup/<step id>` = `ok`), so a restart or a second replica
 * computes the same steps.
 *
 * Reminders that fell due while no instance was running are not sent one after another: only the
 * latest one due is (the earlier ones are superseded by it), so a long outage costs one reminder,
 * not a burst.
 */

/** Plugin-data key marking a step done for one adapter (a plain key: Go plugins ignore it). */
export function followUpKey(stepId: string): string {
  return `followup/${stepId}`;
}

export function isStepDone(data: PluginData | undefined, stepId: string): boolean {
  return (data?.[followUpKey(stepId)] ?? '').startsWith('ok');
}

/** The data with `step` marked done (undefined when it already is). */
export function markStepDone(data: PluginData, step: Pick<FollowUpStep, 'id'>, result = 'ok'): PluginData | undefined {
  if (isStepDone(data, step.id)) return undefined;
  return { ...data, [followUpKey(step.id)]: result };
}

/** Steps due at `now` that `data` does not record as done, in the order they fell due. */
export function dueSteps(plan: FollowUpPlan, createdMs: number, nowMs: number, data: PluginData | undefined): FollowUpStep[] {
  const steps: FollowUpStep[] = [];
  const elapsed = nowMs - createdMs;
  if (plan.remindEveryMs !== undefined && plan.remindEveryMs > 0 && plan.remindTimes > 0 && elapsed >= plan.remindEveryMs) {
    const index = Math.min(plan.remindTimes, Math.floor(elapsed / plan.remindEveryMs));
    // A later reminder already done (a replica ahead of us): nothing earlier is owed.
    let laterDone = false;
    for (let k = index; k <= plan.remindTimes; k++) if (isStepDone(data, `remind/${k}`)) laterDone = true;
    if (!laterDone) {
      const dueAt = createdMs + index * plan.remindEveryMs;
      steps.push({ id: `remind/${index}`, kind: 'reminder', index, of: plan.remindTimes, dueAt, pendingForMs: dueAt - createdMs });
    }
  }
  if (plan.escalateAfterMs !== undefined && plan.escalateTo.length > 0 && elapsed >= plan.escalateAfterMs && !isStepDone(data, 'escalate')) {
    const dueAt = createdMs + plan.escalateAfterMs;
    steps.push({ id: 'escalate', kind: 'escalation', recipients: [...plan.escalateTo], dueAt, pendingForMs: plan.escalateAfterMs });
  }
  return steps.sort((a, b) => a.dueAt - b.dueAt);
}

/** Every instant at which a step of `plan` falls due (the scheduler wakes at the next one). */
export function stepTimes(plan: FollowUpPlan, createdMs: number): number[] {
  const out: number[] = [];
  if (plan.remindEveryMs !== undefined && plan.remindEveryMs > 0) {
    for (let n = 1; n <= plan.remindTimes; n++) out.push(createdMs + n * plan.remindEveryMs);
  }
  if (plan.escalateAfterMs !== undefined && plan.escalateTo.length > 0) out.push(createdMs + plan.escalateAfterMs);
  return out;
}

/** Steps done for one adapter, for `explain`. */
export function doneSteps(data: PluginData | undefined): string[] {
  return Object.keys(data ?? {})
    .filter((k) => k.startsWith('followup/') && isStepDone(data, k.slice('followup/'.length)))
    .map((k) => k.slice('followup/'.length))
    .sort();
}
