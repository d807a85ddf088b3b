import {
  PluginError,
  defineAdapter,
  errorMessage,
  isPluginError,
  messagingHandlers,
  type AdapterContext,
  type AdapterHandlers,
  type OutboundPolicy,
  type WebhookRoute,
} from '@teleport-plugin/core';
import { SlackBot } from './bot.js';
import { checkSlack, missingScopes, tokenProblem } from './check.js';
import { SlackClient, isAuthError, slackErrorCode, type AuthInfo } from './client.js';
import { exampleConfig, parseSlackConfig, type SlackConfig } from './config.js';
import { slackDemo } from './demo.js';
import { SlackReviewHandler } from './review.js';

export interface SlackAdapterOptions {
  /** Core's outbound policy, tuned (tests use short backoffs). */
  policy?: Partial<OutboundPolicy>;
  /** Per HTTP request outside a handler attempt (default 10 s; inside one, the attempt's deadline applies). */
  timeoutMs?: number;
}

/** Builds the handlers; exported so tests can tune the retry policy. */
export async function setupSlack(ctx: AdapterContext<SlackConfig>, options: SlackAdapterOptions = {}): Promise<AdapterHandlers> {
  const { config, logger } = ctx;
  const client = new SlackClient({ token: config.token, apiUrl: config.apiUrl, logger, policy: options.policy, timeoutMs: options.timeoutMs });

  // Upstream's start-up health check: a bad token is fatal, in plain words.
  let auth: AuthInfo;
  try {
    auth = await client.authTest(ctx.signal);
  } catch (err) {
    if (slackErrorCode(err) === undefined) {
      // A redirect says the address is wrong (CONFIG); anything else, that Slack is out of reach.
      if (isPluginError(err, 'CONFIG'))
        throw new PluginError('CONFIG', `wrong Slack address ${config.apiUrl} ([slack] api_url): ${errorMessage(err)}`, { cause: err, userFacing: true });
      throw new PluginError('UNREACHABLE', `cannot reach Slack at ${config.apiUrl} ([slack] api_url): ${errorMessage(err)}`, { cause: err });
    }
    throw new PluginError('CONFIG', `Slack rejected the bot token ([slack] token): ${tokenProblem(err)}`, { cause: err, userFacing: isAuthError(err) });
  }
  const missing = missingScopes(auth.scopes);
  if (missing.length > 0) logger.warn('Slack token lacks scopes; some messages will fail', { missing: missing.join(',') });

  const bot = new SlackBot(client, { reviewButtons: config.review.enabled });
  const delivery = messagingHandlers(ctx as AdapterContext<unknown>, bot, { roleToRecipients: config.roleToRecipients });
  const reviewer = config.review.enabled ? new SlackReviewHandler(ctx, client) : undefined;
  const routes: WebhookRoute[] = [];
  if (reviewer && config.review.signingSecret) routes.push(reviewer.route());
  if (config.review.enabled) {
    logger.warn('Slack reviews are enabled: approvals from Slack bypass Teleport login and MFA');
  }

  const handlers: AdapterHandlers = {
    check: (signal) => checkSlack(client, config, signal),
    ...delivery,
    routes,
    start: async () => {
      if (reviewer && config.review.appToken) await reviewer.startSocketMode(auth);
    },
    stop: async () => {
      await reviewer?.stop();
    },
  };
  return handlers;
}

export const slackAdapter = defineAdapter<SlackConfig>({
  name: 'slack',
  version: '0.1.0',
  parseConfig: parseSlackConfig,
  setup: (ctx) => setupSlack(ctx),
  exampleConfig,
  demo: slackDemo,
});
