import type { AccessListRecord } from './access-lists.js';
import type { PluginDataRecord, RequestRecord, ReviewRecord, RoleSpec, Traits, UserSpec } from './cluster-state.js';
import type { AccessMonitoringRuleCandidate, AccessMonitoringRuleRecord } from './validate-access-monitoring-rule.js';
import type { AccessMonitoringRuleIn } from './wire-requests.js';

/**
 * Conversions from the fake's records to the plain objects proto-loader serialises (keepCase,
 * upstream PascalCase names). Non-nullable timestamps are always emitted, and an unset one goes out
 * as Go's zero time (shared spec §2), exactly as a real server sends it, so clients that forget to
 * treat it as "unset" fail here too.
 */

export interface WireTimestamp {
  seconds: string;
  nanos: number;
}

export const GO_ZERO_TIME: WireTimestamp = { seconds: '-62135596800', nanos: 0 };

export function ts(d: Date | undefined): WireTimestamp {
  if (!d) return GO_ZERO_TIME;
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/** Timestamp (or null / zero time) from a decoded message. */
export function fromTs(t: unknown): Date | undefined {
  if (!t || typeof t !== 'object') return undefined;
  const { seconds, nanos } = t as { seconds?: string | number; nanos?: number };
  const s = Number(seconds ?? 0);
  if (s === Number(GO_ZERO_TIME.seconds) || (s === 0 && !nanos)) return undefined;
  return new Date(s * 1000 + Math.floor((nanos ?? 0) / 1_000_000));
}

function labelValues(t: Traits | undefined): { Values: Record<string, { Values: string[] }> } {
  const Values: Record<string, { Values: string[] }> = {};
  for (const [k, v] of Object.entries(t ?? {})) Values[k] = { Values: [...v] };
  return { Values };
}

export function fromLabelValues(lv: unknown): Traits {
  const out: Traits = {};
  const values = (lv as { Values?: Record<string, { Values?: string[] }> } | null | undefined)?.Values ?? {};
  for (const [k, v] of Object.entries(values)) out[k] = [...(v?.Values ?? [])];
  return out;
}

function metadata(name: string, extra: { expires?: Date; revision?: string; labels?: Record<string, string> } = {}): object {
  return {
    Name: name,
    Namespace: 'default',
    Description: '',
    Labels: extra.labels ?? {},
    Expires: extra.expires ? ts(extra.expires) : null,
    Revision: extra.revision ?? '',
  };
}

function review(r: ReviewRecord): object {
  return {
    Author: r.author,
    Roles: [...r.roles],
    ProposedState: r.proposedState,
    Reason: r.reason,
    Created: ts(r.created),
    Annotations: labelValues(r.annotations),
    ThresholdIndexes: [...r.thresholdIndexes],
  };
}

export function accessRequest(req: RequestRecord): object {
  const mapping: Record<string, { Sets: Array<{ Indexes: number[] }> }> = {};
  for (const [role, sets] of Object.entries(req.roleThresholdMapping)) {
    mapping[role] = { Sets: sets.map((Indexes) => ({ Indexes: [...Indexes] })) };
  }
  return {
    Kind: 'access_request',
    SubKind: '',
    Version: 'v3',
    Metadata: metadata(req.id, { expires: req.resourceExpires, revision: req.revision }),
    Spec: {
      User: req.user,
      Roles: [...req.roles],
      State: req.state,
      Created: ts(req.created),
      Expires: ts(req.accessExpires),
      RequestReason: req.requestReason,
      ResolveReason: req.resolveReason,
      ResolveAnnotations: labelValues(req.resolveAnnotations),
      SystemAnnotations: labelValues(req.systemAnnotations),
      Thresholds: req.thresholds.map((t) => ({ Name: t.name ?? '', Filter: t.filter ?? '', Approve: t.approve, Deny: t.deny })),
      RoleThresholdMapping: mapping,
      Reviews: req.reviews.map(review),
      SuggestedReviewers: [...req.suggestedReviewers],
      RequestedResourceIDs: req.resources.map((r) => ({
        ClusterName: r.clusterName ?? '',
        Kind: r.kind,
        Name: r.name,
        SubResourceName: r.subResourceName ?? '',
      })),
      LoginHint: req.loginHint,
      DryRun: false,
      MaxDuration: ts(req.maxDuration),
      SessionTTL: ts(req.sessionTtl),
      ResourceExpiry: ts(req.resourceExpires),
      RequestKind: req.requestKind,
    },
  };
}

export function resourceHeader(kind: string, name: string, version: string): object {
  return { Kind: kind, SubKind: '', Version: version, Metadata: metadata(name) };
}

function conditions(role: RoleSpec | undefined): object {
  return {
    Logins: [...(role?.allowLogins ?? [])],
    Rules: (role?.rules ?? []).map((r) => ({ Resources: [...r.resources], Verbs: [...r.verbs], Where: '', Actions: [] })),
    Request: {
      Roles: [...(role?.requestRoles ?? [])],
      ClaimsToRoles: [],
      Annotations: labelValues(role?.requestAnnotations),
      Thresholds: (role?.thresholds ?? []).map((t) => ({ Name: t.name ?? '', Filter: t.filter ?? '', Approve: t.approve, Deny: t.deny })),
      SuggestedReviewers: [...(role?.suggestedReviewers ?? [])],
      SearchAsRoles: [...(role?.searchAsRoles ?? [])],
      MaxDuration: String((role?.maxDurationMs ?? 0) * 1_000_000),
    },
    ReviewRequests: { Roles: [...(role?.reviewRoles ?? [])], ClaimsToRoles: [], Where: '', PreviewAsRoles: [] },
  };
}

export function role(r: RoleSpec): object {
  return {
    Kind: 'role',
    SubKind: '',
    Version: 'v7',
    Metadata: metadata(r.name),
    Spec: { Options: { MaxSessionTTL: String(30 * 3600 * 1e9) }, Allow: conditions(r), Deny: conditions(undefined) },
  };
}

export function user(u: UserSpec): object {
  return {
    Kind: 'user',
    SubKind: '',
    Version: 'v2',
    Metadata: metadata(u.name),
    Spec: { Roles: [...u.roles], Traits: labelValues(u.traits), Expires: GO_ZERO_TIME },
  };
}

export function pluginData(rec: PluginDataRecord): object {
  const Entries: Record<string, { Data: Record<string, string> }> = {};
  for (const [plugin, data] of rec.entries) Entries[plugin] = { Data: { ...data } };
  return {
    Kind: 'plugin_data',
    SubKind: rec.kind,
    Version: 'v3',
    Metadata: metadata(rec.resource, rec.expires ? { expires: rec.expires } : {}),
    Spec: { Entries },
  };
}

// ---- access monitoring rules (snake_case: teleport.accessmonitoringrules.v1, teleport.header.v1) --

export function accessMonitoringRule(rule: AccessMonitoringRuleRecord): object {
  const schedules: Record<string, object> = {};
  for (const [name, s] of Object.entries(rule.schedules)) {
    schedules[name] = { time: { timezone: s.timezone, shifts: s.shifts.map((x) => ({ weekday: x.weekday, start: x.start, end: x.end })) } };
  }
  return {
    metadata: { name: rule.name, namespace: 'default', description: rule.description, labels: { ...rule.labels }, expires: null, revision: rule.revision },
    kind: rule.kind,
    sub_kind: rule.subKind,
    version: rule.version,
    spec: {
      subjects: [...rule.subjects],
      states: [...rule.states],
      condition: rule.condition,
      notification: rule.notification ? { name: rule.notification.name, recipients: [...rule.notification.recipients] } : null,
      automatic_review: rule.automaticReview ? { ...rule.automaticReview } : null,
      desired_state: rule.desiredState,
      schedules,
    },
  };
}

/** A decoded `rule` field (null when absent) as the validator takes it. */
export function accessMonitoringRuleCandidate(wire: AccessMonitoringRuleIn | null | undefined): AccessMonitoringRuleCandidate {
  const md = wire?.metadata;
  const spec = wire?.spec;
  const schedules: NonNullable<AccessMonitoringRuleCandidate['spec']>['schedules'] = {};
  for (const [name, s] of Object.entries(spec?.schedules ?? {})) {
    const time = s?.time;
    schedules[name] = {
      time: time
        ? {
            timezone: String(time.timezone ?? ''),
            shifts: (time.shifts ?? []).map((x) => ({ weekday: String(x?.weekday ?? ''), start: String(x?.start ?? ''), end: String(x?.end ?? '') })),
          }
        : null,
    };
  }
  return {
    kind: String(wire?.kind ?? ''),
    subKind: String(wire?.sub_kind ?? ''),
    version: String(wire?.version ?? ''),
    metadata: md ? { name: String(md.name ?? ''), description: String(md.description ?? ''), labels: { ...(md.labels ?? {}) } } : null,
    spec: spec
      ? {
          subjects: [...(spec.subjects ?? [])],
          states: [...(spec.states ?? [])],
          condition: String(spec.condition ?? ''),
          notification: spec.notification ? { name: String(spec.notification.name ?? ''), recipients: [...(spec.notification.recipients ?? [])] } : null,
          automaticReview: spec.automatic_review
            ? {
                integration: String(spec.automatic_review.integration ?? ''),
                decision: String(spec.automatic_review.decision ?? ''),
                reason: String(spec.automatic_review.reason ?? ''),
              }
            : null,
          desiredState: String(spec.desired_state ?? ''),
          schedules,
        }
      : null,
  };
}

// ---- access lists (snake_case: teleport.accesslist.v1) -----------------------------------------

/** A google.protobuf.Duration from milliseconds. */
function duration(ms: number): { seconds: string; nanos: number } {
  const seconds = Math.floor(ms / 1000);
  return { seconds: String(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

/**
 * An AccessList as a real server sends it: audit with recurrence and notifications always set,
 * a missing review date as no timestamp, status only where the record has a member count.
 */
export function accessList(list: AccessListRecord): object {
  return {
    header: {
      kind: 'access_list',
      sub_kind: '',
      version: 'v1',
      metadata: { name: list.name, namespace: 'default', description: '', labels: {}, expires: null, revision: '' },
    },
    spec: {
      description: '',
      title: list.title,
      type: list.type,
      owners: [
        ...list.owners.map((name) => ({ name, description: '', ineligible_status: 'INELIGIBLE_STATUS_ELIGIBLE', membership_kind: 'MEMBERSHIP_KIND_USER' })),
        ...list.ownerLists.map((name) => ({ name, description: '', ineligible_status: 'INELIGIBLE_STATUS_ELIGIBLE', membership_kind: 'MEMBERSHIP_KIND_LIST' })),
      ],
      audit: {
        next_audit_date: list.nextAuditDate ? ts(list.nextAuditDate) : null,
        recurrence: { frequency: 'REVIEW_FREQUENCY_SIX_MONTHS', day_of_month: 'REVIEW_DAY_OF_MONTH_FIRST' },
        notifications: list.notifyBeforeMs !== undefined ? { start: duration(list.notifyBeforeMs) } : null,
      },
    },
    status: list.memberCount !== undefined ? { member_count: list.memberCount, member_list_count: 0, owner_of: [], member_of: [] } : null,
  };
}
