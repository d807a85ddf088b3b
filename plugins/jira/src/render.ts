import { goRfc822 } from '@teleport-plugin/core';
import type { AccessRequest, AccessReview } from '@teleport-plugin/core';

/**
 * Texts of the Jira issue and its comments, in Jira wiki markup (REST API v2). They match the Go
 * plugin's templates (`jira/client.go`) character for character, so issues read the same after a
 * swap and the comments the Go plugin posted are recognised by findComment.
 */

/** Issue property holding the Teleport request id (the Go plugin's key). */
export const REQUEST_ID_PROPERTY = 'teleportAccessRequestId';

/**
 * Comment property naming what a comment says (`{requestId, kind, index?}`), so a comment whose
 * answer was lost can be found again without depending on how Jira re-renders its body.
 */
export const COMMENT_MARKER_PROPERTY = 'teleportAccessRequestComment';

/** Teleport caps reasons at 4096 characters; the Go plugin keeps 3000 of them in Jira. */
export const JIRA_REASON_LIMIT = 3000;

/** Jira refuses summaries of 255 characters or more. */
export const SUMMARY_LIMIT = 254;

/** The resolutions the issue can end in (lower case, as the Go plugin's plugin data spells them). */
export type ResolutionTag = 'approved' | 'denied' | 'expired' | 'promoted';

/**
 * The first 3000 characters. Counted in code points, so a cut never splits a character (the Go
 * plugin cuts bytes, which can leave half a UTF-8 sequence; for ASCII the two agree).
 */
export function truncateReason(reason: string, limit = JIRA_REASON_LIMIT): string {
  if (reason.length <= limit) return reason;
  const points = Array.from(reason);
  return points.length <= limit ? reason : points.slice(0, limit).join('');
}

/** `<user> requested <r1, r2>`, or `<user> requested access to N roles` when that is too long. */
export function issueSummary(request: Pick<AccessRequest, 'user' | 'roles'>): string {
  const summary = `${request.user} requested ${request.roles.join(', ')}`;
  // Go's len() counts bytes; so does this, so the switch happens where it did.
  if (Buffer.byteLength(summary, 'utf8') <= SUMMARY_LIMIT) return summary;
  return `${request.user} requested access to ${request.roles.length} roles`;
}

/**
 * The issue description. `link` is the request's web page when the cluster has one (Enterprise).
 * Layout (blank lines included) as the Go template renders it.
 */
export function issueDescription(
  request: Pick<AccessRequest, 'id' | 'user' | 'roles' | 'created' | 'requestReason'>,
  link: string | undefined,
  now: () => Date = () => new Date(),
): string {
  const reason = truncateReason(request.requestReason);
  let text = `User *${request.user}* requested an access on *${goRfc822(request.created ?? now())}* with the following roles:\n`;
  for (const role of request.roles) text += `\n* ${role}\n`;
  text += '\n';
  if (reason) text += `\nReason: *${reason}*\n`;
  text += `\nRequest ID: *${request.id}*\n`;
  if (link) text += `To approve or deny the request, proceed to ${link}`;
  return text;
}

/**
 * A review, posted as a comment. The Go plugin does not cut review reasons; this does (3000, as
 * every other reason), which changes nothing for reasons of up to 3000 characters.
 */
export function reviewComment(review: Pick<AccessReview, 'author' | 'created' | 'proposedState' | 'reason'>, now: () => Date = () => new Date()): string {
  const reason = truncateReason(review.reason);
  return `*${review.author}* reviewed the request at *${goRfc822(review.created ?? now())}*.\n` + `Resolution: *${review.proposedState}*.\n` + (reason ? `Reason: ${reason}.` : '');
}

/** Posted when the request is resolved or expires, before the transition. */
export function resolutionComment(tag: ResolutionTag, reason: string): string {
  const cut = truncateReason(reason);
  return `Access request has been ${tag}\n${cut ? `Reason: ${cut}` : ''}`;
}

/** What a comment says, stored as its COMMENT_MARKER_PROPERTY. */
export type CommentMarker =
  | { requestId: string; kind: 'review'; /** 0-based position of the review in the request. */ index: number }
  | { requestId: string; kind: 'resolution' }
  /** A reminder (`index` 1-based) or the escalation note (`[reminders]`). */
  | { requestId: string; kind: 'reminder'; index: number }
  | { requestId: string; kind: 'escalation' };

export function sameMarker(a: unknown, b: CommentMarker): boolean {
  if (typeof a !== 'object' || a === null) return false;
  const m = a as Record<string, unknown>;
  if (m['requestId'] !== b.requestId || m['kind'] !== b.kind) return false;
  return b.kind === 'review' || b.kind === 'reminder' ? m['index'] === b.index : true;
}
