import type {
  AccessList,
  AccessMonitoringRule,
  AccessMonitoringRuleFilter,
  AccessMonitoringSchedule,
  AccessRequest,
  AccessRequestKind,
  AccessRequestFilter,
  AccessReview,
  AccessReviewThreshold,
  ClusterInfo,
  PluginData,
  PluginDataUpdate,
  RequestState,
  ReviewSubmission,
  RoleInfo,
  StateChange,
  Traits,
  UserInfo,
  WatchEvent,
} from './types.js';
import type {
  WireAccessList,
  WireAccessMonitoringRule,
  WireAccessRequest,
  WireAccessReview,
  WireAccessReviewThreshold,
  WireEvent,
  WireLabelValues,
  WirePingResponse,
  WirePluginDataSeq,
  WireRole,
  WireTimestamp,
  WireUser,
} from './wire.js';

/**
 * Wire <-> domain, in one place. Go's non-nullable timestamps always arrive; the zero Go time
 * (0001-01-01T00:00:00Z) is how "unset" travels, so it becomes undefined here.
 */
export const ZERO_TIME_SECONDS = -62135596800;

const STATES: readonly RequestState[] = ['NONE', 'PENDING', 'APPROVED', 'DENIED', 'PROMOTED'];
const REQUEST_KINDS: readonly AccessRequestKind[] = ['UNDEFINED', 'SHORT_TERM', 'LONG_TERM'];

export function toDate(ts: WireTimestamp | null | undefined): Date | undefined {
  if (!ts) return undefined;
  const seconds = Number(ts.seconds);
  const nanos = Number(ts.nanos ?? 0);
  if (!Number.isFinite(seconds)) return undefined;
  if (seconds <= ZERO_TIME_SECONDS && nanos === 0) return undefined;
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6));
}

export function toState(value: string | number | undefined): RequestState {
  if (typeof value === 'number') return STATES[value] ?? 'NONE';
  return (STATES as readonly string[]).includes(value ?? '') ? (value as RequestState) : 'NONE';
}

/** Unknown values (a newer server's kinds) read as UNDEFINED rather than failing the event. */
export function toRequestKind(value: string | number | undefined): AccessRequestKind {
  if (typeof value === 'number') return REQUEST_KINDS[value] ?? 'UNDEFINED';
  return (REQUEST_KINDS as readonly string[]).includes(value ?? '') ? (value as AccessRequestKind) : 'UNDEFINED';
}

export function toTraits(lv: WireLabelValues | null | undefined): Traits {
  const out: Traits = {};
  for (const [name, values] of Object.entries(lv?.Values ?? {})) out[name] = [...(values?.Values ?? [])];
  return out;
}

export function fromTraits(traits: Traits | undefined): WireLabelValues {
  const Values: WireLabelValues['Values'] = {};
  for (const [name, values] of Object.entries(traits ?? {})) Values[name] = { Values: [...values] };
  return { Values };
}

function toThreshold(t: WireAccessReviewThreshold): AccessReviewThreshold {
  return { name: t.Name, filter: t.Filter, approve: Number(t.Approve), deny: Number(t.Deny) };
}

function toReview(r: WireAccessReview): AccessReview {
  return {
    author: r.Author,
    roles: [...(r.Roles ?? [])],
    proposedState: toState(r.ProposedState),
    reason: r.Reason ?? '',
    created: toDate(r.Created),
    annotations: toTraits(r.Annotations),
    assumeStartTime: toDate(r.AssumeStartTime),
  };
}

export function toAccessRequest(wire: WireAccessRequest): AccessRequest {
  const md = wire.Metadata;
  const spec = wire.Spec;
  const accessList = spec?.accessList;
  return {
    id: md?.Name ?? '',
    user: spec?.User ?? '',
    roles: [...(spec?.Roles ?? [])],
    state: toState(spec?.State),
    created: toDate(spec?.Created),
    accessExpires: toDate(spec?.Expires),
    resourceExpires: toDate(spec?.ResourceExpiry) ?? toDate(md?.Expires),
    requestReason: spec?.RequestReason ?? '',
    resolveReason: spec?.ResolveReason ?? '',
    resolveAnnotations: toTraits(spec?.ResolveAnnotations),
    systemAnnotations: toTraits(spec?.SystemAnnotations),
    thresholds: (spec?.Thresholds ?? []).map(toThreshold),
    reviews: (spec?.Reviews ?? []).map(toReview),
    suggestedReviewers: [...(spec?.SuggestedReviewers ?? [])],
    requestedResources: (spec?.RequestedResourceIDs ?? []).map((r) => ({
      clusterName: r.ClusterName,
      kind: r.Kind,
      name: r.Name,
      subResourceName: r.SubResourceName ?? '',
    })),
    loginHint: spec?.LoginHint ?? '',
    dryRun: spec?.DryRun ?? false,
    maxDuration: toDate(spec?.MaxDuration),
    sessionTtl: toDate(spec?.SessionTTL),
    assumeStartTime: toDate(spec?.AssumeStartTime),
    promotedAccessList: accessList && (accessList.Name || accessList.Title) ? { name: accessList.Name, title: accessList.Title } : undefined,
    requestKind: toRequestKind(spec?.RequestKind),
  };
}

export const ACCESS_MONITORING_RULE_KIND = 'access_monitoring_rule';

export function toAccessMonitoringRule(wire: WireAccessMonitoringRule): AccessMonitoringRule {
  const spec = wire.spec;
  const schedules: Record<string, AccessMonitoringSchedule> = {};
  for (const [name, schedule] of Object.entries(spec?.schedules ?? {})) {
    // A schedule without `time` is invalid upstream; keeping it with no shifts makes the
    // evaluator report it instead of silently treating the rule as unscheduled.
    const time = schedule?.time;
    schedules[name] = {
      timezone: time?.timezone ?? '',
      shifts: (time?.shifts ?? []).map((s) => ({ weekday: s.weekday ?? '', start: s.start ?? '', end: s.end ?? '' })),
    };
  }
  const notification = spec?.notification;
  const review = spec?.automatic_review;
  return {
    name: wire.metadata?.name ?? '',
    subjects: [...(spec?.subjects ?? [])],
    states: [...(spec?.states ?? [])],
    condition: spec?.condition ?? '',
    ...(notification ? { notification: { name: notification.name ?? '', recipients: [...(notification.recipients ?? [])] } } : {}),
    ...(review ? { automaticReview: { integration: review.integration ?? '', decision: review.decision ?? '', reason: review.reason ?? '' } } : {}),
    desiredState: spec?.desired_state ?? '',
    schedules,
  };
}

/** ListAccessMonitoringRulesWithFilterRequest for one page. */
export function fromAccessMonitoringRuleFilter(filter: AccessMonitoringRuleFilter, pageSize: number, pageToken: string): Record<string, unknown> {
  return {
    page_size: pageSize,
    page_token: pageToken,
    subjects: [...(filter.subjects ?? [])],
    notification_name: filter.notificationName ?? '',
    automatic_review_name: filter.automaticReviewName ?? '',
  };
}

/** Undefined for events of kinds we do not map (other kinds we did not ask for). */
export function toWatchEvent(wire: WireEvent): WatchEvent | undefined {
  const type = String(wire.Type);
  if (type === 'INIT' || type === '0') {
    const kinds = wire.WatchStatus?.Spec?.Kinds ?? [];
    return { type: 'init', acceptedKinds: kinds.map((k) => k.Kind) };
  }
  if (type === 'PUT' || type === '1') {
    if (wire.AccessMonitoringRule) return { type: 'rule-put', rule: toAccessMonitoringRule(wire.AccessMonitoringRule) };
    if (!wire.AccessRequest) return undefined;
    return { type: 'put', request: toAccessRequest(wire.AccessRequest) };
  }
  if (type === 'DELETE' || type === '2') {
    const header = wire.ResourceHeader;
    if (header?.Kind === ACCESS_MONITORING_RULE_KIND) return { type: 'rule-delete', name: header.Metadata?.Name ?? '' };
    if (!header || (header.Kind && header.Kind !== 'access_request')) return undefined;
    return { type: 'delete', requestId: header.Metadata?.Name ?? '' };
  }
  return undefined;
}

export function toClusterInfo(wire: WirePingResponse): ClusterInfo {
  const advanced = wire.ServerFeatures?.AdvancedAccessWorkflows ?? false;
  const proxy = wire.ProxyPublicAddr ?? '';
  return {
    clusterName: wire.ClusterName,
    serverVersion: wire.ServerVersion,
    advancedAccessWorkflows: advanced,
    proxyPublicAddr: proxy,
    webProxyUrl: advanced && proxy ? `https://${proxy.replace(/:443$/, '')}` : undefined,
  };
}

export function toPluginData(wire: WirePluginDataSeq, plugin: string): PluginData | undefined {
  for (const item of wire.PluginData ?? []) {
    const entry = item.Spec?.Entries?.[plugin];
    if (entry) return { ...(entry.Data ?? {}) };
  }
  return undefined;
}

/** Every entry of `plugin` in a bulk GetPluginData answer (Resource empty), by resource name. */
export function toPluginDataEntries(wire: WirePluginDataSeq, plugin: string): Array<{ resource: string; data: PluginData }> {
  const out: Array<{ resource: string; data: PluginData }> = [];
  for (const item of wire.PluginData ?? []) {
    const entry = item.Spec?.Entries?.[plugin];
    const resource = item.Metadata?.Name ?? '';
    if (entry && resource) out.push({ resource, data: { ...(entry.Data ?? {}) } });
  }
  return out;
}

export function toRoleInfo(wire: WireRole): RoleInfo {
  const allow = wire.Spec?.Allow;
  const request = allow?.Request;
  return {
    name: wire.Metadata?.Name ?? '',
    allowLogins: [...(allow?.Logins ?? [])],
    requestRoles: [...(request?.Roles ?? [])],
    requestAnnotations: toTraits(request?.Annotations),
    requestThresholds: (request?.Thresholds ?? []).map(toThreshold),
    requestSuggestedReviewers: [...(request?.SuggestedReviewers ?? [])],
    reviewRoles: [...(allow?.ReviewRequests?.Roles ?? [])],
  };
}

export function toUserInfo(wire: WireUser): UserInfo {
  return {
    name: wire.Metadata?.Name ?? '',
    roles: [...(wire.Spec?.Roles ?? [])],
    traits: toTraits(wire.Spec?.Traits),
  };
}

// ---- domain -> wire (requests we send) --------------------------------------------------------

export function fromFilter(filter: AccessRequestFilter | undefined): Record<string, unknown> {
  return { ID: filter?.id ?? '', User: filter?.user ?? '', State: filter?.state ?? 'NONE' };
}

export function fromWatchFilter(filter: { id?: string; user?: string; state?: RequestState } | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (filter?.id) out['id'] = filter.id;
  if (filter?.user) out['user'] = filter.user;
  if (filter?.state) out['state'] = filter.state;
  return out;
}

export function fromReviewSubmission(requestId: string, review: ReviewSubmission): Record<string, unknown> {
  return {
    RequestID: requestId,
    Review: {
      Author: review.author ?? '',
      Roles: review.roles ?? [],
      ProposedState: review.proposedState,
      Reason: review.reason,
      Annotations: fromTraits(review.annotations),
    },
  };
}

export function fromStateChange(requestId: string, change: StateChange): Record<string, unknown> {
  return {
    ID: requestId,
    State: change.state,
    Delegator: change.delegator ?? '',
    Reason: change.reason ?? '',
    Annotations: fromTraits(change.annotations),
    Roles: change.roles ?? [],
  };
}

export function fromPluginDataUpdate(update: PluginDataUpdate): Record<string, unknown> {
  return {
    Kind: update.kind ?? 'access_request',
    Resource: update.resource,
    Plugin: update.plugin,
    Set: { ...update.set },
    Expect: { ...update.expect },
  };
}

export function newAccessRequest(id: string, request: { user: string; roles: string[]; reason?: string; suggestedReviewers?: string[] }): Record<string, unknown> {
  return {
    Kind: 'access_request',
    Version: 'v3',
    Metadata: { Name: id, Namespace: 'default' },
    Spec: {
      User: request.user,
      Roles: request.roles,
      State: 'PENDING',
      RequestReason: request.reason ?? '',
      SuggestedReviewers: request.suggestedReviewers ?? [],
    },
  };
}

/** A google.protobuf.Duration (same shape as a Timestamp) in milliseconds; undefined when unset. */
function durationMs(d: WireTimestamp | null | undefined): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

export function toAccessList(wire: WireAccessList): AccessList {
  const spec = wire.spec;
  const name = wire.header?.metadata?.name ?? '';
  const members =
    wire.status && (wire.status.member_count != null || wire.status.member_list_count != null)
      ? Number(wire.status.member_count ?? 0) + Number(wire.status.member_list_count ?? 0)
      : undefined;
  const nextAuditDate = toDate(spec?.audit?.next_audit_date);
  const notifyBeforeMs = durationMs(spec?.audit?.notifications?.start);
  return {
    name,
    title: spec?.title || name,
    type: spec?.type ?? '',
    owners: (spec?.owners ?? [])
      .filter((o) => o.membership_kind !== 'MEMBERSHIP_KIND_LIST')
      .map((o) => o.name)
      .filter(Boolean),
    ...(nextAuditDate ? { nextAuditDate } : {}),
    ...(notifyBeforeMs !== undefined ? { notifyBeforeMs } : {}),
    ...(members !== undefined ? { memberCount: members } : {}),
  };
}
