// The Jira adapter in the real runtime (startAdapterTest) on an in-memory Teleport, against the
// real-HTTP FakeJira, with its webhook registered on the runtime's HTTP server.
import { makeAccessRequest, MemoryTeleport, startAdapterTest, type AdapterTest } from '@teleport-plugin/core/testing';
import type { AccessRequest } from '@teleport-plugin/core';
import { createJiraAdapter, type JiraTuning } from '../src/adapter.js';
import type { JiraConfig, WebhookAuthConfig } from '../src/config.js';
import { FakeJira, type FakeJiraIssue, type FakeJiraOptions, type FakeJiraUser, type FakeJiraWebhookTarget } from '../src/testing/index.js';

export const SECRET = 'jira-webhook-secret-for-tests';
export const TOKEN = 'jira-webhook-token-0123456789';
/** Core's outbound policy with tiny waits. */
export const FAST = { attempts: 3, baseMs: 1, capMs: 5, maxRetryAfterMs: 2_000 };
export const TUNING: JiraTuning = {
  client: { policy: FAST, searchSettleMs: 300, searchPollMs: 25, timeoutMs: 2_000 },
  webhook: { consistencyReads: 2, consistencyPollMs: 10, timeoutMs: 5_000 },
};

export interface JiraTest {
  readonly jira: FakeJira;
  readonly t: AdapterTest;
  readonly teleport: MemoryTeleport;
  readonly config: JiraConfig;
  /** How FakeJira delivers to the plugin (signed with SECRET unless the test says otherwise). */
  readonly target: FakeJiraWebhookTarget;
  /** `http://127.0.0.1:<port>` of the runtime's server. */
  readonly url: string;
  /** The Jira user who approves and denies (not a Teleport user). */
  readonly reviewer: FakeJiraUser;
  /** Another Jira user who comments. */
  readonly other: FakeJiraUser;
  /** The one issue of a request (fails when there is none or more than one). */
  issueFor(requestId: string): FakeJiraIssue;
  /** Waits (polling the runtime and the fake, no fixed sleeps) until `predicate` holds. */
  until(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface JiraTestOptions {
  fake?: FakeJiraOptions;
  /** A fake shared with another runtime (two replicas). */
  jira?: FakeJira;
  webhook?: Partial<WebhookAuthConfig>;
  teleport?: MemoryTeleport;
  instanceId?: string;
  tuning?: JiraTuning;
  /** The delivery target's authentication (default: signed with SECRET). */
  target?: Omit<FakeJiraWebhookTarget, 'url'>;
  config?: Partial<JiraConfig>;
  /** Don't register the webhook target on the fake. */
  noWebhook?: boolean;
}

export async function startJiraTest(options: JiraTestOptions = {}): Promise<JiraTest> {
  const ownFake = options.jira === undefined;
  const jira = options.jira ?? new FakeJira(options.fake);
  if (ownFake) await jira.start();
  const webhook: WebhookAuthConfig = { secret: SECRET, token: undefined, basicAuth: undefined, clientCert: false, allowUnauthenticated: false, ...options.webhook };
  const config: JiraConfig = {
    url: jira.url,
    username: jira.bot.emailAddress,
    apiToken: jira.bot.apiToken!,
    project: jira.projectKey,
    issueType: 'Task',
    webhook,
    ...options.config,
  };
  const adapter = createJiraAdapter(options.tuning ?? TUNING);
  let t: AdapterTest;
  try {
    t = await startAdapterTest(adapter, config, {
      ...(options.teleport ? { teleport: options.teleport } : {}),
      runtime: {
        http: { listenAddr: '127.0.0.1:0', ...(webhook.basicAuth ? { basicAuth: webhook.basicAuth } : {}) },
        insecureNoTls: true,
        ...(options.instanceId ? { instanceId: options.instanceId } : {}),
      },
    });
  } catch (err) {
    if (ownFake) await jira.close();
    throw err;
  }
  const url = t.runtime.httpUrl!;
  const target: FakeJiraWebhookTarget = { url: `${url}/jira/`, ...(options.target ?? { secret: SECRET }) };
  if (!options.noWebhook) jira.addWebhook(target);
  const reviewer = jira.users.find((u) => u.emailAddress === 'reviewer@example.com') ?? jira.addUser('reviewer@example.com', { displayName: 'Jira Reviewer 1' });
  const other = jira.users.find((u) => u.emailAddress === 'randomfolk@example.com') ?? jira.addUser('randomfolk@example.com', { displayName: 'Reviewer 1 evil twin' });

  const until = async (predicate: () => boolean, what: string, timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await t.settled();
      if (predicate()) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      // Something is in flight outside the dispatcher (a resync's read, a webhook): let it land.
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  return {
    jira,
    t,
    teleport: t.teleport,
    config,
    target,
    url,
    reviewer,
    other,
    issueFor(requestId) {
      const issues = jira.issuesForRequest(requestId);
      if (issues.length !== 1) throw new Error(`request ${requestId} has ${issues.length} issues`);
      return issues[0]!;
    },
    until,
    async close() {
      await t.close();
      if (ownFake) await jira.close();
    },
  };
}

let counter = 0;

/** A pending request as the Go suites make them: requester, role editor, reason `because of`. */
export function newRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  counter += 1;
  return makeAccessRequest({
    id: `0196a8f2-0000-7000-8000-${String(counter).padStart(12, '0')}`,
    user: 'requester-oss@example.com',
    roles: ['editor'],
    requestReason: 'because of',
    created: new Date(),
    ...overrides,
  });
}

/** A status change's JSON body from the plugin's answer. */
export function answer(delivery: { responseBody: string }): Record<string, unknown> {
  return JSON.parse(delivery.responseBody) as Record<string, unknown>;
}
