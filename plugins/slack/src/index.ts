import { slackAdapter } from './adapter.js';

export default slackAdapter;
export { slackAdapter, setupSlack } from './adapter.js';
export type { SlackAdapterOptions } from './adapter.js';
export { checkSlack, REQUIRED_SCOPES } from './check.js';
export { parseSlackConfig, exampleConfig, DEFAULT_API_URL } from './config.js';
export type { SlackConfig, SlackReviewConfig } from './config.js';
export { SlackClient, slackErrorCode, METADATA_EVENT_TYPE } from './client.js';
export type { SlackClientOptions, MessageTag } from './client.js';
export { SlackBot } from './bot.js';
export * as render from './render.js';
export { verifySlackSignature, SlackReviewHandler } from './review.js';
