import { lowerResolutionTag, ticketSnapshot } from '@teleport-plugin/core';
import type { AccessRequest, PluginData, PluginDataLayout } from '@teleport-plugin/core';

/**
 * The Go pagerduty plugin's plugin-data layout (`pagerduty/plugindata.go`): the ticket-style
 * request snapshot (`user`, `roles`, `created`, `request_reason`, `reviews_count`, `resolution`,
 * `resolve_reason`) plus `incident_id`/`service_id`, which onPending writes once the incident
 * exists. `resolution` is spelled in lower case (`approved`), as the Go plugin does.
 */
export const INCIDENT_ID_KEY = 'incident_id';
export const SERVICE_ID_KEY = 'service_id';

/**
 * Our own additive keys (the Go plugin ignores unknown keys): they make a retried handler skip
 * the incident notes it already posted. `notes_posted` counts the request's reviews, in order,
 * whose note is on the incident; `resolution_note` holds the resolution tag once the closing
 * note is on it.
 */
export const NOTES_POSTED_KEY = 'notes_posted';
export const RESOLUTION_NOTE_KEY = 'resolution_note';

export function parseNotesPosted(value: string | undefined): number {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function pagerDutySnapshot(request: AccessRequest): PluginData {
  // The Go encoder always writes its whole key set; "" is the same as absent on the wire.
  return { [INCIDENT_ID_KEY]: '', [SERVICE_ID_KEY]: '', ...ticketSnapshot(request) };
}

export const pagerDutyPluginData: PluginDataLayout = {
  snapshot: pagerDutySnapshot,
  resolutionTag: lowerResolutionTag,
};
