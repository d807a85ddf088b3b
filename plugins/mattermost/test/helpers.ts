import { MattermostClient, type MattermostClientOptions } from '../src/client.js';
import { FakeMattermost, type FakeMattermostOptions } from '../src/testing/index.js';

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
export async function rejection(promise: Promise<unknown>): Promise<import('@teleport-plugin/core').PluginError> {
  try {
    await promise;
  } catch (err) {
    const { isPluginError } = await import('@teleport-plugin/core');
    if (!isPluginError(err)) throw new Error(`expected a PluginError, got ${String(err)}`, { cause: err });
    return err;
  }
  throw new Error('expected a rejection');
}
