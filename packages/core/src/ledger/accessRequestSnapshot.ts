import type { AccessRequest, PluginData } from '../teleport/types.js';
import { goJson, requestResources, rfc3339 } from './fields.js';

/**
 * The plugin data the Go slack/mattermost/discord/msteams/datadog/opsgenie/servicenow apps write
 * when they first see a request (`integrations/lib/plugindata/access_request.go`). The fixed keys
 * are always present ("" when empty), so the CAS create's Expect map is never empty: an empty
 * Expect would mean "no compare at all" to Teleport and a second replica would overwrite us.
 * The adapter adds its own keys later (`messages` for the chat apps).
 */
export function accessRequestSnapshot(request: AccessRequest): PluginData {
  const resources = requestResources(request);
  const data: PluginData = {
    user: request.user,
    roles: request.roles.join(','),
    resources: resources.length > 0 ? goJson(resources) : '',
    request_reason: request.requestReason,
    reviews_count: '',
    resolution: '',
    resolve_reason: '',
  };
  if (request.maxDuration) data.max_duration = rfc3339(request.maxDuration);
  if (Object.keys(request.systemAnnotations).length > 0) data.system_annotations = goJson(request.systemAnnotations);
  if (request.suggestedReviewers.length > 0) data.suggested_reviewers = goJson(request.suggestedReviewers);
  // Ours (the Go apps ignore it): lets a message rebuilt after expiry keep its long-term title.
  if (request.requestKind === 'LONG_TERM') data.request_kind = request.requestKind;
  return data;
}

/** What the common layout holds, decoded (the inverse of accessRequestSnapshot, tolerant of Go's variants). */
export interface AccessRequestData {
  user: string;
  roles: string[];
  resources: string[];
  requestReason: string;
  reviewsCount: number;
  resolution: string;
  resolveReason: string;
  maxDuration: Date | undefined;
  systemAnnotations: Record<string, string[]>;
  suggestedReviewers: string[];
  /** Written by us only for long-term requests. */
  longTerm: boolean;
}

export function decodeAccessRequestData(data: PluginData): AccessRequestData {
  const maxDuration = data.max_duration ? new Date(data.max_duration) : undefined;
  return {
    user: data.user ?? '',
    roles: data.roles ? data.roles.split(',') : [],
    resources: parseJson<string[]>(data.resources, []),
    requestReason: data.request_reason ?? '',
    reviewsCount: data.reviews_count ? Number.parseInt(data.reviews_count, 10) || 0 : 0,
    resolution: data.resolution ?? '',
    resolveReason: data.resolve_reason ?? '',
    maxDuration: maxDuration && !Number.isNaN(maxDuration.getTime()) ? maxDuration : undefined,
    systemAnnotations: parseJson<Record<string, string[]>>(data.system_annotations, {}),
    suggestedReviewers: parseJson<string[]>(data.suggested_reviewers, []),
    longTerm: data.request_kind === 'LONG_TERM',
  };
}

function parseJson<T>(value: string | undefined, fallback: T): T {
  if (!value) return fallback;
  try {
    const parsed = JSON.parse(value) as unknown;
    return (parsed ?? fallback) as T;
  } catch {
    return fallback;
  }
}
