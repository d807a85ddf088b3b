import type { RuleOutcome } from '../amr/compileRule.js';
import { errorMessage } from '../errors.js';
import { dueSteps, isStepDone } from '../followup/schedule.js';
import type { FollowUpScheduler } from '../followup/scheduler.js';
import { ANNOUNCED_KEY } from '../dispatcher/lifecycle.js';
import { parseEffectRecord } from '../ledger/effectRecord.js';
import { RESOLUTION_KEY } from '../ledger/fields.js';
import type { PluginDataStore } from '../ledger/pluginDataStoreTypes.js';
import type { AccessRequest, PluginData } from '../teleport/types.js';
import type { AutomaticReviewer } from './automaticReview.js';
import type { Router } from './router.js';
import type { RecipientPlan } from './types.js';

export interface ExplainDeps {
  router: Router;
  reviewer?: AutomaticReviewer | undefined;
  scheduler?: FollowUpScheduler | undefined;
  getRequest(id: string, signal?: AbortSignal): Promise<AccessRequest | undefined>;
  adapters: ReadonlyArray<{ name: string; store: PluginDataStore }>;
  now?: () => number;
  signal?: AbortSignal;
}

export interface RuleLine {
  name: string;
  status: RuleOutcome['status'];
  reason: string;
  schedule?: string;
}

export interface StepLine {
  id: string;
  dueAt: string;
  state: 'done' | 'due' | 'upcoming' | 'superseded' | 'not pending';
}

export interface AdapterExplanation {
  name: string;
  /** Rules naming this adapter, each with its outcome for the request. */
  rules: RuleLine[];
  /** Who this adapter notifies (only adapters that declare recipients, or with rules). */
  recipients?: RecipientPlan;
  /** What its plugin data says was done. */
  delivery: { announced: 'no' | 'in progress' | 'yes'; resolution: string } | { error: string };
  followUp?: { steps: StepLine[] };
}

export interface Explanation {
  requestId: string;
  generatedAt: string;
  request:
    | {
        user: string;
        roles: string[];
        state: string;
        created: string | undefined;
        reason: string;
        suggestedReviewers: string[];
        reviews: Array<{ author: string; state: string; reason: string; created: string | undefined }>;
      }
    | undefined;
  rules: { state: string; detail: string; cached: string[] };
  facts: Record<string, string>;
  adapters: AdapterExplanation[];
  automaticReview?: {
    integration: string;
    /** What the rules decide now (a dry run). */
    decision: string;
    rule?: string;
    why: string;
    rules: RuleLine[];
    facts: Record<string, string[]>;
    factErrors: Record<string, string>;
    /** What this process did, when it reviewed the request. */
    done?: { outcome: string; at: string; error?: string };
  };
  deadline?: { at: string; state: 'upcoming' | 'passed' | 'not pending'; reason: string };
}

const lines = (outcomes: readonly RuleOutcome[]): RuleLine[] =>
  outcomes.map((o) => ({ name: o.name, status: o.status, reason: o.reason, ...(o.schedule === undefined ? {} : { schedule: o.schedule }) }));

/**
 * Everything routing and follow-up would do, or did, for one request: which rules matched (and in
 * which schedule), whom each adapter notifies and why, what the automatic review decides, which
 * reminders are done or due. Reads only; the review part is a dry run of the rules as they are now.
 */
export async function explainRequest(deps: ExplainDeps, requestId: string): Promise<Explanation> {
  const now = deps.now?.() ?? Date.now();
  const { router } = deps;
  const request = await deps.getRequest(requestId, deps.signal);
  const status = router.rules.status;
  const out: Explanation = {
    requestId,
    generatedAt: new Date(now).toISOString(),
    request: request && {
      user: request.user,
      roles: request.roles,
      state: request.state,
      created: request.created?.toISOString(),
      reason: request.requestReason,
      suggestedReviewers: request.suggestedReviewers,
      reviews: request.reviews.map((r) => ({ author: r.author, state: r.proposedState, reason: r.reason, created: r.created?.toISOString() })),
    },
    rules: { state: status.state, detail: status.detail, cached: router.rules.all().map((r) => r.name) },
    facts: router.factNames(),
    adapters: [],
  };

  for (const { name, store } of deps.adapters) {
    const entry: AdapterExplanation = { name, rules: [], delivery: { announced: 'no', resolution: '' } };
    let data: PluginData | undefined;
    try {
      data = await store.get(requestId, deps.signal);
      const announced = parseEffectRecord(data?.[ANNOUNCED_KEY]);
      entry.delivery = {
        announced: data === undefined ? 'no' : announced.state === 'running' ? 'in progress' : 'yes',
        resolution: data?.[RESOLUTION_KEY] ?? '',
      };
    } catch (err) {
      entry.delivery = { error: `cannot read plugin data: ${errorMessage(err)}` };
    }
    if (request) {
      const candidates = router.rules.notificationRules(name);
      if (candidates.length > 0) entry.rules = lines((await router.evaluate(candidates, request, deps.signal)).outcomes);
      if (router.hasDeclaration(name) || candidates.length > 0) entry.recipients = await router.plan(name, request, deps.signal);
    }
    const plan = deps.scheduler?.plan(name);
    const created = request?.created?.getTime() ?? (data?.created ? Number(data.created) * 1000 : undefined);
    if (plan && created !== undefined) {
      const pending = request?.state === 'PENDING';
      const due = new Set(pending ? dueSteps(plan, created, now, data).map((s) => s.id) : []);
      const steps: StepLine[] = [];
      const add = (id: string, at: number): void => {
        const state: StepLine['state'] = isStepDone(data, id) ? 'done' : !pending ? 'not pending' : due.has(id) ? 'due' : at > now ? 'upcoming' : 'superseded';
        steps.push({ id, dueAt: new Date(at).toISOString(), state });
      };
      if (plan.remindEveryMs !== undefined) for (let n = 1; n <= plan.remindTimes; n++) add(`remind/${n}`, created + n * plan.remindEveryMs);
      if (plan.escalateAfterMs !== undefined) add('escalate', created + plan.escalateAfterMs);
      entry.followUp = { steps: steps.sort((a, b) => a.dueAt.localeCompare(b.dueAt)) };
    }
    out.adapters.push(entry);
  }

  if (request && router.config.automaticReview) {
    const decision = await router.reviewDecision(request, deps.signal);
    if (decision) {
      const record = deps.reviewer?.record(requestId);
      out.automaticReview = {
        integration: decision.integration,
        decision: decision.decision ?? 'none',
        ...(decision.rule === undefined ? {} : { rule: decision.rule }),
        why: decision.why,
        rules: lines(decision.evaluation.outcomes),
        facts: decision.evaluation.facts,
        factErrors: decision.evaluation.factErrors,
        ...(record ? { done: { outcome: record.outcome, at: record.at.toISOString(), ...(record.error ? { error: record.error } : {}) } } : {}),
      };
    }
  }

  const deadline = request ? deps.scheduler?.deadlineOf(request) : undefined;
  const deadlineReason = router.config.deadline?.reason;
  if (deadline !== undefined && deadlineReason !== undefined && request) {
    out.deadline = { at: new Date(deadline).toISOString(), state: request.state !== 'PENDING' ? 'not pending' : deadline > now ? 'upcoming' : 'passed', reason: deadlineReason };
  }
  return out;
}

/** The explanation as plain text (the CLI's output). */
export function formatExplanation(e: Explanation): string {
  const out: string[] = [];
  out.push(`Access request ${e.requestId}`);
  if (!e.request) {
    out.push('  not found in Teleport (deleted or expired); what the plugin data still says is shown below');
  } else {
    const r = e.request;
    out.push(`  user ${r.user}, roles ${r.roles.join(', ') || '-'}, state ${r.state}, created ${r.created ?? 'unknown'}`);
    if (r.reason) out.push(`  reason: ${r.reason}`);
    if (r.suggestedReviewers.length > 0) out.push(`  suggested reviewers: ${r.suggestedReviewers.join(', ')}`);
    for (const rv of r.reviews) out.push(`  review: ${rv.author} ${rv.state}${rv.reason ? ` (${rv.reason})` : ''}`);
  }
  out.push('');
  out.push(`Access Monitoring Rules: ${e.rules.state} (${e.rules.detail})${e.rules.cached.length > 0 ? `: ${e.rules.cached.join(', ')}` : ''}`);
  const factNames = Object.entries(e.facts);
  if (factNames.length > 0) out.push(`Facts conditions can read: ${factNames.map(([n, a]) => `user.traits["${n}"] (${a})`).join(', ')}`);

  for (const a of e.adapters) {
    out.push('');
    out.push(`[${a.name}]`);
    for (const rule of a.rules) out.push(`  rule ${rule.name}: ${rule.status}${rule.schedule ? ` (schedule ${rule.schedule})` : ''}: ${rule.reason}`);
    if (a.recipients) {
      const p = a.recipients;
      out.push(`  recipients (${p.source === 'rules' ? 'from rules' : 'static config'}): ${p.recipients.join(', ') || 'none'}`);
      out.push(`    why: ${p.why}`);
      for (const d of p.dropped) out.push(`    left out: ${d.recipient}: ${d.detail}`);
    }
    if ('error' in a.delivery) out.push(`  delivery: ${a.delivery.error}`);
    else out.push(`  delivery: announced ${a.delivery.announced}${a.delivery.resolution ? `, resolution ${a.delivery.resolution}` : ''}`);
    if (a.followUp) {
      for (const s of a.followUp.steps) out.push(`  ${s.id.replace('/', ' ')}: ${s.state} (due ${s.dueAt})`);
    }
  }

  if (e.automaticReview) {
    const ar = e.automaticReview;
    out.push('');
    out.push(`Automatic review (integration "${ar.integration}"): ${ar.decision}${ar.rule ? ` by rule ${ar.rule}` : ''}`);
    out.push(`  why: ${ar.why}`);
    for (const rule of ar.rules) out.push(`  rule ${rule.name}: ${rule.status}${rule.schedule ? ` (schedule ${rule.schedule})` : ''}: ${rule.reason}`);
    const facts = Object.entries(ar.facts);
    if (facts.length > 0) out.push(`  facts: ${facts.map(([k, v]) => `${k}=[${v.join(', ')}]`).join(', ')}`);
    for (const [adapter, error] of Object.entries(ar.factErrors)) out.push(`  facts from ${adapter} unavailable: ${error}`);
    if (ar.done) out.push(`  done by this process: ${ar.done.outcome} at ${ar.done.at}${ar.done.error ? ` (${ar.done.error})` : ''}`);
  }
  if (e.deadline) {
    out.push('');
    out.push(`Deadline: ${e.deadline.state} (${e.deadline.at}): "${e.deadline.reason}"`);
  }
  return out.join('\n') + '\n';
}
