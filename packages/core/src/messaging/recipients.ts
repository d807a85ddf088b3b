import type { Logger } from '../log/logger.js';
import type { AccessRequest } from '../teleport/types.js';

/**
 * A plain `local@domain` address, no display name or comments: what upstream accepts from
 * suggested reviewers (an exact mail.ParseAddress round trip).
 */
export function isEmail(value: string): boolean {
  return /^[^\s@<>()[\],;:"\\]+@[^\s@<>()[\],;:"\\]+$/.test(value);
}

/**
 * Raw recipients of a request (upstream's rule): for each requested role its entry in
 * role_to_recipients (or the `*` fallback), plus suggested reviewers that are email addresses.
 * Order kept, duplicates removed; each string is later resolved by the adapter's bot.
 */
export function rawRecipients(request: AccessRequest, roleToRecipients: Readonly<Record<string, readonly string[]>>, logger: Logger): string[] {
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
    else logger.warn('suggested reviewer is not an email address; skipped', { reviewer });
  }
  return [...out];
}
