import { after, afterEach, before } from 'node:test';
import {
  accessRequestSnapshot,
  defineAdapter,
  goMessagesLayout,
  type AccessRequest,
  type AccessReview,
  type Adapter,
  type AdapterHandlers,
  type EventContext,
  type MessageRef,
  type OutboundPolicy,
  type PluginData,
} from '@teleport-plugin/core';
import {
  MemoryTeleport,
  adapterContext,
  handlerEvent,
  makeAccessRequest,
  makeAccessReview,
  startAdapterTest,
  type AdapterTest,
  type AdapterTestOptions,
  type RecordedCall,
} from '@teleport-plugin/core/testing';
import { FakeTeleport, startHarness, type Harness } from '@teleport-plugin/testkit';
import { setupSlack, slackAdapter, type SlackAdapterOptions } from '../src/adapter.js';
import type { SlackConfig } from '../src/config.js';
import slack from '../src/index.js';
import { FakeSlack, blocksText, type FakeSlackMessage } from '../src/testing/index.js';

/**
 * Slack ids as the fixtures use them. They have the shape of real ids (a letter and at least six
 * more): the bot tells a user id (`U…`) from a channel id (`C…`) from a channel name by it when it
 * looks a message up again, so shorter made-up ids would be taken for channel names.
 */
export const IDS = {
  access: 'C0ACCESS',
  dev: 'C0DEVACCESS',
  priv: 'C0PRIVOPS',
  requester: 'U0REQUESTER',
  alice: 'U0ALICE',
  bob: 'U0BOBBY',
  carol: 'U0CAROL',
} as const;
/** The DM channel the fake opens for a user id. */
export const dmOf = (userId: string): string => `D${userId.replace(/^U/, '')}`;

export function makeRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  return makeAccessRequest({
    user: 'requester@example.com',
    created: new Date('2026-11-25T10:00:00Z'),
    requestReason: 'need to fix prod',
    ...overrides,
  });
}

export function makeReview(author: string, state: 'APPROVED' | 'DENIED', reason = ''): AccessReview {
  return makeAccessReview(author, state, reason, new Date('2026-11-25T10:05:00Z'));
}

/** Short backoffs for tests (core's outbound policy; the attempt budget stays the default 4). */
export const FAST_POLICY: Partial<OutboundPolicy> = { baseMs: 5, capMs: 20 };

/** The Slack adapter with its client tuned for tests (the real adapter's setup with options). */
export function slackWith(options: SlackAdapterOptions = { policy: FAST_POLICY }): Adapter<SlackConfig> {
  return defineAdapter<SlackConfig>({ ...slackAdapter, setup: (ctx) => setupSlack(ctx, options) });
}

/** A fake Slack with the channels and users most tests use. */
export async function startFakeSlack(): Promise<FakeSlack> {
  const fake = new FakeSlack();
  fake.addChannel({ id: IDS.access, name: 'access-requests' });
  fake.addChannel({ id: IDS.dev, name: 'dev-access' });
  fake.addChannel({ id: IDS.priv, name: 'private-ops', isMember: false });
  fake.addUser({ id: IDS.requester, name: 'requester', email: 'requester@example.com' });
  fake.addUser({ id: IDS.alice, name: 'alice', email: 'alice@example.com' });
  fake.addUser({ id: IDS.bob, name: 'bob', email: 'bob@example.com' });
  await fake.start();
  return fake;
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

/**
 * The Slack adapter's handlers called directly, over core/testing's adapterContext (an in-memory
 * Teleport behind the context and its plugin-data store) with a real ledger behind each event.
 */
export interface HandlerTest {
  readonly ctx: ReturnType<typeof adapterContext<SlackConfig>>['ctx'];
  readonly teleport: MemoryTeleport;
  readonly logger: ReturnType<typeof adapterContext<SlackConfig>>['logger'];
  readonly health: Array<{ healthy: boolean; reason?: string }>;
  readonly h: AdapterHandlers;
  /**
   * A request as the dispatcher first sees it: in Teleport (no event) and its plugin-data entry
   * created with the snapshot.
   */
  newRequest(over?: Partial<AccessRequest>): AccessRequest;
  /** The EventContext of one handler attempt (a fresh ledger that reads what Teleport holds). */
  event(requestId: string, options?: Parameters<typeof handlerEvent>[2]): Promise<EventContext>;
  data(requestId: string): PluginData | undefined;
  refs(requestId: string): MessageRef[];
  close(): Promise<void>;
}

let requestCounter = 0;
/** A request id no other test in this process uses (messages are found again by request id). */
export const nextRequestId = (prefix = 'req'): string => `${prefix}-${process.pid}-${++requestCounter}`;

export async function handlerTest(config: SlackConfig, options: { webProxyUrl?: string; adapter?: SlackAdapterOptions } = {}): Promise<HandlerTest> {
  const t = adapterContext<SlackConfig>('slack', config, options.webProxyUrl ? { webProxyUrl: options.webProxyUrl } : {});
  const h = await setupSlack(t.ctx, options.adapter ?? { policy: FAST_POLICY });
  return {
    ctx: t.ctx,
    teleport: t.teleport,
    logger: t.logger,
    health: t.health,
    h,
    newRequest(over = {}) {
      const request = makeRequest({ id: nextRequestId(), ...over });
      t.teleport.put(request, false);
      t.teleport.setPluginData(request.id, 'slack', Object.fromEntries(Object.entries(accessRequestSnapshot(request)).filter(([, v]) => v !== '')));
      return request;
    },
    event: (requestId, eventOptions) => handlerEvent(t.ctx, requestId, eventOptions),
    data: (requestId) => t.teleport.pluginData(requestId, 'slack'),
    refs: (requestId) => goMessagesLayout.refs(t.teleport.pluginData(requestId, 'slack')),
    close: async () => {
      await h.stop?.();
      await t.close();
    },
  };
}

/**
 * Hooks for a suite of unit tests: one fake Slack for the whole suite, and the handler test a
 * test opens with `open()` closed after that test (its context's signal fires then).
 */
export function useFakeSlackSuite(): {
  readonly fake: FakeSlack;
  /** The handler test the running test opened last. */
  readonly t: HandlerTest;
  open(config?: Partial<SlackConfig>, options?: Parameters<typeof handlerTest>[1]): Promise<HandlerTest>;
} {
  let fake: FakeSlack | undefined;
  let current: HandlerTest | undefined;
  before(async () => {
    fake = await startFakeSlack();
  });
  after(() => fake?.close());
  afterEach(async () => {
    fake?.clearFaults();
    await current?.close();
    current = undefined;
  });
  return {
    get fake() {
      if (!fake) throw new Error('fake Slack not started');
      return fake;
    },
    get t() {
      if (!current) throw new Error('no handler test opened in this test');
      return current;
    },
    async open(config = {}, options) {
      if (!fake) throw new Error('fake Slack not started');
      current = await handlerTest(baseConfig(fake, config), options);
      return current;
    },
  };
}

/** Root messages of one request (found by the message's `*ID*:` line). */
export function rootsFor(fake: FakeSlack, id: string): FakeSlackMessage[] {
  return fake.rootMessages().filter((m) => blocksText(m.blocks).includes(`*ID*: ${id}\n`));
}

/** The requester's outcome DMs for one request. */
export function noticesFor(fake: FakeSlack, id: string): FakeSlackMessage[] {
  return fake.messages.filter((m) => m.text.startsWith(`Request with ID "${id}" has been updated`));
}

/** The message metadata a recorded chat.postMessage call carried (form bodies hold it as JSON text). */
export function postedMetadata(call: RecordedCall): { request_id?: string; kind?: string } | undefined {
  const raw: unknown = call.form?.get('metadata') ?? (call.json as { metadata?: unknown } | undefined)?.metadata;
  const parsed = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { event_payload?: { request_id?: string; kind?: string } } | undefined;
  return parsed?.event_payload;
}

/** chat.postMessage calls made for this request and kind (`request`, `review:<i>`, `notice:<TAG>`), whatever their outcome. */
export function postCallsFor(fake: FakeSlack, id: string, kind = 'request'): RecordedCall[] {
  return fake.callsTo('POST', '/api/chat.postMessage').filter((c) => {
    const meta = postedMetadata(c);
    return meta?.request_id === id && meta.kind === kind;
  });
}

/** `channel/ts` of messages, sorted (the form plugin data stores them in). */
export const refStrings = (messages: readonly { channel: string; ts?: string; id?: string }[]): string[] => messages.map((m) => `${m.channel}/${m.ts ?? m.id}`).sort();

export function hasButtons(m: FakeSlackMessage): boolean {
  return m.blocks.some((b) => (b as { type?: string }).type === 'actions');
}

/** The adapter in the real runtime on an in-memory Teleport (core/testing), tuned for tests. */
export function startSlackRuntime(
  fake: FakeSlack,
  options: { config?: Partial<SlackConfig>; teleport?: MemoryTeleport; adapter?: SlackAdapterOptions; runtime?: AdapterTestOptions['runtime'] } = {},
): Promise<AdapterTest> {
  return startAdapterTest(slackWith(options.adapter), baseConfig(fake, options.config), {
    ...(options.teleport && { teleport: options.teleport }),
    ...(options.runtime && { runtime: options.runtime }),
  });
}

export const REVIEWERS = ['alice@example.com', 'bob@example.com', 'carol@example.com'];

/**
 * The adapter in the real runtime against the gRPC fake Teleport: requester@example.com needs
 * three approvals (so every reviewer's review lands while pending), REVIEWERS may review, and
 * `editor` goes to two channels (plus the requester's DM copy).
 */
export async function startThreeReviewerHarness(): Promise<{ fake: FakeSlack; h: Harness; close(): Promise<void> }> {
  const fake = await startFakeSlack();
  fake.addUser({ id: IDS.carol, name: 'carol', email: 'carol@example.com' });
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

/** Messages of the request in plugin data (`messages`), as `channel/ts`, sorted. */
export function storedRefs(data: PluginData | undefined): string[] {
  return refStrings(goMessagesLayout.refs(data));
}

export { FakeSlack, blocksText };
export type { FakeSlackMessage };
