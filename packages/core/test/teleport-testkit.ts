// @teleport-plugin/testkit depends on @teleport-plugin/core, so core cannot depend on it at build
// time (project references cannot be circular). Core's Teleport tests load the BUILT testkit at
// run time instead (`tsc -b` at the root builds it before any test runs) and describe the small
// part of its API they use here.

const here = new URL('.', import.meta.url); // packages/core/dist/test/
const testkitDist = new URL('../../../testkit/dist/src/', here);

export interface UserIdentityLike {
  user: string;
  privateKeyPem: string;
  tlsCertPem: string;
  sshCert: string;
  notBefore: Date;
  notAfter: Date;
}

export interface TestPkiLike {
  readonly clusterName: string;
  readonly authServer: { certPem: string; keyPem: string };
  issueUser(opts: { user: string; expired?: boolean; ttlMs?: number; keyType?: 'ecdsa' | 'rsa' }): Promise<UserIdentityLike>;
  hostCaPem(): string;
  identityFile(identity: UserIdentityLike, opts?: { proxyHost?: string }): string;
}

export interface PkiModule {
  TestPki: { create(opts?: { clusterName?: string; keyType?: 'ecdsa' | 'rsa' }): Promise<TestPkiLike> };
}

export async function loadPki(): Promise<PkiModule> {
  return (await import(new URL('pki.js', testkitDist).href)) as PkiModule;
}

export interface RecordedRpcLike {
  method: string;
  caller: string;
  request: unknown;
  metadata: Record<string, string>;
  code?: number;
  details?: string;
}

export interface AccessRequestSnapshotLike {
  id: string;
  user: string;
  state: string;
  reviews: Array<{ author: string; proposedState: string; reason: string }>;
}

/** The testkit's AccessMonitoringRuleInput. */
export interface AccessMonitoringRuleInputLike {
  name: string;
  subjects?: string[];
  condition: string;
  notification?: { name: string; recipients?: string[] };
  automaticReview?: { integration: string; decision: string; reason?: string };
  desiredState?: string;
  schedules?: Record<string, { timezone?: string; shifts: Array<{ weekday: string; start: string; end: string }> }>;
}

export interface FakeTeleportLike {
  readonly addr: string;
  readonly clusterName: string;
  readonly calls: RecordedRpcLike[];
  readonly pki: TestPkiLike;
  readonly openWatchCount: number;
  readonly faults: {
    dropWatchStreams(message?: string): number;
    failNext(method: string, n?: number, code?: number, message?: string): void;
    reset(): void;
  };
  readonly admin: {
    createRequest(opts: { user: string; roles: string[]; reason?: string; ttlMs?: number; suggestedReviewers?: string[] }): Promise<string>;
    review(id: string, opts: { author: string; state: 'APPROVED' | 'DENIED'; reason?: string }): Promise<AccessRequestSnapshotLike>;
    approve(id: string, opts?: { reason?: string; delegator?: string }): Promise<AccessRequestSnapshotLike>;
    deny(id: string, opts?: { reason?: string; delegator?: string }): Promise<AccessRequestSnapshotLike>;
    expire(id: string): Promise<void>;
    getRequest(id: string): AccessRequestSnapshotLike | undefined;
    pluginData(id: string, plugin: string, kind?: string): Record<string, string> | undefined;
    setPluginData(id: string, plugin: string, data: Record<string, string>, kind?: string): void;
    auditLog(): Array<{ type: string; requestId: string; state?: string; author?: string; delegator?: string; reason?: string }>;
    upsertAccessMonitoringRule(rule: AccessMonitoringRuleInputLike): unknown;
    deleteAccessMonitoringRule(name: string): void;
    listAccessMonitoringRules(): Array<{ name: string }>;
  };
  writeIdentityFile(dir: string, opts: { user: string; expired?: boolean; fileName?: string; keyType?: 'ecdsa' | 'rsa' }): Promise<string>;
  identityFile(opts: { user: string; expired?: boolean }): Promise<string>;
  writeTlsTrio(dir: string, opts: { user: string; fileBase?: string }): Promise<{ clientKey: string; clientCrt: string; rootCas: string }>;
  upsertRole(role: {
    name: string;
    allowLogins?: string[];
    requestRoles?: string[];
    reviewRoles?: string[];
    requestAnnotations?: Record<string, string[]>;
    suggestedReviewers?: string[];
  }): void;
  upsertUser(user: { name: string; roles: string[]; traits?: Record<string, string[]> }): void;
  addPluginUser(name?: string, opts?: { canReview?: boolean | string[]; canSetState?: boolean; readRolesAndUsers?: boolean; readAccessMonitoringRules?: boolean }): void;
  addRequester(
    name: string,
    opts?: { requestRoles?: string[]; traits?: Record<string, string[]>; requestAnnotations?: Record<string, string[]>; suggestedReviewers?: string[] },
  ): void;
  addReviewer(name: string, opts?: { reviewRoles?: string[] }): void;
  waitFor<T>(pred: () => T | Promise<T>, timeoutMs?: number, what?: string): Promise<NonNullable<T>>;
  readonly goaways: Array<{ reason: string; time: Date }>;
  startProxy(opts?: {
    tlsRouting?: boolean;
  }): Promise<{ addr: string; decisions: Array<{ route: string; alpn: string[]; sni: string | undefined; cluster?: string }>; close(): Promise<void> }>;
  close(): Promise<void>;
}

export interface FakeTeleportStatic {
  start(opts?: {
    clusterName?: string;
    version?: string;
    advancedWorkflows?: boolean;
    proxyPublicAddr?: string;
    listAccessRequestsImplemented?: boolean;
    usersServiceImplemented?: boolean;
    listRolesImplemented?: boolean;
    accessMonitoringRulesImplemented?: boolean;
    keepaliveMinTimeMs?: number;
  }): Promise<FakeTeleportLike>;
}

/** The testkit's bare grpc-js client (stock ALPN h2, no clamping), as a control in tests. */
export interface RawClientLike {
  call<T = unknown>(method: string, request: unknown): Promise<T>;
  close(): void;
}
export async function loadRawClient(): Promise<(tp: FakeTeleportLike, opts: { user?: string; channelOptions?: Record<string, number> }) => Promise<RawClientLike>> {
  const mod = (await import(new URL('raw-client.js', testkitDist).href)) as {
    rawTeleportClient: (tp: FakeTeleportLike, opts: { user?: string; channelOptions?: Record<string, number> }) => Promise<RawClientLike>;
  };
  return mod.rawTeleportClient;
}

export async function loadFakeTeleport(): Promise<FakeTeleportStatic> {
  const mod = (await import(new URL('fake-teleport.js', testkitDist).href)) as { FakeTeleport: FakeTeleportStatic };
  return mod.FakeTeleport;
}
