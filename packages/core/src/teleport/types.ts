/**
 * Domain types at the Teleport boundary: plain, camelCase, real Dates, string-union states.
 * Loader-shaped protobuf objects never leave src/teleport/; these are what the rest of the
 * runtime and every adapter see.
 */

export type RequestState = 'NONE' | 'PENDING' | 'APPROVED' | 'DENIED' | 'PROMOTED';

/** Traits / annotations: name -> list of values (wire type wrappers.LabelValues). */
export type Traits = Record<string, string[]>;

export interface AccessReview {
  author: string;
  roles: string[];
  proposedState: RequestState;
  reason: string;
  /** Undefined when the wire carried the zero-time sentinel. */
  created: Date | undefined;
  annotations: Traits;
  assumeStartTime: Date | undefined;
}

export interface AccessReviewThreshold {
  name: string;
  filter: string;
  approve: number;
  deny: number;
}

export interface ResourceId {
  clusterName: string;
  kind: string;
  name: string;
  subResourceName: string;
}

export interface AccessRequest {
  /** Metadata.Name: the request ID. */
  id: string;
  user: string;
  roles: string[];
  state: RequestState;
  created: Date | undefined;
  /** Spec.Expires: when the elevated access ends. */
  accessExpires: Date | undefined;
  /** When the request object itself is deleted (Spec.ResourceExpiry, else Metadata.Expires). */
  resourceExpires: Date | undefined;
  requestReason: string;
  resolveReason: string;
  resolveAnnotations: Traits;
  /** Interpolated from the requester's roles' allow.request.annotations. */
  systemAnnotations: Traits;
  thresholds: AccessReviewThreshold[];
  reviews: AccessReview[];
  suggestedReviewers: string[];
  requestedResources: ResourceId[];
  loginHint: string;
  dryRun: boolean;
  /** Absolute latest end of access. */
  maxDuration: Date | undefined;
  sessionTtl: Date | undefined;
  assumeStartTime: Date | undefined;
  promotedAccessList: { name: string; title: string } | undefined;
  /**
   * Spec.RequestKind. LONG_TERM requests ask for standing access through an Access List; servers
   * that predate the field send nothing, which reads as UNDEFINED (a normal, short-term request).
   */
  requestKind: AccessRequestKind;
}

export type AccessRequestKind = 'UNDEFINED' | 'SHORT_TERM' | 'LONG_TERM';

/** What Ping tells us about the cluster. */
export interface ClusterInfo {
  clusterName: string;
  serverVersion: string;
  /** Enterprise access workflows: web links to requests are available. */
  advancedAccessWorkflows: boolean;
  proxyPublicAddr: string;
  /**
   * `https://<proxy_public_addr>` (`:443` dropped), only when advanced workflows are on; links to a
   * request are `${webProxyUrl}/web/requests/<id>`.
   */
  webProxyUrl: string | undefined;
}

export interface RoleInfo {
  name: string;
  allowLogins: string[];
  requestRoles: string[];
  requestAnnotations: Traits;
  requestThresholds: AccessReviewThreshold[];
  requestSuggestedReviewers: string[];
  reviewRoles: string[];
}

export interface UserInfo {
  name: string;
  roles: string[];
  traits: Traits;
}

export type PluginData = Record<string, string>;

/**
 * An Access Monitoring Rule (teleport.accessmonitoringrules.v1) as the runtime uses it: routing
 * of notifications and automatic reviews. Fields a server does not know (v16/v17 have no
 * automatic_review, desired_state or schedules) read as empty.
 */
export interface AccessMonitoringRule {
  /** metadata.name. */
  name: string;
  /** Resource kinds the rule applies to, e.g. `access_request`. */
  subjects: string[];
  states: string[];
  /** Predicate expression; see compileRule() for the supported language. */
  condition: string;
  /** Absent when the rule does not route notifications. */
  notification?: { name: string; recipients: string[] };
  /** Absent when the rule does not review. `decision` is `APPROVED` or `DENIED` on valid rules. */
  automaticReview?: { integration: string; decision: string; reason: string };
  /** `reviewed` (needed for automatic reviews) or ''. */
  desiredState: string;
  /** Schedule name -> when the rule applies. Empty: always. */
  schedules: Record<string, AccessMonitoringSchedule>;
}

/**
 * An Access List (teleport.accesslist.v1) as review reminders use it. Fields a server does not
 * send read as empty: `type` '' is the ordinary, reviewable kind.
 */
export interface AccessList {
  /** metadata.name (the id in links and plugin data). */
  name: string;
  /** spec.title (what people see); falls back to the name when empty. */
  title: string;
  /** '' or 'dynamic': reviewed periodically; 'static' (managed as code) and 'scim' are not. */
  type: string;
  /** The owners named in the list itself (not those of nested owner lists). */
  owners: string[];
  /** spec.audit.next_audit_date; undefined when the list has no review date. */
  nextAuditDate?: Date;
  /** spec.audit.notifications.start: how long before the date reminders begin (undefined: unset). */
  notifyBeforeMs?: number;
  /** Members plus member lists, when the server reports them (status, v15+). */
  memberCount?: number;
}

export interface AccessMonitoringSchedule {
  /** IANA zone name; '' means UTC. */
  timezone: string;
  shifts: AccessMonitoringShift[];
}

export interface AccessMonitoringShift {
  /** `Sunday` ... `Saturday`. */
  weekday: string;
  /** `HH:MM`, 24-hour, inclusive. */
  start: string;
  /** `HH:MM`, 24-hour, inclusive; after start (a shift never crosses midnight). */
  end: string;
}

/** ListAccessMonitoringRulesWithFilter's filter; every member optional (absent = any). */
export interface AccessMonitoringRuleFilter {
  /** Every listed subject must be among the rule's subjects. */
  subjects?: string[];
  /** spec.notification.name must equal this (a plugin's instance name). */
  notificationName?: string;
  /** spec.automatic_review.integration must equal this. */
  automaticReviewName?: string;
}

export type WatchEvent =
  | { type: 'init'; acceptedKinds: string[] }
  | { type: 'put'; request: AccessRequest }
  | { type: 'delete'; requestId: string }
  /** Only with WatchOptions.accessMonitoringRules. */
  | { type: 'rule-put'; rule: AccessMonitoringRule }
  /** Only with WatchOptions.accessMonitoringRules: the rule's name (DELETE carries only the header). */
  | { type: 'rule-delete'; name: string };

export interface WatchOptions {
  /** WatchKind.Filter for access_request: keys `id`, `user`, `state`. Applies to PUT only. */
  filter?: { id?: string; user?: string; state?: RequestState };
  /**
   * Also watch `access_monitoring_rule` (rule-put / rule-delete events). The watch then asks for
   * partial success, as the v18 Go plugins do: a caller without `read` on rules (or a server
   * without them) still gets access requests, and INIT's acceptedKinds shows what was dropped.
   */
  accessMonitoringRules?: boolean;
  signal?: AbortSignal;
}

/**
 * A live WatchEvents stream. Iterating yields events in order; the iteration throws a
 * PluginError (CONNECTION_PROBLEM when the stream dropped) and ends on close().
 */
export interface WatchStream extends AsyncIterable<WatchEvent> {
  close(): void;
}

export interface AccessRequestFilter {
  id?: string;
  user?: string;
  /** Undefined or NONE = any. */
  state?: RequestState;
}

export interface ReviewSubmission {
  /** Empty: the server fills in the caller. Otherwise it must be the caller's own username. */
  author?: string;
  proposedState: 'APPROVED' | 'DENIED';
  reason: string;
  annotations?: Traits;
  roles?: string[];
}

export interface StateChange {
  state: 'APPROVED' | 'DENIED';
  reason?: string;
  /** Who really decided, e.g. `jira:alice@example.com`; recorded in Teleport's audit log. */
  delegator?: string;
  annotations?: Traits;
  roles?: string[];
}

export interface PluginDataUpdate {
  /** Defaults to `access_request`. */
  kind?: string;
  resource: string;
  plugin: string;
  /** A value of "" deletes the key. */
  set: PluginData;
  /** Compare-and-swap: {} = no check; "" = the key must be absent. */
  expect: PluginData;
}

/** The narrow client the runtime and adapters use (one connection, shared by all adapters). */
export interface TeleportClient {
  ping(signal?: AbortSignal): Promise<ClusterInfo>;
  watchAccessRequests(options?: WatchOptions): WatchStream;
  /** ListAccessRequests with paging, falling back to GetAccessRequestsV2 on UNIMPLEMENTED. */
  listAccessRequests(filter?: AccessRequestFilter, signal?: AbortSignal): Promise<AccessRequest[]>;
  getAccessRequest(id: string, signal?: AbortSignal): Promise<AccessRequest | undefined>;
  createAccessRequest(request: { user: string; roles: string[]; reason?: string; suggestedReviewers?: string[] }, signal?: AbortSignal): Promise<AccessRequest>;
  deleteAccessRequest(id: string, signal?: AbortSignal): Promise<void>;
  submitAccessReview(requestId: string, review: ReviewSubmission, signal?: AbortSignal): Promise<AccessRequest>;
  setAccessRequestState(requestId: string, change: StateChange, signal?: AbortSignal): Promise<void>;
  /** Undefined when the request has no entry for this plugin. */
  getPluginData(resource: string, plugin: string, options?: { kind?: string; signal?: AbortSignal }): Promise<PluginData | undefined>;
  /**
   * Every entry of `plugin` (one bulk GetPluginData with an empty resource name). Optional so test
   * doubles need not implement it; the runtime then reads entry by entry.
   */
  listPluginData?(plugin: string, options?: { kind?: string; signal?: AbortSignal }): Promise<Array<{ resource: string; data: PluginData }>>;
  /**
   * Throws PluginError COMPARE_FAILED when `expect` does not hold, NOT_FOUND when creating the
   * entry of a request that does not exist (an existing entry stays writable after the request is
   * deleted, until the entry itself expires).
   */
  updatePluginData(update: PluginDataUpdate, signal?: AbortSignal): Promise<void>;
  getRole(name: string, signal?: AbortSignal): Promise<RoleInfo>;
  /**
   * Every role (ListRoles, all pages; GetRoles on servers without it). Needs `role: [list, read]`:
   * PluginError ACCESS_DENIED without it.
   */
  listRoles(signal?: AbortSignal): Promise<RoleInfo[]>;
  /** teleport.users.v1.UsersService/GetUser, falling back to the legacy RPC on UNIMPLEMENTED. */
  getUser(name: string, signal?: AbortSignal): Promise<UserInfo>;
  /**
   * Every user (teleport.users.v1.UsersService/ListUsers, all pages). Needs `user: [list, read]`;
   * PluginError ACCESS_DENIED without it, NOT_IMPLEMENTED on servers without the RPC.
   */
  listUsers(signal?: AbortSignal): Promise<UserInfo[]>;
  /**
   * Access Monitoring Rules matching `filter` (ListAccessMonitoringRulesWithFilter, all pages).
   * Needs `access_monitoring_rule: [read, list]`: PluginError ACCESS_DENIED without it,
   * NOT_IMPLEMENTED on servers without the service. Optional so test doubles need not offer it.
   */
  listAccessMonitoringRules?(filter: AccessMonitoringRuleFilter, signal?: AbortSignal): Promise<AccessMonitoringRule[]>;
  /**
   * Every Access List (teleport.accesslist.v1 ListAccessLists, all pages). Needs
   * `access_list: [list, read]`: PluginError ACCESS_DENIED without it, NOT_IMPLEMENTED on clusters
   * without Access Lists. Optional so test doubles need not offer it.
   */
  listAccessLists?(signal?: AbortSignal): Promise<AccessList[]>;
  /**
   * The owners of a list, nested owner lists flattened (GetAccessListOwners, v17+:
   * NOT_IMPLEMENTED before). Optional as listAccessLists.
   */
  getAccessListOwners?(name: string, signal?: AbortSignal): Promise<string[]>;
  close(): Promise<void>;
  /** Opens a fresh connection for new calls (the watchdog's rebuild). Optional for test doubles. */
  reconnect?(): void;
  /** Re-reads the identity file now; true when a new identity was taken. Optional for test doubles. */
  refreshIdentity?(): Promise<boolean>;
  /** Who we are to Teleport (for error messages). Optional for test doubles. */
  currentIdentity?(): { username: string; clusterName: string; validUntil: Date; source: string };
}

/** `[teleport]` as the client needs it (paths already resolved). */
export interface TeleportConnectionConfig {
  /** host:port of an auth server (3025) or a TLS-routing proxy (443). Default `localhost:3025`. */
  addr: string;
  /** `tctl auth sign --format=file` identity file (or tbot's `identity`). */
  identityFile?: string;
  /** Re-read the identity file so new connections use a rotated certificate. */
  refreshIdentity?: boolean;
  /** How often to look at the identity file when refreshing (default 60 000 ms). */
  refreshIdentityIntervalMs?: number;
  /** The `--format=tls` trio, all three or none; never with identityFile. */
  clientKey?: string;
  clientCrt?: string;
  rootCas?: string;
  /** Per-dial timeout (default 30 000 ms). */
  dialTimeoutMs?: number;
}
