export { HttpFake } from '@teleport-plugin/core/testing';
export type { Fault, FakeReply, RecordedCall, RouteHandler } from '@teleport-plugin/core/testing';
export { TestPki, API_DOMAIN, generateKeyMaterial } from './pki.js';
export type { KeyType, KeyMaterial, CertAuthority, SshAuthority, CertAndKey, UserIdentity, UserIdentityOptions } from './pki.js';
export { writeIdentityFile, writeTlsTrio } from './identity-file.js';
export type { WriteIdentityOptions, TlsTrioPaths } from './identity-file.js';
export { buildSshCertificate, sshPublicKeyLine, sshPublicKeyBlob } from './ssh-cert.js';
export { FakeTeleport } from './fake-teleport.js';
export { demoCluster } from './demo-cluster.js';
export type {
  FakeTeleportOptions,
  FakeTeleportAdmin,
  RecordedRpc,
  AccessRequestSnapshot,
  ReviewSnapshot,
  RoleOptions,
  PluginUserOptions,
  CreateRequestOptions,
  Truthy,
} from './fake-teleport.js';
export type { AuditEntry, RequestState, Threshold, Rule, Traits, ResourceIdSpec, ClusterState, ClusterEvent } from './cluster-state.js';
export type { AccessMonitoringRuleInput } from './access-monitoring-rule-input.js';
export type { AccessMonitoringRuleRecord } from './validate-access-monitoring-rule.js';
export { FaultInjector } from './faults.js';
export { FakeTeleportError } from './teleport-error.js';
export type { TraceKind } from './teleport-error.js';
export { startTlsRoutingProxy, authAlpnFor, decodeAuthAlpn, ALPN_AUTH_PREFIX } from './proxy.js';
export type { TlsRoutingProxy, TlsRoutingProxyOptions, RouteDecision, RouteKind } from './proxy.js';
export { parseClientHello } from './client-hello.js';
export type { ClientHelloResult } from './client-hello.js';
export { rawTeleportClient } from './raw-client.js';
export type { RawTeleportClient } from './raw-client.js';
export { GO_ZERO_TIME } from './wire.js';
export type { AccessListInput, AccessListRecord } from './access-lists.js';
export { startHarness } from './harness.js';
export type { Harness, HarnessOptions } from './harness.js';
export { accessRequestFixture, accessReviewFixture } from './fixtures.js';
