import type { TeleportActions } from '../adapter.js';
import { isAlreadyReviewed } from '../errors.js';
import type { TeleportClient } from './types.js';

/** What adapters may ask of Teleport, with "already reviewed" turned into an outcome. */
export function teleportActions(client: TeleportClient): TeleportActions {
  return {
    async submitReview(requestId, review, signal) {
      try {
        const request = await client.submitAccessReview(requestId, review, signal);
        return { outcome: 'submitted', request };
      } catch (err) {
        if (isAlreadyReviewed(err)) return { outcome: 'already-reviewed' };
        throw err;
      }
    },
    setState: (requestId, change, signal) => client.setAccessRequestState(requestId, change, signal),
    getRequest: (requestId, signal) => client.getAccessRequest(requestId, signal),
    getUser: (name, signal) => client.getUser(name, signal),
    getRole: (name, signal) => client.getRole(name, signal),
    listUsers: (signal) => client.listUsers(signal),
    listRoles: (signal) => client.listRoles(signal),
  };
}
