import { defineAdapter, isPluginError, type PluginError } from '@teleport-plugin/core';
import { startAdapterTest, type AdapterTest, type AdapterTestOptions } from '@teleport-plugin/core/testing';
import { mattermostAdapter, setupMattermost } from '../src/adapter.js';
import { MattermostClient, type MattermostClientOptions } from '../src/client.js';
import type { MattermostConfig } from '../src/config.js';
import { FakeMattermost, type FakeMattermostOptions, type FakeMmPost } from '../src/testing/index.js';

/** Core's outbound policy with tiny backoffs (429 waits still follow Retry-After). */
export const FAST = { attempts: 4, baseMs: 5, capMs: 20, maxRetryAfterMs: 5_000 };

export async function startFake(options: FakeMattermostOptions = {}): Promise<FakeMattermost> {
  const fake = new FakeMattermost(options);
  await fake.start();
  return fake;
}

export function clientFor(fake: FakeMattermost, extra: Partial<MattermostClientOptions> = {}): MattermostClient {
  return new MattermostClient({ url: fake.url, token: fake.token, policy: FAST, timeoutMs: 2_000, ...extra });
}

/** The PluginError a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<PluginError> {
  try {
    await promise;
  } catch (err) {
    if (!isPluginError(err)) throw new Error(`expected a PluginError, got ${String(err)}`, { cause: err });
    return err;
  }
  throw new Error('expected a rejection');
}

// ---- the adapter in the real runtime (core's startAdapterTest on an in-memory Teleport) ------

/** The mattermost adapter with the client's outbound policy shortened for tests. */
export const testAdapter = defineAdapter<MattermostConfig>({
  ...mattermostAdapter,
  setup: (ctx) => setupMattermost(ctx, { policy: FAST, timeoutMs: 2_000 }),
});

export function mmConfig(fake: FakeMattermost, overrides: Partial<MattermostConfig> = {}): MattermostConfig {
  return { url: fake.url, token: fake.token, roleToRecipients: {}, invalidRecipients: [], notifyRequester: true, ...overrides };
}

/** The adapter in the real runtime (watcher, dispatcher, ledger, messaging kit) against `fake`. */
export function startMattermost(fake: FakeMattermost, overrides: Partial<MattermostConfig> = {}, options: AdapterTestOptions = {}): Promise<AdapterTest> {
  return startAdapterTest(testAdapter, mmConfig(fake, overrides), options);
}

/** The request's root posts (by the props every post carries), oldest first. */
export function rootsOf(fake: FakeMattermost, requestId: string): FakeMmPost[] {
  return fake.postsFor(requestId).filter((p) => p.rootId === '' && p.props['teleport_kind'] === 'request');
}

/** `**Name**: value` of a post, as upstream's tests read it (msgFieldRegexp). */
export function field(text: string, name: string): string | undefined {
  return [...text.matchAll(/^\*\*([a-zA-Z ]+)\*\*: +(.+)$/gim)].find((m) => m[1] === name)?.[2];
}
