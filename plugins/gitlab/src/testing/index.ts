// @teleport-plugin/gitlab/testing: a real HTTP fake of GitLab for this adapter's tests, and for
// anyone testing against it. Not loaded by the runtime.
export { FakeGitLab } from './fake-gitlab.js';
export type { FakeGitLabOptions, FakeGlUser, FakeGlToken, FakeGlLabel, FakeGlNote, FakeGlIssue, FakeGlHook, FakeGlProject, FakeHookDelivery, FakeRole } from './fake-gitlab.js';
