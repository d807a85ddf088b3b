import type { AccessList } from '../teleport/types.js';

const DAY_MS = 24 * 3600_000;
const WEEK_MS = 7 * DAY_MS;
/** Teleport's default for audit.notifications.start: reminders begin two weeks before the date. */
export const DEFAULT_NOTIFY_BEFORE_MS = 14 * DAY_MS;

/** Why a list gets no reminder (for logs and tests), or its current reminder window. */
export type ReviewWindow =
  | { due: false; why: 'not-reviewable' | 'no-review-date' | 'no-members' | 'not-yet' }
  | {
      due: true;
      /** Start of the current window: an owner reminded at or after it is not reminded again in it. */
      windowStart: number;
      /** The review date has passed. */
      overdue: boolean;
      /** Whole days past the review date (0 while it is ahead, and on its first day past). */
      overdueDays: number;
      dueAt: Date;
    };

/**
 * Teleport's reminder windows: from `notifications.start` before the review date, one reminder
 * per week (weeks counted from that start); once the date has passed, one per day. Lists that are
 * never reviewed (`static`, `scim`), lists without a review date and lists that report no members
 * at all get none: reminding their owners is noise (teleport#67807, #56399).
 */
export function reviewWindow(list: AccessList, now: number): ReviewWindow {
  if (list.type !== '' && list.type !== 'dynamic') return { due: false, why: 'not-reviewable' };
  if (!list.nextAuditDate) return { due: false, why: 'no-review-date' };
  if (list.memberCount === 0) return { due: false, why: 'no-members' };
  const dueAt = list.nextAuditDate.getTime();
  const start = dueAt - (list.notifyBeforeMs ?? DEFAULT_NOTIFY_BEFORE_MS);
  if (now < start) return { due: false, why: 'not-yet' };
  const step = now <= dueAt ? WEEK_MS : DAY_MS;
  const windowStart = start + Math.floor((now - start) / step) * step;
  const overdue = now > dueAt;
  return { due: true, windowStart, overdue, overdueDays: overdue ? Math.floor((now - dueAt) / DAY_MS) : 0, dueAt: new Date(dueAt) };
}
