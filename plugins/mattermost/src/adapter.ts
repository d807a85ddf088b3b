import { PluginError, defineAdapter, errorMessage, isPluginError, messagingHandlers, type AdapterContext, type AdapterHandlers, type OutboundPolicy } from '@teleport-plugin/core';
import { MattermostBot } from './bot.js';
import { checkMattermost } from './check.js';
import { MattermostClient, type MmUser } from './client.js';
import { exampleConfig, parseMattermostConfig, type MattermostConfig } from './config.js';
import { mattermostDemo } from './demo.js';
import { mattermostPluginData } from './pluginData.js';

export const ADAPTER_NAME = 'mattermost';

export interface MattermostAdapterOptions {
  /** Core's outbound policy, tuned (tests use short backoffs). */
  policy?: Partial<OutboundPolicy>;
  /** Per HTTP attempt (default 10 s, as upstream). */
  timeoutMs?: number;
}

/**
 * Builds the handlers: the messaging kit on Mattermost (a post per recipient, a reply per review
 * in every thread, posts re-rendered after each review and at the end, the requester told), and
 * `check`. Exported so tests can tune the client's retry policy.
 */
export async function setupMattermost(ctx: AdapterContext<MattermostConfig>, options: MattermostAdapterOptions = {}): Promise<AdapterHandlers> {
  const { config, logger } = ctx;
  const client = new MattermostClient({ url: config.url, token: config.token, logger, policy: options.policy, timeoutMs: options.timeoutMs });
  const me = await startupCheck(client, ctx.signal);
  if (!me.isBot) logger.warn('the Mattermost token belongs to a person, not a bot account; posts appear as theirs', { user: me.username });

  const bot = new MattermostBot(client, {
    logger,
    webProxyUrl: ctx.cluster.webProxyUrl,
    notifyRequester: config.notifyRequester,
    botUsername: me.username,
  });
  return {
    check: (signal) => checkMattermost(client, config, signal),
    ...messagingHandlers(ctx as AdapterContext<unknown>, bot, { roleToRecipients: config.roleToRecipients }),
  };
}

/**
 * Upstream's start-up health check (`GET users/me`): a token Mattermost rejects, or a URL that is
 * not a Mattermost server, stops the plugin with one line naming the key to fix.
 */
async function startupCheck(client: MattermostClient, signal: AbortSignal): Promise<MmUser> {
  try {
    return await client.me(signal);
  } catch (err) {
    const status = isPluginError(err) ? err.service?.status : undefined;
    if (status === 401) {
      throw new PluginError(
        'CONFIG',
        `Mattermost at ${client.url} rejected [mattermost] token (HTTP 401): use the bot account's access token (System Console > Integrations > Bot Accounts), or a /path to a file holding it`,
        {
          cause: err,
          userFacing: true,
        },
      );
    }
    if (status === 403) {
      throw new PluginError(
        'CONFIG',
        `Mattermost at ${client.url} refused [mattermost] token (HTTP 403): the account is deactivated or may not use the API; check the bot account and its token`,
        {
          cause: err,
          userFacing: true,
        },
      );
    }
    if (isPluginError(err) && err.userFacing) {
      // A 404 or a non-JSON answer: the URL is not a Mattermost server's base URL (already said in plain words).
      throw new PluginError('CONFIG', `[mattermost] url: ${errorMessage(err)}`, { cause: err, userFacing: true });
    }
    throw new PluginError('UNREACHABLE', `cannot reach Mattermost at ${client.url} ([mattermost] url): ${errorMessage(err)}`, { cause: err, userFacing: true });
  }
}

export const mattermostAdapter = defineAdapter<MattermostConfig>({
  name: ADAPTER_NAME,
  version: '0.1.0',
  parseConfig: parseMattermostConfig,
  setup: (ctx) => setupMattermost(ctx),
  exampleConfig,
  pluginData: mattermostPluginData,
  demo: mattermostDemo,
});
