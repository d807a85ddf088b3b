// Public entry of @teleport-plugin/mattermost: the adapter (default export) and its parts.
import { mattermostAdapter } from './adapter.js';

export default mattermostAdapter;
export { mattermostAdapter, setupMattermost, ADAPTER_NAME } from './adapter.js';
export type { MattermostAdapterOptions } from './adapter.js';
export { MattermostBot, viewOf } from './bot.js';
export type { MattermostBotOptions } from './bot.js';
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
export { mattermostPluginData } from './pluginData.js';
export { mattermostDemo } from './demo.js';
export { REASON_LIMIT, PENDING_HEADER, markdownEscape, statusLine, postText, reviewReplyText, requesterOutcomeText } from './render.js';
export type { PostView, PostRenderOptions, RequesterOutcome } from './render.js';
