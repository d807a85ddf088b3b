import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { PluginError, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { TeleportChannelCredentials, assertConnectorHook } from './credentials.js';
import { classifyDialError, grpcTarget, probeTeleport } from './dial.js';
import { fromGrpcError } from './grpcError.js';
import { assertIdentityValid, loadIdentity, type Identity } from './identity.js';
import { IdentitySource } from './identitySource.js';
import {
  ACCESS_MONITORING_RULE_KIND,
  fromAccessMonitoringRuleFilter,
  fromFilter,
  fromPluginDataUpdate,
  fromReviewSubmission,
  fromStateChange,
  fromWatchFilter,
  newAccessRequest,
  toAccessList,
  toAccessMonitoringRule,
  toAccessRequest,
  toClusterInfo,
  toPluginData,
  toPluginDataEntries,
  toRoleInfo,
  toUserInfo,
} from './mapping.js';
import { ACCESS_LIST_SERVICE, AMR_SERVICE, AUTH_SERVICE, USERS_SERVICE, loadTeleportProto } from './proto.js';
import { compareSemver, parseSemver } from './semver.js';
import type {
  AccessList,
  AccessMonitoringRule,
  AccessMonitoringRuleFilter,
  AccessRequest,
  AccessRequestFilter,
  ClusterInfo,
  PluginData,
  PluginDataUpdate,
  ReviewSubmission,
  RoleInfo,
  StateChange,
  TeleportClient,
  TeleportConnectionConfig,
  UserInfo,
  WatchOptions,
  WatchStream,
} from './types.js';
import { GrpcWatchStream } from './watchStream.js';
import type {
  WireGetAccessListOwnersResponse,
  WireListAccessListsResponse,
  WireAccessRequest,
  WireEvent,
  WireListAccessMonitoringRulesResponse,
  WireListAccessRequestsResponse,
  WireListRolesResponse,
  WireListUsersResponse,
  WirePingResponse,
  WirePluginDataSeq,
  WireRole,
  WireUser,
} from './wire.js';

export interface TeleportClientOptions {
  /** Deadline of each unary call (default 30 000 ms). */
  callTimeoutMs?: number;
  /**
   * HTTP/2 keepalive ping interval (default 90 000 ms). Teleport's auth server enforces a
   * minimum of 60 s between client pings and answers faster ones with GOAWAY too_many_pings,
   * so values below 60 000 are raised to 60 000.
   */
  keepaliveTimeMs?: number;
  /** Aborts the start-up (dial and Ping). */
  signal?: AbortSignal;
  /** ListAccessRequests page size (default 500). */
  listPageSize?: number;
}

/** What createTeleportClient returns: the TeleportClient contract plus connection details. */
export interface ConnectedTeleportClient extends TeleportClient {
  /** Cluster info from the start-up Ping. */
  readonly cluster: ClusterInfo;
  /** The Teleport user and cluster of the identity currently used for new connections. */
  currentIdentity(): { username: string; clusterName: string; validUntil: Date; source: string };
  /** Re-reads the identity file now (refresh_identity); true when a new identity was taken. */
  refreshIdentity(): Promise<boolean>;
  /** Opens a fresh connection for new calls; calls and watches in flight finish on the old one. */
  reconnect(): void;
  /** Always present on the real client (optional on TeleportClient only for test doubles). */
  listAccessMonitoringRules(filter: AccessMonitoringRuleFilter, signal?: AbortSignal): Promise<AccessMonitoringRule[]>;
}

/** The oldest Teleport the Go plugins accept (they require ServerVersion >= 6.1.0-beta.1). */
const MIN_SERVER_VERSION = '6.1.0-beta.1';
const DEFAULT_CALL_TIMEOUT_MS = 30_000;
const DEFAULT_DIAL_TIMEOUT_MS = 30_000;
const DEFAULT_KEEPALIVE_MS = 90_000;
const MIN_KEEPALIVE_MS = 60_000;
const LIST_PAGE_SIZE = 500;
/** ListRoles page size. */
const ROLES_PAGE_SIZE = 200;
/** ListUsers page size: users carry traits, so pages stay well under the message limit. */
const USERS_PAGE_SIZE = 200;
/** ListAccessMonitoringRulesWithFilter page size: what the Go plugins ask for. */
const RULES_PAGE_SIZE = 1000;

/**
 * grpc-js channel options of every connection. The keepalive interval is raised to at least 60 s
 * whatever the caller asks for: auth's keepalive policy (MinTime 60 s) answers more frequent
 * pings with GOAWAY too_many_pings, which would drop the watch stream.
 */
export function channelOptions(keepaliveTimeMs: number = DEFAULT_KEEPALIVE_MS): grpc.ChannelOptions {
  return {
    'grpc.keepalive_time_ms': Math.max(MIN_KEEPALIVE_MS, keepaliveTimeMs),
    'grpc.keepalive_timeout_ms': 20_000,
    'grpc.keepalive_permit_without_calls': 1,
    // Each connection owns its subchannels, so reconnect() really dials again.
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': 500,
    'grpc.max_reconnect_backoff_ms': 5_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.primary_user_agent': 'teleport-plugin',
  };
}

/**
 * Connects to Teleport: loads and checks the identity, probes the address once (for precise
 * errors), then Pings over gRPC and refuses servers older than 6.1.0.
 */
export async function createTeleportClient(config: TeleportConnectionConfig, logger: Logger, options: TeleportClientOptions = {}): Promise<ConnectedTeleportClient> {
  assertConnectorHook();
  const log = logger.child({ component: 'teleport' });
  const identity = await loadIdentity(config);
  assertIdentityValid(identity);
  const dialTimeoutMs = config.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  options.signal?.throwIfAborted();
  await probeTeleport(config.addr, identity, dialTimeoutMs);
  options.signal?.throwIfAborted();

  const source = new IdentitySource(config, log, identity);
  const client = new GrpcTeleportClient(config, log, source, options, dialTimeoutMs);
  try {
    await client.connect(options.signal);
  } catch (err) {
    await client.close();
    throw err;
  }
  await source.start();
  return client;
}

interface Connection {
  client: grpc.Client;
  id: number;
}

type ServiceName = typeof AUTH_SERVICE | typeof USERS_SERVICE | typeof AMR_SERVICE | typeof ACCESS_LIST_SERVICE;

class GrpcTeleportClient implements ConnectedTeleportClient {
  private conn: Connection;
  private connCounter = 0;
  private readonly credentials: TeleportChannelCredentials;
  private readonly services: Record<ServiceName, ServiceDefinition>;
  private readonly callTimeoutMs: number;
  private readonly keepaliveTimeMs: number;
  private readonly listPageSize: number;
  private readonly watches = new Set<GrpcWatchStream>();
  private readonly unsubscribe: () => void;
  /** The `version` header; undefined until the first Ping tells us the server's version. */
  private versionHeader: string | undefined;
  private lastDialError: PluginError | undefined;
  /** Remembered fallbacks for servers without the newer RPCs. */
  private listUnimplemented = false;
  private usersServiceUnimplemented = false;
  private listRolesUnimplemented = false;
  private closed = false;
  cluster!: ClusterInfo;

  constructor(
    private readonly config: TeleportConnectionConfig,
    private readonly logger: Logger,
    private readonly identities: IdentitySource,
    options: TeleportClientOptions,
    dialTimeoutMs: number,
  ) {
    const { definition } = loadTeleportProto();
    this.services = {
      [AUTH_SERVICE]: definition[AUTH_SERVICE] as ServiceDefinition,
      [USERS_SERVICE]: definition[USERS_SERVICE] as ServiceDefinition,
      [AMR_SERVICE]: definition[AMR_SERVICE] as ServiceDefinition,
      [ACCESS_LIST_SERVICE]: definition[ACCESS_LIST_SERVICE] as ServiceDefinition,
    };
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.listPageSize = Math.max(1, options.listPageSize ?? LIST_PAGE_SIZE);
    this.keepaliveTimeMs = options.keepaliveTimeMs ?? DEFAULT_KEEPALIVE_MS;
    this.credentials = new TeleportChannelCredentials(
      () => this.identities.current(),
      dialTimeoutMs,
      (outcome) => this.onDial(outcome),
    );
    this.conn = this.openConnection();
    // New certificates only reach the server through a new TLS handshake: after a refresh, new
    // calls go through a fresh connection, while streams in flight finish on the old one.
    this.unsubscribe = this.identities.onChange(() => this.reconnect());
  }

  async connect(signal?: AbortSignal): Promise<void> {
    this.cluster = await this.ping(signal);
    const server = parseSemver(this.cluster.serverVersion);
    if (!server || compareSemver(server, parseSemver(MIN_SERVER_VERSION)!) < 0) {
      throw new PluginError('SERVER_TOO_OLD', `Teleport at ${this.config.addr} runs version "${this.cluster.serverVersion}"; teleport-plugin needs Teleport 6.1.0 or newer`, {
        userFacing: true,
        details: { addr: this.config.addr, serverVersion: this.cluster.serverVersion },
      });
    }
    // The `version` header is read by auth as the CLIENT's Teleport version: recent servers reject
    // versions older than their major-1 or that are not semver (PERMISSION_DENIED, and they drop
    // the connection), and use it to downgrade resources for old clients. Our own 0.x package
    // version would be rejected. We Ping without it (an absent header is always accepted), then
    // send the server's own version, which is valid semver and never too old for that server.
    this.versionHeader = this.cluster.serverVersion.replace(/^v/, '');
    const id = this.identities.current();
    this.logger.info('Connected to Teleport', {
      addr: this.config.addr,
      cluster: this.cluster.clusterName,
      serverVersion: this.cluster.serverVersion,
      user: id.username,
      certValidUntil: id.notAfter.toISOString(),
    });
  }

  // ---- TeleportClient ------------------------------------------------------------------------

  async ping(signal?: AbortSignal): Promise<ClusterInfo> {
    const res = await this.unary<WirePingResponse>(AUTH_SERVICE, 'Ping', {}, signal, { withVersion: false });
    return toClusterInfo(res);
  }

  watchAccessRequests(options: WatchOptions = {}): WatchStream {
    const requests = { Kind: 'access_request', Filter: fromWatchFilter(options.filter) };
    // Partial success only with rules: a plugin that may not read rules (or a server without
    // them) must still get its access requests, while the plain watch stays exactly as before.
    const request = options.accessMonitoringRules ? { Kinds: [requests, { Kind: ACCESS_MONITORING_RULE_KIND }], AllowPartialSuccess: true } : { Kinds: [requests] };
    const def = this.method(AUTH_SERVICE, 'WatchEvents');
    const call = this.conn.client.makeServerStreamRequest<object, WireEvent>(
      def.path,
      def.requestSerialize,
      def.responseDeserialize as (buf: Buffer) => WireEvent,
      request,
      this.metadata(true),
      {},
    );
    const stream: GrpcWatchStream = new GrpcWatchStream(
      call,
      () => this.lastDialError,
      () => this.watches.delete(stream),
      options.signal,
    );
    this.watches.add(stream);
    return stream;
  }

  async listAccessRequests(filter?: AccessRequestFilter, signal?: AbortSignal): Promise<AccessRequest[]> {
    if (!this.listUnimplemented) {
      try {
        return await this.listPaged(filter, signal);
      } catch (err) {
        if (!isPluginError(err, 'NOT_IMPLEMENTED')) throw err;
        // Servers before ListAccessRequests (v15.1 and older) only have the streaming RPC.
        this.listUnimplemented = true;
        this.logger.debug('ListAccessRequests is not implemented by the server; using GetAccessRequestsV2');
      }
    }
    const wire = await this.collect<WireAccessRequest>(AUTH_SERVICE, 'GetAccessRequestsV2', fromFilter(filter), signal);
    return wire.map(toAccessRequest);
  }

  async getAccessRequest(id: string, signal?: AbortSignal): Promise<AccessRequest | undefined> {
    const found = await this.listAccessRequests({ id }, signal);
    return found.find((r) => r.id === id);
  }

  async createAccessRequest(request: { user: string; roles: string[]; reason?: string; suggestedReviewers?: string[] }, signal?: AbortSignal): Promise<AccessRequest> {
    const wire = await this.unary<WireAccessRequest>(AUTH_SERVICE, 'CreateAccessRequestV2', newAccessRequest(randomUUID(), request), signal);
    return toAccessRequest(wire);
  }

  async deleteAccessRequest(id: string, signal?: AbortSignal): Promise<void> {
    await this.unary(AUTH_SERVICE, 'DeleteAccessRequest', { ID: id }, signal);
  }

  async submitAccessReview(requestId: string, review: ReviewSubmission, signal?: AbortSignal): Promise<AccessRequest> {
    const wire = await this.unary<WireAccessRequest>(AUTH_SERVICE, 'SubmitAccessReview', fromReviewSubmission(requestId, review), signal);
    return toAccessRequest(wire);
  }

  async setAccessRequestState(requestId: string, change: StateChange, signal?: AbortSignal): Promise<void> {
    await this.unary(AUTH_SERVICE, 'SetAccessRequestState', fromStateChange(requestId, change), signal);
  }

  async getPluginData(resource: string, plugin: string, options: { kind?: string; signal?: AbortSignal } = {}): Promise<PluginData | undefined> {
    const wire = await this.unary<WirePluginDataSeq>(AUTH_SERVICE, 'GetPluginData', { Kind: options.kind ?? 'access_request', Resource: resource, Plugin: plugin }, options.signal);
    return toPluginData(wire, plugin);
  }

  async listPluginData(plugin: string, options: { kind?: string; signal?: AbortSignal } = {}): Promise<Array<{ resource: string; data: PluginData }>> {
    // Resource "" asks for every entry of this kind; Teleport filters by plugin server-side
    // (lib/services/local/plugin_data.go getPluginData).
    const wire = await this.unary<WirePluginDataSeq>(AUTH_SERVICE, 'GetPluginData', { Kind: options.kind ?? 'access_request', Resource: '', Plugin: plugin }, options.signal);
    return toPluginDataEntries(wire, plugin);
  }

  async updatePluginData(update: PluginDataUpdate, signal?: AbortSignal): Promise<void> {
    await this.unary(AUTH_SERVICE, 'UpdatePluginData', fromPluginDataUpdate(update), signal);
  }

  async getRole(name: string, signal?: AbortSignal): Promise<RoleInfo> {
    return toRoleInfo(await this.unary<WireRole>(AUTH_SERVICE, 'GetRole', { Name: name }, signal));
  }

  async listRoles(signal?: AbortSignal): Promise<RoleInfo[]> {
    if (!this.listRolesUnimplemented) {
      try {
        const out: RoleInfo[] = [];
        let startKey = '';
        for (;;) {
          const page = await this.unary<WireListRolesResponse>(AUTH_SERVICE, 'ListRoles', { Limit: ROLES_PAGE_SIZE, StartKey: startKey }, signal);
          out.push(...page.Roles.map(toRoleInfo));
          // A server that hands back the key it was given would loop forever; stop instead.
          if (!page.NextKey || page.NextKey === startKey) return out;
          startKey = page.NextKey;
        }
      } catch (err) {
        if (!isPluginError(err, 'NOT_IMPLEMENTED')) throw err;
        this.listRolesUnimplemented = true;
        this.logger.debug('ListRoles is not implemented by the server; using GetRoles');
      }
    }
    const all = await this.unary<{ Roles: WireRole[] }>(AUTH_SERVICE, 'GetRoles', {}, signal);
    return all.Roles.map(toRoleInfo);
  }

  async getUser(name: string, signal?: AbortSignal): Promise<UserInfo> {
    if (!this.usersServiceUnimplemented) {
      try {
        const res = await this.unary<{ user: WireUser | null }>(USERS_SERVICE, 'GetUser', { name }, signal);
        if (!res.user) throw new PluginError('NOT_FOUND', `GetUser: user "${name}" not found`);
        return toUserInfo(res.user);
      } catch (err) {
        if (!isPluginError(err, 'NOT_IMPLEMENTED')) throw err;
        // teleport.users.v1 appeared in v15; older servers only have the legacy RPC.
        this.usersServiceUnimplemented = true;
        this.logger.debug('UsersService is not implemented by the server; using the legacy GetUser');
      }
    }
    return toUserInfo(await this.unary<WireUser>(AUTH_SERVICE, 'GetUser', { Name: name, WithSecrets: false }, signal));
  }

  async listUsers(signal?: AbortSignal): Promise<UserInfo[]> {
    const out: UserInfo[] = [];
    let pageToken = '';
    for (;;) {
      const page = await this.unary<WireListUsersResponse>(USERS_SERVICE, 'ListUsers', { page_size: USERS_PAGE_SIZE, page_token: pageToken, with_secrets: false }, signal);
      out.push(...page.users.map(toUserInfo));
      // A server that hands back the token it was given would loop forever; stop instead.
      if (!page.next_page_token || page.next_page_token === pageToken) return out;
      pageToken = page.next_page_token;
    }
  }

  async listAccessMonitoringRules(filter: AccessMonitoringRuleFilter, signal?: AbortSignal): Promise<AccessMonitoringRule[]> {
    const out: AccessMonitoringRule[] = [];
    let pageToken = '';
    for (;;) {
      const page = await this.unary<WireListAccessMonitoringRulesResponse>(
        AMR_SERVICE,
        'ListAccessMonitoringRulesWithFilter',
        fromAccessMonitoringRuleFilter(filter, RULES_PAGE_SIZE, pageToken),
        signal,
      );
      out.push(...page.rules.map(toAccessMonitoringRule));
      // A server that hands back the token it was given would loop forever; stop instead.
      if (!page.next_page_token || page.next_page_token === pageToken) return out;
      pageToken = page.next_page_token;
    }
  }

  async listAccessLists(signal?: AbortSignal): Promise<AccessList[]> {
    const out: AccessList[] = [];
    let token = '';
    for (;;) {
      // Page size 0 = the server's default, as the Go plugin asks.
      const page = await this.unary<WireListAccessListsResponse>(ACCESS_LIST_SERVICE, 'ListAccessLists', { page_size: 0, next_token: token }, signal);
      out.push(...page.access_lists.map(toAccessList));
      // A server that hands back the token it was given would loop forever; stop instead.
      if (!page.next_token || page.next_token === token) return out;
      token = page.next_token;
    }
  }

  async getAccessListOwners(name: string, signal?: AbortSignal): Promise<string[]> {
    const res = await this.unary<WireGetAccessListOwnersResponse>(ACCESS_LIST_SERVICE, 'GetAccessListOwners', { access_list: name }, signal);
    return [...new Set(res.owners.map((o) => o.name).filter(Boolean))];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.identities.stop();
    for (const watch of [...this.watches]) watch.close();
    this.conn.client.close();
  }

  // ---- connection management -----------------------------------------------------------------

  currentIdentity(): { username: string; clusterName: string; validUntil: Date; source: string } {
    const id = this.identities.current();
    return { username: id.username, clusterName: id.clusterName, validUntil: id.notAfter, source: id.source };
  }

  refreshIdentity(): Promise<boolean> {
    return this.identities.checkNow();
  }

  reconnect(): void {
    if (this.closed) return;
    const old = this.conn;
    this.conn = this.openConnection();
    // grpc-js close() lets started calls (and watch streams) finish on the old connection.
    old.client.close();
    this.logger.debug('Opened a new Teleport connection', { connection: this.conn.id });
  }

  private openConnection(): Connection {
    const client = new grpc.Client(grpcTarget(this.config.addr), this.credentials, channelOptions(this.keepaliveTimeMs));
    return { client, id: ++this.connCounter };
  }

  private onDial(outcome: { ok: true; identity: Identity } | { ok: false; error: unknown; identity: Identity }): void {
    if (outcome.ok) {
      this.lastDialError = undefined;
      return;
    }
    const classified = classifyDialError(outcome.error, this.config.addr, outcome.identity);
    if (this.lastDialError?.message !== classified.message) {
      this.logger.warn('Cannot connect to Teleport', { code: classified.code, error: classified.message });
    }
    this.lastDialError = classified;
  }

  // ---- calls ---------------------------------------------------------------------------------

  private method(service: ServiceName, name: string): MethodDefinition<object, object> {
    const def = this.services[service][name];
    if (!def) throw new Error(`${service}/${name} is not in the loaded proto`);
    return def as MethodDefinition<object, object>;
  }

  private metadata(withVersion: boolean): grpc.Metadata {
    const md = new grpc.Metadata();
    if (withVersion && this.versionHeader) md.set('version', this.versionHeader);
    return md;
  }

  private unary<T>(service: ServiceName, name: string, request: object, signal?: AbortSignal, opts: { withVersion?: boolean } = {}): Promise<T> {
    const def = this.method(service, name);
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(new PluginError('SHUTDOWN', `${name}: the Teleport client is closed`));
      if (signal?.aborted) return reject(signal.reason);
      const call = this.conn.client.makeUnaryRequest<object, T>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize as (buf: Buffer) => T,
        request,
        this.metadata(opts.withVersion ?? true),
        { deadline: Date.now() + this.callTimeoutMs },
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) return reject(signal.reason);
          if (err) return reject(fromGrpcError(err, name, this.lastDialError));
          resolve(value as T);
        },
      );
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private collect<T>(service: ServiceName, name: string, request: object, signal?: AbortSignal): Promise<T[]> {
    const def = this.method(service, name);
    return new Promise<T[]>((resolve, reject) => {
      if (this.closed) return reject(new PluginError('SHUTDOWN', `${name}: the Teleport client is closed`));
      if (signal?.aborted) return reject(signal.reason);
      const items: T[] = [];
      const call = this.conn.client.makeServerStreamRequest<object, T>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize as (buf: Buffer) => T,
        request,
        this.metadata(true),
        { deadline: Date.now() + this.callTimeoutMs },
      );
      const onAbort = (): void => call.cancel();
      signal?.addEventListener('abort', onAbort, { once: true });
      call.on('data', (item: T) => items.push(item));
      call.on('error', (err: Error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(signal?.aborted ? signal.reason : fromGrpcError(err, name, this.lastDialError));
      });
      call.on('end', () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(items);
      });
    });
  }

  private async listPaged(filter: AccessRequestFilter | undefined, signal?: AbortSignal): Promise<AccessRequest[]> {
    const out: AccessRequest[] = [];
    let startKey = '';
    for (;;) {
      const page = await this.unary<WireListAccessRequestsResponse>(
        AUTH_SERVICE,
        'ListAccessRequests',
        { Filter: fromFilter(filter), Limit: this.listPageSize, StartKey: startKey },
        signal,
      );
      out.push(...page.AccessRequests.map(toAccessRequest));
      // A server that hands back the key it was given would loop forever; stop instead.
      if (!page.NextKey || page.NextKey === startKey) return out;
      startKey = page.NextKey;
    }
  }
}
