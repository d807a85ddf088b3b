// @teleport-plugin/mattermost/testing: a real HTTP fake of Mattermost for this adapter's tests and
// for anyone testing against it. Not loaded by the runtime.
export { FakeMattermost, FAKE_SERVER_VERSION, newMattermostId } from './fakeMattermost.js';
export type { FakeMattermostOptions, FakeMmChannel, FakeMmPost, FakeMmTeam, FakeMmUser, PostUpdate } from './fakeMattermost.js';
