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

export function pagerDutySnapshot(request: AccessRequest): PluginData {
  // The Go encoder always writes its whole key set; "" is the same as absent on the wire.
  return { [INCIDENT_ID_KEY]: '', [SERVICE_ID_KEY]: '', ...ticketSnapshot(request) };
}

export const pagerDutyPluginData: PluginDataLayout = {
  snapshot: pagerDutySnapshot,
  resolutionTag: lowerResolutionTag,
};
