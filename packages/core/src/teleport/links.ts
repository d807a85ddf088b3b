import type { ClusterInfo } from './types.js';

/**
 * The web UI page of a request (`https://<proxy>/web/requests/<id>`), or undefined when the
 * cluster has no advanced access workflows (then messages show `tsh request review` commands).
 */
export function requestWebLink(cluster: Pick<ClusterInfo, 'webProxyUrl'>, requestId: string): string | undefined {
  if (!cluster.webProxyUrl) return undefined;
  return `${cluster.webProxyUrl.replace(/\/+$/, '')}/web/requests/${encodeURIComponent(requestId)}`;
}
