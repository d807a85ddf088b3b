import { errorMessage } from '@teleport-plugin/core';
import type { CheckItem } from '@teleport-plugin/core';
import type { JiraClient } from './client.js';
import { describeWebhookAuth, type JiraConfig } from './config.js';

/** The statuses the issue type's workflow must have (the Go plugin needs them too, and says so only at the first request). */
export const REQUIRED_STATUSES = ['Pending', 'Approved', 'Denied', 'Expired'] as const;

/**
 * What `teleport-plugin check` and start-up verify against the live site: the credentials, the
 * project, the issue type, the four statuses, the permissions upstream checks, and how the
 * webhook is protected. Each item says what is wrong and which key to fix.
 */
export async function checkJira(client: JiraClient, config: JiraConfig, signal?: AbortSignal): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  try {
    const me = await client.myself(signal);
    const who = me.displayName ?? me.name ?? config.username;
    const id = me.emailAddress ?? me.accountId ?? me.key;
    items.push({ name: 'credentials', ok: true, detail: `${config.url} as ${who}${id && id !== who ? ` (${id})` : ''}` });
  } catch (err) {
    // Nothing else can be checked with credentials Jira refuses.
    items.push({ name: 'credentials', ok: false, detail: errorMessage(err) });
    return [...items, webhookItem(config)];
  }

  if (!config.project) {
    items.push({ name: 'project', ok: false, detail: 'jira.project is not set: set it to the key of the project issues go to' });
    return [...items, webhookItem(config)];
  }
  let projectOk = false;
  try {
    const project = await client.getProject(signal);
    projectOk = true;
    items.push({ name: 'project', ok: true, detail: `${project.key} (${project.name})` });
    const type = project.issueTypes.find((t) => t.name.toLowerCase() === config.issueType.toLowerCase());
    items.push(
      type
        ? { name: 'issue type', ok: true, detail: type.name }
        : {
            name: 'issue type',
            ok: false,
            detail: `project ${project.key} has no issue type "${config.issueType}" (jira.issue_type); it has ${project.issueTypes.map((t) => `"${t.name}"`).join(', ') || 'none'}`,
          },
    );
  } catch (err) {
    items.push({ name: 'project', ok: false, detail: errorMessage(err) });
  }

  if (projectOk) {
    try {
      const statuses = await client.issueTypeStatuses(signal);
      if (statuses === undefined) {
        items.push({ name: 'statuses', ok: false, detail: `no workflow statuses for issue type "${config.issueType}" in ${config.project}` });
      } else {
        const have = new Set(statuses.map((s) => s.toLowerCase()));
        const missing = REQUIRED_STATUSES.filter((s) => !have.has(s.toLowerCase()));
        items.push(
          missing.length === 0
            ? { name: 'statuses', ok: true, detail: REQUIRED_STATUSES.join(', ') }
            : {
                name: 'statuses',
                ok: false,
                detail: `the ${config.issueType} workflow of ${config.project} lacks ${missing.join(', ')} (it needs ${REQUIRED_STATUSES.join(', ')} with transitions into Approved, Denied and Expired); it has ${statuses.join(', ') || 'none'}`,
              },
        );
      }
    } catch (err) {
      items.push({ name: 'statuses', ok: false, detail: errorMessage(err) });
    }
  }

  try {
    const perms = await client.myPermissions(signal);
    const missing = Object.entries(perms)
      .filter(([, has]) => !has)
      .map(([p]) => p);
    items.push(
      missing.length === 0
        ? { name: 'permissions', ok: true, detail: Object.keys(perms).join(', ') }
        : { name: 'permissions', ok: false, detail: `${config.username} lacks ${missing.join(', ')} in project ${config.project}` },
    );
  } catch (err) {
    items.push({ name: 'permissions', ok: false, detail: errorMessage(err) });
  }
  return [...items, webhookItem(config)];
}

function webhookItem(config: JiraConfig): CheckItem {
  const { ok, detail } = describeWebhookAuth(config.webhook);
  // An explicit opt-out is a choice, not a failure: a warning (config parsing logged it too).
  return { name: 'webhook authentication', ok: true, ...(ok ? {} : { warning: true }), detail };
}
