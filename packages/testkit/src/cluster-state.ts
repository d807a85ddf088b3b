import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { accessDenied, alreadyExists, badParameter, compareFailed, notFound, notImplemented } from './teleport-error.js';
import { thresholdFilterMatches, validateThresholdFilter } from './threshold-filter.js';
import { matchesAmrFilter, validateAccessMonitoringRule, type AccessMonitoringRuleCandidate, type AccessMonitoringRuleRecord } from './validate-access-monitoring-rule.js';

/**
 * The in-memory "backend" of the fake cluster: users, roles, access requests, plugin data and the
 * audit log, with the server-side rules of shared spec §6–§8 (request validation, review
 * thresholds, plugin-data compare-and-swap). Transport-free so the admin API and the gRPC handlers
 * share exactly the same semantics.
 */

export type RequestState = 'NONE' | 'PENDING' | 'APPROVED' | 'DENIED' | 'PROMOTED';
export const REQUEST_STATES: readonly RequestState[] = ['NONE', 'PENDING', 'APPROVED', 'DENIED', 'PROMOTED'];

export type Traits = Record<string, string[]>;

export interface Rule {
  resources: string[];
  verbs: string[];
}

export interface Threshold {
  name?: string;
  /** Predicate on the review (see threshold-filter.ts for the supported subset); empty = all. */
  filter?: string;
  approve: number;
  deny: number;
}

export interface RoleSpec {
  name: string;
  allowLogins?: string[];
  /** Roles a holder may request (`allow.request.roles`; `*` = any). */
  requestRoles?: string[];
  /** Roles a holder may request through resource requests (`allow.request.search_as_roles`). */
  searchAsRoles?: string[];
  /** Copied (with `{{internal.x}}`/`{{external.x}}` trait interpolation) into SystemAnnotations. */
  requestAnnotations?: Traits;
  thresholds?: Threshold[];
  suggestedReviewers?: string[];
  /** Roles whose requests a holder may review (`allow.review_requests.roles`; `*` = any). */
  reviewRoles?: string[];
  rules?: Rule[];
  /** Access expiry cap for requests (`allow.request.max_duration`). */
  maxDurationMs?: number;
}

export interface UserSpec {
  name: string;
  roles: string[];
  traits?: Traits;
}

export interface ResourceIdSpec {
  clusterName?: string;
  kind: string;
  name: string;
  subResourceName?: string;
}

export interface ReviewRecord {
  author: string;
  roles: string[];
  proposedState: 'APPROVED' | 'DENIED';
  reason: string;
  created: Date;
  annotations: Traits;
  thresholdIndexes: number[];
}

export interface RequestRecord {
  id: string;
  user: string;
  roles: string[];
  state: RequestState;
  created: Date;
  /** Access expiry (Spec.Expires). */
  accessExpires: Date;
  /** When the request object itself is deleted (Metadata.Expires / Spec.ResourceExpiry). */
  resourceExpires: Date;
  maxDuration: Date | undefined;
  sessionTtl: Date | undefined;
  requestReason: string;
  resolveReason: string;
  resolveAnnotations: Traits;
  systemAnnotations: Traits;
  thresholds: Threshold[];
  /** requested role -> alternative sets of threshold indexes (any set fully met approves the role). */
  roleThresholdMapping: Record<string, number[][]>;
  reviews: ReviewRecord[];
  suggestedReviewers: string[];
  resources: ResourceIdSpec[];
  loginHint: string;
  requestKind: 'UNDEFINED' | 'SHORT_TERM' | 'LONG_TERM';
  revision: string;
  /** Creation order (tie-break for requests created in the same millisecond). */
  seq: number;
}

export interface PluginDataRecord {
  kind: string;
  resource: string;
  entries: Map<string, Record<string, string>>;
  expires: Date | undefined;
}

export interface AuditEntry {
  type: 'access_request.create' | 'access_request.review' | 'access_request.update' | 'access_request.delete';
  requestId: string;
  state?: RequestState;
  user?: string;
  author?: string;
  delegator?: string;
  reason?: string;
  time: Date;
}

export type ClusterEvent =
  | { type: 'PUT'; kind: 'access_request'; request: RequestRecord }
  | { type: 'PUT'; kind: 'role'; role: RoleSpec }
  | { type: 'PUT'; kind: 'user'; user: UserSpec }
  | { type: 'PUT'; kind: 'access_monitoring_rule'; rule: AccessMonitoringRuleRecord }
  | { type: 'DELETE'; kind: 'access_request' | 'role' | 'user' | 'access_monitoring_rule'; name: string };

/** ListAccessMonitoringRulesWithFilter's filter ('' / [] = any). */
export interface AmrListFilter {
  subjects: string[];
  notificationName: string;
  automaticReviewName: string;
}

export interface CreateRequestInput {
  user: string;
  roles: string[];
  reason?: string;
  suggestedReviewers?: string[];
  resources?: ResourceIdSpec[];
  /** Access expiry from now (default 1 h; capped by the roles' maxDurationMs). */
  ttlMs?: number;
  loginHint?: string;
  /** Caller-requested absolute max duration. */
  maxDuration?: Date;
  /** Validate and return the request without storing it (no event, no audit entry). */
  dryRun?: boolean;
  /** LONG_TERM: standing access through an Access List; resource requests only, as upstream. */
  requestKind?: 'UNDEFINED' | 'SHORT_TERM' | 'LONG_TERM';
}

export interface ReviewInput {
  author: string;
  state: 'APPROVED' | 'DENIED';
  reason?: string;
  created?: Date;
  /** Must be empty (upstream: NotImplemented otherwise). */
  annotations?: Traits;
  /** Role subselection: upstream only accepts none or all. */
  roles?: string[];
}

const DEFAULT_THRESHOLD: Threshold = { name: 'default', approve: 1, deny: 1 };
const DEFAULT_REQUEST_TTL_MS = 3600_000;
const PLUGIN_DATA_GRACE_MS = 3600_000;
const ACCESS_LIST_PLUGIN_DATA_TTL_MS = 14 * 24 * 3600_000;

let lastUuidMs = 0;
let uuidSeq = 0;

/**
 * UUIDv7 (what v15.2+/v18 use for request IDs): 48-bit ms timestamp, version 7, variant 10. A
 * 12-bit counter keeps IDs minted in the same millisecond ordered, as Go's generator does.
 */
export function uuidv7(now = Date.now()): string {
  if (now <= lastUuidMs) {
    uuidSeq = (uuidSeq + 1) & 0xfff;
    if (uuidSeq === 0) lastUuidMs += 1;
  } else {
    lastUuidMs = now;
    uuidSeq = randomBytes(2).readUInt16BE() & 0x3ff;
  }
  const b = randomBytes(16);
  b.writeUIntBE(lastUuidMs, 0, 6);
  b[6] = 0x70 | (uuidSeq >> 8);
  b[7] = uuidSeq & 0xff;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function matchesAny(patterns: readonly string[] | undefined, value: string): boolean {
  return (patterns ?? []).some((p) => p === '*' || p === value);
}

function uniq(values: Iterable<string>): string[] {
  return [...new Set(values)];
}

function cloneTraits(t: Traits | undefined): Traits {
  const out: Traits = {};
  for (const [k, v] of Object.entries(t ?? {})) out[k] = [...v];
  return out;
}

/** `{{internal.logins}}` / `{{external.team}}` expansion against user traits; unknown traits drop the value. */
function interpolate(value: string, traits: Traits): string[] {
  const m = /^(.*)\{\{\s*(?:internal|external)\.([A-Za-z0-9_.-]+)\s*\}\}(.*)$/.exec(value);
  if (!m) return [value];
  const [, prefix = '', trait = '', suffix = ''] = m;
  return (traits[trait] ?? []).map((t) => `${prefix}${t}${suffix}`);
}

const DEFAULT_USERS_PAGE = 200;
const MAX_USERS_PAGE = 1000;
/** Access monitoring rule pages: default and cap (the Go plugins ask for 1000). */
const MAX_RULES_PAGE = 1000;

export class ClusterState extends EventEmitter {
  readonly roles = new Map<string, RoleSpec>();
  readonly users = new Map<string, UserSpec>();
  readonly requests = new Map<string, RequestRecord>();
  readonly pluginData = new Map<string, PluginDataRecord>();
  readonly accessMonitoringRules = new Map<string, AccessMonitoringRuleRecord>();
  readonly audit: AuditEntry[] = [];
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();
  private revisionCounter = 0;
  private requestSeq = 0;

  constructor(readonly clusterName: string) {
    super();
    this.setMaxListeners(0);
  }

  private publish(event: ClusterEvent): void {
    this.emit('event', event);
    this.emit('change');
  }

  private nextRevision(): string {
    this.revisionCounter += 1;
    return String(this.revisionCounter);
  }

  // ---- users and roles -----------------------------------------------------------------------

  upsertRole(role: RoleSpec): void {
    for (const t of role.thresholds ?? []) validateThresholdFilter(t.filter ?? '');
    const copy: RoleSpec = structuredClone(role);
    this.roles.set(role.name, copy);
    this.publish({ type: 'PUT', kind: 'role', role: copy });
  }

  upsertUser(user: UserSpec): void {
    const copy: UserSpec = { name: user.name, roles: [...user.roles], traits: cloneTraits(user.traits) };
    this.users.set(user.name, copy);
    this.publish({ type: 'PUT', kind: 'user', user: copy });
  }

  deleteRole(name: string): void {
    if (this.roles.delete(name)) this.publish({ type: 'DELETE', kind: 'role', name });
  }

  deleteUser(name: string): void {
    if (this.users.delete(name)) this.publish({ type: 'DELETE', kind: 'user', name });
  }

  getUserOrThrow(name: string): UserSpec {
    const user = this.users.get(name);
    if (!user) throw notFound(`user "${name}" is not found`);
    return user;
  }

  /**
   * One page of users in name order. The token is the name the next page starts at (opaque to
   * clients, like upstream's); a page size of 0 or less means the server default.
   */
  listUsersPage(pageSize: number, pageToken: string): { users: UserSpec[]; nextPageToken: string } {
    const size = pageSize > 0 ? Math.min(pageSize, MAX_USERS_PAGE) : DEFAULT_USERS_PAGE;
    const names = [...this.users.keys()].sort().filter((n) => n >= pageToken);
    const users = names.slice(0, size).map((n) => this.users.get(n)!);
    return { users, nextPageToken: names[size] ?? '' };
  }

  /** Roles by name from `startKey` on; `nextKey` is the first name of the next page ('' at the end). */
  listRolesPage(limit: number, startKey: string): { roles: RoleSpec[]; nextKey: string } {
    const size = limit > 0 ? Math.min(limit, MAX_USERS_PAGE) : DEFAULT_USERS_PAGE;
    const names = [...this.roles.keys()].sort().filter((n) => n >= startKey);
    return { roles: names.slice(0, size).map((n) => this.roles.get(n)!), nextKey: names[size] ?? '' };
  }

  getRoleOrThrow(name: string): RoleSpec {
    const role = this.roles.get(name);
    if (!role) throw notFound(`role ${name} is not found`);
    return role;
  }

  /** Roles of a user that exist (a dangling role name grants nothing). */
  rolesOf(user: string): RoleSpec[] {
    const u = this.users.get(user);
    if (!u) return [];
    return u.roles.map((r) => this.roles.get(r)).filter((r): r is RoleSpec => r !== undefined);
  }

  /** RBAC rule check: any role with a rule covering (resource, verb); `*` matches anything. */
  can(user: string, resource: string, verb: string): boolean {
    return this.rolesOf(user).some((role) => (role.rules ?? []).some((rule) => matchesAny(rule.resources, resource) && matchesAny(rule.verbs, verb)));
  }

  /** The fake's "builtin admin": a user holding a `*`/`*` rule (e.g. the preset `admin`). */
  isAdmin(user: string): boolean {
    return this.rolesOf(user).some((r) => (r.rules ?? []).some((rule) => rule.resources.includes('*') && rule.verbs.includes('*')));
  }

  // ---- access requests -----------------------------------------------------------------------

  getRequestOrThrow(id: string): RequestRecord {
    const req = this.requests.get(id);
    if (!req) throw notFound(`access request "${id}" does not exist`);
    return req;
  }

  createRequest(input: CreateRequestInput): RequestRecord {
    const user = this.users.get(input.user);
    if (!user) throw notFound(`user "${input.user}" is not found`);
    const requesterRoles = this.rolesOf(input.user);
    let roles = uniq(input.roles);
    const resources = input.resources ?? [];
    if (input.requestKind === 'LONG_TERM' && resources.length === 0) throw badParameter('long-term access requests must request resources');
    if (roles.length === 0) {
      if (resources.length === 0) throw badParameter('access request must specify roles or resources');
      // Resource requests assume the requester's search_as_roles.
      roles = uniq(requesterRoles.flatMap((r) => r.searchAsRoles ?? []));
      if (roles.length === 0) throw accessDenied(`user "${input.user}" can not request any resources`);
    }
    const traits = user.traits ?? {};
    const thresholds: Threshold[] = [];
    const thresholdIndex = (t: Threshold): number => {
      const key = JSON.stringify([t.name ?? '', t.filter ?? '', t.approve, t.deny]);
      const found = thresholds.findIndex((x) => JSON.stringify([x.name ?? '', x.filter ?? '', x.approve, x.deny]) === key);
      if (found >= 0) return found;
      thresholds.push({ ...t });
      return thresholds.length - 1;
    };
    const mapping: Record<string, number[][]> = {};
    const annotations: Traits = {};
    const suggested: string[] = [...(input.suggestedReviewers ?? [])];
    let maxDurationCap: number | undefined;
    for (const roleName of roles) {
      const granting = requesterRoles.filter((r) => matchesAny(r.requestRoles, roleName) || (resources.length > 0 && matchesAny(r.searchAsRoles, roleName)));
      if (granting.length === 0) throw accessDenied(`user "${input.user}" can not request role "${roleName}"`);
      if (!this.roles.has(roleName)) throw notFound(`role ${roleName} is not found`);
      mapping[roleName] = granting.map((g) => (g.thresholds && g.thresholds.length > 0 ? g.thresholds : [DEFAULT_THRESHOLD]).map(thresholdIndex));
      for (const g of granting) {
        for (const [k, values] of Object.entries(g.requestAnnotations ?? {})) {
          annotations[k] = uniq([...(annotations[k] ?? []), ...values.flatMap((v) => interpolate(v, traits))]);
        }
        suggested.push(...(g.suggestedReviewers ?? []).flatMap((v) => interpolate(v, traits)));
        if (g.maxDurationMs !== undefined) maxDurationCap = Math.min(maxDurationCap ?? Infinity, g.maxDurationMs);
      }
    }
    const now = new Date();
    const ttl = Math.min(input.ttlMs ?? DEFAULT_REQUEST_TTL_MS, maxDurationCap ?? Infinity);
    const accessExpires = new Date(now.getTime() + ttl);
    const req: RequestRecord = {
      id: uuidv7(now.getTime()),
      user: input.user,
      roles,
      state: 'PENDING',
      created: now,
      accessExpires,
      resourceExpires: accessExpires,
      maxDuration: input.maxDuration ?? (maxDurationCap !== undefined ? new Date(now.getTime() + maxDurationCap) : undefined),
      sessionTtl: accessExpires,
      requestReason: input.reason ?? '',
      resolveReason: '',
      resolveAnnotations: {},
      systemAnnotations: annotations,
      thresholds,
      roleThresholdMapping: mapping,
      reviews: [],
      suggestedReviewers: uniq(suggested),
      resources: resources.map((r) => ({ ...r, clusterName: r.clusterName || this.clusterName })),
      loginHint: input.loginHint ?? '',
      requestKind: input.requestKind ?? 'SHORT_TERM',
      revision: this.nextRevision(),
      seq: input.dryRun ? 0 : ++this.requestSeq,
    };
    if (input.dryRun) return req;
    this.requests.set(req.id, req);
    this.armExpiry(req);
    this.audit.push({ type: 'access_request.create', requestId: req.id, state: 'PENDING', user: req.user, reason: req.requestReason, time: now });
    this.publish({ type: 'PUT', kind: 'access_request', request: req });
    return req;
  }

  /** May `reviewer` review every role of the request? */
  canReview(reviewer: string, req: RequestRecord): boolean {
    const reviewable = this.rolesOf(reviewer).flatMap((r) => r.reviewRoles ?? []);
    return req.roles.every((role) => matchesAny(reviewable, role));
  }

  submitReview(caller: string, id: string, review: ReviewInput, opts: { callerIsAdmin?: boolean } = {}): RequestRecord {
    const req = this.getRequestOrThrow(id);
    const author = review.author || caller;
    if (author !== caller && !opts.callerIsAdmin) {
      throw accessDenied(`user "${caller}" cannot submit reviews on behalf of "${author}"`);
    }
    if (!this.users.has(author)) throw notFound(`user "${author}" is not found`);
    // Permission first (the requester can never review their own request), then the review's
    // compatibility, then the request state: the order lib/services/access_request.go applies.
    if (author === req.user || !this.canReview(author, req)) {
      throw accessDenied(`user "${author}" cannot submit reviews`);
    }
    if (review.state !== 'APPROVED' && review.state !== 'DENIED') {
      throw badParameter(`invalid state proposal: ${String(review.state)} (expected approval/denial)`);
    }
    if (req.reviews.some((r) => r.author === author)) {
      throw accessDenied(`user "${author}" has already reviewed this request`);
    }
    if (review.roles && review.roles.length > 0 && review.roles.length !== Object.keys(req.roleThresholdMapping).length) {
      throw notImplemented('role subselection is not yet supported in reviews, try omitting role list');
    }
    if (review.annotations && Object.keys(review.annotations).length > 0) {
      throw notImplemented('annotations are not yet supported in reviews, try omitting annotations field');
    }
    if (req.state !== 'PENDING') {
      throw accessDenied(`the access request has been already ${req.state.toLowerCase()}`);
    }
    const created = review.created && review.created.getTime() > 0 ? review.created : new Date();
    req.reviews.push({
      author,
      roles: [...new Set(review.roles ?? [])].sort(),
      proposedState: review.state,
      reason: review.reason ?? '',
      created,
      annotations: {},
      thresholdIndexes: this.matchingThresholds(req, author, review.reason ?? ''),
    });
    const outcome = this.evaluateThresholds(req);
    if (outcome) {
      req.state = outcome;
      req.resolveReason = review.reason ?? '';
    }
    req.revision = this.nextRevision();
    this.audit.push({ type: 'access_request.review', requestId: id, state: req.state, user: req.user, author, reason: review.reason ?? '', time: new Date() });
    this.publish({ type: 'PUT', kind: 'access_request', request: req });
    return req;
  }

  /** Indexes of the request's thresholds whose filter matches this review. */
  private matchingThresholds(req: RequestRecord, author: string, reason: string): number[] {
    const user = this.users.get(author);
    const ctx = {
      reviewer: { roles: user?.roles ?? [], traits: user?.traits ?? {} },
      review: { reason, annotations: {} },
      request: { roles: req.roles, reason: req.requestReason, systemAnnotations: req.systemAnnotations },
    };
    return req.thresholds.flatMap((t, i) => (thresholdFilterMatches(t.filter, ctx) ? [i] : []));
  }

  /**
   * Teleport's review-based resolution: DENIED as soon as any threshold's deny count (non-zero) is
   * met; APPROVED when, for every requested role, EVERY threshold set has at least one threshold
   * whose (non-zero) approve count is met. Evaluated after each review, so the triggering review's
   * proposal decides, as upstream's "last review" rule does.
   */
  private evaluateThresholds(req: RequestRecord): 'APPROVED' | 'DENIED' | undefined {
    const approvals = req.thresholds.map(() => 0);
    const denials = req.thresholds.map(() => 0);
    for (const r of req.reviews) {
      for (const i of r.thresholdIndexes) {
        if (r.proposedState === 'APPROVED') approvals[i] = (approvals[i] ?? 0) + 1;
        else denials[i] = (denials[i] ?? 0) + 1;
      }
    }
    const last = req.reviews.at(-1);
    if (last?.proposedState === 'DENIED') {
      return req.thresholds.some((t, i) => t.deny !== 0 && (denials[i] ?? 0) >= t.deny) ? 'DENIED' : undefined;
    }
    const met = (i: number): boolean => {
      const t = req.thresholds[i];
      return t !== undefined && t.approve !== 0 && (approvals[i] ?? 0) >= t.approve;
    };
    const roles = Object.keys(req.roleThresholdMapping);
    const allApproved = roles.length > 0 && roles.every((role) => (req.roleThresholdMapping[role] ?? []).every((set) => set.some(met)));
    return allApproved ? 'APPROVED' : undefined;
  }

  setRequestState(id: string, input: { state: RequestState; reason?: string; delegator?: string; annotations?: Traits; roles?: string[]; author?: string }): RequestRecord {
    const req = this.getRequestOrThrow(id);
    if (input.state !== 'APPROVED' && input.state !== 'DENIED' && input.state !== 'PROMOTED') {
      throw badParameter(`invalid request state ${String(input.state)}`);
    }
    if (req.state !== 'PENDING') {
      throw badParameter(`the state of request ${id} has already been set to ${req.state}`);
    }
    if (input.roles && input.roles.length > 0) {
      const extra = input.roles.filter((r) => !req.roles.includes(r));
      if (extra.length > 0) throw badParameter(`roles ${extra.join(',')} were not requested`);
      req.roles = [...input.roles];
    }
    req.state = input.state;
    req.resolveReason = input.reason ?? '';
    req.resolveAnnotations = cloneTraits(input.annotations);
    req.revision = this.nextRevision();
    const entry: AuditEntry = { type: 'access_request.update', requestId: id, state: req.state, user: req.user, reason: req.resolveReason, time: new Date() };
    if (input.delegator) entry.delegator = input.delegator;
    if (input.author) entry.author = input.author;
    this.audit.push(entry);
    this.publish({ type: 'PUT', kind: 'access_request', request: req });
    return req;
  }

  deleteRequest(id: string, opts: { reason?: 'expired' | 'deleted'; author?: string } = {}): void {
    const req = this.getRequestOrThrow(id);
    this.requests.delete(id);
    const timer = this.expiryTimers.get(id);
    if (timer) clearTimeout(timer);
    this.expiryTimers.delete(id);
    const entry: AuditEntry = { type: 'access_request.delete', requestId: id, state: req.state, user: req.user, time: new Date() };
    if (opts.author) entry.author = opts.author;
    if (opts.reason === 'expired') entry.reason = 'expired';
    this.audit.push(entry);
    this.publish({ type: 'DELETE', kind: 'access_request', name: id });
  }

  /** Backend TTL: the request object disappears (DELETE event) at Metadata.Expires. */
  private armExpiry(req: RequestRecord): void {
    const delay = req.resourceExpires.getTime() - Date.now();
    if (delay > 2 ** 31 - 1) return;
    const timer = setTimeout(
      () => {
        this.expiryTimers.delete(req.id);
        if (this.requests.get(req.id) === req) this.deleteRequest(req.id, { reason: 'expired' });
      },
      Math.max(0, delay),
    );
    timer.unref();
    this.expiryTimers.set(req.id, timer);
  }

  listRequests(filter: { id?: string; user?: string; state?: RequestState }): RequestRecord[] {
    return [...this.requests.values()]
      .filter((r) => !filter.id || r.id === filter.id)
      .filter((r) => !filter.user || r.user === filter.user)
      .filter((r) => !filter.state || filter.state === 'NONE' || r.state === filter.state)
      .sort((a, b) => a.created.getTime() - b.created.getTime() || a.seq - b.seq);
  }

  // ---- access monitoring rules ---------------------------------------------------------------

  /**
   * Create (must not exist), update (must exist) or upsert a rule after upstream's validation;
   * every write gets a new revision and a PUT event.
   */
  writeAccessMonitoringRule(mode: 'create' | 'update' | 'upsert', candidate: AccessMonitoringRuleCandidate): AccessMonitoringRuleRecord {
    const valid = validateAccessMonitoringRule(candidate);
    const exists = this.accessMonitoringRules.has(valid.name);
    if (mode === 'create' && exists) throw alreadyExists(`access_monitoring_rule "${valid.name}" already exists`);
    if (mode === 'update' && !exists) throw notFound(`access_monitoring_rule "${valid.name}" doesn't exist`);
    const record: AccessMonitoringRuleRecord = { ...valid, revision: this.nextRevision() };
    this.accessMonitoringRules.set(record.name, record);
    this.publish({ type: 'PUT', kind: 'access_monitoring_rule', rule: record });
    return record;
  }

  getAccessMonitoringRuleOrThrow(name: string): AccessMonitoringRuleRecord {
    const rule = this.accessMonitoringRules.get(name);
    if (!rule) throw notFound(`access_monitoring_rule "${name}" doesn't exist`);
    return rule;
  }

  deleteAccessMonitoringRule(name: string): void {
    this.getAccessMonitoringRuleOrThrow(name);
    this.accessMonitoringRules.delete(name);
    this.publish({ type: 'DELETE', kind: 'access_monitoring_rule', name });
  }

  /**
   * One page of rules in name order, filtered first (so a page is never short because of the
   * filter); the token is the name the next page starts at, '' after the last page.
   */
  listAccessMonitoringRulesPage(pageSize: number, pageToken: string, filter?: AmrListFilter): { rules: AccessMonitoringRuleRecord[]; nextPageToken: string } {
    const size = pageSize > 0 ? Math.min(pageSize, MAX_RULES_PAGE) : MAX_RULES_PAGE;
    const names = [...this.accessMonitoringRules.keys()]
      .sort()
      .filter((n) => n >= pageToken)
      .filter((n) => !filter || matchesAmrFilter(this.accessMonitoringRules.get(n)!, filter));
    return { rules: names.slice(0, size).map((n) => this.accessMonitoringRules.get(n)!), nextPageToken: names[size] ?? '' };
  }

  // ---- plugin data ---------------------------------------------------------------------------

  private static pdKey(kind: string, resource: string): string {
    return `${kind}/${resource}`;
  }

  private checkPluginDataKind(kind: string): void {
    if (kind !== 'access_request' && kind !== 'access_list') {
      throw badParameter(`unsupported resource kind "${kind}" for plugin data`);
    }
  }

  getPluginData(filter: { kind: string; resource?: string; plugin?: string }): PluginDataRecord[] {
    this.checkPluginDataKind(filter.kind);
    const now = Date.now();
    const out: PluginDataRecord[] = [];
    for (const rec of this.pluginData.values()) {
      if (rec.kind !== filter.kind) continue;
      if (filter.resource && rec.resource !== filter.resource) continue;
      if (rec.expires && rec.expires.getTime() <= now) continue;
      if (filter.plugin) {
        const entry = rec.entries.get(filter.plugin);
        if (!entry) continue;
        out.push({ ...rec, entries: new Map([[filter.plugin, { ...entry }]]) });
      } else {
        out.push({ ...rec, entries: new Map([...rec.entries].map(([k, v]) => [k, { ...v }])) });
      }
    }
    return out;
  }

  /** UpdatePluginData with exact server CAS semantics (shared spec §7). */
  updatePluginData(params: { kind: string; resource: string; plugin: string; set: Record<string, string>; expect?: Record<string, string> }): void {
    this.checkPluginDataKind(params.kind);
    if (!params.resource) throw badParameter('missing resource name');
    if (!params.plugin) throw badParameter('missing plugin name');
    const key = ClusterState.pdKey(params.kind, params.resource);
    let rec = this.pluginData.get(key);
    if (rec?.expires && rec.expires.getTime() <= Date.now()) {
      this.pluginData.delete(key);
      rec = undefined;
    }
    let expires: Date | undefined;
    if (params.kind === 'access_request') {
      // As lib/services/local/plugin_data.go: the request must exist only when the PluginData
      // resource is created; its expiry is then set to the access expiry + 1 h, so that handlers
      // of the DELETE (expiry) event can still read AND update it after the request is gone.
      if (!rec) {
        const req = this.requests.get(params.resource);
        if (!req) throw notFound(`access request "${params.resource}" does not exist`);
        expires = new Date(req.accessExpires.getTime() + PLUGIN_DATA_GRACE_MS);
      }
    } else {
      expires = new Date(Date.now() + ACCESS_LIST_PLUGIN_DATA_TTL_MS);
    }
    const entry = rec?.entries.get(params.plugin);
    const expect = params.expect ?? {};
    // An empty Expect map is indistinguishable from "no Expect" on the wire: no CAS at all.
    if (Object.keys(expect).length > 0) {
      for (const [k, want] of Object.entries(expect)) {
        const have = entry ? (entry[k] ?? '') : '';
        if (have !== want) throw compareFailed(`expectations not met for field "${k}"`);
      }
    }
    const data: Record<string, string> = { ...(entry ?? {}) };
    for (const [k, v] of Object.entries(params.set)) {
      if (v === '') delete data[k];
      else data[k] = v;
    }
    if (!rec) {
      rec = { kind: params.kind, resource: params.resource, entries: new Map(), expires };
      this.pluginData.set(key, rec);
    }
    rec.expires = params.kind === 'access_list' ? expires : (rec.expires ?? expires);
    if (Object.keys(data).length === 0) rec.entries.delete(params.plugin);
    else rec.entries.set(params.plugin, data);
    if (rec.entries.size === 0) this.pluginData.delete(key);
    this.emit('change');
  }

  /** Test seeding: write an entry without CAS (still requires nothing; may target a deleted request). */
  seedPluginData(kind: string, resource: string, plugin: string, data: Record<string, string>): void {
    const key = ClusterState.pdKey(kind, resource);
    let rec = this.pluginData.get(key);
    if (!rec) {
      const req = this.requests.get(resource);
      const expires = req ? new Date(req.accessExpires.getTime() + PLUGIN_DATA_GRACE_MS) : undefined;
      rec = { kind, resource, entries: new Map(), expires };
      this.pluginData.set(key, rec);
    }
    const clean = Object.fromEntries(Object.entries(data).filter(([, v]) => v !== ''));
    if (Object.keys(clean).length === 0) rec.entries.delete(plugin);
    else rec.entries.set(plugin, clean);
    if (rec.entries.size === 0) this.pluginData.delete(key);
    this.emit('change');
  }

  close(): void {
    for (const t of this.expiryTimers.values()) clearTimeout(t);
    this.expiryTimers.clear();
  }
}
