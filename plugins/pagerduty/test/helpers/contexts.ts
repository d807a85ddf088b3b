import { createCaptureLogger, parseConfig } from '@teleport-plugin/core';
import type {
  AccessRequest,
  AccessReview,
  AdapterContext,
  CaptureLogger,
  ClusterInfo,
  EventContext,
  PluginData,
  ReviewSubmission,
  TeleportActions,
} from '@teleport-plugin/core';
import { accessRequestFixture, accessReviewFixture } from '@teleport-plugin/testkit';
import { parsePagerDutyConfig } from '../../src/config.js';
import type { PagerDutyConfig } from '../../src/config.js';
import { pagerDutySnapshot } from '../../src/pluginData.js';

/**
 * Direct drivers for the adapter's handlers: an in-memory plugin data entry with the same
 * update semantics as the real store, a recording TeleportActions, and a capturing logger.
 * Runtime-level behaviour (watch, dispatch, real plugin data) is covered by the harness tests.
 */

export function pdConfig(apiEndpoint: string, extra = ''): PagerDutyConfig {
  const text = `[teleport]\naddr = "127.0.0.1:3025"\nidentity = "/var/lib/teleport/plugins/identity"\n\n[pagerduty]\napi_key = "pd-test-key"\nuser_email = "bot@example.com"\napi_endpoint = "${apiEndpoint}"\n${extra}`;
  const loaded = parseConfig(text, 'test.toml');
  return parsePagerDutyConfig(loaded.section('pagerduty'));
}

export function makeRequest(partial: Partial<AccessRequest> = {}): AccessRequest {
  return accessRequestFixture({
    roles: ['editor', 'auditor'],
    created: new Date(Date.UTC(2026, 10, 25, 9, 5, 0)),
    requestReason: 'deploy hotfix',
    ...partial,
  });
}

export function makeReview(partial: Partial<AccessReview> = {}): AccessReview {
  return accessReviewFixture({ reason: 'looks fine', created: new Date(Date.UTC(2026, 10, 25, 10, 0, 0)), ...partial });
}

export interface RecordingTeleport extends TeleportActions {
  readonly reviews: Array<{ requestId: string; review: ReviewSubmission }>;
  alreadyReviewed: boolean;
}

export function recordingTeleport(): RecordingTeleport {
  const reviews: Array<{ requestId: string; review: ReviewSubmission }> = [];
  const t: RecordingTeleport = {
    reviews,
    alreadyReviewed: false,
    async submitReview(requestId, review) {
      if (t.alreadyReviewed) return { outcome: 'already-reviewed' };
      reviews.push({ requestId, review });
      return { outcome: 'submitted', request: makeRequest({ id: requestId, state: 'APPROVED' }) };
    },
    async setState() {
      throw new Error('not used by pagerduty');
    },
    async getRequest() {
      return undefined;
    },
    async getUser(name) {
      return { name, roles: [], traits: {} };
    },
    async getRole(name) {
      return { name, allowLogins: [], requestRoles: [], requestAnnotations: {}, requestThresholds: [], requestSuggestedReviewers: [], reviewRoles: [] };
    },
  };
  return t;
}

export const CLUSTER: ClusterInfo = {
  clusterName: 'test.example.com',
  serverVersion: '17.0.0',
  advancedAccessWorkflows: true,
  proxyPublicAddr: 'teleport.example.com:443',
  webProxyUrl: 'https://teleport.example.com',
};

export interface TestAdapterContext extends AdapterContext<PagerDutyConfig> {
  readonly logger: CaptureLogger;
  readonly teleport: RecordingTeleport;
}

export function adapterContext(config: PagerDutyConfig, cluster: ClusterInfo = CLUSTER): TestAdapterContext {
  const logger = createCaptureLogger();
  return {
    name: 'pagerduty',
    config,
    logger,
    cluster,
    store: {
      plugin: 'pagerduty',
      get: async () => undefined,
      create: async () => true,
      update: async () => undefined,
    },
    teleport: recordingTeleport(),
    signal: new AbortController().signal,
    onClose: () => undefined,
    reportHealth: () => undefined,
  };
}

/** One request's plugin data, updated like the CAS store does (undefined = no change). */
export class MemoryEntry {
  data: PluginData | undefined;
  /** Make the next N updates fail (a lost Teleport write). */
  failUpdates = 0;
  constructor(request?: AccessRequest) {
    this.data = request ? pagerDutySnapshot(request) : undefined;
  }

  event(requestId: string, logger: CaptureLogger, attempt = 1, signal = AbortSignal.timeout(15_000)): EventContext {
    const snapshot = this.data ? { ...this.data } : undefined;
    return {
      requestId,
      logger: logger.child({ requestId }),
      signal,
      attempt,
      data: snapshot,
      updateData: async (modify) => {
        const next = modify(this.data ? { ...this.data } : undefined);
        if (next === undefined) return this.data;
        if (this.failUpdates > 0) {
          this.failUpdates -= 1;
          throw new Error('injected plugin data write failure');
        }
        this.data = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== ''));
        return this.data;
      },
    };
  }
}

export function infoMessages(logger: CaptureLogger): string[] {
  return logger.entries.filter((e) => e.level === 'info').map((e) => e.message);
}
