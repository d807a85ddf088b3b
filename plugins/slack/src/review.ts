import { createHmac, timingSafeEqual } from 'node:crypto';
import type { App as BoltApp } from '@slack/bolt';
import {
  ChatUserMapper,
  errorMessage,
  submitChatReview,
  type AdapterContext,
  type UserMapping,
  type WebhookRequest,
  type WebhookResponse,
  type WebhookRoute,
} from '@teleport-plugin/core';
import { sdkLogger, type SlackClient } from './client.js';
import type { SlackConfig } from './config.js';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, REVIEW_BLOCK_ID } from './render.js';

/** Slack's replay window for signed requests. */
export const SIGNATURE_MAX_AGE_SECONDS = 5 * 60;
/**
 * Checks Slack's v0 signature over the exact bytes received, before anything parses them:
 * HMAC-SHA256(secret, `v0:<timestamp>:<body>`), constant-time compare, 5-minute window.
 */
export function verifySlackSignature(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  rawBody: Buffer,
  nowSeconds = Math.floor(Date.now() / 1000),
): { ok: true } | { ok: false; reason: string } {
  const ts = header(headers, 'x-slack-request-timestamp');
  const sig = header(headers, 'x-slack-signature');
  if (!ts || !sig) return { ok: false, reason: 'missing signature headers' };
  const tsNum = Number(ts);
  if (!/^\d+$/.test(ts) || Math.abs(nowSeconds - tsNum) > SIGNATURE_MAX_AGE_SECONDS) return { ok: false, reason: 'timestamp outside the 5-minute window' };
  const expected = Buffer.from(`v0=${createHmac('sha256', secret).update(`v0:${ts}:`).update(rawBody).digest('hex')}`);
  const got = Buffer.from(sig);
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return { ok: false, reason: 'signature mismatch' };
  return { ok: true };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

interface BlockAction {
  block_id?: string;
  action_id?: string;
  value?: string;
}

interface BlockActionsPayload {
  type?: string;
  trigger_id?: string;
  user?: { id?: string };
  channel?: { id?: string };
  container?: { channel_id?: string };
  actions?: BlockAction[];
}

/**
 * Approve/deny buttons (opt-in `[slack.review] enabled = true`). Slack reaches us over Socket
 * Mode (app_token) or signed HTTP posts (signing_secret). Either way we acknowledge at once and
 * do the work afterwards; every outcome is shown to the clicker as an ephemeral message, so no
 * review fails silently.
 */
export class SlackReviewHandler {
  private readonly seenTriggers = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly users: ChatUserMapper;
  private app: BoltApp | undefined;

  constructor(
    private readonly ctx: AdapterContext<SlackConfig>,
    private readonly client: SlackClient,
    options: { now?: () => number } = {},
  ) {
    const review = ctx.config.review;
    this.users = new ChatUserMapper(ctx as AdapterContext<unknown>, {
      service: 'Slack',
      trait: review.slackUserIdTrait,
      allowEmailMatch: review.allowEmailUsernameMatch,
      emailOf: async (id, signal) => (await client.userInfo(id, signal))?.email,
      ...(options.now && { now: options.now }),
    });
  }

  /** POST /slack/interactivity (only with a signing secret). */
  route(): WebhookRoute {
    const secret = this.ctx.config.review.signingSecret ?? '';
    return {
      method: 'POST',
      path: '/interactivity',
      // Slack cannot send basic auth; every request is verified by its v0 signature instead.
      selfAuthenticated: true,
      handle: async (req: WebhookRequest): Promise<WebhookResponse> => {
        const verdict = verifySlackSignature(secret, req.headers, req.rawBody);
        if (!verdict.ok) {
          this.ctx.logger.warn('Rejected Slack interactivity request', { reason: verdict.reason, remote: req.remoteAddress });
          return { status: 401, body: 'invalid signature' };
        }
        let payload: unknown;
        try {
          const form = new URLSearchParams(req.rawBody.toString('utf8'));
          // Slack's periodic certificate check of the Request URL.
          if (form.get('ssl_check') === '1') return { status: 200 };
          payload = JSON.parse(form.get('payload') ?? '');
        } catch {
          return { status: 400, body: 'expected a form field "payload" holding JSON' };
        }
        // Valid JSON is not yet an interaction: `null` or `42` would fail later as a TypeError.
        if (!isJsonObject(payload)) {
          this.ctx.logger.warn('Rejected an invalid Slack interaction payload: expected a JSON object', {
            payload: describeJson(payload),
            remote: req.remoteAddress,
          });
          return { status: 400, body: 'invalid interaction payload' };
        }
        this.dispatch(payload);
        return { status: 200 };
      },
    };
  }

  /** Connects over Socket Mode (only with an app token). */
  async startSocketMode(bot: { userId: string; botId: string }): Promise<void> {
    const { config, logger } = this.ctx;
    // Bolt (about 20 MB of memory) is loaded only when Socket Mode is used.
    const { default: bolt } = await import('@slack/bolt');
    const { App, LogLevel } = bolt;
    const app = new App({
      appToken: config.review.appToken,
      socketMode: true,
      // authorize instead of token: Bolt would otherwise call auth.test again at construction.
      authorize: async () => ({ botToken: config.token, botId: bot.botId, botUserId: bot.userId }),
      clientOptions: { slackApiUrl: config.apiUrl },
      logger: sdkLogger(logger) as never,
      logLevel: LogLevel.INFO,
    });
    app.action({ block_id: REVIEW_BLOCK_ID }, async ({ ack, body }) => {
      await ack();
      this.dispatch(body);
    });
    app.error(async (err) => {
      logger.error('Slack Socket Mode handler failed', { error: errorMessage(err) });
    });
    await app.start();
    this.app = app;
    logger.info('Slack Socket Mode connected: approve/deny buttons are live');
  }

  async stop(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    if (app) await app.stop().catch((err: unknown) => this.ctx.logger.debug('Socket Mode stop failed', { error: errorMessage(err) }));
    await Promise.allSettled([...this.inFlight]);
  }

  /** Work after the ack; tracked so shutdown can wait for it. */
  private dispatch(payload: unknown): void {
    const p = this.handle(payload).catch((err: unknown) => {
      this.ctx.logger.error('Slack review action failed', { error: errorMessage(err) });
    });
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /**
   * Processes one `block_actions` payload (exported for tests through the class). The HTTP route
   * refuses non-objects with a 400 first, and Bolt routes only objects here; the check keeps
   * anything else that arrives a warning instead of a TypeError.
   */
  async handle(received: unknown): Promise<void> {
    const { logger } = this.ctx;
    if (!isJsonObject(received)) {
      logger.warn('Ignored an invalid Slack interaction payload: expected a JSON object', { payload: describeJson(received) });
      return;
    }
    const payload = received as BlockActionsPayload;
    if (payload.type !== 'block_actions') return;
    const actions = payload.actions ?? [];
    const action = actions[0];
    const slackUser = payload.user?.id ?? '';
    const channel = payload.channel?.id || payload.container?.channel_id || '';
    if (actions.length !== 1 || !action || action.block_id !== REVIEW_BLOCK_ID) {
      logger.debug('Ignoring Slack action outside the review block');
      return;
    }
    const state = action.action_id === APPROVE_ACTION_ID ? 'APPROVED' : action.action_id === DENY_ACTION_ID ? 'DENIED' : undefined;
    const requestId = action.value ?? '';
    if (!state || !slackUser || !requestId) {
      logger.warn('Malformed Slack review action', { actionId: action.action_id, slackUser });
      return;
    }
    // Slack may deliver an interaction again; one trigger is one review attempt.
    if (payload.trigger_id) {
      if (this.seenTriggers.has(payload.trigger_id)) return;
      this.seenTriggers.add(payload.trigger_id);
      if (this.seenTriggers.size > 10_000) this.seenTriggers.clear();
    }
    const log = logger.child({ requestId, slackUser });
    const reply = async (text: string): Promise<void> => {
      if (!channel) return;
      try {
        await this.client.postEphemeral({ channel, user: slackUser, text }, this.ctx.signal);
      } catch (err) {
        log.warn('Could not send the ephemeral review answer', { error: errorMessage(err) });
      }
    };

    const mapping = await this.users.resolve(slackUser);
    if ('refusal' in mapping) {
      log.warn('Slack review refused: no single Teleport user matches this Slack user');
      await reply(mapping.refusal);
      return;
    }
    await reply(await submitChatReview(this.ctx as AdapterContext<unknown>, { service: 'Slack', requestId, teleportUser: mapping.user, decision: state, logger: log }));
  }

  /** The Teleport user behind a Slack user, or undefined (fail closed). */
  async teleportUserFor(slackUserId: string): Promise<string | undefined> {
    return this.users.teleportUserFor(slackUserId);
  }

  resolveTeleportUser(slackUserId: string): Promise<UserMapping> {
    return this.users.resolve(slackUserId);
  }
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a payload was instead of an object, for logs (never its content). */
function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}
