import { createHmac, timingSafeEqual } from 'node:crypto';
import bolt from '@slack/bolt';
import { errorMessage, isPluginError, type AdapterContext, type WebhookRequest, type WebhookResponse, type WebhookRoute } from '@teleport-plugin/core';
import { sdkLogger, type SlackClient } from './client.js';
import type { SlackConfig } from './config.js';
import { APPROVE_ACTION_ID, DENY_ACTION_ID, REVIEW_BLOCK_ID } from './render.js';
import { TraitUserIndex, type TraitLookup } from './trait-user-index.js';

const { App, LogLevel } = bolt;

/** Slack's replay window for signed requests. */
export const SIGNATURE_MAX_AGE_SECONDS = 5 * 60;
/** Slack user -> Teleport user answers are reused this long (as the Go plugin does). */
const USER_CACHE_MS = 10 * 60 * 1000;

export const REPLY_SUBMITTED = (state: string, id: string): string => `Your review (${state}) of request ${id} was submitted to Teleport.`;
export const REPLY_ALREADY_REVIEWED = 'Request has already been reviewed by user';
export const REPLY_INSUFFICIENT = 'Insufficient permissions to review request';
export const REPLY_RESOLVED = 'Request has already been resolved or expired';
export const REPLY_OWN_REQUEST = 'You cannot review your own request';
export const REPLY_LONG_TERM = 'Long-term access requests cannot be reviewed from Slack. Please review this request in the Teleport Web UI or with tsh.';
export const REPLY_UNKNOWN = 'Unknown error';
export const REPLY_NO_USER =
  'Your Slack account is not linked to a Teleport user, so the review was not submitted. Ask an administrator to set your Slack user id in your Teleport user traits.';
export const REPLY_NO_TRAIT_MATCH = (trait: string, slackUserId: string): string =>
  `No Teleport user has the trait "${trait}" set to your Slack user id ${slackUserId}, so the review was not submitted. Ask an administrator to add it to your Teleport user.`;
export const REPLY_SEVERAL_TRAIT_MATCHES = (trait: string, slackUserId: string): string =>
  `Several Teleport users have the trait "${trait}" set to your Slack user id ${slackUserId}, so the review was not submitted. Ask an administrator to keep it on exactly one Teleport user.`;
export const REPLY_LOOKUP_FAILED = 'Could not look up your Teleport user right now, so the review was not submitted. Please try again.';

/** Who a Slack user is in Teleport, or why the review is refused (the clicker's answer). */
export type UserMapping = { user: string } | { refusal: string };

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
  private readonly userCache = new Map<string, { teleportUser: string; expires: number }>();
  private readonly seenTriggers = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly traitIndex: TraitUserIndex | undefined;
  private readonly now: () => number;
  /** Until when listing users is known to be refused (then the email path is used). */
  private listUsersUnavailableUntil = 0;
  private listUsersWarned = false;
  private app: InstanceType<typeof App> | undefined;

  constructor(
    private readonly ctx: AdapterContext<SlackConfig>,
    private readonly client: SlackClient,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? Date.now;
    const trait = ctx.config.review.slackUserIdTrait;
    const listUsers = ctx.teleport.listUsers?.bind(ctx.teleport);
    if (trait && listUsers) this.traitIndex = new TraitUserIndex(trait, listUsers, this.now);
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

    const mapping = await this.resolveTeleportUser(slackUser);
    if ('refusal' in mapping) {
      log.warn('Slack review refused: no single Teleport user matches this Slack user');
      await reply(mapping.refusal);
      return;
    }
    const teleportUser = mapping.user;
    const request = await this.ctx.teleport.getRequest(requestId, this.ctx.signal).catch(() => undefined);
    if (!request || request.state !== 'PENDING') {
      await reply(REPLY_RESOLVED);
      return;
    }
    // Standing access through an Access List deserves the Web UI's checks, not a chat button.
    if (request.requestKind === 'LONG_TERM') {
      log.warn('Slack review refused: long-term requests are not reviewed from Slack', { user: teleportUser });
      await reply(REPLY_LONG_TERM);
      return;
    }
    if (request.user === teleportUser) {
      log.warn('Slack review refused: requester tried to review their own request', { user: teleportUser });
      await reply(REPLY_OWN_REQUEST);
      return;
    }
    try {
      const result = await this.ctx.teleport.submitReview(
        requestId,
        { author: teleportUser, proposedState: state, reason: 'Reviewed in Slack' },
        this.ctx.signal,
      );
      if (result.outcome === 'already-reviewed') {
        await reply(REPLY_ALREADY_REVIEWED);
        return;
      }
      log.info('Review submitted from Slack', { author: teleportUser, proposedState: state });
      await reply(REPLY_SUBMITTED(state, requestId));
    } catch (err) {
      log.warn('Slack review rejected by Teleport', { author: teleportUser, error: errorMessage(err) });
      await reply(replyForError(err));
    }
  }

  /** The Teleport user behind a Slack user, or undefined (fail closed). */
  async teleportUserFor(slackUserId: string): Promise<string | undefined> {
    const mapping = await this.resolveTeleportUser(slackUserId);
    return 'user' in mapping ? mapping.user : undefined;
  }

  /**
   * Maps a Slack user to exactly one Teleport user, failing closed. With `slack_user_id_trait`,
   * the user whose trait holds the Slack id (found by listing users, as the Go plugin does), so
   * Teleport names that are not emails (GitHub or OIDC logins) work. Without permission to list
   * users (or on servers without ListUsers) the Slack profile email names the candidate user
   * instead, who must then carry the id in the trait. `allow_email_username_match` accepts that
   * candidate without the trait when no user has it.
   */
  async resolveTeleportUser(slackUserId: string): Promise<UserMapping> {
    const cached = this.userCache.get(slackUserId);
    if (cached && cached.expires > this.now()) return { user: cached.teleportUser };
    const { review } = this.ctx.config;
    const trait = review.slackUserIdTrait;
    let refusal = REPLY_NO_USER;
    if (trait) {
      const found = await this.byTrait(slackUserId, trait);
      if (found === 'failed') return { refusal: REPLY_LOOKUP_FAILED };
      if (found !== 'unavailable') {
        if (found.kind === 'one') return this.remember(slackUserId, found.user);
        // Several matches never fall back: the email would pick one of them arbitrarily.
        if (found.kind === 'several') return { refusal: REPLY_SEVERAL_TRAIT_MATCHES(trait, slackUserId) };
        refusal = REPLY_NO_TRAIT_MATCH(trait, slackUserId);
        if (!review.allowEmailUsernameMatch) return { refusal };
      }
    }
    const byEmail = await this.byEmail(slackUserId);
    return byEmail ? this.remember(slackUserId, byEmail) : { refusal };
  }

  private remember(slackUserId: string, teleportUser: string): UserMapping {
    this.userCache.set(slackUserId, { teleportUser, expires: this.now() + USER_CACHE_MS });
    return { user: teleportUser };
  }

  /**
   * 'unavailable' when listing users is refused or not implemented (use the email path),
   * 'failed' on any other error (refuse: a transient failure must not change who we map to).
   */
  private async byTrait(slackUserId: string, trait: string): Promise<TraitLookup | 'unavailable' | 'failed'> {
    if (!this.traitIndex || this.now() < this.listUsersUnavailableUntil) return 'unavailable';
    const log = this.ctx.logger.child({ slackUser: slackUserId, trait });
    try {
      const found = await this.traitIndex.lookup(slackUserId, this.ctx.signal);
      if (found.kind === 'none') log.warn('No Teleport user has the Slack user id in the trait');
      if (found.kind === 'several') log.warn('Several Teleport users have the Slack user id in the trait; refusing', { users: found.users });
      return found;
    } catch (err) {
      if (isPluginError(err, 'ACCESS_DENIED') || isPluginError(err, 'NOT_IMPLEMENTED')) {
        // Try again after a while: an administrator may grant the permission without a restart.
        this.listUsersUnavailableUntil = this.now() + USER_CACHE_MS;
        if (!this.listUsersWarned) {
          this.listUsersWarned = true;
          this.ctx.logger.warn(
            'Cannot list Teleport users to find Slack reviewers by trait; give the plugin\'s role "user: [list, read]" for trait lookup. ' +
              'Until then the Slack email is used as the Teleport username (that user must carry the trait)',
            { trait, error: errorMessage(err) },
          );
        }
        return 'unavailable';
      }
      log.warn('Could not list Teleport users to map the Slack user', { error: errorMessage(err) });
      return 'failed';
    }
  }

  /**
   * The email path: the Slack profile email names the candidate Teleport user; that user must
   * carry the Slack user id in `slack_user_id_trait` (a different id refuses), unless email
   * matching is allowed and the trait is empty.
   */
  private async byEmail(slackUserId: string): Promise<string | undefined> {
    const { review } = this.ctx.config;
    const log = this.ctx.logger.child({ slackUser: slackUserId });
    const profile = await this.client.userInfo(slackUserId, this.ctx.signal);
    if (!profile?.email) {
      log.warn('Slack user has no visible email (needs users:read.email); cannot map to Teleport');
      return undefined;
    }
    let traits: Record<string, string[]>;
    try {
      traits = (await this.ctx.teleport.getUser(profile.email, this.ctx.signal)).traits;
    } catch (err) {
      log.warn('No Teleport user for the Slack email', { email: profile.email, error: errorMessage(err) });
      return undefined;
    }
    let matched = false;
    if (review.slackUserIdTrait) {
      const values = traits[review.slackUserIdTrait] ?? [];
      if (values.includes(slackUserId)) matched = true;
      else if (values.length > 0) {
        log.warn('Teleport user trait holds a different Slack user id', { user: profile.email, trait: review.slackUserIdTrait });
        return undefined;
      }
    }
    if (!matched && review.allowEmailUsernameMatch) matched = true;
    if (!matched) {
      log.warn('Teleport user lacks the Slack user id trait', { user: profile.email, trait: review.slackUserIdTrait });
      return undefined;
    }
    return profile.email;
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

/**
 * Teleport's refusal in the clicker's words. Order matters: Teleport reports a request that was
 * resolved meanwhile ("the access request has been already approved") as AccessDenied too, so
 * the state check comes before the permission check.
 */
export function replyForError(err: unknown): string {
  const message = errorMessage(err).toLowerCase();
  if (message.includes('has been already') || message.includes('already been') || message.includes('not pending') || message.includes('resolved')) {
    return REPLY_RESOLVED;
  }
  if (isPluginError(err, 'NOT_FOUND') && message.includes('request')) return REPLY_RESOLVED;
  if (isPluginError(err, 'ACCESS_DENIED')) return REPLY_INSUFFICIENT;
  return REPLY_UNKNOWN;
}
