import { isOutcomeUnknown } from '@teleport-plugin/core';
import type { Logger } from '@teleport-plugin/core';
import { sameHookTarget, type GitlabClient, type GlHook, type HookSettings } from './client.js';
import { planLabels, type LabelKey, type LabelNames } from './labels.js';

/**
 * Start-up work on the project, safe to run on every start and on several replicas at once:
 * the four labels are reused or created (a concurrent create answers 409 and counts as done),
 * and exactly one hook calls our webhook URL.
 */

export interface LabelSetup {
  names: LabelNames;
  /** Labels this run created. */
  created: string[];
}

export async function ensureLabels(client: GitlabClient, projectId: number, signal?: AbortSignal): Promise<LabelSetup> {
  const plan = planLabels((await client.listLabels(projectId, signal)).map((l) => l.name));
  const names: Partial<Record<LabelKey, string>> = { ...plan.existing };
  const created: string[] = [];
  for (const label of plan.missing) {
    const result = await client.createLabel(projectId, { name: label.name, color: label.color }, signal);
    names[label.key] = result.name;
    if (result.created) created.push(result.name);
  }
  return { names: names as LabelNames, created };
}

export interface HookSetupOptions extends HookSettings {
  /** Older URLs of our hook (the Go plugin's `<public_addr>/webhook`): such a hook is re-pointed. */
  legacyUrls?: readonly string[];
  logger?: Logger;
}

export interface HookSetup {
  hook: GlHook;
  /** `created`: no hook called us; `updated`: found (and its settings written again). */
  action: 'created' | 'updated';
  /** Visible settings that differed before the update (`url`, `issues_events`). */
  drift: string[];
  /** Extra hooks calling our URL (a race between replicas, or a copy made by hand), removed. */
  removed: number[];
}

/**
 * Finds the project hook calling `url` (else one calling a legacy URL), or creates it once.
 * A found hook is always written again: its token is write-only (GitLab never shows it), so a
 * changed webhook_secret can only be applied blindly; the visible drift is reported for logs.
 * Replicas starting together may each create a hook; all of them then keep the oldest and
 * remove the rest, so the project converges on one.
 */
export async function ensureProjectHook(client: GitlabClient, projectId: number, options: HookSetupOptions, signal?: AbortSignal): Promise<HookSetup> {
  const settings: HookSettings = { url: options.url, token: options.token };
  let hooks = await client.listHooks(projectId, signal);
  let ours = matching(hooks, options.url);
  let action: HookSetup['action'] = 'updated';
  let found = ours[0];

  if (found === undefined) {
    const legacy = hooks.find((h) => (options.legacyUrls ?? []).some((u) => sameHookTarget(h.url, u)));
    if (legacy !== undefined) {
      options.logger?.info("Re-pointing the Go plugin's GitLab hook to this plugin", { hookId: legacy.id });
      found = legacy;
    } else {
      action = 'created';
      try {
        found = await client.addHook(projectId, settings, signal);
      } catch (err) {
        // The answer was lost: the hook may exist. Ask before adding a second one.
        if (!isOutcomeUnknown(err)) throw err;
        found = await client.findHookByUrl(projectId, options.url, signal);
        if (found === undefined) throw err;
      }
      hooks = await client.listHooks(projectId, signal);
      ours = matching(hooks, options.url);
      found = ours[0] ?? found;
    }
  }

  const keep: GlHook = found;
  const removed: number[] = [];
  for (const extra of ours.filter((h) => h.id !== keep.id)) {
    await client.removeHook(projectId, extra.id, signal);
    removed.push(extra.id);
  }

  const drift: string[] = [];
  if (action === 'updated') {
    if (keep.url !== options.url) drift.push('url');
    if (!keep.issuesEvents) drift.push('issues_events');
    return { hook: await client.editHook(projectId, keep.id, settings, signal), action, drift, removed };
  }
  return { hook: keep, action, drift, removed };
}

/** Hooks calling `url`, oldest (lowest id) first. */
function matching(hooks: readonly GlHook[], url: string): GlHook[] {
  return hooks.filter((h) => sameHookTarget(h.url, url)).sort((a, b) => a.id - b.id);
}
