import { parseEffectRecord } from '../ledger/effectRecord.js';
import { RESOLUTION_KEY, REVIEWS_COUNT_KEY, parseReviewsCount } from '../ledger/fields.js';
import type { AccessRequest, PluginData } from '../teleport/types.js';

/**
 * Our record of the announce step (see Dispatcher): `run:<owner>:<time>` from the create until
 * onPending has done its work, then `ok`. The Go plugins neither write nor read it; an entry
 * without it was announced by whoever created it.
 */
export const ANNOUNCED_KEY = 'announced';

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
