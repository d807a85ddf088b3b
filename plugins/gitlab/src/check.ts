import { errorMessage, isPluginError } from '@teleport-plugin/core';
import type { CheckItem } from '@teleport-plugin/core';
import { sameHookTarget, type GitlabClient } from './client.js';
import type { GitlabConfig } from './config.js';
import { planLabels } from './labels.js';

/** Token scopes that let the plugin write issues, notes, labels and hooks. */
export const REQUIRED_SCOPE = 'api';

/**
 * What `teleport-plugin check` verifies against the live instance, without changing anything:
 * the token (valid, its scopes), the project, the four labels, and the hook calling our webhook
 * URL. Labels and the hook that do not exist yet are fine: start-up creates them; what start-up
 * could not fix (a refused token, a missing scope, a project it cannot see, no right to manage
 * hooks) fails, naming the key to change.
 */
export async function checkGitlab(client: GitlabClient, config: GitlabConfig, signal?: AbortSignal): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  const token = await tokenItem(client, signal);
  items.push(token);
  if (!token.ok) return items;

  let projectId: number;
  try {
    const project = await client.project(config.projectId, signal);
    projectId = project.id;
    items.push({ name: 'project', ok: true, detail: `${project.pathWithNamespace} (id ${project.id}) at ${client.url}` });
  } catch (err) {
    items.push({ name: 'project', ok: false, detail: errorMessage(err) });
    return items;
  }

  try {
    const plan = planLabels((await client.listLabels(projectId, signal)).map((l) => l.name));
    const found = Object.values(plan.existing);
    const detail = [
      found.length > 0 ? `found ${found.map((n) => `"${n}"`).join(', ')}` : '',
      plan.missing.length > 0 ? `created at start: ${plan.missing.map((m) => `"${m.name}"`).join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    items.push({ name: 'labels', ok: true, detail });
  } catch (err) {
    items.push({ name: 'labels', ok: false, detail: errorMessage(err) });
  }

  try {
    const hooks = await client.listHooks(projectId, signal);
    const ours = hooks.filter((h) => sameHookTarget(h.url, config.webhookUrl)).sort((a, b) => a.id - b.id);
    const legacy = hooks.find((h) => sameHookTarget(h.url, config.upstreamWebhookUrl));
    const first = ours[0];
    if (first === undefined) {
      items.push({
        name: 'webhook',
        ok: true,
        detail: legacy
          ? `the Go plugin's hook ${legacy.id} calls ${redact(legacy.url)}: start re-points it to ${config.webhookUrlRedacted}`
          : `no hook calls ${config.webhookUrlRedacted} yet: start creates it (issue events, token = gitlab.webhook_secret)`,
      });
    } else if (!first.issuesEvents) {
      items.push({ name: 'webhook', ok: false, detail: `hook ${first.id} calls ${config.webhookUrlRedacted} but has issue events off: start (or a restart) turns them on` });
    } else {
      const extra = ours.length > 1 ? `; ${ours.length - 1} duplicate(s) are removed at start` : '';
      items.push({ name: 'webhook', ok: true, detail: `hook ${first.id} calls ${config.webhookUrlRedacted} on issue events${extra}` });
    }
  } catch (err) {
    items.push({ name: 'webhook', ok: false, detail: errorMessage(err) });
  }
  return items;
}

async function tokenItem(client: GitlabClient, signal: AbortSignal | undefined): Promise<CheckItem> {
  let user: string;
  try {
    const me = await client.currentUser(signal);
    user = `${me.username} (id ${me.id})`;
  } catch (err) {
    return { name: 'token', ok: false, detail: errorMessage(err) };
  }
  try {
    const info = await client.tokenInfo(signal);
    if (!info.active || info.revoked) return { name: 'token', ok: false, detail: `token "${info.name}" of ${user} is not active: create a new one for gitlab.token` };
    if (!info.scopes.includes(REQUIRED_SCOPE)) {
      return {
        name: 'token',
        ok: false,
        detail: `token "${info.name}" of ${user} has scopes ${info.scopes.join(', ') || '(none)'}: gitlab.token needs the ${REQUIRED_SCOPE} scope`,
      };
    }
    const expires = info.expiresAt ? `, expires ${info.expiresAt}` : '';
    return { name: 'token', ok: true, detail: `${user}, scopes ${info.scopes.join(', ')}${expires}` };
  } catch (err) {
    // GitLab before 15.5 has no token introspection: the token works, its scopes are unknown.
    if (isPluginError(err) && err.service?.status === 404) {
      return { name: 'token', ok: true, detail: `${user}; scopes not verifiable on this GitLab version (it needs ${REQUIRED_SCOPE})` };
    }
    return { name: 'token', ok: false, detail: errorMessage(err) };
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = 'REDACTED';
    return u.toString();
  } catch {
    return url;
  }
}
