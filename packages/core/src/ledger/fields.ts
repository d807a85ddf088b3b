import type { Resolution } from '../adapter.js';
import type { AccessRequest, ResourceId } from '../teleport/types.js';

/**
 * Keys every Go plugin family shares, and how their values are spelled. The dispatcher reads
 * only these, so it works with any adapter's layout (common, pagerduty/jira ticket, email...).
 */
export const REVIEWS_COUNT_KEY = 'reviews_count';
export const RESOLUTION_KEY = 'resolution';
export const RESOLVE_REASON_KEY = 'resolve_reason';

/** `reviews_count`: decimal, "" when 0 (Go writes nothing for zero, and reads "" as 0). */
export function formatReviewsCount(count: number): string {
  return count > 0 ? String(Math.trunc(count)) : '';
}

export function parseReviewsCount(value: string | undefined): number {
  if (!value) return 0;
  // Go reads it with Sscanf("%d"): leading digits count, garbage reads as 0.
  const n = Number.parseInt(value.trim(), 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

/** The default resolution spelling: the upper-case state (`APPROVED`), as the common Go apps store it. */
export function upperResolutionTag(resolution: Resolution): string {
  return resolution;
}

/** pagerduty/jira/opsgenie/gitlab spelling: `approved`. */
export function lowerResolutionTag(resolution: Resolution): string {
  return resolution.toLowerCase();
}

/** `/cluster/kind/name[/sub]`, the string form Teleport uses for a requested resource. */
export function resourceIdString(id: ResourceId): string {
  const base = `/${id.clusterName}/${id.kind}/${id.name}`;
  return id.subResourceName ? `${base}/${id.subResourceName}` : base;
}

/** The request's resources as Teleport strings. */
export function requestResources(request: AccessRequest): string[] {
  return request.requestedResources.map(resourceIdString);
}

/**
 * JSON as Go's encoding/json writes it: map keys sorted, and `<`, `>`, `&`, U+2028, U+2029
 * escaped. Byte-for-byte equality with the Go plugins keeps stored values stable when one
 * deployment runs both (and keeps CAS expectations matching what Go wrote).
 */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** RFC 3339 without fractional seconds, UTC (`time.RFC3339` of a UTC time; also logrus's text timestamps). */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Go's `time.RFC3339Nano` of a UTC time: the fraction without trailing zeros, none for whole
 * seconds (how the Go plugins' JSON holds a `time.Time`).
 */
export function rfc3339Nano(date: Date): string {
  return date.toISOString().replace(/\.(\d*?)0*Z$/, (_m, digits: string) => (digits ? `.${digits}Z` : 'Z'));
}
