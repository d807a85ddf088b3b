import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { loadTeleportProto } from '@teleport-plugin/core/internal/proto';
import {
  ClusterState,
  REQUEST_STATES,
  type AuditEntry,
  type ClusterEvent,
  type RequestRecord,
  type RequestState,
  type ResourceIdSpec,
  type RoleSpec,
  type Rule,
  type Threshold,
  type Traits,
  type UserSpec,
} from './cluster-state.js';
import { FaultInjector } from './faults.js';
import { writeIdentityFile, writeTlsTrio, type TlsTrioPaths, type WriteIdentityOptions } from './identity-file.js';
import { TestPki, type KeyType, type UserIdentity, type UserIdentityOptions } from './pki.js';
import { startTlsRoutingProxy, type TlsRoutingProxy, type TlsRoutingProxyOptions } from './proxy.js';
import { accessDenied, badParameter, FakeTeleportError, notImplemented } from './teleport-error.js';
import * as wire from './wire.js';
import { acceptWatchKinds, initEvent, watchMatches, wireEvent } from './watch-rules.js';
import { candidateFromInput, type AccessMonitoringRuleInput } from './access-monitoring-rule-input.js';
import type {
  AccessMonitoringRuleNameIn,
  AccessMonitoringRuleWriteIn,
  AccessRequestFilterIn,
  CreateAccessRequestIn,
  DeleteAccessRequestIn,
  ListAccessMonitoringRulesIn,
  ListAccessRequestsIn,
  ListRolesIn,
  NameIn,
  PluginDataFilterIn,
  SetAccessRequestStateIn,
  SubmitAccessReviewIn,
  UpdatePluginDataIn,
  UsersGetUserIn,
  UsersListUsersIn,
  WatchRequestIn,
} from './wire-requests.js';
import { ACCESS_MONITORING_RULE_KIND, type AccessMonitoringRuleRecord } from './validate-access-monitoring-rule.js';
import { AccessListStore, type AccessListInput, type AccessListRecord } from './access-lists.js';

export interface FakeTeleportOptions {
  /** Default `example.com`. */
  clusterName?: string;
  /** Teleport version Ping reports (default `18.0.0`); `6.0.0` emulates an ancient server. */
  version?: string;
  /** Ping's ServerFeatures.AdvancedAccessWorkflows (Enterprise). Default false. */
  advancedWorkflows?: boolean;
  /** Ping's ProxyPublicAddr. Default `teleport.<cluster>:443`. */
  proxyPublicAddr?: string;
  /** false: ListAccessRequests answers UNIMPLEMENTED (pre-v15.2 servers). Default: version >= 15.2. */
  listAccessRequestsImplemented?: boolean;
  /** false: teleport.users.v1.UsersService is not served (UNIMPLEMENTED). Default: version >= 15. */
  usersServiceImplemented?: boolean;
  /** false: ListRoles answers UNIMPLEMENTED (older servers; GetRoles still answers). Default true. */
  listRolesImplemented?: boolean;
  /**
   * false: teleport.accessmonitoringrules.v1 answers UNIMPLEMENTED and the `access_monitoring_rule`
   * watch kind is unknown (v15 and older). Default: version >= 16.
   */
  accessMonitoringRulesImplemented?: boolean;
  /**
   * false: teleport.accesslist.v1 answers UNIMPLEMENTED (open-source clusters, servers before
   * Access Lists). Default true.
   */
  accessListsImplemented?: boolean;
  /** false: GetAccessListOwners answers UNIMPLEMENTED (servers before v17). Default: version >= 17. */
  accessListOwnersImplemented?: boolean;
  /** Key suite for CAs and default identities. Default `ecdsa`. */
  keyType?: KeyType;
  /**
   * Reject a `version` request header that is not semver or older than server major − 1 with
   * PERMISSION_DENIED "client version is unsupported" (v18 default). Default: version major >= 18.
   */
  rejectOldClients?: boolean;
  /**
   * Keepalive enforcement like auth's EnforcementPolicy (MinTime 60 s): a connection whose client
   * pings more often than this three times gets GOAWAY ENHANCE_YOUR_CALM `too_many_pings`.
   * Default 60000; 0 disables.
   */
  keepaliveMinTimeMs?: number;
}

/** What `waitFor` resolves with: the predicate's value minus the falsy cases. */
export type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;

export interface RecordedRpc {
  /**
   * Proto method name (`Ping`, `WatchEvents`, ...; `UsersService.GetUser`, `UsersService.ListUsers`
   * for the users service; `AccessMonitoringRulesService.<Rpc>` for access monitoring rules).
   */
  method: string;
  /** Subject CN of the client certificate. */
  caller: string;
  /** The decoded request message. */
  request: unknown;
  /** Request metadata (first value of each key). */
  metadata: Record<string, string>;
  time: Date;
  /** Final gRPC status code (undefined while a stream is open). */
  code?: number;
  details?: string;
}

export interface ReviewSnapshot {
  author: string;
  proposedState: 'APPROVED' | 'DENIED';
  reason: string;
  created: Date;
}

/** A plain copy of an access request as the fake holds it. */
export interface AccessRequestSnapshot {
  id: string;
  user: string;
  roles: string[];
  state: RequestState;
  requestReason: string;
  resolveReason: string;
  reviews: ReviewSnapshot[];
  systemAnnotations: Traits;
  suggestedReviewers: string[];
  resources: ResourceIdSpec[];
  thresholds: Threshold[];
  created: Date;
  /** Access expiry. */
  expires: Date;
  requestKind: 'UNDEFINED' | 'SHORT_TERM' | 'LONG_TERM';
}

/** A role as `upsertRole` takes it (the cluster's own role record; see cluster-state.ts). */
export type RoleOptions = RoleSpec;

export interface PluginUserOptions {
  /** Roles the plugin may review (true = `*`). Default: none. */
  canReview?: boolean | string[];
  /** Grant access_request update (SetAccessRequestState, as the Jira plugin needs). */
  canSetState?: boolean;
  /** Grant role/user read (logins by role, traits). Default true. */
  readRolesAndUsers?: boolean;
  /** Grant access_monitoring_rule read/list (routing by rules). Default false, as a fresh plugin role. */
  readAccessMonitoringRules?: boolean;
  /** Grant access_list read/list (Access List review reminders). Default false, as a fresh plugin role. */
  readAccessLists?: boolean;
}

export interface CreateRequestOptions {
  user: string;
  roles: string[];
  reason?: string;
  suggestedReviewers?: string[];
  /** Access expiry from now; the request is deleted (DELETE event) when it passes. Default 1 h. */
  ttlMs?: number;
  /** Resource request targets (`/cluster/kind/name`); cluster defaults to this cluster. */
  resources?: ResourceIdSpec[];
  /** LONG_TERM needs resources. Default SHORT_TERM. */
  requestKind?: 'SHORT_TERM' | 'LONG_TERM';
}

export interface FakeTeleportAdmin {
  createRequest(opts: CreateRequestOptions): Promise<string>;
  /** SubmitAccessReview as `author` (who must be allowed to review), with thresholds applied. */
  review(id: string, opts: { author: string; state: 'APPROVED' | 'DENIED'; reason?: string }): Promise<AccessRequestSnapshot>;
  /** SetAccessRequestState(APPROVED) as the admin; delegator recorded in the audit log. */
  approve(id: string, opts?: { reason?: string; delegator?: string }): Promise<AccessRequestSnapshot>;
  deny(id: string, opts?: { reason?: string; delegator?: string }): Promise<AccessRequestSnapshot>;
  promote(id: string, opts?: { reason?: string; delegator?: string }): Promise<AccessRequestSnapshot>;
  /** Deletes the request as its expiry would: DELETE event; plugin data stays readable. */
  expire(id: string): Promise<void>;
  /** DeleteAccessRequest semantics (audit entry without the expiry reason). */
  deleteRequest(id: string): Promise<void>;
  getRequest(id: string): AccessRequestSnapshot | undefined;
  listRequests(filter?: { user?: string; state?: RequestState }): AccessRequestSnapshot[];
  pluginData(id: string, plugin: string, kind?: string): Record<string, string> | undefined;
  /** Writes plugin data without CAS (seeding, e.g. in the Go plugins' format). */
  setPluginData(id: string, plugin: string, data: Record<string, string>, kind?: string): void;
  auditLog(): AuditEntry[];
  /** Validated like UpsertAccessMonitoringRule (BadParameter with upstream's text); PUT event. */
  upsertAccessMonitoringRule(rule: AccessMonitoringRuleInput): AccessMonitoringRuleRecord;
  /** NotFound when absent; DELETE event (header only). */
  deleteAccessMonitoringRule(name: string): void;
  getAccessMonitoringRule(name: string): AccessMonitoringRuleRecord | undefined;
  /** Every rule, by name. */
  listAccessMonitoringRules(): AccessMonitoringRuleRecord[];
  /** Creates or replaces an Access List (no watch event: plugins poll lists). */
  upsertAccessList(list: AccessListInput): AccessListRecord;
  /** NotFound when absent. */
  deleteAccessList(name: string): void;
}

interface OpenWatch {
  call: grpc.ServerWritableStream<unknown, unknown>;
  caller: string;
  end(code: grpc.status, message: string): void;
}

function parseSemver(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:[-+].*)?$/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

function versionAtLeast(v: string, major: number, minor = 0): boolean {
  const p = parseSemver(v);
  if (!p) return true;
  return p[0] > major || (p[0] === major && p[1] >= minor);
}

function metadataRecord(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) out[k] = Buffer.isBuffer(v) ? v.toString('base64') : String(v);
  return out;
}

function callerOf(call: { getAuthContext?: () => { sslPeerCertificate?: { subject?: unknown } } | null }): string {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  const cn = (cert?.subject as { CN?: string | string[] } | undefined)?.CN;
  const name = Array.isArray(cn) ? cn[0] : cn;
  if (!name) throw accessDenied('client certificate required');
  return name;
}

function toStatus(err: unknown): { code: grpc.status; details: string } {
  if (err instanceof FakeTeleportError) return { code: err.grpcCode, details: err.message };
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    const e = err as { code: number; details?: string; message?: string };
    return { code: e.code, details: e.details ?? e.message ?? '' };
  }
  return { code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

function snapshot(req: RequestRecord): AccessRequestSnapshot {
  return {
    id: req.id,
    user: req.user,
    roles: [...req.roles],
    state: req.state,
    requestReason: req.requestReason,
    resolveReason: req.resolveReason,
    reviews: req.reviews.map((r) => ({ author: r.author, proposedState: r.proposedState, reason: r.reason, created: r.created })),
    systemAnnotations: structuredClone(req.systemAnnotations),
    suggestedReviewers: [...req.suggestedReviewers],
    resources: req.resources.map((r) => ({ ...r })),
    thresholds: req.thresholds.map((t) => ({ ...t })),
    created: req.created,
    expires: req.accessExpires,
    requestKind: req.requestKind,
  };
}

function stateOf(v: unknown): RequestState {
  if (typeof v === 'number') return REQUEST_STATES[v] ?? 'NONE';
  if (typeof v === 'string' && (REQUEST_STATES as readonly string[]).includes(v)) return v as RequestState;
  return 'NONE';
}

/**
 * A fake Teleport auth server: a real gRPC server on 127.0.0.1 speaking our proto subset over
 * mutual TLS (client certs verified against the user CA; caller = cert subject CN), backed by an
 * in-memory cluster with Teleport's server-side rules (shared spec §6–§9).
 */
export class FakeTeleport {
  /** Built-in admin identity: may review on behalf of others and do anything RBAC-wise. */
  static readonly ADMIN_USER = 'admin';
  /** Preset plugin identity (role `access-plugin`: access_request list/read, access_plugin_data update). */
  static readonly PLUGIN_USER = 'access-plugin';

  readonly calls: RecordedRpc[] = [];
  readonly faults: FaultInjector;
  readonly admin: FakeTeleportAdmin;
  readonly state: ClusterState;
  readonly version: string;
  readonly advancedWorkflows: boolean;
  readonly proxyPublicAddr: string;
  private readonly watches = new Set<OpenWatch>();
  private readonly proxies = new Set<TlsRoutingProxy>();
  private closed = false;
  private readonly listImplemented: boolean;
  private readonly listRolesImplemented: boolean;
  private readonly rejectOldClients: boolean;
  /** Whether this server version has Access Monitoring Rules (service and watch kind). */
  readonly accessMonitoringRulesImplemented: boolean;
  /** The cluster's Access Lists (served by teleport.accesslist.v1.AccessListService). */
  readonly accessLists = new AccessListStore();
  private readonly accessListsImplemented: boolean;
  private readonly accessListOwnersImplemented: boolean;

  private constructor(
    readonly pki: TestPki,
    private readonly server: grpc.Server,
    readonly port: number,
    opts: FakeTeleportOptions,
  ) {
    this.state = new ClusterState(pki.clusterName);
    this.version = opts.version ?? '18.0.0';
    this.advancedWorkflows = opts.advancedWorkflows ?? false;
    this.proxyPublicAddr = opts.proxyPublicAddr ?? `teleport.${pki.clusterName}:443`;
    this.listImplemented = opts.listAccessRequestsImplemented ?? versionAtLeast(this.version, 15, 2);
    this.listRolesImplemented = opts.listRolesImplemented ?? true;
    this.rejectOldClients = opts.rejectOldClients ?? versionAtLeast(this.version, 18);
    this.accessMonitoringRulesImplemented = opts.accessMonitoringRulesImplemented ?? versionAtLeast(this.version, 16);
    this.accessListsImplemented = opts.accessListsImplemented ?? true;
    this.accessListOwnersImplemented = opts.accessListOwnersImplemented ?? versionAtLeast(this.version, 17);
    this.faults = new FaultInjector((code, message) => this.endWatches(code, message));
    this.admin = this.buildAdmin();
    this.state.upsertRole({ name: 'admin', rules: [{ resources: ['*'], verbs: ['*'] }], reviewRoles: ['*'], allowLogins: ['root'] });
    this.state.upsertUser({ name: FakeTeleport.ADMIN_USER, roles: ['admin'] });
    this.addPluginUser(FakeTeleport.PLUGIN_USER);
  }

  static async start(opts: FakeTeleportOptions = {}): Promise<FakeTeleport> {
    const pki = await TestPki.create({
      ...(opts.clusterName !== undefined ? { clusterName: opts.clusterName } : {}),
      ...(opts.keyType !== undefined ? { keyType: opts.keyType } : {}),
    });
    const server = new grpc.Server({ 'grpc.max_concurrent_streams': 1000 });
    const creds = grpc.ServerCredentials.createSsl(
      Buffer.from(pki.userCa.certPem),
      [{ cert_chain: Buffer.from(pki.authServer.certPem), private_key: Buffer.from(pki.authServer.keyPem) }],
      true,
    );
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
    const tp = new FakeTeleport(pki, server, port, opts);
    tp.registerServices(opts.usersServiceImplemented ?? versionAtLeast(tp.version, 15));
    tp.enforceKeepalive(opts.keepaliveMinTimeMs ?? 60_000);
    return tp;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  get clusterName(): string {
    return this.pki.clusterName;
  }

  // ---- identities ----------------------------------------------------------------------------

  /** The user's current roles go into the certificate subject (O attributes), as tctl does. */
  private withRoles<T extends UserIdentityOptions>(opts: T): T {
    if (opts.roles) return opts;
    const u = this.state.users.get(opts.user);
    return u ? { ...opts, roles: [...u.roles] } : opts;
  }

  /** Issues an identity signed by this cluster's CAs (in memory). */
  issueIdentity(opts: UserIdentityOptions): Promise<UserIdentity> {
    return this.pki.issueUser(this.withRoles(opts));
  }

  /** Writes a tctl-layout identity file (mode 0600, replaced atomically) into `dir`; returns its path. */
  writeIdentityFile(dir: string, opts: WriteIdentityOptions): Promise<string> {
    return writeIdentityFile(this.pki, dir, this.withRoles(opts));
  }

  /** Identity file contents (tctl layout). Async because issuing the certificate is. */
  async identityFile(opts: UserIdentityOptions & { proxyHost?: string; extraCaPems?: string[] }): Promise<string> {
    const identity = await this.pki.issueUser(this.withRoles(opts));
    return this.pki.identityFile(identity, {
      ...(opts.proxyHost ? { proxyHost: opts.proxyHost } : {}),
      ...(opts.extraCaPems ? { extraCaPems: opts.extraCaPems } : {}),
    });
  }

  /** Writes `--format=tls` files: `<user>.key`, `<user>.crt`, `<user>.cas`. */
  writeTlsTrio(dir: string, opts: UserIdentityOptions & { fileBase?: string }): Promise<TlsTrioPaths> {
    return writeTlsTrio(this.pki, dir, this.withRoles(opts));
  }

  // ---- users and roles -----------------------------------------------------------------------

  upsertRole(role: RoleOptions): void {
    this.state.upsertRole(role);
  }

  upsertUser(user: { name: string; roles: string[]; traits?: Traits }): void {
    this.state.upsertUser(user as UserSpec);
  }

  /**
   * A plugin identity with role `<name>` (or the preset `access-plugin` role for the default name):
   * access_request list/read and access_plugin_data update, plus the chosen extras.
   */
  addPluginUser(name: string = FakeTeleport.PLUGIN_USER, opts: PluginUserOptions = {}): void {
    const rules: Rule[] = [
      { resources: ['access_request'], verbs: ['list', 'read', ...(opts.canSetState ? ['update'] : [])] },
      { resources: ['access_plugin_data'], verbs: ['update'] },
    ];
    if (opts.readRolesAndUsers ?? true) rules.push({ resources: ['role', 'user'], verbs: ['list', 'read'] });
    if (opts.readAccessMonitoringRules) rules.push({ resources: [ACCESS_MONITORING_RULE_KIND], verbs: ['list', 'read'] });
    if (opts.readAccessLists) rules.push({ resources: ['access_list'], verbs: ['list', 'read'] });
    const reviewRoles = opts.canReview === true ? ['*'] : Array.isArray(opts.canReview) ? opts.canReview : [];
    this.state.upsertRole({ name, rules, reviewRoles });
    this.state.upsertUser({ name, roles: [name] });
  }

  /** A requester allowed to request `requestRoles` (default `editor`, created if missing). */
  addRequester(name: string, opts: { requestRoles?: string[]; thresholds?: Threshold[]; requestAnnotations?: Traits; suggestedReviewers?: string[]; traits?: Traits } = {}): void {
    const requestRoles = opts.requestRoles ?? ['editor'];
    for (const r of requestRoles) if (r !== '*' && !this.state.roles.has(r)) this.state.upsertRole({ name: r, allowLogins: ['root'] });
    const roleName = `${name}-requester`;
    this.state.upsertRole({
      name: roleName,
      requestRoles,
      ...(opts.thresholds ? { thresholds: opts.thresholds } : {}),
      ...(opts.requestAnnotations ? { requestAnnotations: opts.requestAnnotations } : {}),
      ...(opts.suggestedReviewers ? { suggestedReviewers: opts.suggestedReviewers } : {}),
    });
    this.state.upsertUser({ name, roles: [roleName], ...(opts.traits ? { traits: opts.traits } : {}) });
  }

  /** A reviewer allowed to review requests for `reviewRoles` (default `editor`). */
  addReviewer(name: string, opts: { reviewRoles?: string[] } = {}): void {
    const roleName = `${name}-reviewer`;
    this.state.upsertRole({ name: roleName, reviewRoles: opts.reviewRoles ?? ['editor'] });
    this.state.upsertUser({ name, roles: [roleName] });
  }

  // ---- observation ---------------------------------------------------------------------------

  /** Audit log of request lifecycle changes (with delegators). */
  auditLog(): AuditEntry[] {
    return [...this.state.audit];
  }

  /** Number of WatchEvents streams currently open. */
  get openWatchCount(): number {
    return this.watches.size;
  }

  /**
   * Resolves with the first truthy value of `pred`, re-evaluated on every state change and RPC
   * (and every 25 ms as a fallback); rejects after `timeoutMs`.
   */
  waitFor<T>(pred: () => T | Promise<T>, timeoutMs = 5000, what = 'condition'): Promise<Truthy<T>> {
    return new Promise((resolve, reject) => {
      let done = false;
      let running = false;
      const finish = (fn: () => void): void => {
        done = true;
        clearInterval(interval);
        clearTimeout(timer);
        this.state.off('change', check);
        fn();
      };
      const check = (): void => {
        if (done || running) return;
        running = true;
        Promise.resolve()
          .then(pred)
          .then(
            (v) => {
              running = false;
              if (v && !done) finish(() => resolve(v as Truthy<T>));
            },
            (err: unknown) => {
              running = false;
              if (!done) finish(() => reject(err instanceof Error ? err : new Error(String(err))));
            },
          );
      };
      const interval = setInterval(check, 25);
      const timer = setTimeout(() => finish(() => reject(new Error(`FakeTeleport.waitFor: ${what} not met within ${timeoutMs} ms`))), timeoutMs);
      this.state.on('change', check);
      check();
    });
  }

  // ---- proxy ---------------------------------------------------------------------------------

  /** Starts a TLS-routing proxy in front of this auth server (see proxy.ts). */
  async startProxy(opts: Partial<TlsRoutingProxyOptions> = {}): Promise<TlsRoutingProxy> {
    const web = await this.pki.issueWebCert(['localhost', this.proxyPublicAddr.replace(/:\d+$/, '')]);
    const proxy = await startTlsRoutingProxy({
      authAddr: { host: '127.0.0.1', port: this.port },
      webCert: web,
      clusterName: this.clusterName,
      serverVersion: this.version,
      ...opts,
    });
    this.proxies.add(proxy);
    const close = proxy.close.bind(proxy);
    proxy.close = async () => {
      this.proxies.delete(proxy);
      await close();
    };
    return proxy;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.endWatches(grpc.status.UNAVAILABLE, 'server is shutting down');
    await Promise.all([...this.proxies].map((p) => p.close()));
    this.state.close();
    this.server.forceShutdown();
  }

  // ---- admin API -----------------------------------------------------------------------------

  private buildAdmin(): FakeTeleportAdmin {
    const st = this.state;
    const resolve = async (id: string, state: RequestState, o: { reason?: string; delegator?: string } = {}) =>
      snapshot(
        st.setRequestState(id, {
          state,
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...(o.delegator !== undefined ? { delegator: o.delegator } : {}),
          author: FakeTeleport.ADMIN_USER,
        }),
      );
    return {
      createRequest: async (o) =>
        st.createRequest({
          user: o.user,
          roles: o.roles,
          ...(o.reason !== undefined ? { reason: o.reason } : {}),
          ...(o.suggestedReviewers ? { suggestedReviewers: o.suggestedReviewers } : {}),
          ...(o.ttlMs !== undefined ? { ttlMs: o.ttlMs } : {}),
          ...(o.resources ? { resources: o.resources } : {}),
          ...(o.requestKind ? { requestKind: o.requestKind } : {}),
        }).id,
      review: async (id, o) => snapshot(st.submitReview(o.author, id, { author: o.author, state: o.state, ...(o.reason !== undefined ? { reason: o.reason } : {}) })),
      approve: (id, o) => resolve(id, 'APPROVED', o),
      deny: (id, o) => resolve(id, 'DENIED', o),
      promote: (id, o) => resolve(id, 'PROMOTED', o),
      expire: async (id) => st.deleteRequest(id, { reason: 'expired' }),
      deleteRequest: async (id) => st.deleteRequest(id, { author: FakeTeleport.ADMIN_USER }),
      getRequest: (id) => {
        const r = st.requests.get(id);
        return r ? snapshot(r) : undefined;
      },
      listRequests: (f = {}) => st.listRequests(f).map(snapshot),
      pluginData: (id, plugin, kind = 'access_request') => st.getPluginData({ kind, resource: id, plugin })[0]?.entries.get(plugin),
      setPluginData: (id, plugin, data, kind = 'access_request') => st.seedPluginData(kind, id, plugin, data),
      auditLog: () => [...st.audit],
      upsertAccessMonitoringRule: (rule) => structuredClone(st.writeAccessMonitoringRule('upsert', candidateFromInput(rule))),
      deleteAccessMonitoringRule: (name) => st.deleteAccessMonitoringRule(name),
      getAccessMonitoringRule: (name) => {
        const rule = st.accessMonitoringRules.get(name);
        return rule ? structuredClone(rule) : undefined;
      },
      listAccessMonitoringRules: () => st.listAccessMonitoringRulesPage(0, '').rules.map((r) => structuredClone(r)),
      upsertAccessList: (list) => this.accessLists.upsert(list),
      deleteAccessList: (name) => this.accessLists.delete(name),
    };
  }

  // ---- gRPC plumbing -------------------------------------------------------------------------

  /** Sessions sent GOAWAY `too_many_pings` (keepalive enforcement). */
  readonly goaways: Array<{ reason: 'too_many_pings'; time: Date }> = [];

  /**
   * grpc-js has no server-side ping policy, so hook the underlying HTTP/2 sessions (a private
   * field of grpc-js's Server; if it ever disappears, enforcement is silently off).
   */
  private enforceKeepalive(minTimeMs: number): void {
    if (minTimeMs <= 0) return;
    const servers = (this.server as unknown as { http2Servers?: Map<http2.Http2Server, unknown> }).http2Servers;
    if (!(servers instanceof Map)) return;
    for (const h2 of servers.keys()) {
      h2.on('session', (session: http2.ServerHttp2Session) => {
        let last = 0;
        let strikes = 0;
        session.on('ping', () => {
          const now = Date.now();
          if (last !== 0 && now - last < minTimeMs) strikes += 1;
          last = now;
          // Go's server tolerates two strikes (maxPingStrikes) before GOAWAY.
          if (strikes > 2 && !session.closed) {
            this.goaways.push({ reason: 'too_many_pings', time: new Date() });
            this.state.emit('change');
            session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from('too_many_pings'));
            session.close();
          }
        });
      });
    }
  }

  private record(method: string, caller: string, request: unknown, md: grpc.Metadata): RecordedRpc {
    const rec: RecordedRpc = { method, caller, request, metadata: metadataRecord(md), time: new Date() };
    this.calls.push(rec);
    this.state.emit('change');
    return rec;
  }

  /** Latency, injected failures and the client-version gate, in that order (like middleware). */
  private async preamble(method: string, md: grpc.Metadata): Promise<void> {
    const latency = this.faults.currentLatencyMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    const failure = this.faults.takeFailure(method);
    if (failure) throw Object.assign(new Error(failure.message), { code: failure.code, details: failure.message });
    const clientVersion = md.get('version')[0];
    if (this.rejectOldClients && clientVersion !== undefined) {
      const server = parseSemver(this.version);
      const client = parseSemver(String(clientVersion));
      if (!client || (server && client[0] < server[0] - 1)) throw accessDenied('client version is unsupported');
    }
  }

  /** A unary handler; `Req` is the decoded request's shape (wire-requests.ts). */
  private unary<Req>(method: string, fn: (caller: string, req: Req, call: grpc.ServerUnaryCall<unknown, unknown>) => unknown): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      const { caller, rec } = this.begin(method, call);
      void (async () => {
        try {
          await this.admit(method, caller, call);
          const res = await fn(caller, call.request as Req, call);
          rec.code = grpc.status.OK;
          call.sendMetadata(this.responseHeaders());
          callback(null, res);
        } catch (err) {
          callback(this.failed(rec, err));
        }
        this.state.emit('change');
      })();
    };
  }

  /** A server-streaming handler; `Req` is the decoded request's shape (wire-requests.ts). */
  private serverStream<Req>(
    method: string,
    fn: (caller: string, req: Req, call: grpc.ServerWritableStream<unknown, unknown>, rec: RecordedRpc) => void | Promise<void>,
  ): grpc.handleServerStreamingCall<unknown, unknown> {
    return (call) => {
      const { caller, rec } = this.begin(method, call);
      void (async () => {
        try {
          await this.admit(method, caller, call);
          call.sendMetadata(this.responseHeaders());
          await fn(caller, call.request as Req, call, rec);
        } catch (err) {
          call.emit('error', this.failed(rec, err));
          this.state.emit('change');
        }
      })();
    };
  }

  /** Records the call; the caller is '' when the certificate has no CN (admit() then refuses it). */
  private begin(method: string, call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>): { caller: string; rec: RecordedRpc } {
    let caller = '';
    try {
      caller = callerOf(call);
    } catch {
      /* refused in admit() */
    }
    return { caller, rec: this.record(method, caller, call.request, call.metadata) };
  }

  /** Latency, injected failures and the version gate (preamble), then the caller check. */
  private async admit(method: string, caller: string, call: { metadata: grpc.Metadata }): Promise<void> {
    await this.preamble(method, call.metadata);
    if (!caller) throw accessDenied('client certificate required');
  }

  /** Records the final status of a failed call and returns it for the transport. */
  private failed(rec: RecordedRpc, err: unknown): { code: grpc.status; details: string } {
    const st = toStatus(err);
    rec.code = st.code;
    rec.details = st.details;
    return st;
  }

  /** Auth echoes its own version in response headers. */
  private responseHeaders(): grpc.Metadata {
    const md = new grpc.Metadata();
    md.set('version', this.version);
    return md;
  }

  private requireUser(caller: string): UserSpec {
    const u = this.state.users.get(caller);
    if (!u) throw accessDenied(`user "${caller}" is not found`);
    return u;
  }

  private requireRule(caller: string, resource: string, verbs: string[]): void {
    this.requireUser(caller);
    const missing = verbs.filter((v) => !this.state.can(caller, resource, v));
    if (missing.length > 0) {
      throw accessDenied(`access denied to perform action "${missing[0]}" on "${resource}"`);
    }
  }

  private canAny(caller: string, pairs: Array<[string, string]>): boolean {
    return pairs.some(([r, v]) => this.state.can(caller, r, v));
  }

  private endWatches(code: grpc.status, message: string): number {
    const all = [...this.watches];
    for (const w of all) w.end(code, message);
    return all.length;
  }

  private registerServices(usersService: boolean): void {
    const { grpcObject } = loadTeleportProto();
    const protoPkg = grpcObject['proto'] as grpc.GrpcObject;
    const authService = (protoPkg['AuthService'] as grpc.ServiceClientConstructor).service;
    const st = this.state;

    const impl: grpc.UntypedServiceImplementation = {
      Ping: this.unary('Ping', (_caller, _req, call) => ({
        ClusterName: this.clusterName,
        ServerVersion: this.version,
        ServerFeatures: { AdvancedAccessWorkflows: this.advancedWorkflows },
        ProxyPublicAddr: this.proxyPublicAddr,
        IsBoring: false,
        RemoteAddr: call.getPeer(),
        LoadAllCAs: false,
      })),

      WatchEvents: this.serverStream('WatchEvents', (caller, req: WatchRequestIn, call, rec) => this.watch(caller, req, call, rec)),

      ListAccessRequests: this.unary('ListAccessRequests', (caller, req: ListAccessRequestsIn) => {
        if (!this.listImplemented) throw notImplemented('unknown method ListAccessRequests for service proto.AuthService');
        const all = this.visibleRequests(caller, req?.Filter);
        const sort = String(req?.Sort ?? 'DEFAULT');
        const key = (r: RequestRecord): string | number => (sort === 'STATE' ? REQUEST_STATES.indexOf(r.state) : sort === 'USER' ? r.user : r.created.getTime());
        const sorted = [...all].sort((a, b) => {
          const ka = key(a);
          const kb = key(b);
          const c = ka < kb ? -1 : ka > kb ? 1 : a.seq - b.seq;
          return req?.Descending ? -c : c;
        });
        const limit = Number(req?.Limit ?? 0) > 0 ? Number(req.Limit) : 200;
        let start = 0;
        if (req?.StartKey) {
          start = sorted.findIndex((r) => r.id === req.StartKey);
          if (start < 0) throw badParameter(`invalid start key "${String(req.StartKey)}"`);
        }
        const page = sorted.slice(start, start + limit);
        const next = sorted[start + limit];
        return { AccessRequests: page.map(wire.accessRequest), NextKey: next ? next.id : '' };
      }),

      GetAccessRequestsV2: this.serverStream('GetAccessRequestsV2', (caller, req: AccessRequestFilterIn, call, rec) => {
        for (const r of this.visibleRequests(caller, req)) call.write(wire.accessRequest(r));
        rec.code = grpc.status.OK;
        call.end();
      }),

      CreateAccessRequestV2: this.unary('CreateAccessRequestV2', (caller, req: CreateAccessRequestIn) => {
        this.requireUser(caller);
        const spec: NonNullable<CreateAccessRequestIn['Spec']> = req?.Spec ?? {};
        const user: string = spec.User || caller;
        if (user !== caller && !st.isAdmin(caller)) {
          throw accessDenied(`user "${caller}" cannot create access requests on behalf of "${user}"`);
        }
        const expires = wire.fromTs(spec.Expires);
        const maxDuration = wire.fromTs(spec.MaxDuration);
        const created = st.createRequest({
          user,
          roles: [...(spec.Roles ?? [])],
          reason: spec.RequestReason ?? '',
          suggestedReviewers: [...(spec.SuggestedReviewers ?? [])],
          resources: (spec.RequestedResourceIDs ?? []).map((r: Record<string, string>) => ({
            clusterName: r['ClusterName'] ?? '',
            kind: r['Kind'] ?? '',
            name: r['Name'] ?? '',
            subResourceName: r['SubResourceName'] ?? '',
          })),
          ...(expires ? { ttlMs: Math.max(1, expires.getTime() - Date.now()) } : {}),
          ...(maxDuration ? { maxDuration } : {}),
          loginHint: spec.LoginHint ?? '',
          dryRun: Boolean(spec.DryRun),
          ...(spec.RequestKind === 'LONG_TERM' || spec.RequestKind === 'SHORT_TERM' ? { requestKind: spec.RequestKind } : {}),
        });
        const out = wire.accessRequest(created) as { Spec: { DryRun: boolean } };
        out.Spec.DryRun = Boolean(spec.DryRun);
        return out;
      }),

      DeleteAccessRequest: this.unary('DeleteAccessRequest', (caller, req: DeleteAccessRequestIn) => {
        this.requireRule(caller, 'access_request', ['delete']);
        st.deleteRequest(String(req?.ID ?? ''), { author: caller });
        return {};
      }),

      SetAccessRequestState: this.unary('SetAccessRequestState', (caller, req: SetAccessRequestStateIn) => {
        this.requireRule(caller, 'access_request', ['update']);
        const annotations = wire.fromLabelValues(req?.Annotations);
        st.setRequestState(String(req?.ID ?? ''), {
          state: stateOf(req?.State),
          reason: req?.Reason ?? '',
          delegator: req?.Delegator ?? '',
          annotations,
          roles: [...(req?.Roles ?? [])],
          author: caller,
        });
        return {};
      }),

      SubmitAccessReview: this.unary('SubmitAccessReview', (caller, req: SubmitAccessReviewIn) => {
        this.requireUser(caller);
        const review: NonNullable<SubmitAccessReviewIn['Review']> = req?.Review ?? {};
        const created = wire.fromTs(review.Created);
        const updated = st.submitReview(
          caller,
          String(req?.RequestID ?? ''),
          {
            author: review.Author ?? '',
            state: stateOf(review.ProposedState) as 'APPROVED' | 'DENIED',
            reason: review.Reason ?? '',
            ...(created ? { created } : {}),
            annotations: wire.fromLabelValues(review.Annotations),
            roles: [...(review.Roles ?? [])],
          },
          { callerIsAdmin: st.isAdmin(caller) },
        );
        return wire.accessRequest(updated);
      }),

      GetPluginData: this.unary('GetPluginData', (caller, req: PluginDataFilterIn) => {
        const kind = String(req?.Kind ?? '');
        if (kind !== 'access_request' && kind !== 'access_list') throw badParameter(`unsupported resource kind "${kind}" for plugin data`);
        this.requireUser(caller);
        if (
          !this.canAny(caller, [
            ['access_plugin_data', 'read'],
            ['access_plugin_data', 'update'],
            [kind, 'read'],
          ])
        ) {
          throw accessDenied(`access denied to perform action "read" on "access_plugin_data"`);
        }
        const found = st.getPluginData({ kind, resource: req?.Resource ?? '', plugin: req?.Plugin ?? '' });
        return { PluginData: found.map(wire.pluginData) };
      }),

      UpdatePluginData: this.unary('UpdatePluginData', (caller, req: UpdatePluginDataIn) => {
        const kind = String(req?.Kind ?? '');
        if (kind !== 'access_request' && kind !== 'access_list') throw badParameter(`unsupported resource kind "${kind}" for plugin data`);
        this.requireUser(caller);
        if (
          !this.canAny(caller, [
            ['access_plugin_data', 'update'],
            [kind, 'update'],
          ])
        ) {
          throw accessDenied(`access denied to perform action "update" on "access_plugin_data"`);
        }
        st.updatePluginData({
          kind,
          resource: String(req?.Resource ?? ''),
          plugin: String(req?.Plugin ?? ''),
          set: { ...(req?.Set ?? {}) },
          expect: { ...(req?.Expect ?? {}) },
        });
        return {};
      }),

      GetRole: this.unary('GetRole', (caller, req: NameIn) => {
        const u = this.requireUser(caller);
        const name = String(req?.Name ?? '');
        // Users may always read their own roles.
        if (!u.roles.includes(name) && !this.state.can(caller, 'role', 'read')) {
          throw accessDenied(`access denied to perform action "read" on "role"`);
        }
        return wire.role(st.getRoleOrThrow(name));
      }),

      ListRoles: this.unary('ListRoles', (caller, req: ListRolesIn) => {
        if (!this.listRolesImplemented) throw notImplemented('unknown method ListRoles for service proto.AuthService');
        this.requireRoleListing(caller);
        const page = st.listRolesPage(Number(req?.Limit ?? 0), String(req?.StartKey ?? ''));
        return { Roles: page.roles.map((r) => wire.role(r)), NextKey: page.nextKey };
      }),

      GetRoles: this.unary('GetRoles', (caller) => {
        this.requireRoleListing(caller);
        return { Roles: [...st.roles.values()].sort((a, b) => a.name.localeCompare(b.name)).map((r) => wire.role(r)) };
      }),

      GetUser: this.unary('GetUser', (caller, req: NameIn) => {
        this.requireUser(caller);
        const name = String(req?.Name ?? '');
        if (name !== caller && !this.state.can(caller, 'user', 'read')) {
          throw accessDenied(`access denied to perform action "read" on "user"`);
        }
        return wire.user(st.getUserOrThrow(name));
      }),
    };
    this.server.addService(authService, impl);
    this.registerAccessMonitoringRules(grpcObject);
    this.registerAccessLists(grpcObject);

    if (usersService) {
      const usersPkg = ((grpcObject['teleport'] as grpc.GrpcObject)['users'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
      const svc = (usersPkg['UsersService'] as grpc.ServiceClientConstructor).service;
      this.server.addService(svc, {
        GetUser: this.unary('UsersService.GetUser', (caller, req: UsersGetUserIn) => {
          this.requireUser(caller);
          const name = req?.current_user ? caller : String(req?.name ?? '');
          if (!name) throw badParameter('missing username');
          if (name !== caller && !this.state.can(caller, 'user', 'read')) {
            throw accessDenied(`access denied to perform action "read" on "user"`);
          }
          return { user: wire.user(st.getUserOrThrow(name)) };
        }),
        ListUsers: this.unary('UsersService.ListUsers', (caller, req: UsersListUsersIn) => {
          this.requireUser(caller);
          // Listing every user needs both verbs on `user`, as upstream checks it.
          if (!this.state.can(caller, 'user', 'list') || !this.state.can(caller, 'user', 'read')) {
            throw accessDenied(`access denied to perform action "list" on "user"`);
          }
          if (req?.with_secrets && !st.isAdmin(caller)) throw accessDenied(`access denied to read user secrets`);
          const page = st.listUsersPage(Number(req?.page_size ?? 0), String(req?.page_token ?? ''));
          return { users: page.users.map((u) => wire.user(u)), next_page_token: page.nextPageToken };
        }),
      });
    }
  }

  /**
   * teleport.accessmonitoringrules.v1.AccessMonitoringRulesService. Always registered so calls are
   * recorded; on servers "without" it every RPC answers UNIMPLEMENTED as grpc-go does for an
   * unknown service. RBAC as upstream's service: read for Get, read+list for the lists, create /
   * update / delete for writes (create+update for Upsert).
   */
  private registerAccessMonitoringRules(grpcObject: grpc.GrpcObject): void {
    const pkg = ((grpcObject['teleport'] as grpc.GrpcObject)['accessmonitoringrules'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
    const svc = (pkg['AccessMonitoringRulesService'] as grpc.ServiceClientConstructor).service;
    const st = this.state;
    const amr = <Req>(method: string, verbs: string[], fn: (req: Req) => unknown): grpc.handleUnaryCall<unknown, unknown> =>
      this.unary(`AccessMonitoringRulesService.${method}`, (caller, req: Req) => {
        if (!this.accessMonitoringRulesImplemented) {
          throw notImplemented('unknown service teleport.accessmonitoringrules.v1.AccessMonitoringRulesService');
        }
        this.requireRule(caller, ACCESS_MONITORING_RULE_KIND, verbs);
        return fn(req);
      });
    const write = (mode: 'create' | 'update' | 'upsert') => (req: AccessMonitoringRuleWriteIn) =>
      wire.accessMonitoringRule(st.writeAccessMonitoringRule(mode, wire.accessMonitoringRuleCandidate(req?.rule)));
    const list = (req: ListAccessMonitoringRulesIn, filter?: { subjects: string[]; notificationName: string; automaticReviewName: string }) => {
      const page = st.listAccessMonitoringRulesPage(Number(req?.page_size ?? 0), String(req?.page_token ?? ''), filter);
      return { rules: page.rules.map(wire.accessMonitoringRule), next_page_token: page.nextPageToken };
    };
    this.server.addService(svc, {
      CreateAccessMonitoringRule: amr('CreateAccessMonitoringRule', ['create'], write('create')),
      UpdateAccessMonitoringRule: amr('UpdateAccessMonitoringRule', ['update'], write('update')),
      UpsertAccessMonitoringRule: amr('UpsertAccessMonitoringRule', ['create', 'update'], write('upsert')),
      GetAccessMonitoringRule: amr('GetAccessMonitoringRule', ['read'], (req: AccessMonitoringRuleNameIn) =>
        wire.accessMonitoringRule(st.getAccessMonitoringRuleOrThrow(String(req?.name ?? ''))),
      ),
      DeleteAccessMonitoringRule: amr('DeleteAccessMonitoringRule', ['delete'], (req: AccessMonitoringRuleNameIn) => {
        st.deleteAccessMonitoringRule(String(req?.name ?? ''));
        return {};
      }),
      ListAccessMonitoringRules: amr('ListAccessMonitoringRules', ['read', 'list'], (req: ListAccessMonitoringRulesIn) => list(req)),
      ListAccessMonitoringRulesWithFilter: amr('ListAccessMonitoringRulesWithFilter', ['read', 'list'], (req: ListAccessMonitoringRulesIn) =>
        list(req, {
          subjects: [...(req?.subjects ?? [])],
          notificationName: String(req?.notification_name ?? ''),
          automaticReviewName: String(req?.automatic_review_name ?? ''),
        }),
      ),
    });
  }

  /**
   * teleport.accesslist.v1.AccessListService: the two RPCs review reminders use. Always
   * registered so calls are recorded; "without" it every RPC answers UNIMPLEMENTED as grpc-go does
   * for an unknown service. RBAC: read+list on `access_list` to list, read for the owners.
   */
  private registerAccessLists(grpcObject: grpc.GrpcObject): void {
    const pkg = ((grpcObject['teleport'] as grpc.GrpcObject)['accesslist'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject;
    const svc = (pkg['AccessListService'] as grpc.ServiceClientConstructor).service;
    const call = <Req>(method: string, verbs: string[], fn: (req: Req) => unknown): grpc.handleUnaryCall<unknown, unknown> =>
      this.unary(`AccessListService.${method}`, (caller, req: Req) => {
        if (!this.accessListsImplemented) throw notImplemented('unknown service teleport.accesslist.v1.AccessListService');
        this.requireRule(caller, 'access_list', verbs);
        return fn(req);
      });
    this.server.addService(svc, {
      ListAccessLists: call('ListAccessLists', ['read', 'list'], (req: { page_size?: number; next_token?: string } | null) => {
        const page = this.accessLists.page(Number(req?.page_size ?? 0), String(req?.next_token ?? ''));
        return { access_lists: page.lists.map(wire.accessList), next_token: page.nextToken };
      }),
      GetAccessListOwners: call('GetAccessListOwners', ['read'], (req: { access_list?: string } | null) => {
        if (!this.accessListOwnersImplemented) throw notImplemented('unknown method GetAccessListOwners for service teleport.accesslist.v1.AccessListService');
        const owners = this.accessLists.owners(String(req?.access_list ?? ''));
        return { owners: owners.map((name) => ({ name, description: '', ineligible_status: 'INELIGIBLE_STATUS_ELIGIBLE', membership_kind: 'MEMBERSHIP_KIND_USER' })) };
      }),
    });
  }

  /** Listing roles needs both verbs on `role`, as upstream checks it. */
  private requireRoleListing(caller: string): void {
    this.requireUser(caller);
    if (!this.state.can(caller, 'role', 'list') || !this.state.can(caller, 'role', 'read')) {
      throw accessDenied(`access denied to perform action "list" on "role"`);
    }
  }

  /** Requests the caller may see: everything with access_request list+read, else only their own. */
  private visibleRequests(caller: string, filter: AccessRequestFilterIn | null | undefined): RequestRecord[] {
    this.requireUser(caller);
    const f = { id: filter?.ID ?? '', user: filter?.User ?? '', state: stateOf(filter?.State) };
    const all = this.state.listRequests(f);
    if (this.state.can(caller, 'access_request', 'list') && this.state.can(caller, 'access_request', 'read')) return all;
    return all.filter((r) => r.user === caller);
  }

  private watch(caller: string, req: WatchRequestIn, call: grpc.ServerWritableStream<unknown, unknown>, rec: RecordedRpc): void {
    if (this.faults.streamsRefused()) throw new FakeTeleportError('ConnectionProblem', 'watch streams are temporarily refused (fault injection)');
    this.requireUser(caller);
    const unsupported = new Set(this.accessMonitoringRulesImplemented ? [] : [ACCESS_MONITORING_RULE_KIND]);
    const accepted = acceptWatchKinds(this.state, caller, req, unsupported);

    const listener = (ev: ClusterEvent): void => {
      if (watchMatches(accepted, ev)) call.write(wireEvent(ev));
    };
    let ended = false;
    const watch: OpenWatch = {
      call,
      caller,
      end: (code, message) => {
        if (ended) return;
        cleanup();
        rec.code = code;
        rec.details = message;
        call.emit('error', { code, details: message });
      },
    };
    const cleanup = (): void => {
      ended = true;
      this.state.off('event', listener);
      this.watches.delete(watch);
      this.state.emit('change');
    };
    call.on('cancelled', () => {
      if (!ended) {
        rec.code = grpc.status.CANCELLED;
        cleanup();
      }
    });
    call.on('error', () => {
      if (!ended) cleanup();
    });
    // INIT first, and subscribe in the same tick so nothing between the two is lost (or replayed).
    call.write(initEvent(accepted));
    this.state.on('event', listener);
    this.watches.add(watch);
    this.state.emit('change');
  }
}
