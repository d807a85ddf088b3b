// Public entry of @teleport-plugin/gitlab. The default export is the adapter.
import { gitlabAdapter } from './adapter.js';

export default gitlabAdapter;
export { gitlabAdapter, createGitlabAdapter, createGitlabHandlers, setUpProject, ADAPTER_VERSION } from './adapter.js';
export type { GitlabTuning, ProjectState } from './adapter.js';
export { parseGitlabConfig, exampleConfig, ADAPTER_NAME, DEFAULT_GITLAB_URL, WEBHOOK_ROUTE_PATH, UPSTREAM_WEBHOOK_PATH, GITLAB_TABLES, DB_DEPRECATION } from './config.js';
export type { GitlabConfig } from './config.js';
export { GitlabClient, classifyGitlabError, sameHookTarget, SERVICE } from './client.js';
export type { GitlabClientOptions, GlProject, GlUser, GlTokenInfo, GlLabel, GlHook, GlIssue, GlNote, NewIssue, IssueUpdate, HookSettings } from './client.js';
export { GitlabTracker, noteText } from './tracker.js';
export type { GitlabTrackerOptions } from './tracker.js';
export { webhookRoute } from './webhookRoute.js';
export type { WebhookRouteOptions } from './webhookRoute.js';
export * from './render.js';
export * from './labels.js';
export * from './webhook.js';
export { ensureLabels, ensureProjectHook } from './projectSetup.js';
export type { LabelSetup, HookSetup, HookSetupOptions } from './projectSetup.js';
export { checkGitlab, REQUIRED_SCOPE } from './check.js';
export { gitlabSnapshot, gitlabPluginData, issueRefData, readIssueRef, issueMatches, PROJECT_ID_KEY, ISSUE_IID_KEY, ISSUE_ID_KEY } from './pluginData.js';
export type { IssueRef } from './pluginData.js';
export { gitlabDemo, DEMO_TOKEN, DEMO_PROJECT, DEMO_WEBHOOK_SECRET } from './demo.js';
