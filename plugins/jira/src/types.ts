/**
 * Jira objects as the adapter sees them: only the fields it reads, camelCase, made once from the
 * REST v2 JSON (client.ts) or the webhook payload (webhook.ts).
 */

/**
 * A Jira user. Cloud identifies users by `accountId` (and hides `emailAddress` unless the user's
 * profile shows it); Server/Data Center by `key` and `name`.
 */
export interface JiraUser {
  accountId?: string;
  key?: string;
  name?: string;
  emailAddress?: string;
  displayName?: string;
}

export interface JiraStatus {
  id: string;
  name: string;
}

export interface JiraTransition {
  id: string;
  name: string;
  to: JiraStatus;
}

export interface JiraComment {
  id: string;
  body: string;
  author: JiraUser | undefined;
  /** As Jira sends it, e.g. `2026-11-25T10:15:30.000+0000`. */
  created: string;
  /** Comment properties, when Jira returned them (`expand=properties`). */
  properties: Record<string, unknown>;
}

export interface JiraChangelogItem {
  field: string;
  fieldtype: string;
  fromString: string | undefined;
  toString: string | undefined;
}

export interface JiraChangelogEntry {
  id: string;
  author: JiraUser | undefined;
  created: string;
  items: JiraChangelogItem[];
}

export interface JiraIssue {
  id: string;
  key: string;
  status: JiraStatus;
  /** Issue properties that were asked for (the request id property by default). */
  properties: Record<string, unknown>;
  /** The `teleportAccessRequestId` property, when it is a string. */
  requestId: string | undefined;
  /** With `expand=transitions`: what can be done from the current status. */
  transitions: JiraTransition[];
  /** With `expand=changelog`: Jira Cloud returns the newest 100 entries, newest first. */
  changelog: JiraChangelogEntry[];
  /** The comments embedded in the issue (`fields=comment`): Jira embeds at most a page of them. */
  comments: JiraComment[];
}

export interface JiraProject {
  id: string;
  key: string;
  name: string;
  issueTypes: Array<{ id: string; name: string; subtask: boolean }>;
}

/** Parses Jira's timestamps (`+0000` offsets included); NaN when unreadable. */
export function jiraTime(value: string | undefined): number {
  if (!value) return Number.NaN;
  const iso = value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
  return Date.parse(iso);
}
