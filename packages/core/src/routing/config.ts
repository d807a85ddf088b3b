import type { ConfigSection } from '../config/section.js';

/** Reminders and escalation of one adapter (the global `[reminders]` merged with `[<adapter>.reminders]`). */
export interface FollowUpPlan {
  /** Between reminders, from the request's creation; undefined = no reminders. */
  remindEveryMs: number | undefined;
  /** Reminders at most. */
  remindTimes: number;
  /** After this long pending, `escalateTo` is brought in; undefined = no escalation. */
  escalateAfterMs: number | undefined;
  escalateTo: string[];
}

export interface RoutingConfig {
  /** Load Access Monitoring Rules and route by them (default true). */
  rules: boolean;
  /** Adapter names in order of preference: a person several of them would reach is reached by the first only. Empty: off. */
  dedupe: string[];
  /**
   * The automatic-review integration this runtime serves (rules whose automatic_review.integration
   * equals it), and how long a new request waits for its decision before adapters announce it anyway.
   */
  automaticReview: { integration: string; waitMs?: number } | undefined;
  /** Reminders and escalation per adapter name (absent: none for that adapter). */
  followUp: Record<string, FollowUpPlan>;
  /** Deny a request nobody reviewed within `afterMs`, with `reason`. */
  deadline: { afterMs: number; reason: string } | undefined;
  /**
   * Access List review reminders (`[access_list_reminders]`): off, or on for `adapters` (undefined:
   * every loaded adapter that can send them).
   */
  accessListReminders: { enabled: boolean; adapters: string[] | undefined };
}

export const ROUTING_SECTIONS = ['routing', 'automatic_review', 'reminders', 'access_list_reminders'] as const;

export const DEFAULT_REMIND_TIMES = 3;

/** How long a new request waits for its automatic review before it is announced anyway. */
export const DEFAULT_REVIEW_WAIT_MS = 10_000;
const MAX_REVIEW_WAIT_MS = 60_000;

export function emptyRoutingConfig(): RoutingConfig {
  return { rules: true, dedupe: [], automaticReview: undefined, followUp: {}, deadline: undefined, accessListReminders: { enabled: true, adapters: undefined } };
}

/**
 * Reads the core's routing tables:
 *
 * ```toml
 * [routing]
 * rules = true                       # load Access Monitoring Rules (default true)
 * dedupe = ["slack", "email"]        # a person reached by several adapters: only by the first listed
 *
 * [automatic_review]
 * integration = "oncall"             # serve rules whose automatic_review.integration is "oncall"
 * wait = "10s"                       # a new request waits this long for its decision (0s-1m)
 *
 * [reminders]                        # every adapter; [<adapter>.reminders] overrides per adapter
 * every = "30m"                      # remind in the request's thread / ticket ...
 * times = 3                          # ... up to 3 times
 * escalate_after = "2h"              # then bring in other recipients
 * escalate_to = ["sre-leads"]
 * deny_after = "8h"                  # deny a request nobody reviewed (global only)
 * deny_reason = "Nobody reviewed this request within 8 hours"
 *
 * [access_list_reminders]            # owners of Access Lists due for review get a direct message
 * enabled = true                     # default true
 * plugins = ["slack", "email"]       # default: every loaded adapter that can send them
 * ```
 */
export function parseRoutingConfig(root: { section(name: string): ConfigSection }, adapters: readonly string[]): RoutingConfig {
  const out = emptyRoutingConfig();

  const routing = root.section('routing');
  out.rules = routing.bool('rules', true);
  const dedupe = (routing.stringList('dedupe') ?? []).map((s) => s.trim()).filter((s) => s !== '');
  for (const name of dedupe) {
    if (!adapters.includes(name)) routing.warn('dedupe', `names "${name}", which is not running; it is ignored`);
  }
  out.dedupe = [...new Set(dedupe.filter((n) => adapters.includes(n)))];

  const review = root.section('automatic_review');
  if (review.present) {
    const integration = review.requireString('integration', { description: 'the integration name rules name in automatic_review.integration' }).trim();
    if (integration === '') throw review.error('integration', 'a non-empty integration name, e.g. "oncall"');
    if (integration === 'builtin') {
      review.warn('integration', '"builtin" is Teleport Enterprise\'s own integration: on such a cluster both would review the same requests; prefer a name of your own');
    }
    const waitMs = review.duration('wait', DEFAULT_REVIEW_WAIT_MS);
    if (!(waitMs >= 0 && waitMs <= MAX_REVIEW_WAIT_MS)) {
      throw review.error('wait', 'a duration from "0s" (announce at once, decide alongside) to "1m", e.g. "10s"');
    }
    out.automaticReview = { integration, waitMs };
  }

  const lists = root.section('access_list_reminders');
  const only = lists
    .stringList('plugins')
    ?.map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of only ?? []) {
    if (!adapters.includes(name)) lists.warn('plugins', `names "${name}", which is not running; it is ignored`);
  }
  out.accessListReminders = { enabled: lists.bool('enabled', true), adapters: only };

  const global = root.section('reminders');
  const base = readPlan(global);
  if (global.has('deny_after')) {
    const afterMs = positiveDuration(global, 'deny_after');
    const reason = global.string('deny_reason')?.trim() || `Nobody reviewed this request within ${global.string('deny_after') ?? ''}`.trim();
    out.deadline = { afterMs, reason };
  } else if (global.has('deny_reason')) {
    throw global.error('deny_reason', 'requires deny_after too');
  }
  for (const name of adapters) {
    const own = root.section(name).section('reminders');
    for (const key of ['deny_after', 'deny_reason']) {
      if (own.has(key)) throw own.error(key, 'cannot be set per adapter: a request is denied once, for every adapter; set it in [reminders]');
    }
    const plan = mergePlans(base, readPlan(own));
    if (plan.escalateAfterMs !== undefined && plan.escalateTo.length === 0) {
      throw (own.has('escalate_after') ? own : global).error('escalate_to', "required with escalate_after: the recipients to bring in (in this adapter's formats)");
    }
    if (plan.remindEveryMs !== undefined || plan.escalateAfterMs !== undefined) out.followUp[name] = plan;
  }
  return out;
}

type PartialPlan = Partial<FollowUpPlan> & { disabled?: boolean };

function readPlan(s: ConfigSection): PartialPlan {
  const plan: PartialPlan = {};
  if (!s.present) return plan;
  if (s.has('every')) {
    const every = s.duration('every', 0);
    // `every = "0"` turns reminders off for this adapter.
    plan.remindEveryMs = every > 0 ? every : undefined;
    if (every === 0) plan.disabled = true;
  }
  if (s.has('times')) {
    const times = s.integer('times', { min: 0 }) ?? DEFAULT_REMIND_TIMES;
    plan.remindTimes = times;
  }
  if (s.has('escalate_after')) {
    const after = s.duration('escalate_after', 0);
    plan.escalateAfterMs = after > 0 ? after : undefined;
  }
  if (s.has('escalate_to')) plan.escalateTo = (s.stringList('escalate_to') ?? []).map((r) => r.trim()).filter((r) => r !== '');
  return plan;
}

function mergePlans(base: PartialPlan, own: PartialPlan): FollowUpPlan {
  const every = own.disabled ? undefined : (own.remindEveryMs ?? base.remindEveryMs);
  return {
    remindEveryMs: every,
    remindTimes: own.remindTimes ?? base.remindTimes ?? DEFAULT_REMIND_TIMES,
    escalateAfterMs: own.escalateAfterMs ?? base.escalateAfterMs,
    escalateTo: own.escalateTo ?? base.escalateTo ?? [],
  };
}

function positiveDuration(s: ConfigSection, key: string): number {
  const ms = s.duration(key, 0);
  if (!(ms > 0)) throw s.error(key, 'a positive duration such as "30m" or "8h"');
  return ms;
}
