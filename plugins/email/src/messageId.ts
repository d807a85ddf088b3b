import { createHash } from 'node:crypto';

/**
 * Which mail of a request's thread: the first mail, the reply for the n-th review (1-based, in
 * the order the request lists its reviews), the decision or expiry reply, or the requester's own
 * outcome mail.
 */
export type MailKind = 'first' | `review-${number}` | 'outcome' | 'requester' | `reminder-${number}` | 'escalation' | 'access-list-reminder';

export function reviewKind(n: number): MailKind {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`review number must be a positive integer, got ${n}`);
  return `review-${n}`;
}

export interface MailIdentity {
  requestId: string;
  kind: MailKind;
  /** The one recipient of this mail (compared case-insensitively). */
  recipient: string;
  /** Right-hand side of the id: the sender's domain. */
  domain: string;
}

/**
 * The Message-ID of one mail, without angle brackets:
 * `teleport-<request id>-<kind>-<first 16 hex of sha256(recipient)>@<sender domain>`.
 *
 * Deterministic on purpose. A mail sent again after a crash (the send succeeded, the plugin died
 * before recording it) carries the same id, so it threads with the original, clients that
 * de-duplicate by Message-ID show it once, and the find verb (Mailgun events) can recognise it.
 * Plain SMTP cannot be asked whether a mail went out: there, the window between the server's
 * 250 and the plugin data write is at-least-once.
 *
 * The id holds only letters, digits, `.`, `_`, `-` and one `@`, so it fits the Go plugin data
 * layout (`email/timestamp/messageID` joined by `,`).
 */
export function mailMessageId(identity: MailIdentity): string {
  const hash = createHash('sha256').update(identity.recipient.trim().toLowerCase()).digest('hex').slice(0, 16);
  const domain =
    identity.domain
      .trim()
      .toLowerCase()
      .replace(/[^a-z0-9.-]/g, '-') || 'localhost';
  return `teleport-${safe(identity.requestId)}-${identity.kind}-${hash}@${domain}`;
}

/** `<id>` for a header; an id that already has brackets is kept as is. */
export function bracketed(id: string): string {
  const bare = unbracketed(id);
  return `<${bare}>`;
}

/** The id without surrounding angle brackets (Mailgun answers and Go data may carry them). */
export function unbracketed(id: string): string {
  return id.trim().replace(/^<+/, '').replace(/>+$/, '');
}

function safe(part: string): string {
  return part.replace(/[^A-Za-z0-9_-]/g, '_');
}
