import { lowerResolutionTag, ticketSnapshot } from '@teleport-plugin/core';
import type { AccessRequest, PluginData, PluginDataLayout } from '@teleport-plugin/core';

/**
 * The Go jira plugin's plugin-data layout (`jira/plugindata.go`): the ticket-style request
 * snapshot (`user`, `roles`, `created`, `request_reason`, `reviews_count`, `resolution`,
 * `resolve_reason`) plus `issue_id`/`issue_key`, written once the issue exists. `resolution` is
 * spelled in lower case (`approved`), as the Go plugin does, so either plugin continues the
 * other's issues.
 */
export const ISSUE_ID_KEY = 'issue_id';
export const ISSUE_KEY_KEY = 'issue_key';

export function jiraSnapshot(request: AccessRequest): PluginData {
  // The Go encoder always writes its whole key set; "" is the same as absent on the wire.
  return { [ISSUE_ID_KEY]: '', [ISSUE_KEY_KEY]: '', ...ticketSnapshot(request) };
}

export const jiraPluginData: PluginDataLayout = {
  snapshot: jiraSnapshot,
  resolutionTag: lowerResolutionTag,
};
