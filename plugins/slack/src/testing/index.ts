// @teleport-plugin/slack/testing: a real-HTTP fake of the Slack Web API (and Socket Mode) for tests.
export { FakeSlack, slackSignature, blocksText } from './fakeSlack.js';
export type { FakeSlackUser, FakeSlackChannel, FakeSlackMessage, FakeSlackEphemeral, FakeSlackOptions, BlockActionOptions } from './fakeSlack.js';
