/**
 * The shapes proto-loader produces with LOADER_OPTIONS (keepCase, longs and enums as strings,
 * defaults filled in: unset messages are null, repeated fields [], maps {}). Internal to
 * src/teleport/: mapping.ts turns them into domain types. Inputs we build are partial
 * (protobufjs fills the rest), hence the optional members.
 */

export interface WireTimestamp {
  seconds: string | number;
  nanos: number;
}

export interface WireLabelValues {
  Values: Record<string, { Values: string[] } | null | undefined>;
}

export interface WireMetadata {
  Name: string;
  Namespace?: string;
  Description?: string;
  Labels?: Record<string, string>;
  Expires?: WireTimestamp | null;
  Revision?: string;
}

export interface WireResourceHeader {
  Kind: string;
  SubKind: string;
  Version: string;
  Metadata: WireMetadata | null;
}

export interface WireAccessReview {
  Author: string;
  Roles: string[];
  ProposedState: string;
  Reason: string;
  Created: WireTimestamp | null;
  Annotations: WireLabelValues | null;
  ThresholdIndexes: number[];
  accessList: { Name: string; Title: string } | null;
  AssumeStartTime: WireTimestamp | null;
}

export interface WireAccessReviewThreshold {
  Name: string;
  Filter: string;
  Approve: number;
  Deny: number;
}

export interface WireResourceId {
  ClusterName: string;
  Kind: string;
  Name: string;
  SubResourceName: string;
}

export interface WireAccessRequestSpec {
  User: string;
  Roles: string[];
  State: string;
  Created: WireTimestamp | null;
  Expires: WireTimestamp | null;
  RequestReason: string;
  ResolveReason: string;
  ResolveAnnotations: WireLabelValues | null;
  SystemAnnotations: WireLabelValues | null;
  Thresholds: WireAccessReviewThreshold[];
  Reviews: WireAccessReview[];
  SuggestedReviewers: string[];
  RequestedResourceIDs: WireResourceId[];
  LoginHint: string;
  DryRun: boolean;
  MaxDuration: WireTimestamp | null;
  SessionTTL: WireTimestamp | null;
  accessList: { Name: string; Title: string } | null;
  AssumeStartTime: WireTimestamp | null;
  ResourceExpiry: WireTimestamp | null;
  /** Enum AccessRequestKind by name (UNDEFINED, SHORT_TERM, LONG_TERM); absent from older servers. */
  RequestKind?: string | number;
}

export interface WireAccessRequest extends WireResourceHeader {
  Spec: WireAccessRequestSpec | null;
}

export interface WireWatchKind {
  Kind: string;
  LoadSecrets?: boolean;
  Name?: string;
  Filter?: Record<string, string>;
  SubKind?: string;
  Version?: string;
}

export interface WireEvent {
  Type: string;
  Resource?: string;
  ResourceHeader?: WireResourceHeader | null;
  AccessRequest?: WireAccessRequest | null;
  WatchStatus?: { Spec: { Kinds: WireWatchKind[] } | null } | null;
  AccessMonitoringRule?: WireAccessMonitoringRule | null;
}

/** teleport.header.v1.Metadata (snake_case: a modern proto). */
export interface WireHeaderMetadata {
  name: string;
  namespace?: string;
  description?: string;
  labels?: Record<string, string>;
  expires?: WireTimestamp | null;
  revision?: string;
}

export interface WireAccessMonitoringRule {
  metadata: WireHeaderMetadata | null;
  kind: string;
  sub_kind: string;
  version: string;
  spec: WireAccessMonitoringRuleSpec | null;
}

export interface WireAccessMonitoringRuleSpec {
  subjects: string[];
  states: string[];
  condition: string;
  notification: { name: string; recipients: string[] } | null;
  automatic_review: { integration: string; decision: string; reason?: string } | null;
  desired_state: string;
  schedules: Record<string, { time: WireTimeSchedule | null } | null>;
}

export interface WireTimeSchedule {
  shifts: Array<{ weekday: string; start: string; end: string }>;
  timezone: string;
}

export interface WireListAccessMonitoringRulesResponse {
  rules: WireAccessMonitoringRule[];
  next_page_token: string;
}

export interface WirePingResponse {
  ClusterName: string;
  ServerVersion: string;
  ServerFeatures: { AdvancedAccessWorkflows: boolean } | null;
  ProxyPublicAddr: string;
  IsBoring: boolean;
  RemoteAddr: string;
}

export interface WirePluginDataSeq {
  PluginData: Array<{
    Metadata: WireMetadata | null;
    Spec: { Entries: Record<string, { Data: Record<string, string> } | null> } | null;
  }>;
}

export interface WireRoleConditions {
  Logins: string[];
  Request: {
    Roles: string[];
    Annotations: WireLabelValues | null;
    Thresholds: WireAccessReviewThreshold[];
    SuggestedReviewers: string[];
  } | null;
  ReviewRequests: { Roles: string[] } | null;
}

export interface WireRole {
  Metadata: WireMetadata | null;
  Spec: { Allow: WireRoleConditions | null; Deny: WireRoleConditions | null } | null;
}

export interface WireUser {
  Metadata: WireMetadata | null;
  Spec: { Roles: string[]; Traits: WireLabelValues | null } | null;
}

/** teleport.users.v1.ListUsersResponse (snake_case: a modern proto). */
export interface WireListRolesResponse {
  Roles: WireRole[];
  NextKey: string;
}

export interface WireListUsersResponse {
  users: WireUser[];
  next_page_token: string;
}

export interface WireListAccessRequestsResponse {
  AccessRequests: WireAccessRequest[];
  NextKey: string;
}

/** teleport.accesslist.v1.AccessList (snake_case: a modern proto). */
export interface WireAccessList {
  header: { kind?: string; version?: string; metadata: WireHeaderMetadata | null } | null;
  spec: {
    title?: string;
    type?: string;
    owners?: WireAccessListOwner[];
    audit: { next_audit_date: WireTimestamp | null; notifications: { start: WireTimestamp | null } | null } | null;
  } | null;
  status: { member_count?: number | null; member_list_count?: number | null } | null;
}

export interface WireAccessListOwner {
  name: string;
  /** MEMBERSHIP_KIND_LIST: an owner list (its members own this list), not a user. */
  membership_kind?: string;
}

export interface WireListAccessListsResponse {
  access_lists: WireAccessList[];
  next_token: string;
}

export interface WireGetAccessListOwnersResponse {
  owners: WireAccessListOwner[];
}
