// Public entry of @teleport-plugin/gitlab. The adapter itself (default export) comes with the
// delivery layer; for now: config, client, texts, labels and webhook reading.
export {
  parseGitlabConfig,
  ADAPTER_NAME,
  DEFAULT_GITLAB_URL,
  WEBHOOK_ROUTE_PATH,
  UPSTREAM_WEBHOOK_PATH,
  GITLAB_TABLES,
  DB_DEPRECATION,
} from './config.js';
export type { GitlabConfig } from './config.js';
export { exampleConfig } from './exampleConfig.js';
export { GitlabClient, classifyGitlabError, sameHookTarget, SERVICE } from './client.js';
export type { GitlabClientOptions, GlProject, GlUser, GlTokenInfo, GlLabel, GlHook, GlIssue, GlNote, NewIssue, IssueUpdate, HookSettings } from './client.js';
export * from './render.js';
export * from './labels.js';
export * from './webhook.js';
export { ensureLabels, ensureProjectHook } from './projectSetup.js';
export type { LabelSetup, HookSetup, HookSetupOptions } from './projectSetup.js';
export { checkGitlab, REQUIRED_SCOPE } from './check.js';
export { gitlabSnapshot, gitlabPluginData, issueRefData, readIssueRef, issueMatches, PROJECT_ID_KEY, ISSUE_IID_KEY, ISSUE_ID_KEY } from './pluginData.js';
export type { IssueRef } from './pluginData.js';
