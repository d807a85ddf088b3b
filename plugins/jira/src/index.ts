// Public entry of @teleport-plugin/jira. The adapter itself (default export) comes with the
// ticketing kit; for now: config, client, texts and the webhook's pure parts.
export { parseJiraConfig, describeWebhookAuth, exampleConfig, DEFAULT_ISSUE_TYPE } from './config.js';
export type { JiraConfig, WebhookAuthConfig } from './config.js';
export { JiraClient, classifyJiraError, jiraErrorText, normalizeBody, jqlString, JIRA_SERVICE, REQUIRED_PERMISSIONS } from './client.js';
export type { JiraClientOptions, NewIssue, IssueRef, FindIssueOptions, JiraPermission } from './client.js';
export { checkJira, REQUIRED_STATUSES } from './check.js';
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
