import { PluginError, defineAdapter, errorMessage, isPluginError, ticketHandlers } from '@teleport-plugin/core';
import type { Adapter, AdapterContext, AdapterHandlers, Logger } from '@teleport-plugin/core';
import { checkGitlab } from './check.js';
import { GitlabClient, type GitlabClientOptions, type GlProject, type GlUser } from './client.js';
import { ADAPTER_NAME, exampleConfig, parseGitlabConfig, type GitlabConfig } from './config.js';
import { gitlabDemo } from './demo.js';
import { gitlabPluginData } from './pluginData.js';
import { ensureLabels, ensureProjectHook, type HookSetup, type LabelSetup } from './projectSetup.js';
import { GitlabTracker } from './tracker.js';
import { webhookRoute } from './webhookRoute.js';

export const ADAPTER_VERSION = '0.1.0';

/** Tuning for tests (the client's outbound policy and timeouts, the webhook's deadline); production uses the defaults. */
export interface GitlabTuning {
  client?: Omit<GitlabClientOptions, 'url' | 'token' | 'logger'>;
  webhookDeadlineMs?: number;
}

/** What start-up found or made in the project. */
export interface ProjectState {
  project: GlProject;
  /** The token's user: its own label changes decide nothing, and its notes are the ones found again. */
  bot: GlUser;
  labels: LabelSetup;
  hook: HookSetup;
}

/**
 * Start-up work, before the runtime watches Teleport: the project (numeric id), the token's user,
 * the four labels (reused or created), and exactly one hook calling our webhook (found by URL and
 * written again, or created once). Safe on every start and on several replicas at once. Any
 * failure is fatal, as one line naming the key to fix or the GitLab that could not be reached.
 */
export async function setUpProject(
  client: GitlabClient,
  config: GitlabConfig,
  logger: Logger,
  signal?: AbortSignal,
  mode: 'run' | 'check' = 'run',
): Promise<ProjectState | undefined> {
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (err) {
      throw startupError(err, client.url, config, what);
    }
  };
  const project = await step('find the project', () => client.project(config.projectId, signal));
  const bot = await step("read the token's user", () => client.currentUser(signal));
  // `teleport-plugin check` changes nothing: its own checks report missing labels and hooks.
  if (mode === 'check') return undefined;
  const labels = await step('set up the labels', () => ensureLabels(client, project.id, signal));
  const hook = await step('set up the project webhook', () =>
    ensureProjectHook(client, project.id, { url: config.webhookUrl, token: config.webhookSecret, legacyUrls: [config.upstreamWebhookUrl], logger }, signal),
  );
  logger.info('GitLab project ready', {
    project: project.pathWithNamespace,
    projectId: project.id,
    bot: bot.username,
    labelsCreated: labels.created.join(',') || undefined,
    hookId: hook.hook.id,
    hook: hook.action,
    hookUrl: config.webhookUrlRedacted,
    hookDrift: hook.drift.join(',') || undefined,
    hooksRemoved: hook.removed.length || undefined,
  });
  return { project, bot, labels, hook };
}

/** The handlers on a set-up project: the ticketing kit on GitLab issues, the webhook, and `check`. */
export function createGitlabHandlers(ctx: AdapterContext<GitlabConfig>, client: GitlabClient, state: ProjectState, tuning: GitlabTuning = {}): AdapterHandlers {
  const { config } = ctx;
  const tracker = new GitlabTracker({
    client,
    projectId: state.project.id,
    labels: state.labels.names,
    cluster: ctx.cluster,
    botUserId: state.bot.id,
    logger: ctx.logger,
  });
  const base = ctx as AdapterContext<unknown>;
  return {
    ...ticketHandlers(base, tracker),
    routes: [
      webhookRoute(base, {
        secret: config.webhookSecret,
        botUserId: state.bot.id,
        ...(tuning.webhookDeadlineMs !== undefined && { deadlineMs: tuning.webhookDeadlineMs }),
      }),
    ],
    check: (signal) => checkGitlab(client, config, signal),
  };
}

/** The adapter, with test tuning; the package's default export is `createGitlabAdapter()`. */
export function createGitlabAdapter(tuning: GitlabTuning = {}): Adapter<GitlabConfig> {
  return defineAdapter<GitlabConfig>({
    name: ADAPTER_NAME,
    version: ADAPTER_VERSION,
    parseConfig: (section, ctx) => parseGitlabConfig(section, ctx),
    async setup(ctx) {
      const { config } = ctx;
      const client = new GitlabClient({ ...tuning.client, url: config.url, token: config.token, logger: ctx.logger });
      const state = await setUpProject(client, config, ctx.logger, ctx.signal, ctx.mode);
      if (!state) return { check: (signal) => checkGitlab(client, config, signal) };
      return createGitlabHandlers(ctx, client, state, tuning);
    },
    exampleConfig,
    pluginData: gitlabPluginData,
    demo: gitlabDemo,
  });
}

export const gitlabAdapter = createGitlabAdapter();

/** A start-up failure in plain words: which key to fix, or which GitLab could not be reached. */
function startupError(err: unknown, url: string, config: GitlabConfig, what: string): PluginError {
  if (!isPluginError(err)) return new PluginError('ADAPTER_FAILED', `GitLab at ${url}: could not ${what}: ${errorMessage(err)}`, { cause: err });
  const status = err.service?.status;
  const project = JSON.stringify(config.projectId);
  if (status === 401) {
    return new PluginError('CONFIG', `GitLab at ${url} rejected [gitlab] token (HTTP 401): use a valid, unexpired access token with the api scope`, {
      cause: err,
      userFacing: true,
    });
  }
  if (status === 403) {
    const need =
      what === 'set up the project webhook'
        ? `its user needs the Maintainer role in project ${project} to manage webhooks`
        : `it needs the api scope and a role in project ${project} ([gitlab] project_id)`;
    return new PluginError('CONFIG', `GitLab at ${url} refused [gitlab] token the right to ${what} (HTTP 403): ${need}`, { cause: err, userFacing: true });
  }
  // The project lookup's 404 already names gitlab.project_id.
  if (err.userFacing) return err;
  if (err.service && status === undefined) {
    return new PluginError('UNREACHABLE', `cannot reach GitLab at ${url} ([gitlab] url) to ${what}: ${errorMessage(err)}`, { cause: err, userFacing: true });
  }
  if (err.service) {
    return new PluginError('SERVICE_ERROR', `GitLab at ${url} failed when asked to ${what} (HTTP ${status}): ${errorMessage(err)}`, { cause: err, userFacing: true });
  }
  return err;
}
