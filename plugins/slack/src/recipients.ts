import type { AccessRequest, Logger } from '@teleport-plugin/core';

/**
 * A plain `local@domain` address, no display name or comments: what upstream accepts from
 * suggested reviewers (an exact mail.ParseAddress round trip).
 */
export function isEmail(value: string): boolean {
  return /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+$/.test(value);
}

/**
 * Raw recipients of a request: for each requested role its entry in role_to_recipients (or the
 * `*` fallback), plus suggested reviewers that are email addresses. Order kept, duplicates
 * removed; each raw string is later resolved to a Slack channel.
 */
export function rawRecipients(request: AccessRequest, roleToRecipients: Record<string, string[]>, logger: Logger): string[] {
  const out = new Set<string>();
  const fallback = roleToRecipients['*'] ?? [];
  for (const role of request.roles) {
    const entry = roleToRecipients[role];
    for (const r of entry && entry.length > 0 ? entry : fallback) out.add(r);
  }
  // A resource request may carry no roles the map knows about; it still goes to the fallback.
  if (request.roles.length === 0) for (const r of fallback) out.add(r);
  for (const reviewer of request.suggestedReviewers) {
    if (isEmail(reviewer)) out.add(reviewer);
    else logger.warn('Suggested reviewer is not an email address, skipped', { reviewer });
  }
  return [...out];
}
