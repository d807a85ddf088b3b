import { defineAdapter, parseConfig } from '@teleport-plugin/core';
import type { AccessRequest, AccessReview, Adapter, CaptureLogger, ClusterInfo, PluginData } from '@teleport-plugin/core';
import { MemoryTeleport, makeAccessRequest, startAdapterTest } from '@teleport-plugin/core/testing';
import type { AdapterTest, AdapterTestOptions, RecordedCall } from '@teleport-plugin/core/testing';
import { createPagerDutyHandlers, pagerDutyAdapter } from '../../src/adapter.js';
import type { ClientTuning } from '../../src/adapter.js';
import { parsePagerDutyConfig } from '../../src/config.js';
import type { PagerDutyConfig } from '../../src/config.js';
import { FakePagerDuty } from '../../src/testing/index.js';
import type { FakePdEscalationPolicy, FakePdIncident, FakePdService, FakePdUser } from '../../src/testing/index.js';

/**
 * What the PagerDuty tests share. Doubles come from core's testing kit only: the adapter runs in
 * the real runtime (watcher, dispatcher, ledger, reconciliation) on a MemoryTeleport
 * (`startAdapterTest`), and setup()/check() get core's `adapterContext`. PagerDuty is the fake
 * REST API on a real HTTP server.
 */

/** The client tuned for tests: short timeouts and backoff (pdjs's own 429 waits too). */
export const TUNING: ClientTuning = { timeoutMs: 2_000, rateLimitWaitMs: 20, policy: { baseMs: 5, capMs: 20 } };

export function pdConfig(apiEndpoint: string, extra = ''): PagerDutyConfig {
  const text = `[teleport]\naddr = "127.0.0.1:3025"\nidentity = "/var/lib/teleport/plugins/identity"\n\n[pagerduty]\napi_key = "pd-test-key"\nuser_email = "bot@example.com"\napi_endpoint = "${apiEndpoint}"\n${extra}`;
  const loaded = parseConfig(text, 'test.toml');
  return parsePagerDutyConfig(loaded.section('pagerduty'));
}

/**
 * The adapter as the runtime loads it, except that setup() builds the handlers with a tuned
 * client and skips the start-up key probe (setup itself has its own test).
 */
export function tunedAdapter(tuning: ClientTuning = TUNING): Adapter<PagerDutyConfig> {
  return defineAdapter<PagerDutyConfig>({ ...pagerDutyAdapter, setup: async (ctx) => createPagerDutyHandlers(ctx, tuning) });
}

/** A cluster with a web proxy, so incidents carry the request's link. */
export const CLUSTER: ClusterInfo = {
  clusterName: 'test.example.com',
  serverVersion: '17.0.0',
  advancedAccessWorkflows: true,
  proxyPublicAddr: 'teleport.example.com:443',
  webProxyUrl: 'https://teleport.example.com',
};

export function memoryTeleport(): MemoryTeleport {
  const teleport = new MemoryTeleport();
  teleport.cluster = CLUSTER;
  return teleport;
}

export function makeRequest(partial: Partial<AccessRequest> = {}): AccessRequest {
  return makeAccessRequest({
    id: 'req-1',
    roles: ['editor', 'auditor'],
    created: new Date(Date.UTC(2026, 10, 25, 9, 5, 0)),
    requestReason: 'deploy hotfix',
    ...partial,
  });
}

export function makeReview(partial: Partial<AccessReview> = {}): AccessReview {
  return {
    author: 'bob',
    roles: [],
    proposedState: 'APPROVED',
    reason: 'looks fine',
    created: new Date(Date.UTC(2026, 10, 25, 10, 0, 0)),
    annotations: {},
    assumeStartTime: undefined,
    ...partial,
  };
}

/** A request with the notify annotation (`access requests`) and the on-call services annotation. */
export function annotated(
  services: string[] = ['Production', 'Databases', 'Databases'],
  notify: string[] = ['access requests'],
  partial: Partial<AccessRequest> = {},
): AccessRequest {
  return makeRequest({ systemAnnotations: { pagerduty_notify_service: notify, pagerduty_services: services }, ...partial });
}

export function incidentKeyOf(requestId: string): string {
  return `teleport-access-request/${requestId}`;
}

export function infoMessages(logger: CaptureLogger, requestId?: string): string[] {
  return logger.entries.filter((e) => e.level === 'info' && (requestId === undefined || e.fields['requestId'] === requestId)).map((e) => e.message);
}

/** Everything logged at warn or above (a test that expects none prints these). */
export function problems(logger: CaptureLogger): string[] {
  return logger.entries.filter((e) => e.level === 'warn' || e.level === 'error').map((e) => `${e.level}: ${e.message} ${JSON.stringify(e.fields)}`);
}

/** A fake PagerDuty with the services, policies and users most tests use. */
export interface PdFixture {
  pd: FakePagerDuty;
  notify: FakePdService;
  databases: FakePdService;
  production: FakePdService;
  dbPolicy: FakePdEscalationPolicy;
  prodPolicy: FakePdEscalationPolicy;
  alice: FakePdUser;
}

export async function startFakePagerDuty(): Promise<PdFixture> {
  const pd = new FakePagerDuty({ apiKey: 'pd-test-key', maxLimit: 2 });
  await pd.start();
  pd.addUser('bot@example.com', 'Teleport Bot');
  const notify = pd.addService('Access Requests');
  const dbPolicy = pd.addEscalationPolicy('Databases on-call');
  const prodPolicy = pd.addEscalationPolicy('Production on-call');
  const databases = pd.addService('Databases', dbPolicy);
  const production = pd.addService('Production', prodPolicy);
  const alice = pd.addUser('Alice@Example.com', 'Alice');
  return { pd, notify, databases, production, dbPolicy, prodPolicy, alice };
}

export interface PdWorld extends PdFixture {
  t: AdapterTest;
  teleport: MemoryTeleport;
  /** This adapter's plugin data for a request. */
  data(requestId: string): PluginData | undefined;
  /** The incidents opened for a request (by incident key). */
  incidentsOf(requestId: string): FakePdIncident[];
  /** A second runtime over the same Teleport (a restart, or a replica); closed with the world. */
  restart(options?: AdapterTestOptions['runtime']): Promise<AdapterTest>;
  close(): Promise<void>;
}

export interface WorldOptions {
  extraConfig?: string;
  tuning?: ClientTuning;
  /** Prepare Teleport and PagerDuty before the runtime starts (plugin data left by a crash...). */
  before?(fixture: PdFixture, teleport: MemoryTeleport): void | Promise<void>;
  runtime?: AdapterTestOptions['runtime'];
}

/** The adapter in the real runtime on a MemoryTeleport, against a fresh fake PagerDuty. */
export async function pdWorld(options: WorldOptions = {}): Promise<PdWorld> {
  const fixture = await startFakePagerDuty();
  const teleport = memoryTeleport();
  const runtimes: AdapterTest[] = [];
  const config = pdConfig(fixture.pd.url, options.extraConfig);
  const adapter = tunedAdapter(options.tuning);
  const start = async (runtime?: AdapterTestOptions['runtime']): Promise<AdapterTest> => {
    const t = await startAdapterTest(adapter, config, { teleport, ...(runtime ? { runtime } : {}) });
    runtimes.push(t);
    // The start-up reconciliation runs beside the watch: let it finish, and what it dispatched.
    await t.runtime.reconcile();
    await t.settled();
    return t;
  };
  try {
    await options.before?.(fixture, teleport);
    const t = await start(options.runtime);
    return {
      ...fixture,
      t,
      teleport,
      data: (requestId) => teleport.pluginData(requestId, 'pagerduty'),
      incidentsOf: (requestId) => fixture.pd.incidents.filter((i) => i.incidentKey === incidentKeyOf(requestId)),
      restart: (runtime) => start(runtime),
      close: async () => {
        for (const r of runtimes.splice(0).reverse()) await r.runtime.stop(2_000);
        await teleport.close();
        await fixture.pd.close();
      },
    };
  } catch (err) {
    for (const r of runtimes) await r.runtime.stop(2_000);
    await fixture.pd.close();
    throw err;
  }
}

/** Runs `fn` once, right after the fake answered the first call matching `method` and `path`. */
export function afterCall(pd: FakePagerDuty, method: string, path: string | RegExp, fn: (call: RecordedCall) => void): void {
  const listener = (call: RecordedCall): void => {
    if (call.method !== method || !(typeof path === 'string' ? call.path === path : path.test(call.path))) return;
    pd.http.off('call', listener);
    fn(call);
  };
  pd.http.on('call', listener);
}
