import type { Resolution } from '../adapter.js';
import { decodeAccessRequestData } from '../ledger/accessRequestSnapshot.js';
import { resourceIdString } from '../ledger/fields.js';
import { requestWebLink } from '../teleport/links.js';
import type { AccessRequest, AccessReview, ClusterInfo, PluginData } from '../teleport/types.js';

export type MessageStatus = 'PENDING' | Resolution;

/**
 * What a request message shows, independent of any service's markup: built from the live
 * request, or from plugin data alone once the request is gone (expiry). Each bot renders it.
 */
export interface RequestMessage {
  id: string;
  user: string;
  roles: string[];
  /** `/cluster/kind/name` strings. */
  resources: string[];
  reason: string;
  /** role -> logins, when known (then one line per role); undefined otherwise. */
  loginsByRole: Record<string, string[]> | undefined;
  status: MessageStatus;
  resolveReason: string;
  /** Reviews so far (empty when rebuilt from plugin data). */
  reviews: readonly AccessReview[];
  /** A long-term (Access List backed) request: its own title, never review buttons. */
  longTerm: boolean;
  clusterName: string;
  /** `https://proxy/web/requests/<id>` on Enterprise clusters; otherwise tsh commands are shown. */
  link: string | undefined;
}

export function statusOf(request: AccessRequest): MessageStatus {
  return request.state === 'APPROVED' || request.state === 'DENIED' || request.state === 'PROMOTED' ? request.state : 'PENDING';
}

export function messageFromRequest(request: AccessRequest, cluster: ClusterInfo, loginsByRole: Record<string, string[]> | undefined): RequestMessage {
  const status = statusOf(request);
  return {
    id: request.id,
    user: request.user,
    roles: request.roles,
    resources: request.requestedResources.map(resourceIdString),
    reason: request.requestReason,
    loginsByRole,
    status,
    resolveReason: status === 'PENDING' ? '' : request.resolveReason,
    reviews: request.reviews,
    longTerm: request.requestKind === 'LONG_TERM',
    clusterName: cluster.clusterName,
    link: requestWebLink(cluster, request.id),
  };
}

/** The message rebuilt from what was stored when the request was announced. */
export function messageFromData(requestId: string, data: PluginData | undefined, cluster: ClusterInfo, status: MessageStatus): RequestMessage {
  const stored = decodeAccessRequestData(data ?? {});
  return {
    id: requestId,
    user: stored.user,
    roles: stored.roles.filter((r) => r !== ''),
    resources: stored.resources.map(String),
    reason: stored.requestReason,
    loginsByRole: parseLoginsByRole(data),
    status,
    resolveReason: status === 'EXPIRED' ? '' : stored.resolveReason,
    reviews: [],
    longTerm: stored.longTerm,
    clusterName: cluster.clusterName,
    link: requestWebLink(cluster, requestId),
  };
}

/** The Go chat plugins' `logins_by_role` key (JSON role -> logins). */
export const LOGINS_BY_ROLE_KEY = 'logins_by_role';

export function parseLoginsByRole(data: PluginData | undefined): Record<string, string[]> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data?.[LOGINS_BY_ROLE_KEY] || 'null');
  } catch {
    return undefined;
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const out: Record<string, string[]> = {};
  for (const [role, logins] of Object.entries(parsed as Record<string, unknown>)) out[role] = Array.isArray(logins) ? logins.map(String) : [];
  return out;
}
