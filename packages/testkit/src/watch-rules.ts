import { REQUEST_STATES, type ClusterEvent, type ClusterState } from './cluster-state.js';
import { accessDenied, badParameter } from './teleport-error.js';
import * as wire from './wire.js';

/**
 * WatchEvents rules of shared spec §6: which kinds a caller may watch, filter validation, which
 * events a stream receives, and their wire form.
 */

export interface WatchKindIn {
  Kind?: string;
  Name?: string;
  Filter?: Record<string, string>;
  SubKind?: string;
  LoadSecrets?: boolean;
  Version?: string;
}

/** Kinds the fake can stream, with the RBAC resource whose `read` verb they need. */
const WATCHABLE: Readonly<Record<string, string>> = {
  access_request: 'access_request',
  role: 'role',
  user: 'user',
  access_monitoring_rule: 'access_monitoring_rule',
};

const ACCESS_REQUEST_FILTER_KEYS = new Set(['id', 'user', 'state']);

/**
 * Validates a Watch and returns the accepted kinds (what INIT's WatchStatus lists). `unsupported`
 * are kinds this server version does not have (e.g. access_monitoring_rule before v16): refused
 * like unknown kinds, or dropped with partial success.
 */
export function acceptWatchKinds(
  state: ClusterState,
  caller: string,
  req: { Kinds?: WatchKindIn[]; AllowPartialSuccess?: boolean } | undefined,
  unsupported: ReadonlySet<string> = new Set(),
): WatchKindIn[] {
  const requested = req?.Kinds ?? [];
  if (requested.length === 0) throw badParameter("missing parameter Kinds: can't setup global watch");
  const partial = Boolean(req?.AllowPartialSuccess);
  const accepted: WatchKindIn[] = [];
  for (const k of requested) {
    const kind = k.Kind ?? '';
    const resource = Object.hasOwn(WATCHABLE, kind) && !unsupported.has(kind) ? WATCHABLE[kind] : undefined;
    if (!resource) {
      if (partial) continue;
      throw badParameter(`resource type "${kind}" is not supported by this event stream`);
    }
    if (kind === 'access_request') {
      for (const [key, value] of Object.entries(k.Filter ?? {})) {
        if (!ACCESS_REQUEST_FILTER_KEYS.has(key)) throw badParameter(`unknown filter key ${key}`);
        if (key === 'state' && !(REQUEST_STATES as readonly string[]).includes(value)) {
          throw badParameter(`unknown request state ${value}`);
        }
      }
    }
    // Anyone may watch their own access requests (Filter.user = caller).
    const ownRequests = kind === 'access_request' && (k.Filter ?? {})['user'] === caller;
    if (!ownRequests && !state.can(caller, resource, 'read')) {
      if (partial) continue;
      throw accessDenied(`access denied to perform action "read" on "${resource}"`);
    }
    accepted.push(k);
  }
  if (accepted.length === 0) throw badParameter('none of the requested kinds can be watched');
  return accepted;
}

function eventName(ev: ClusterEvent): string {
  if (ev.type === 'DELETE') return ev.name;
  switch (ev.kind) {
    case 'access_request':
      return ev.request.id;
    case 'role':
      return ev.role.name;
    case 'user':
      return ev.user.name;
    case 'access_monitoring_rule':
      return ev.rule.name;
  }
}

/** ResourceHeader.Version of each kind's DELETE events. */
const HEADER_VERSION: Readonly<Record<ClusterEvent['kind'], string>> = {
  access_request: 'v3',
  role: 'v7',
  user: 'v2',
  access_monitoring_rule: 'v1',
};

/** Whether a stream watching `accepted` receives `ev`. Filters narrow PUTs only; DELETEs always pass. */
export function watchMatches(accepted: WatchKindIn[], ev: ClusterEvent): boolean {
  return accepted.some((k) => {
    if (k.Kind !== ev.kind) return false;
    if (k.Name && k.Name !== eventName(ev)) return false;
    if (ev.type === 'PUT' && ev.kind === 'access_request') {
      const f = k.Filter ?? {};
      if (f['id'] && f['id'] !== ev.request.id) return false;
      if (f['user'] && f['user'] !== ev.request.user) return false;
      if (f['state'] && f['state'] !== 'NONE' && f['state'] !== ev.request.state) return false;
    }
    return true;
  });
}

/** proto.Event for a cluster event: PUT carries the whole resource, DELETE only its header. */
export function wireEvent(ev: ClusterEvent): object {
  if (ev.type === 'DELETE') return { Type: 'DELETE', ResourceHeader: wire.resourceHeader(ev.kind, ev.name, HEADER_VERSION[ev.kind]) };
  switch (ev.kind) {
    case 'access_request':
      return { Type: 'PUT', AccessRequest: wire.accessRequest(ev.request) };
    case 'role':
      return { Type: 'PUT', Role: wire.role(ev.role) };
    case 'user':
      return { Type: 'PUT', User: wire.user(ev.user) };
    case 'access_monitoring_rule':
      // Event oneof member 54.
      return { Type: 'PUT', AccessMonitoringRule: wire.accessMonitoringRule(ev.rule) };
  }
}

/** The INIT event: WatchStatus listing the accepted kinds. */
export function initEvent(accepted: WatchKindIn[]): object {
  return {
    Type: 'INIT',
    WatchStatus: {
      Kind: 'watch_status',
      SubKind: '',
      Version: 'v1',
      Metadata: { Name: 'watch_status', Namespace: 'default' },
      Spec: {
        Kinds: accepted.map((k) => ({
          Kind: k.Kind ?? '',
          LoadSecrets: Boolean(k.LoadSecrets),
          Name: k.Name ?? '',
          Filter: { ...(k.Filter ?? {}) },
          SubKind: k.SubKind ?? '',
          Version: k.Version ?? '',
        })),
      },
    },
  };
}
