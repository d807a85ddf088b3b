import { PluginError, defineAdapter, errorMessage, ticketHandlers } from '@teleport-plugin/core';
import type { Adapter, AdapterContext, AdapterHandlers } from '@teleport-plugin/core';
import { checkJira } from './check.js';
import { JiraClient, type JiraClientOptions } from './client.js';
import { exampleConfig, parseJiraConfig, type JiraConfig } from './config.js';
import { jiraDemo } from './demo.js';
import { jiraPluginData } from './pluginData.js';
import { JiraTracker } from './tracker.js';
import { jiraWebhookRoutes, type WebhookTuning } from './webhookRoute.js';

export const ADAPTER_NAME = 'jira';
export const ADAPTER_VERSION = '0.1.0';

/** Client and webhook tuning for tests (tiny backoffs, short waits); production uses the defaults. */
export interface JiraTuning {
  client?: Omit<JiraClientOptions, 'url' | 'username' | 'apiToken' | 'project' | 'issueType' | 'logger'>;
  webhook?: WebhookTuning;
  /** Run the live checks at start-up (default true). */
  startupCheck?: boolean;
}

/**
 * The handlers: the ticketing kit on Jira (one issue per request, a comment per review, a
 * closing comment and the transition to Approved / Denied / Expired), the webhook that approves
 * or denies from Jira, and `check`.
 */
export function createJiraHandlers(ctx: AdapterContext<JiraConfig>, client: JiraClient, tuning: JiraTuning = {}): AdapterHandlers {
  const config = ctx.config;
  const tracker = new JiraTracker(client, ctx.cluster, ctx.logger);
  const delivery = ticketHandlers(ctx as AdapterContext<unknown>, tracker);
  return {
    ...delivery,
    onPending: (request, ev) => {
      // A retried announcement may have to find an issue an earlier attempt created: tell the
      // tracker when that attempt started, so the search waits for Jira's index only as needed.
      tracker.rememberAttempt(request.id, ev.data);
      return delivery.onPending(request, ev);
    },
    routes: jiraWebhookRoutes(ctx as AdapterContext<unknown>, client, config, tuning.webhook),
    check: (signal) => checkJira(client, config, signal),
  };
}

/**
 * Upstream's start-up health check (credentials, project, permissions), plus the issue type and
 * the four statuses: a site the plugin cannot work with is a fatal start-up error in plain words,
 * not a failure at the first request.
 */
export async function startupCheck(client: JiraClient, config: JiraConfig, signal: AbortSignal): Promise<void> {
  try {
    await client.myself(signal);
  } catch (err) {
    const status = err instanceof PluginError ? err.service?.status : undefined;
    if (status === 401 || status === 403) {
      throw new PluginError('CONFIG', `Jira at ${config.url} rejected [jira] username and api_token (HTTP ${status})`, { cause: err, userFacing: true });
    }
    if (status === 404) {
      throw new PluginError('CONFIG', `no Jira REST API at ${config.url}: check [jira] url`, { cause: err, userFacing: true });
    }
    throw new PluginError('UNREACHABLE', `cannot check Jira at ${config.url} ([jira] url): ${errorMessage(err)}`, { cause: err, userFacing: true });
  }
  const failed = (await checkJira(client, config, signal)).filter((i) => !i.ok);
  if (failed.length > 0) {
    throw new PluginError('CONFIG', `Jira at ${config.url} is not ready for the plugin: ${failed.map((i) => `${i.name}: ${i.detail}`).join('; ')}`, {
      userFacing: true,
    });
  }
}

/** The adapter, with tuning (tests); the package's default export is `createJiraAdapter()`. */
export function createJiraAdapter(tuning: JiraTuning = {}): Adapter<JiraConfig> {
  return defineAdapter<JiraConfig>({
    name: ADAPTER_NAME,
    version: ADAPTER_VERSION,
    parseConfig: (section, ctx) => parseJiraConfig(section, ctx),
    async setup(ctx) {
      const { config } = ctx;
      const client = new JiraClient({
        ...tuning.client,
        url: config.url,
        username: config.username,
        apiToken: config.apiToken,
        project: config.project,
        issueType: config.issueType,
        logger: ctx.logger,
      });
      ctx.onClose(() => client.close());
      if (tuning.startupCheck ?? true) await startupCheck(client, config, ctx.signal);
      return createJiraHandlers(ctx, client, tuning);
    },
    exampleConfig,
    pluginData: jiraPluginData,
    demo: jiraDemo,
  });
}

export const jiraAdapter = createJiraAdapter();
