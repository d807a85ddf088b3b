import { goRfc822, resourceIdString } from '@teleport-plugin/core';
import type { AccessRequest, AccessReview } from '@teleport-plugin/core';

/**
 * Texts of the GitLab issue and its notes, line for line as the Go plugin's templates
 * (teleport-plugins access/gitlab/client.go, 2022), so issues look the same after a swap and
 * upstream's description parser still finds the request id in ours.
 *
 * Two additions, both invisible for the requests upstream knew:
 * - text that people type (reasons) cannot start a line with `/`: GitLab runs quick actions
 *   (`/label ~"Teleport: Approved"`, `/close`) found at the start of a line in descriptions and
 *   notes the bot posts, which would let a reason approve its own request. A backslash before the
 *   slash renders as nothing in Markdown and stops the quick action.
 * - resource requests (which upstream predates) name their resources after the roles.
 */

/** Longest reason we print (upstream had none; GitLab refuses notes over 1,000,000 characters). */
export const REASON_LIMIT = 3000;
export const TRUNCATION_SUFFIX = ' (truncated)';
/** GitLab refuses longer issue titles. */
export const TITLE_LIMIT = 255;

const UUID = '[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}';
/** Upstream's `issueDescriptionRegex`. */
const REQUEST_ID_IN_DESCRIPTION = new RegExp(`request\\s+id\\s+is.+(${UUID})`, 'gi');

export function issueTitle(request: Pick<AccessRequest, 'user'>): string {
  return truncate(`Access request from ${request.user}`, TITLE_LIMIT, '…');
}

/**
 * The issue description (markdown). `link` is the request's web UI page (Enterprise clusters);
 * the request id line is what find verbs and upstream's webhook parser read back.
 */
export function issueDescription(
  request: Pick<AccessRequest, 'id' | 'user' | 'roles' | 'created' | 'requestReason' | 'requestedResources'>,
  link: string | undefined,
  now: () => Date = () => new Date(),
): string {
  const roles = request.roles.map((r) => `**${r}**`).join(', ');
  const resources = request.requestedResources.map((r) => `**${resourceIdString(r)}**`).join(', ');
  const what = resources ? `${roles} and resources ${resources}` : roles;
  const reason = request.requestReason ? `Reason: **${reasonText(request.requestReason)}**.` : '';
  return (
    `${request.user} requested permissions for roles ${what} on Teleport at **${goRfc822(request.created ?? now())}**. ` +
    `To approve or deny the request, please assign a corresponding label and close the issue${link ? ` or proceed to ${link}` : ''}.\n\n` +
    `${reason}\n\n` +
    `Request ID is \`${request.id}\`.`
  );
}

export function reviewNote(review: Pick<AccessReview, 'author' | 'created' | 'proposedState' | 'reason'>, now: () => Date = () => new Date()): string {
  return (
    `**${review.author}** reviewed the request at **${goRfc822(review.created ?? now())}**.\n\n` +
    `Resolution: **${review.proposedState}**.\n\n` +
    `${review.reason ? `Reason: ${reasonText(review.reason)}.` : ''}`
  );
}

/** `tag`: the lower-case resolution (approved, denied, expired, promoted). */
export function resolutionNote(tag: string, reason: string): string {
  return `Access request has been ${tag}\n\n${reason ? `Reason: ${reasonText(reason)}` : ''}`;
}

/**
 * The request id in an issue description, written by us or by the Go plugin. The last
 * "Request ID is" line counts: ours closes the description, and an earlier one can only come
 * from a reason someone typed.
 */
export function requestIdFromDescription(description: string | null | undefined): string | undefined {
  if (!description) return undefined;
  let found: string | undefined;
  for (const m of description.matchAll(REQUEST_ID_IN_DESCRIPTION)) found = m[1];
  return found?.toLowerCase();
}

/** A reason as printed: truncated to REASON_LIMIT characters, no line starting a quick action. */
export function reasonText(reason: string): string {
  return neutralizeQuickActions(truncate(reason, REASON_LIMIT, TRUNCATION_SUFFIX));
}

/** `/label ~x` at the start of a line becomes `\/label ~x`: same rendering, no quick action. */
export function neutralizeQuickActions(text: string): string {
  return text.replace(/^([ \t]*)\//gm, '$1\\/');
}

/** Cuts at `limit` code points (never inside a surrogate pair) and appends `suffix`. */
function truncate(text: string, limit: number, suffix: string): string {
  const chars = Array.from(text);
  if (chars.length <= limit) return text;
  const keep = Math.max(0, limit - Array.from(suffix).length);
  return chars.slice(0, keep).join('') + suffix;
}
