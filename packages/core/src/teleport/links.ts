import type { ClusterInfo } from './types.js';

/**
 * The web UI page of a request (`https://<proxy>/web/requests/<id>`), or undefined when the
 * cluster has no advanced access workflows (then messages show `tsh request review` commands).
 */
export function requestWebLink(cluster: Pick<ClusterInfo, 'webProxyUrl'>, requestId: string): string | undefined {
  if (!cluster.webProxyUrl) return undefined;
  return `${cluster.webProxyUrl.replace(/\/+$/, '')}/web/requests/${encodeURIComponent(requestId)}`;
}

/**
 * The web UI's Access Lists page, or one list's review page (`…/web/accesslists/<name>#review`),
 * from the proxy's public address (`https://` added, `:443` dropped); undefined without one.
 */
export function accessListWebLink(cluster: Pick<ClusterInfo, 'proxyPublicAddr'>, name?: string): string | undefined {
  const addr = cluster.proxyPublicAddr.trim();
  if (!addr) return undefined;
  const base = (/^https?:\/\//.test(addr) ? addr : `https://${addr}`).replace(/^(https:\/\/[^/]+):443(?=\/|$)/, '$1').replace(/\/+$/, '');
  return name === undefined ? `${base}/web/accesslists` : `${base}/web/accesslists/${encodeURIComponent(name)}#review`;
}
