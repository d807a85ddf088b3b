// Public entry of @teleport-plugin/mattermost (stage A: config, client, rendering, checks; the
// adapter itself comes with the delivery layer).
export { parseMattermostConfig, exampleConfig } from './config.js';
export type { MattermostConfig } from './config.js';
export { MattermostClient, SERVICE } from './client.js';
export type { FindPostQuery, MattermostClientOptions, MmChannel, MmPost, MmTeam, MmUser, NewPost } from './client.js';
export { REQUEST_ID_PROP, KIND_PROP, effectProps, postEffect, isPostKind } from './postEffect.js';
export type { PostEffect, PostKind } from './postEffect.js';
export { isEmail, parseRecipient, urlNameHint } from './recipient.js';
export type { RecipientSpec } from './recipient.js';
export { resolveRecipient } from './resolveRecipient.js';
export type { ResolvedRecipient } from './resolveRecipient.js';
export { checkMattermost } from './check.js';
export { PLUGIN_DATA_NAME, MESSAGES_KEY, LEGACY_CHANNEL_KEY, LEGACY_POST_KEY, decodePostRefs, encodePostRefs, withPostRefs } from './pluginData.js';
export type { PostRef } from './pluginData.js';
export { REASON_LIMIT, PENDING_HEADER, markdownEscape, statusLine, postText, reviewReplyText, requesterOutcomeText } from './render.js';
export type { PostView, PostRenderOptions, RequesterOutcome } from './render.js';
