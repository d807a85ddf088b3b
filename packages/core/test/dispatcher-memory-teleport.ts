// The core's unit tests use the same in-memory Teleport that @teleport-plugin/core/testing offers.
import { makeAccessRequest, makeAccessReview, MemoryTeleport } from '../src/testing/memoryTeleport.js';
import type { AccessRequest, AccessReview } from '../src/teleport/types.js';

export { MemoryTeleport };

export function makeRequest(id: string, overrides: Partial<AccessRequest> = {}): AccessRequest {
  return makeAccessRequest({ id, ...overrides });
}

export function makeReview(author: string, state: 'APPROVED' | 'DENIED' = 'APPROVED', reason = ''): AccessReview {
  return makeAccessReview(author, state, reason, new Date());
}

/** Resolves once `predicate()` holds; rejects after `timeoutMs` with `what`. */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
