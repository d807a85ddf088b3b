import { ACCESS_MONITORING_RULE_KIND, type AccessMonitoringRuleCandidate, type AmrShift } from './validate-access-monitoring-rule.js';

/** A rule as tests write it through `admin.upsertAccessMonitoringRule` (camelCase, defaults filled in). */
export interface AccessMonitoringRuleInput {
  name: string;
  /** Default `['access_request']`. */
  subjects?: string[];
  states?: string[];
  condition: string;
  notification?: { name: string; recipients?: string[] };
  automaticReview?: { integration: string; decision: string; reason?: string };
  desiredState?: string;
  /** Schedule name -> zone ('' = UTC) and shifts. */
  schedules?: Record<string, { timezone?: string; shifts: AmrShift[] }>;
  labels?: Record<string, string>;
  description?: string;
}

/** The admin path goes through the same validation as the gRPC one. */
export function candidateFromInput(input: AccessMonitoringRuleInput): AccessMonitoringRuleCandidate {
  const schedules: NonNullable<AccessMonitoringRuleCandidate['spec']>['schedules'] = {};
  for (const [name, s] of Object.entries(input.schedules ?? {})) {
    schedules[name] = { time: { timezone: s.timezone ?? '', shifts: s.shifts.map((x) => ({ ...x })) } };
  }
  return {
    kind: ACCESS_MONITORING_RULE_KIND,
    subKind: '',
    version: 'v1',
    metadata: { name: input.name, description: input.description ?? '', labels: { ...(input.labels ?? {}) } },
    spec: {
      subjects: [...(input.subjects ?? ['access_request'])],
      states: [...(input.states ?? [])],
      condition: input.condition,
      notification: input.notification ? { name: input.notification.name, recipients: [...(input.notification.recipients ?? [])] } : null,
      automaticReview: input.automaticReview
        ? { integration: input.automaticReview.integration, decision: input.automaticReview.decision, reason: input.automaticReview.reason ?? '' }
        : null,
      desiredState: input.desiredState ?? '',
      schedules,
    },
  };
}
