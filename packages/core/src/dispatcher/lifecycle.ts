import { decodeAccessRequestData } from '../ledger/accessRequestSnapshot.js';
import { parseEffectRecord } from '../ledger/effectRecord.js';
import { RESOLUTION_KEY, REVIEWS_COUNT_KEY, parseReviewsCount } from '../ledger/fields.js';
import type { AccessRequest, AccessReview, PluginData } from '../teleport/types.js';

/**
 * Our record of the announce step (see Dispatcher): `run:<owner>:<time>` from the create until
 * onPending has done its work, then `ok`. The Go plugins neither write nor read it; an entry
 * without it was announced by whoever created it.
 */
export const ANNOUNCED_KEY = 'announced';

/**
 * The automatic review's decision, written with the entry before the review is submitted (see
 * Dispatcher.claim): a request that is decided when announced, and has it, was decided on
 * arrival, also after a restart.
 */
export const AUTO_REVIEW_KEY = 'auto_review';

/**
 * Reviews seen but not yet delivered, kept in plugin data (JSON) when their delivery could not be
 * finished: an expiry deletes the request and its reviews with it, and they must still be replied.
 */
export const UNDELIVERED_REVIEWS_KEY = 'reviews_undelivered';

export function encodeReviews(reviews: readonly AccessReview[]): string {
  return JSON.stringify(reviews.map((r) => ({ author: r.author, state: r.proposedState, reason: r.reason, created: r.created?.toISOString() })));
}

export function decodeReviews(value: string | undefined): AccessReview[] {
  if (!value) return [];
  try {
    const parsed = JSON.parse(value) as Array<{ author?: unknown; state?: unknown; reason?: unknown; created?: unknown }>;
    return parsed.map((r) => ({
      author: String(r.author ?? ''),
      roles: [],
      proposedState: r.state === 'DENIED' ? 'DENIED' : 'APPROVED',
      reason: String(r.reason ?? ''),
      created: typeof r.created === 'string' ? new Date(r.created) : undefined,
      annotations: {},
      assumeStartTime: undefined,
    }));
  } catch {
    return [];
  }
}

/**
 * A request that is gone, rebuilt from what plugin data and the last sighting knew, so its
 * undelivered reviews can still be delivered (as a pending request: the expiry comes next).
 */
export function requestFromData(id: string, data: PluginData, reviews: readonly AccessReview[]): AccessRequest {
  const known = decodeAccessRequestData(data);
  return {
    id,
    user: known.user,
    roles: known.roles.filter((r) => r !== ''),
    state: 'PENDING',
    created: data.created ? new Date(Number(data.created) * 1000) : undefined,
    accessExpires: undefined,
    resourceExpires: undefined,
    requestReason: known.requestReason,
    resolveReason: '',
    resolveAnnotations: {},
    systemAnnotations: known.systemAnnotations,
    thresholds: [],
    reviews: [...reviews],
    suggestedReviewers: known.suggestedReviewers,
    requestedResources: [],
    loginHint: '',
    dryRun: false,
    maxDuration: known.maxDuration,
    sessionTtl: undefined,
    assumeStartTime: undefined,
    promotedAccessList: undefined,
    requestKind: known.longTerm ? 'LONG_TERM' : 'UNDEFINED',
  };
}

/**
 * Whether an adapter still owes something for this request: the request (undefined = gone) has
 * moved past what its plugin data says was delivered. Entries that are finished are never
 * touched again by the reconciliation.
 */
export function isUnfinished(data: PluginData, request: AccessRequest | undefined): boolean {
  if (parseEffectRecord(data[ANNOUNCED_KEY]).state === 'running') return true;
  if ((data[RESOLUTION_KEY] ?? '') !== '') return false;
  if (request === undefined) return true;
  if (request.state !== 'PENDING') return true;
  return request.reviews.length > parseReviewsCount(data[REVIEWS_COUNT_KEY]);
}
