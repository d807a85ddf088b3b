import { goRfc822 } from '@teleport-plugin/core';
import type { AccessRequest, AccessReview } from '@teleport-plugin/core';

/**
 * Texts of the PagerDuty incident, its notes and the auto-approval review. They match the Go
 * plugin's templates line for line, so incidents look the same after a swap.
 */

/** Go's `time.RFC822` in UTC (core's), under the name this package has always exported. */
export { goRfc822 as formatRfc822 };

export const INCIDENT_KEY_PREFIX = 'teleport-access-request';

/** PagerDuty de-duplicates open incidents by this key, which makes a retried create harmless. */
export function incidentKey(requestId: string): string {
  return `${INCIDENT_KEY_PREFIX}/${requestId}`;
}

export function incidentTitle(request: AccessRequest): string {
  return `Access request from ${request.user}`;
}

export function incidentDetails(request: AccessRequest, link: string | undefined, now: () => Date = () => new Date()): string {
  const at = goRfc822(request.created ?? now());
  return (
    `${request.user} requested permissions for roles ${request.roles.join(', ')} on Teleport at ${at}.\n` +
    `${request.requestReason ? `Reason: ${request.requestReason}` : ''}\n` +
    `${link ? `To approve or deny the request, proceed to ${link}` : ''}\n`
  );
}

export function reviewNote(review: AccessReview, now: () => Date = () => new Date()): string {
  const at = goRfc822(review.created ?? now());
  return `${review.author} reviewed the request at ${at}.\n` + `Resolution: ${review.proposedState}.\n` + `${review.reason ? `Reason: ${review.reason}.` : ''}`;
}

/** `tag` is the lower-case resolution: approved, denied, expired or promoted. */
export function resolutionNote(tag: string, reason: string): string {
  return `Access request has been ${tag}\n${reason ? `Reason: ${reason}` : ''}`;
}

export function autoApprovalReason(userName: string, email: string, services: readonly string[]): string {
  return `Access requested by user ${userName} (${email}) who is on call in service(s) ${services.join(',')}`;
}
