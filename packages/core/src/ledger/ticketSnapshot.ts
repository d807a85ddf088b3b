import type { AccessRequest, PluginData } from '../teleport/types.js';

/**
 * The request part of the plugin data the Go pagerduty, jira, opsgenie and gitlab plugins write
 * (`pagerduty/plugindata.go`, `jira/plugindata.go`). The adapter adds its ticket keys
 * (`incident_id`/`service_id`, `issue_id`/`issue_key`) once the ticket exists. These plugins
 * spell the resolution in lower case: pair this with `lowerResolutionTag` in the layout.
 */
export function ticketSnapshot(request: AccessRequest): PluginData {
  return {
    user: request.user,
    roles: request.roles.join(','),
    created: request.created ? String(Math.floor(request.created.getTime() / 1000)) : '',
    request_reason: request.requestReason,
    reviews_count: '',
    resolution: '',
    resolve_reason: '',
  };
}
