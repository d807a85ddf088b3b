import { after, afterEach, before } from 'node:test';
import {
  PluginError,
  createCaptureLogger,
  type AccessRequest,
  type AccessReview,
  type AdapterContext,
  type CaptureLogger,
  type EventContext,
  type PluginData,
  type PluginDataStore,
  type ReviewSubmission,
  type RoleInfo,
  type TeleportActions,
  type UserInfo,
} from '@teleport-plugin/core';
import {
  FakeSlack,
  FakeTeleport,
  accessRequestFixture,
  accessReviewFixture,
  startHarness,
  type FakeSlackMessage,
  type Harness,
} from '@teleport-plugin/testkit';
import slack from '../src/index.js';
import type { SlackConfig } from '../src/config.js';

export function makeRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return accessRequestFixture({
    user: 'requester@example.com',
    created: new Date('2026-11-25T10:00:00Z'),
    requestReason: 'need to fix prod',
    ...overrides,
  });
}

export function makeReview(author: string, state: 'APPROVED' | 'DENIED', reason = ''): AccessReview {
  return accessReviewFixture({ author, proposedState: state, reason, created: new Date('2026-11-25T10:05:00Z') });
}

/** Plugin data in memory with Teleport's compare-and-swap semantics. */
export class MemoryStore implements PluginDataStore {
  readonly plugin = 'slack';
  readonly entries = new Map<string, PluginData>();
  writes = 0;

  async get(requestId: string): Promise<PluginData | undefined> {
    await Promise.resolve();
    const v = this.entries.get(requestId);
    return v ? { ...v } : undefined;
  }

  async create(requestId: string, data: PluginData): Promise<boolean> {
    if (this.entries.has(requestId)) return false;
    this.entries.set(requestId, { ...data });
    return true;
  }

  async update(
    requestId: string,
    modify: (current: PluginData | undefined) => PluginData | undefined,
  ): Promise<PluginData | undefined> {
    for (;;) {
      const read = await this.get(requestId);
      // Yield so concurrent updaters interleave and really exercise the compare step.
      await new Promise((r) => setImmediate(r));
      const next = modify(read ? { ...read } : undefined);
      if (next === undefined) return read;
      const now = this.entries.get(requestId);
      if (JSON.stringify(now) !== JSON.stringify(read)) continue;
      this.entries.set(requestId, { ...next });
      this.writes += 1;
      return { ...next };
    }
  }
}

/** TeleportActions over in-memory users, roles and requests; records submitted reviews. */
export class FakeTeleportActions implements TeleportActions {
  readonly users = new Map<string, UserInfo>();
  readonly roles = new Map<string, RoleInfo>();
  readonly requests = new Map<string, AccessRequest>();
  readonly submitted: Array<{ requestId: string; review: ReviewSubmission }> = [];
  /** Next submitReview answers with this error. */
  failNextReview: Error | undefined;
  /** Every listUsers call fails with this error while set. */
  listUsersError: Error | undefined;
  listUsersCalls = 0;

  async submitReview(requestId: string, review: ReviewSubmission) {
    this.submitted.push({ requestId, review });
    const err = this.failNextReview;
    this.failNextReview = undefined;
    if (err) throw err;
    const request = this.requests.get(requestId);
    if (!request) throw new PluginError('NOT_FOUND', `access request ${requestId} not found`);
    if (request.reviews.some((r) => r.author === review.author)) return { outcome: 'already-reviewed' as const };
    request.reviews.push(makeReview(review.author ?? '', review.proposedState, review.reason));
    return { outcome: 'submitted' as const, request };
  }

  async setState(): Promise<void> {}

  async getRequest(requestId: string) {
    return this.requests.get(requestId);
  }

  async getUser(name: string): Promise<UserInfo> {
    const u = this.users.get(name);
    if (!u) throw new PluginError('NOT_FOUND', `user ${name} not found`);
    return u;
  }

  async getRole(name: string): Promise<RoleInfo> {
    const r = this.roles.get(name);
    if (!r) throw new PluginError('ACCESS_DENIED', `access denied to role ${name}`);
    return r;
  }

  async listUsers(): Promise<UserInfo[]> {
    this.listUsersCalls += 1;
    if (this.listUsersError) throw this.listUsersError;
    return [...this.users.values()].map((u) => structuredClone(u));
  }
}

export interface TestContext {
  ctx: AdapterContext<SlackConfig>;
  store: MemoryStore;
  teleport: FakeTeleportActions;
  logger: CaptureLogger;
  abort: AbortController;
  /** Every reportHealth call, in order. */
  health: Array<{ healthy: boolean; reason?: string }>;
  close(): Promise<void>;
}

export function makeContext(
  config: SlackConfig,
  options: { webProxyUrl?: string; store?: MemoryStore; teleport?: FakeTeleportActions } = {},
): TestContext {
  const store = options.store ?? new MemoryStore();
  const teleport = options.teleport ?? new FakeTeleportActions();
  const logger = createCaptureLogger();
  const abort = new AbortController();
  const closers: Array<() => Promise<void> | void> = [];
  const health: Array<{ healthy: boolean; reason?: string }> = [];
  const ctx: AdapterContext<SlackConfig> = {
    name: 'slack',
    config,
    logger: logger.child({ adapter: 'slack' }),
    cluster: {
      clusterName: 'test-cluster',
      serverVersion: '17.0.0',
      advancedAccessWorkflows: Boolean(options.webProxyUrl),
      proxyPublicAddr: '',
      webProxyUrl: options.webProxyUrl,
    },
    store,
    teleport,
    signal: abort.signal,
    onClose: (fn) => closers.push(fn),
    reportHealth: (healthy, reason) => {
      health.push(reason === undefined ? { healthy } : { healthy, reason });
    },
  };
  return {
    ctx,
    store,
    teleport,
    logger,
    abort,
    health,
    close: async () => {
      abort.abort();
      for (const fn of closers.reverse()) await fn();
    },
  };
}

/** An EventContext like the dispatcher's, over the test store. */
export function makeEvent(t: TestContext, requestId: string, options: { signal?: AbortSignal; attempt?: number } = {}): EventContext {
  const signal = options.signal ?? new AbortController().signal;
  return {
    requestId,
    logger: t.ctx.logger.child({ requestId }),
    signal,
    attempt: options.attempt ?? 1,
    data: t.store.entries.get(requestId),
    updateData: (modify) => {
      signal.throwIfAborted();
      return t.store.update(requestId, modify);
    },
  };
}

/** A fake Slack with the channels and users most tests use. */
export async function startFakeSlack(): Promise<FakeSlack> {
  const fake = new FakeSlack();
  fake.addChannel({ id: 'C0ACCESS', name: 'access-requests' });
  fake.addChannel({ id: 'C0DEV', name: 'dev-access' });
  fake.addChannel({ id: 'C0PRIV', name: 'private-ops', isMember: false });
  fake.addUser({ id: 'U0REQ', name: 'requester', email: 'requester@example.com' });
  fake.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
  fake.addUser({ id: 'U0BOB', name: 'bob', email: 'bob@example.com' });
  await fake.start();
  return fake;
}

/**
 * Hooks for a suite of unit tests: one fake Slack (startFakeSlack) for the whole suite, and the
 * context a test opens with `context()` closed after that test (its abort signal fires then).
 */
export function useFakeSlackSuite(): {
  readonly fake: FakeSlack;
  /** The context the running test opened last. */
  readonly t: TestContext;
  context(config: SlackConfig, options?: Parameters<typeof makeContext>[1]): TestContext;
} {
  let fake: FakeSlack | undefined;
  let current: TestContext | undefined;
  before(async () => {
    fake = await startFakeSlack();
  });
  after(() => fake?.close());
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    get fake() {
      if (!fake) throw new Error('fake Slack not started');
      return fake;
    },
    get t() {
      if (!current) throw new Error('no context opened in this test');
      return current;
    },
    context(config, options) {
      current = makeContext(config, options);
      return current;
    },
  };
}

export function baseConfig(fake: FakeSlack, overrides: Partial<SlackConfig> = {}): SlackConfig {
  return {
    token: fake.token,
    apiUrl: fake.apiUrl,
    roleToRecipients: { '*': ['access-requests'] },
    review: { enabled: false, appToken: undefined, signingSecret: undefined, slackUserIdTrait: undefined, allowEmailUsernameMatch: false },
    ...overrides,
  };
}

/** Fast retries for tests. */
export const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 20 };

export const REVIEWERS = ['alice@example.com', 'bob@example.com', 'carol@example.com'];

/** Root messages of one request (the fallback text names the request id). */
export function rootsFor(fake: FakeSlack, id: string): FakeSlackMessage[] {
  return fake.rootMessages().filter((m) => m.text.includes(`: ${id} by `));
}

/**
 * The adapter in the real runtime against a fake Teleport: requester@example.com needs three
 * approvals (so every reviewer's review lands while pending), REVIEWERS may review, and `editor`
 * goes to two channels (plus the requester's DM copy).
 */
export async function startThreeReviewerHarness(): Promise<{ fake: FakeSlack; h: Harness; close(): Promise<void> }> {
  const fake = await startFakeSlack();
  fake.addUser({ id: 'U0CAROL', name: 'carol', email: 'carol@example.com' });
  const teleport = await FakeTeleport.start();
  teleport.addRequester('requester@example.com', { thresholds: [{ name: 'three', filter: '', approve: 3, deny: 1 }] as never });
  for (const r of REVIEWERS) teleport.addReviewer(r);
  const config = baseConfig(fake, { roleToRecipients: { '*': ['access-requests'], editor: ['access-requests', 'dev-access'] } });
  const h = await startHarness({ teleport, adapters: [{ adapter: slack, config }] });
  return runtimeEnv(fake, teleport, h);
}

/** A runtime test's fakes and harness, closed in reverse start order. */
export function runtimeEnv(fake: FakeSlack, teleport: FakeTeleport, h: Harness): { fake: FakeSlack; h: Harness; close(): Promise<void> } {
  return {
    fake,
    h,
    close: async () => {
      await h.stop();
      await teleport.close();
      await fake.close();
    },
  };
}

/** Registers before/after hooks for startThreeReviewerHarness; read `fake` and `h` inside tests. */
export function useThreeReviewerHarness(): { readonly fake: FakeSlack; readonly h: Harness } {
  let env: Awaited<ReturnType<typeof startThreeReviewerHarness>> | undefined;
  before(async () => {
    env = await startThreeReviewerHarness();
  });
  after(async () => {
    await env?.close();
  });
  return {
    get fake() {
      if (!env) throw new Error('harness not started');
      return env.fake;
    },
    get h() {
      if (!env) throw new Error('harness not started');
      return env.h;
    },
  };
}
