// Public entry of @teleport-plugin/jira. The default export is the adapter.
import { jiraAdapter } from './adapter.js';

export default jiraAdapter;
export { jiraAdapter, createJiraAdapter, createJiraHandlers, startupCheck, ADAPTER_NAME, ADAPTER_VERSION } from './adapter.js';
export type { JiraTuning } from './adapter.js';
export { parseJiraConfig, describeWebhookAuth, exampleConfig, DEFAULT_ISSUE_TYPE } from './config.js';
export type { JiraConfig, WebhookAuthConfig } from './config.js';
export { JiraClient, classifyJiraError, jiraErrorText, normalizeBody, jqlString, JIRA_SERVICE, REQUIRED_PERMISSIONS } from './client.js';
export type { JiraClientOptions, NewIssue, IssueRef, FindIssueOptions, JiraPermission } from './client.js';
export { checkJira, REQUIRED_STATUSES } from './check.js';
export { JiraTracker, RESOLUTION_STATUSES, OPEN_EFFECT, commentText, commentMarker } from './tracker.js';
export { jiraSnapshot, jiraPluginData, ISSUE_ID_KEY, ISSUE_KEY_KEY } from './pluginData.js';
export { jiraWebhookRoutes, authenticateDelivery, TELEPORT_REASON_LIMIT } from './webhookRoute.js';
export type { WebhookTuning, WebhookResult } from './webhookRoute.js';
export { jiraDemo, DEMO_USERNAME, DEMO_API_TOKEN, DEMO_WEBHOOK_SECRET, DEMO_PROJECT, DEMO_JIRA_REVIEWER, DEMO_APPROVAL_REASON } from './demo.js';
export * from './render.js';
export {
  verifyWebhookAuth,
  signBody,
  sameSecret,
  parseWebhook,
  userFrom,
  sameJiraUser,
  lastStatusChange,
  resolutionReason,
  reasonIn,
  WEBHOOK_BODY_LIMIT,
  SIGNATURE_HEADER,
  TOKEN_PARAM,
} from './webhook.js';
export type { WebhookSecrets, WebhookDelivery, WebhookAuthResult, WebhookEvent } from './webhook.js';
export type { JiraUser, JiraStatus, JiraTransition, JiraComment, JiraChangelogEntry, JiraChangelogItem, JiraIssue, JiraProject } from './types.js';
export { jiraTime } from './types.js';
