import { accessRequestSnapshot, upperResolutionTag, type PluginDataLayout } from '@teleport-plugin/core';

/**
 * The Go mattermost plugin's plugin data, under the same plugin name (`mattermost`): the common
 * access-request keys (`user`, `roles`, `resources`, `request_reason`, `reviews_count`,
 * `resolution` in upper case, `resolve_reason`, ...), plus `messages` (`channelID/postID` joined
 * by `,`), which the messaging kit's default layout writes and reads, together with the legacy
 * `channel_id` + `postID` pair of old Go releases. A request a Go plugin announced is replied to
 * and updated in its posts, never posted again.
 */
export const mattermostPluginData: PluginDataLayout = {
  snapshot: accessRequestSnapshot,
  resolutionTag: upperResolutionTag,
};
