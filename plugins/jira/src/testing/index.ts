// @teleport-plugin/jira/testing: a real HTTP fake of Jira for tests (ours and third parties').
// Not loaded by the adapter itself.
export { FakeJira, jiraTimestamp } from './fake-jira.js';
export type {
  FakeJiraOptions,
  FakeJiraUser,
  FakeJiraIssue,
  FakeJiraComment,
  FakeJiraChange,
  FakeJiraTransition,
  FakeJiraWebhookTarget,
  FakeJiraDelivery,
  JiraFlavor,
} from './fake-jira.js';
