import { parseCondition } from '@teleport-plugin/core';
import { badParameter, FakeTeleportError } from './teleport-error.js';

/**
 * Server-side validation of Access Monitoring Rules, in upstream's order and with upstream's
 * texts (lib/services/access_monitoring_rules.go ValidateAccessMonitoringRule; see the shared AMR
 * spec). Wrapped errors are rendered the way Teleport's trace.UserMessage renders them: the
 * outermost context first, each inner one on its own line indented one tab further.
 */

export const ACCESS_MONITORING_RULE_KIND = 'access_monitoring_rule';

export interface AmrShift {
  weekday: string;
  start: string;
  end: string;
}

/** A rule as written (from the wire or the admin API); null parts are absent messages. */
export interface AccessMonitoringRuleCandidate {
  kind: string;
  subKind: string;
  version: string;
  metadata: { name: string; description: string; labels: Record<string, string> } | null;
  spec: {
    subjects: string[];
    states: string[];
    condition: string;
    notification: { name: string; recipients: string[] } | null;
    automaticReview: { integration: string; decision: string; reason: string } | null;
    desiredState: string;
    schedules: Record<string, { time: { timezone: string; shifts: AmrShift[] } | null }>;
  } | null;
}

/** A valid rule as the fake stores it (what Get returns, what PUT events carry). */
export interface AccessMonitoringRuleRecord {
  name: string;
  kind: string;
  subKind: string;
  version: string;
  description: string;
  labels: Record<string, string>;
  revision: string;
  subjects: string[];
  states: string[];
  condition: string;
  notification?: { name: string; recipients: string[] };
  automaticReview?: { integration: string; decision: string; reason: string };
  desiredState: string;
  schedules: Record<string, { timezone: string; shifts: AmrShift[] }>;
}

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/** trace.Wrap(err, message) as trace.UserMessage prints it: `outer\n\tinner\n\t\troot`. */
function wrapped(root: string, ...outerFirst: string[]): FakeTeleportError {
  const lines = [...outerFirst, root].map((line, depth) => `${'\t'.repeat(depth)}${line}`);
  return badParameter(lines.join('\n'));
}

/** Returns the record to store; throws BadParameter with upstream's text otherwise. */
export function validateAccessMonitoringRule(rule: AccessMonitoringRuleCandidate): Omit<AccessMonitoringRuleRecord, 'revision'> {
  if (rule.kind !== ACCESS_MONITORING_RULE_KIND) throw badParameter(`invalid kind for access monitoring rule: ${JSON.stringify(rule.kind)}`);
  if (!rule.metadata) throw badParameter('accessMonitoringRule metadata is missing');
  if (rule.version !== 'v1') throw badParameter(`accessMonitoringRule version ${JSON.stringify(rule.version)} is not supported`);
  const spec = rule.spec;
  if (!spec) throw badParameter('accessMonitoringRule spec is missing');
  // Not from ValidateAccessMonitoringRule: the backend refuses a nameless resource (text ours).
  if (!rule.metadata.name) throw badParameter('missing parameter metadata.name');
  if (spec.subjects.length === 0) throw badParameter('accessMonitoringRule subject is missing');
  if (spec.condition === '') throw badParameter('accessMonitoringRule condition is missing');
  validateSchedules(spec.schedules);
  if (spec.notification && spec.notification.name === '') throw badParameter('accessMonitoringRule notification plugin name is missing');
  const review = spec.automaticReview;
  if (review) {
    if (review.integration === '') throw badParameter('accessMonitoringRule automatic_review integration is missing');
    if (review.decision === '') throw badParameter('accessMonitoringRule automatic_review decision is missing');
    if (review.decision !== 'APPROVED' && review.decision !== 'DENIED') {
      throw badParameter(`accessMonitoringRule automatic_review decision ${JSON.stringify(review.decision)} is not supported`);
    }
  }
  if (spec.subjects.includes('access_request')) {
    // Upstream parses with its full language; the fake knows the subset core/amr implements.
    const parsed = parseCondition(spec.condition);
    if (!parsed.ok) throw badParameter(`accessMonitoringRule condition is invalid: ${parsed.error.describe()}`);
    if (spec.desiredState !== '' && spec.desiredState !== 'reviewed') {
      throw badParameter(`accessMonitoringRule desired_state ${JSON.stringify(spec.desiredState)} is not supported`);
    }
    if (!spec.notification && !review) {
      throw badParameter('one of notification or automatic_review must be configured if subjects contain "access_request"');
    }
  }
  const schedules: AccessMonitoringRuleRecord['schedules'] = {};
  for (const [name, s] of Object.entries(spec.schedules)) {
    schedules[name] = { timezone: s.time?.timezone ?? '', shifts: (s.time?.shifts ?? []).map((x) => ({ ...x })) };
  }
  return {
    name: rule.metadata.name,
    kind: rule.kind,
    subKind: rule.subKind,
    version: rule.version,
    description: rule.metadata.description,
    labels: { ...rule.metadata.labels },
    subjects: [...spec.subjects],
    states: [...spec.states],
    condition: spec.condition,
    ...(spec.notification ? { notification: { name: spec.notification.name, recipients: [...spec.notification.recipients] } } : {}),
    ...(review ? { automaticReview: { ...review } } : {}),
    desiredState: spec.desiredState,
    schedules,
  };
}

function validateSchedules(schedules: NonNullable<AccessMonitoringRuleCandidate['spec']>['schedules']): void {
  // Go ranges over the map in random order; sorted names make the fake's answer stable.
  for (const name of Object.keys(schedules).sort()) {
    const time = schedules[name]?.time;
    const outer = 'validating spec.schedules';
    if (!time) throw wrapped(`spec.schedules[${name}].time is required`, outer);
    const where = [outer, `validating spec.schedules[${name}].time`];
    if (time.shifts.length === 0) throw wrapped('at least one shift is required', ...where);
    // Teleport loads the zone with Go's time.LoadLocation ("" is UTC). Placement and wording
    // beyond the spec's "invalid timezone" are the fake's.
    if (time.timezone !== '' && !isTimeZone(time.timezone)) throw wrapped(`invalid timezone ${JSON.stringify(time.timezone)}`, ...where);
    for (const shift of time.shifts) {
      const inShift = [...where, 'shift is invalid'];
      if (!WEEKDAYS.includes(shift.weekday.toLowerCase())) throw wrapped(`failed to parse weekday: ${shift.weekday}`, ...inShift);
      const start = clock(shift.start);
      if (start === undefined) throw wrapped(`cannot parse ${JSON.stringify(shift.start)} as HH:MM`, ...inShift, 'invalid start time');
      const end = clock(shift.end);
      if (end === undefined) throw wrapped(`cannot parse ${JSON.stringify(shift.end)} as HH:MM`, ...inShift, 'invalid end time');
      if (start >= end) throw wrapped('start time must be before end time', ...inShift);
    }
  }
}

function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** Go's "15:04" layout: one- or two-digit hour, two-digit minute. */
function clock(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) return undefined;
  return Number(m[1]) * 60 + Number(m[2]);
}

/** ListAccessMonitoringRulesWithFilter's match (upstream MatchAccessMonitoringRule). */
export function matchesAmrFilter(rule: AccessMonitoringRuleRecord, filter: { subjects: string[]; notificationName: string; automaticReviewName: string }): boolean {
  if (filter.notificationName && rule.notification?.name !== filter.notificationName) return false;
  if (filter.automaticReviewName && rule.automaticReview?.integration !== filter.automaticReviewName) return false;
  return filter.subjects.every((s) => rule.subjects.includes(s));
}
