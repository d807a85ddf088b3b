import type { WatchKindIn } from './watch-rules.js';

/**
 * The requests the fake serves, as proto-loader decodes them (keepCase, enums and int64 as
 * strings). Every member is optional: the fake takes whatever a client sends, fills in what is
 * missing, and lets the server-side rules refuse what is wrong, as a real server does. Timestamps
 * and label values stay `unknown`: wire.fromTs and wire.fromLabelValues read them defensively.
 */

/** proto.WatchEvents' Watch. */
export interface WatchRequestIn {
  Kinds?: WatchKindIn[];
  AllowPartialSuccess?: boolean;
}

/** types.AccessRequestFilter (GetAccessRequestsV2's request, ListAccessRequests' Filter). */
export interface AccessRequestFilterIn {
  ID?: string;
  User?: string;
  State?: unknown;
}

export interface ListAccessRequestsIn {
  Filter?: AccessRequestFilterIn | null;
  Sort?: string;
  Descending?: boolean;
  Limit?: number;
  StartKey?: string;
}

export interface CreateAccessRequestIn {
  Spec?: {
    User?: string;
    Roles?: string[];
    RequestReason?: string;
    SuggestedReviewers?: string[];
    RequestedResourceIDs?: Array<Record<string, string>>;
    Expires?: unknown;
    MaxDuration?: unknown;
    LoginHint?: string;
    DryRun?: boolean;
    RequestKind?: string | number;
  } | null;
}

export interface DeleteAccessRequestIn {
  ID?: string;
}

export interface SetAccessRequestStateIn {
  ID?: string;
  State?: unknown;
  Reason?: string;
  Delegator?: string;
  Annotations?: unknown;
  Roles?: string[];
}

export interface SubmitAccessReviewIn {
  RequestID?: string;
  Review?: {
    Author?: string;
    ProposedState?: unknown;
    Reason?: string;
    Created?: unknown;
    Annotations?: unknown;
    Roles?: string[];
  } | null;
}

export interface PluginDataFilterIn {
  Kind?: string;
  Resource?: string;
  Plugin?: string;
}

export interface UpdatePluginDataIn extends PluginDataFilterIn {
  Set?: Record<string, string>;
  Expect?: Record<string, string>;
}

/** GetRole and GetUser (proto.AuthService). */
export interface NameIn {
  Name?: string;
}

export interface ListRolesIn {
  Limit?: number;
  StartKey?: string;
}

/** teleport.users.v1.GetUserRequest. */
export interface UsersGetUserIn {
  name?: string;
  current_user?: boolean;
}

/** teleport.users.v1.ListUsersRequest. */
export interface UsersListUsersIn {
  page_size?: number;
  page_token?: string;
  with_secrets?: boolean;
}

/** teleport.accessmonitoringrules.v1.AccessMonitoringRule, as a client writes it. */
export interface AccessMonitoringRuleIn {
  kind?: string;
  sub_kind?: string;
  version?: string;
  metadata?: { name?: string; description?: string; labels?: Record<string, string> } | null;
  spec?: {
    subjects?: string[];
    states?: string[];
    condition?: string;
    notification?: { name?: string; recipients?: string[] } | null;
    automatic_review?: { integration?: string; decision?: string; reason?: string } | null;
    desired_state?: string;
    schedules?: Record<string, { time?: { timezone?: string; shifts?: Array<{ weekday?: string; start?: string; end?: string } | null> } | null } | null>;
  } | null;
}

/** Create / Update / Upsert AccessMonitoringRule. */
export interface AccessMonitoringRuleWriteIn {
  rule?: AccessMonitoringRuleIn | null;
}

/** Get / Delete AccessMonitoringRule. */
export interface AccessMonitoringRuleNameIn {
  name?: string;
}

/** ListAccessMonitoringRules and ListAccessMonitoringRulesWithFilter. */
export interface ListAccessMonitoringRulesIn {
  page_size?: number;
  page_token?: string;
  subjects?: string[];
  notification_name?: string;
  automatic_review_name?: string;
}
