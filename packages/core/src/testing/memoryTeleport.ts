import { PluginError, ALREADY_REVIEWED_SUFFIX } from '../errors.js';
import type {
  AccessMonitoringRule,
  AccessMonitoringRuleFilter,
  AccessRequest,
  AccessRequestFilter,
  AccessReview,
  ClusterInfo,
  PluginData,
  PluginDataUpdate,
  ReviewSubmission,
  RoleInfo,
  StateChange,
  TeleportClient,
  UserInfo,
  WatchEvent,
  WatchOptions,
  WatchStream,
} from '../teleport/types.js';

/** An access request with every field filled, for tests. */
export function makeAccessRequest(overrides: Partial<AccessRequest> & { id?: string } = {}): AccessRequest {
  return {
    id: overrides.id ?? '0196a8f2-0000-7000-8000-000000000001',
    user: 'alice@example.com',
    roles: ['editor'],
    state: 'PENDING',
    created: new Date('2026-01-02T03:04:05Z'),
    accessExpires: undefined,
    resourceExpires: undefined,
    requestReason: 'please',
    resolveReason: '',
    resolveAnnotations: {},
    systemAnnotations: {},
    thresholds: [],
    reviews: [],
    suggestedReviewers: [],
    requestedResources: [],
    loginHint: '',
    dryRun: false,
    maxDuration: undefined,
    sessionTtl: undefined,
    assumeStartTime: undefined,
    promotedAccessList: undefined,
    requestKind: 'SHORT_TERM',
    ...overrides,
  };
}

export function makeAccessReview(author: string, state: 'APPROVED' | 'DENIED' = 'APPROVED', reason = '', created = new Date('2026-01-02T03:10:00Z')): AccessReview {
  return { author, roles: [], proposedState: state, reason, created, annotations: {}, assumeStartTime: undefined };
}

class MemoryStream implements WatchStream {
  private readonly queue: Array<WatchEvent | PluginError> = [];
  private wake: (() => void) | undefined;
  closed = false;

  /** Items pushed but not read yet. */
  get pending(): number {
    return this.closed ? 0 : this.queue.length;
  }

  push(item: WatchEvent | PluginError): void {
    this.queue.push(item);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    return {
      next: async () => {
        for (;;) {
          if (this.closed) return { value: undefined, done: true };
          const item = this.queue.shift();
          if (item instanceof PluginError) throw item;
          if (item) return { value: item, done: false };
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
      },
    };
  }
}

export type MemoryWatchStream = MemoryStream;

/**
 * A TeleportClient in memory, for adapter and core unit tests that need no gRPC: plugin data with
 * Teleport's compare-and-swap semantics (an empty Expect means no check; "" means absent; a new
 * entry needs the request to exist, an existing one stays writable after the request is deleted),
 * requests, reviews, users and roles, a scriptable watch stream, and failure injection. The
 * end-to-end suites use @teleport-plugin/testkit's gRPC FakeTeleport instead.
 */
export class MemoryTeleport implements TeleportClient {
  readonly requests = new Map<string, AccessRequest>();
  readonly users = new Map<string, UserInfo>();
  readonly roles = new Map<string, RoleInfo>();
  private readonly data = new Map<string, PluginData>();
  readonly streams: MemoryStream[] = [];
  /** The options of each watch, by stream index. */
  readonly watchOptions: WatchOptions[] = [];
  /** Access Monitoring Rules by name (see putRule / removeRule). */
  readonly rules = new Map<string, AccessMonitoringRule>();
  /**
   * `ok`: rules are listed and watched; `denied`: the plugin may not read them (ACCESS_DENIED,
   * and the watch drops the kind); `unimplemented`: a server without the service.
   */
  rulesAccess: 'ok' | 'denied' | 'unimplemented' = 'ok';
  /**
   * Called for each new watch stream; default sends INIT, listing access_monitoring_rule too when
   * the watch asked for it and rules can be read.
   */
  onWatch: (stream: MemoryStream, index: number) => void = (s, i) =>
    s.push({
      type: 'init',
      acceptedKinds: this.watchOptions[i]?.accessMonitoringRules && this.rulesAccess === 'ok' ? ['access_request', 'access_monitoring_rule'] : ['access_request'],
    });
  /** Every plugin-data write, in order. */
  readonly updates: PluginDataUpdate[] = [];
  /** Calls per method name. */
  readonly calls = new Map<string, number>();
  /** Reviews and state changes submitted, in order (who, what). */
  readonly decisions: Array<{ requestId: string; review?: ReviewSubmission; change?: StateChange }> = [];
  private readonly failures = new Map<string, PluginError[]>();
  cluster: ClusterInfo = { clusterName: 'test.example.com', serverVersion: '18.0.0', advancedAccessWorkflows: false, proxyPublicAddr: '', webProxyUrl: undefined };
  /** The plugin's own user (review author when none is given). */
  pluginUser = 'access-plugin';
  /** false: listPluginData is not offered (a client that cannot read in bulk). */
  bulkPluginData = true;
  /** Set these to observe the watchdog's connection rebuilds and name an identity in errors. */
  reconnect?: () => void;
  refreshIdentity?: () => Promise<boolean>;
  currentIdentity?: () => { username: string; clusterName: string; validUntil: Date; source: string };

  /** The next `count` calls of `method` (`updatePluginData`, `getAccessRequest`...) throw `error`. */
  failNext(method: string, error: PluginError, count = 1): void {
    const list = this.failures.get(method) ?? [];
    for (let i = 0; i < count; i += 1) list.push(error);
    this.failures.set(method, list);
  }

  private enter(method: string): void {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    const queued = this.failures.get(method);
    const err = queued?.shift();
    if (err) throw err;
  }

  callCount(method: string): number {
    return this.calls.get(method) ?? 0;
  }

  /** Add or replace a request; emits a PUT unless `emit` is false. */
  put(request: AccessRequest, emit = true): AccessRequest {
    this.requests.set(request.id, request);
    if (emit) this.emit({ type: 'put', request });
    return request;
  }

  /** Delete a request (Teleport's expiry); emits a DELETE unless `emit` is false. */
  remove(id: string, emit = true): void {
    this.requests.delete(id);
    if (emit) this.emit({ type: 'delete', requestId: id });
  }

  /** Adds a review from `author` (and resolves when `resolve` says so). */
  review(id: string, author: string, state: 'APPROVED' | 'DENIED', reason = '', resolve = false): AccessRequest {
    const req = this.requests.get(id);
    if (!req) throw new Error(`no request ${id}`);
    const next: AccessRequest = {
      ...req,
      reviews: [...req.reviews, makeAccessReview(author, state, reason, new Date())],
      ...(resolve ? { state, resolveReason: reason } : {}),
    };
    return this.put(next);
  }

  emit(event: WatchEvent): void {
    const ruleEvent = event.type === 'rule-put' || event.type === 'rule-delete';
    this.streams.forEach((s, i) => {
      if (s.closed) return;
      // Rule events reach only streams that watch rules (and may read them).
      if (ruleEvent && !(this.watchOptions[i]?.accessMonitoringRules && this.rulesAccess === 'ok')) return;
      s.push(event);
    });
  }

  /** Add or replace an Access Monitoring Rule (no validation: see the testkit's FakeTeleport for that); emits rule-put. */
  putRule(rule: Partial<AccessMonitoringRule> & { name: string; condition: string }, emit = true): AccessMonitoringRule {
    const full: AccessMonitoringRule = { subjects: ['access_request'], states: [], desiredState: '', schedules: {}, ...rule };
    this.rules.set(full.name, full);
    if (emit) this.emit({ type: 'rule-put', rule: full });
    return full;
  }

  /** Delete a rule; emits rule-delete. */
  removeRule(name: string, emit = true): void {
    this.rules.delete(name);
    if (emit) this.emit({ type: 'rule-delete', name });
  }

  async listAccessMonitoringRules(filter: AccessMonitoringRuleFilter): Promise<AccessMonitoringRule[]> {
    this.enter('listAccessMonitoringRules');
    if (this.rulesAccess === 'denied') throw new PluginError('ACCESS_DENIED', 'access denied to perform action "list" on "access_monitoring_rule"');
    if (this.rulesAccess === 'unimplemented') throw new PluginError('NOT_IMPLEMENTED', 'unknown service teleport.accessmonitoringrules.v1.AccessMonitoringRulesService');
    return [...this.rules.values()]
      .filter((r) => (filter.subjects ?? []).every((s) => r.subjects.includes(s)))
      .filter((r) => !filter.notificationName || r.notification?.name === filter.notificationName)
      .filter((r) => !filter.automaticReviewName || r.automaticReview?.integration === filter.automaticReviewName)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => structuredClone(r));
  }

  /** Break every open stream with a connection problem. */
  drop(): void {
    for (const s of this.streams) if (!s.closed) s.push(new PluginError('CONNECTION_PROBLEM', 'dropped'));
  }

  pluginData(id: string, plugin: string): PluginData | undefined {
    const d = this.data.get(`${id}/${plugin}`);
    return d ? { ...d } : undefined;
  }

  setPluginData(id: string, plugin: string, data: PluginData): void {
    this.data.set(`${id}/${plugin}`, { ...data });
  }

  async ping(): Promise<ClusterInfo> {
    this.enter('ping');
    return this.cluster;
  }

  watchAccessRequests(options: WatchOptions = {}): WatchStream {
    this.enter('watchAccessRequests');
    const stream = new MemoryStream();
    this.watchOptions.push(options);
    this.streams.push(stream);
    this.onWatch(stream, this.streams.length - 1);
    return stream;
  }

  async listAccessRequests(filter?: AccessRequestFilter): Promise<AccessRequest[]> {
    this.enter('listAccessRequests');
    return [...this.requests.values()].filter((r) => !filter?.state || filter.state === 'NONE' || r.state === filter.state);
  }

  async getAccessRequest(id: string): Promise<AccessRequest | undefined> {
    this.enter('getAccessRequest');
    return this.requests.get(id);
  }

  async createAccessRequest(request: { user: string; roles: string[]; reason?: string; suggestedReviewers?: string[] }): Promise<AccessRequest> {
    this.enter('createAccessRequest');
    const id = `0196a8f2-0000-7000-8000-${String(this.requests.size + 1).padStart(12, '0')}`;
    return this.put(makeAccessRequest({ id, user: request.user, roles: request.roles, requestReason: request.reason ?? '', suggestedReviewers: request.suggestedReviewers ?? [] }));
  }

  async deleteAccessRequest(id: string): Promise<void> {
    this.enter('deleteAccessRequest');
    this.remove(id);
  }

  async submitAccessReview(requestId: string, review: ReviewSubmission): Promise<AccessRequest> {
    this.enter('submitAccessReview');
    const req = this.requests.get(requestId);
    if (!req) throw new PluginError('NOT_FOUND', `access request "${requestId}" is not found`);
    const author = review.author || this.pluginUser;
    if (req.reviews.some((r) => r.author === author)) throw new PluginError('ACCESS_DENIED', `user "${author}" ${ALREADY_REVIEWED_SUFFIX}`);
    if (req.state !== 'PENDING') throw new PluginError('BAD_PARAMETER', `the access request has been already ${req.state}`);
    this.decisions.push({ requestId, review });
    return this.review(requestId, author, review.proposedState, review.reason, true);
  }

  async setAccessRequestState(requestId: string, change: StateChange): Promise<void> {
    this.enter('setAccessRequestState');
    const req = this.requests.get(requestId);
    if (!req) throw new PluginError('NOT_FOUND', `access request "${requestId}" is not found`);
    if (req.state !== 'PENDING') throw new PluginError('BAD_PARAMETER', `the access request has been already ${req.state}`);
    this.decisions.push({ requestId, change });
    this.put({ ...req, state: change.state, resolveReason: change.reason ?? '' });
  }

  async getPluginData(resource: string, plugin: string): Promise<PluginData | undefined> {
    this.enter('getPluginData');
    return this.pluginData(resource, plugin);
  }

  async listPluginData(plugin: string): Promise<Array<{ resource: string; data: PluginData }>> {
    if (!this.bulkPluginData) throw new PluginError('NOT_IMPLEMENTED', 'bulk plugin data is off in this test');
    this.enter('listPluginData');
    const out: Array<{ resource: string; data: PluginData }> = [];
    for (const [key, data] of this.data) {
      const slash = key.lastIndexOf('/');
      if (key.slice(slash + 1) === plugin) out.push({ resource: key.slice(0, slash), data: { ...data } });
    }
    return out;
  }

  async updatePluginData(update: PluginDataUpdate): Promise<void> {
    this.enter('updatePluginData');
    this.updates.push(update);
    const key = `${update.resource}/${update.plugin}`;
    const anyEntry = [...this.data.keys()].some((k) => k.startsWith(`${update.resource}/`));
    // As Teleport: the request must exist only to create the resource (see cluster-state.ts).
    if (!anyEntry && !this.requests.has(update.resource)) throw new PluginError('NOT_FOUND', `access request "${update.resource}" does not exist`);
    const current = this.data.get(key);
    if (Object.keys(update.expect).length > 0) {
      for (const [k, v] of Object.entries(update.expect)) {
        if ((current?.[k] ?? '') !== v) throw new PluginError('COMPARE_FAILED', `expectations not met for field "${k}"`);
      }
    }
    const next = { ...(current ?? {}) };
    for (const [k, v] of Object.entries(update.set)) {
      if (v === '') delete next[k];
      else next[k] = v;
    }
    if (Object.keys(next).length === 0) this.data.delete(key);
    else this.data.set(key, next);
  }

  async getRole(name: string): Promise<RoleInfo> {
    this.enter('getRole');
    const role = this.roles.get(name);
    if (!role) throw new PluginError('NOT_FOUND', `role ${name} is not found`);
    return role;
  }

  async listRoles(): Promise<RoleInfo[]> {
    this.enter('listRoles');
    return [...this.roles.values()];
  }

  async getUser(name: string): Promise<UserInfo> {
    this.enter('getUser');
    const user = this.users.get(name);
    if (!user) throw new PluginError('NOT_FOUND', `user ${name} is not found`);
    return user;
  }

  async listUsers(): Promise<UserInfo[]> {
    this.enter('listUsers');
    return [...this.users.values()];
  }

  addUser(name: string, traits: Record<string, string[]> = {}, roles: string[] = []): UserInfo {
    const user = { name, roles, traits };
    this.users.set(name, user);
    return user;
  }

  addRole(name: string, role: Partial<RoleInfo> = {}): RoleInfo {
    const info: RoleInfo = { name, allowLogins: [], requestRoles: [], requestAnnotations: {}, requestThresholds: [], requestSuggestedReviewers: [], reviewRoles: [], ...role };
    this.roles.set(name, info);
    return info;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.close();
  }
}
