import type { AdapterContext } from '../adapter.js';
import { errorMessage, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { TraitUserIndex, type TraitLookup } from './traitUserIndex.js';

/** Upstream's answers to the clicker (the Slack review tests assert the first four). */
export const REPLY_ALREADY_REVIEWED = 'Request has already been reviewed by user';
export const REPLY_INSUFFICIENT = 'Insufficient permissions to review request';
export const REPLY_RESOLVED = 'Request has already been resolved or expired';
export const REPLY_UNKNOWN = 'Unknown error';
export const REPLY_OWN_REQUEST = 'You cannot review your own request';
export const REPLY_SUBMITTED = (state: string, id: string): string => `Your review (${state}) of request ${id} was submitted to Teleport.`;
export const REPLY_LONG_TERM = (service: string): string =>
  `Long-term access requests cannot be reviewed from ${service}. Please review this request in the Teleport Web UI or with tsh.`;
export const REPLY_NO_USER = (service: string): string =>
  `Your ${service} account is not linked to a Teleport user, so the review was not submitted. Ask an administrator to set your ${service} user id in your Teleport user traits.`;
export const REPLY_NO_TRAIT_MATCH = (trait: string, chatUserId: string): string =>
  `No Teleport user has the trait "${trait}" set to your user id ${chatUserId}, so the review was not submitted. Ask an administrator to add it to your Teleport user.`;
export const REPLY_SEVERAL_TRAIT_MATCHES = (trait: string, chatUserId: string): string =>
  `Several Teleport users have the trait "${trait}" set to your user id ${chatUserId}, so the review was not submitted. Ask an administrator to keep it on exactly one Teleport user.`;
export const REPLY_LOOKUP_FAILED = 'Could not look up your Teleport user right now, so the review was not submitted. Please try again.';

/** Chat user -> Teleport user answers are reused this long (as the Go plugin does). */
const USER_CACHE_MS = 10 * 60 * 1000;

/** Who a chat user is in Teleport, or why the review is refused (the clicker's answer). */
export type UserMapping = { user: string } | { refusal: string };

export interface ChatUserMapperOptions {
  /** `Slack`: in answers and logs. */
  service: string;
  /** The Teleport trait that holds the chat user id (strong binding). */
  trait: string | undefined;
  /** Accept the chat profile's email as the Teleport username when no user has the trait (weaker; opt-in). */
  allowEmailMatch: boolean;
  /** The chat user's email, when the service shows it; undefined otherwise. */
  emailOf(chatUserId: string, signal?: AbortSignal): Promise<string | undefined>;
  now?: () => number;
}

/**
 * Maps a chat user to exactly one Teleport user, failing closed. With a trait, the user whose trait
 * holds the chat id (found by listing users, as the Go plugin does), so Teleport names that are not
 * emails (GitHub or OIDC logins) work. Without permission to list users (or on servers without
 * ListUsers) the chat profile's email names the candidate user instead, who must then carry the id
 * in the trait; `allowEmailMatch` accepts that candidate without the trait when no user has it.
 */
export class ChatUserMapper {
  private readonly cache = new Map<string, { teleportUser: string; expires: number }>();
  private readonly traitIndex: TraitUserIndex | undefined;
  private readonly now: () => number;
  private listUsersUnavailableUntil = 0;
  private listUsersWarned = false;

  constructor(
    private readonly ctx: AdapterContext<unknown>,
    private readonly options: ChatUserMapperOptions,
  ) {
    this.now = options.now ?? Date.now;
    const listUsers = ctx.teleport.listUsers?.bind(ctx.teleport);
    if (options.trait && listUsers) this.traitIndex = new TraitUserIndex(options.trait, listUsers, this.now);
  }

  async teleportUserFor(chatUserId: string): Promise<string | undefined> {
    const mapping = await this.resolve(chatUserId);
    return 'user' in mapping ? mapping.user : undefined;
  }

  async resolve(chatUserId: string): Promise<UserMapping> {
    const cached = this.cache.get(chatUserId);
    if (cached && cached.expires > this.now()) return { user: cached.teleportUser };
    const { trait, service } = this.options;
    let refusal = REPLY_NO_USER(service);
    if (trait) {
      const found = await this.byTrait(chatUserId, trait);
      if (found === 'failed') return { refusal: REPLY_LOOKUP_FAILED };
      if (found !== 'unavailable') {
        if (found.kind === 'one') return this.remember(chatUserId, found.user);
        // Several matches never fall back: the email would pick one of them arbitrarily.
        if (found.kind === 'several') return { refusal: REPLY_SEVERAL_TRAIT_MATCHES(trait, chatUserId) };
        refusal = REPLY_NO_TRAIT_MATCH(trait, chatUserId);
        if (!this.options.allowEmailMatch) return { refusal };
      }
    }
    const byEmail = await this.byEmail(chatUserId);
    return byEmail ? this.remember(chatUserId, byEmail) : { refusal };
  }

  private remember(chatUserId: string, teleportUser: string): UserMapping {
    this.cache.set(chatUserId, { teleportUser, expires: this.now() + USER_CACHE_MS });
    return { user: teleportUser };
  }

  /**
   * 'unavailable' when listing users is refused or not implemented (use the email path),
   * 'failed' on any other error (refuse: a transient failure must not change who we map to).
   */
  private async byTrait(chatUserId: string, trait: string): Promise<TraitLookup | 'unavailable' | 'failed'> {
    if (!this.traitIndex || this.now() < this.listUsersUnavailableUntil) return 'unavailable';
    const log = this.ctx.logger.child({ chatUser: chatUserId, trait });
    try {
      const found = await this.traitIndex.lookup(chatUserId, this.ctx.signal);
      if (found.kind === 'none') log.warn('No Teleport user has the chat user id in the trait');
      if (found.kind === 'several') log.warn('Several Teleport users have the chat user id in the trait; refusing', { users: found.users });
      return found;
    } catch (err) {
      if (isPluginError(err, 'ACCESS_DENIED') || isPluginError(err, 'NOT_IMPLEMENTED')) {
        // Try again after a while: an administrator may grant the permission without a restart.
        this.listUsersUnavailableUntil = this.now() + USER_CACHE_MS;
        if (!this.listUsersWarned) {
          this.listUsersWarned = true;
          this.ctx.logger.warn(
            `Cannot list Teleport users to find ${this.options.service} reviewers by trait; give the plugin's role "user: [list, read]" for trait lookup. ` +
              'Until then the chat email is used as the Teleport username (that user must carry the trait)',
            { trait, error: errorMessage(err) },
          );
        }
        return 'unavailable';
      }
      log.warn('Could not list Teleport users to map the chat user', { error: errorMessage(err) });
      return 'failed';
    }
  }

  /**
   * The email path: the chat profile's email names the candidate Teleport user; that user must
   * carry the chat user id in the trait (a different id refuses), unless email matching is
   * allowed and the trait is empty.
   */
  private async byEmail(chatUserId: string): Promise<string | undefined> {
    const { trait, allowEmailMatch } = this.options;
    const log = this.ctx.logger.child({ chatUser: chatUserId });
    const email = await this.options.emailOf(chatUserId, this.ctx.signal);
    if (!email) {
      log.warn('Chat user has no visible email; cannot map to Teleport');
      return undefined;
    }
    let traits: Record<string, string[]>;
    try {
      traits = (await this.ctx.teleport.getUser(email, this.ctx.signal)).traits;
    } catch (err) {
      log.warn('No Teleport user for the chat email', { email, error: errorMessage(err) });
      return undefined;
    }
    let matched = false;
    if (trait) {
      const values = traits[trait] ?? [];
      if (values.includes(chatUserId)) matched = true;
      else if (values.length > 0) {
        log.warn('Teleport user trait holds a different chat user id', { user: email, trait });
        return undefined;
      }
    }
    if (!matched && allowEmailMatch) matched = true;
    if (!matched) {
      log.warn('Teleport user lacks the chat user id trait', { user: email, trait });
      return undefined;
    }
    return email;
  }
}

/**
 * A review clicked in a chat, submitted on behalf of the Teleport user behind the clicker, with
 * the checks that belong before any call: the request must still be pending, long-term requests
 * are never reviewed from a chat, and nobody reviews their own request (Teleport refuses that
 * too; refusing here gives a clearer answer). Resolves to the answer to show the clicker.
 */
export async function submitChatReview(
  ctx: AdapterContext<unknown>,
  input: { service: string; requestId: string; teleportUser: string; decision: 'APPROVED' | 'DENIED'; logger?: Logger },
): Promise<string> {
  const log = input.logger ?? ctx.logger.child({ requestId: input.requestId });
  const request = await ctx.teleport.getRequest(input.requestId, ctx.signal).catch(() => undefined);
  if (!request || request.state !== 'PENDING') return REPLY_RESOLVED;
  // Standing access through an Access List deserves the Web UI's checks, not a chat button.
  if (request.requestKind === 'LONG_TERM') {
    log.warn(`${input.service} review refused: long-term requests are not reviewed from a chat`, { user: input.teleportUser });
    return REPLY_LONG_TERM(input.service);
  }
  if (request.user === input.teleportUser) {
    log.warn(`${input.service} review refused: requester tried to review their own request`, { user: input.teleportUser });
    return REPLY_OWN_REQUEST;
  }
  try {
    const result = await ctx.teleport.submitReview(
      input.requestId,
      { author: input.teleportUser, proposedState: input.decision, reason: `Reviewed in ${input.service}` },
      ctx.signal,
    );
    if (result.outcome === 'already-reviewed') return REPLY_ALREADY_REVIEWED;
    log.info(`Review submitted from ${input.service}`, { author: input.teleportUser, proposedState: input.decision });
    return REPLY_SUBMITTED(input.decision, input.requestId);
  } catch (err) {
    log.warn(`${input.service} review rejected by Teleport`, { author: input.teleportUser, error: errorMessage(err) });
    return replyForError(err);
  }
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
