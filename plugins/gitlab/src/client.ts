import { AsyncLocalStorage } from 'node:async_hooks';
import { callService, httpFailure, networkFailure, PluginError, retryAfterMs, type Logger, type OutboundCall, type OutboundPolicy } from '@teleport-plugin/core';
import { createRequesterFn, type FormattedResponse, type RequestOptions, type ResourceOptions } from '@gitbeaker/requester-utils';
import { GitbeakerRequestError, IssueNotes, Issues, PersonalAccessTokens, ProjectHooks, ProjectLabels, Projects, Users } from '@gitbeaker/rest';
import { requestIdFromDescription } from './render.js';

/*
 * The transport is @gitbeaker/rest's resource classes (paths, path encoding of `group/project`,
 * snake_case bodies and queries, PRIVATE-TOKEN header), with our own requester in place of its
 * default one, passed as the documented `requesterFn` option (a preset, which the constructor's
 * own options override). Why not gitbeaker's requester:
 * - it retries 429 and 502 by itself, up to 10 times with its own fixed backoff and no look at
 *   Retry-After, and has no option to turn that off: one rate-limited call would become ten, and
 *   a 502 to a note would post it again. Ours sends each request exactly once; core's outbound
 *   policy (callService) decides about every retry.
 * - it cannot see the caller's AbortSignal (gitbeaker's methods take none): ours joins the
 *   handler's signal, carried per attempt in an AsyncLocalStorage, with gitbeaker's queryTimeout.
 * - its client-side rate-limit queue (not cancellable) is left out: GitLab's 429 answers are
 *   the limit we honour.
 * Requests go through Node's global fetch, which keeps connections alive and reuses them.
 */

export const SERVICE = 'GitLab';

/** A project as far as the adapter needs it. */
export interface GlProject {
  id: number;
  name: string;
  pathWithNamespace: string;
  webUrl: string;
}

export interface GlUser {
  id: number;
  username: string;
  name: string;
}

/** What GitLab says about the token in use (`GET /personal_access_tokens/self`). */
export interface GlTokenInfo {
  id: number;
  name: string;
  scopes: string[];
  active: boolean;
  revoked: boolean;
  expiresAt: string | null;
  userId: number;
}

export interface GlLabel {
  id: number;
  name: string;
  color: string;
}

export interface GlHook {
  id: number;
  url: string;
  issuesEvents: boolean;
  pushEvents: boolean;
  enableSslVerification: boolean;
}

export interface GlIssue {
  id: number;
  iid: number;
  projectId: number;
  title: string;
  description: string;
  state: string;
  labels: string[];
  webUrl: string;
}

export interface GlNote {
  id: number;
  body: string;
  system: boolean;
  authorId: number | undefined;
}

export interface NewIssue {
  title: string;
  description: string;
  /** Label names (the pending label). */
  labels: readonly string[];
}

export interface IssueUpdate {
  stateEvent?: 'close' | 'reopen';
  addLabels?: readonly string[];
  removeLabels?: readonly string[];
}

export interface HookSettings {
  url: string;
  /** Sent back by GitLab in `X-Gitlab-Token`. Write-only: GitLab never shows it again. */
  token: string;
}

export interface GitlabClientOptions {
  /** Instance base URL (`https://gitlab.com`); `/api/v4` is appended. */
  url: string;
  token: string;
  logger?: Logger;
  /** Core's outbound policy, overridden field by field (tests use tiny backoffs). */
  policy?: Partial<OutboundPolicy>;
  /** Per HTTP attempt (default 10 s, as the Go plugin's client). */
  timeoutMs?: number;
  /** Upper bound on pages read by one listing (default 100, i.e. 10,000 items). */
  maxPages?: number;
}

const PER_PAGE = 100;

/** Per attempt: the caller's signal for our requester (gitbeaker's methods take no signal). */
const attemptScope = new AsyncLocalStorage<{ signal: AbortSignal | undefined }>();

/** Config keys named by the plain-words errors. */
const TOKEN_KEY = 'gitlab.token';
const PROJECT_KEY = 'gitlab.project_id';
const URL_KEY = 'gitlab.url';

/**
 * The GitLab REST v4 calls the adapter makes. Every call runs under core's outbound policy:
 * reads, edits and state changes are idempotent (retried on 5xx and network errors); creates of
 * issues, notes and hooks are not (retried only on 429 or when the request never left this
 * host), and each of them has a find verb that tells, after an unclear failure, whether it
 * happened: findIssueByRequestId, findNote, findHookByUrl.
 */
export class GitlabClient {
  readonly url: string;
  private readonly projects: InstanceType<typeof Projects>;
  private readonly labels: InstanceType<typeof ProjectLabels>;
  private readonly hooks: InstanceType<typeof ProjectHooks>;
  private readonly issues: InstanceType<typeof Issues>;
  private readonly notes: InstanceType<typeof IssueNotes>;
  private readonly users: InstanceType<typeof Users>;
  private readonly tokens: InstanceType<typeof PersonalAccessTokens>;
  private readonly maxPages: number;

  constructor(private readonly options: GitlabClientOptions) {
    this.url = options.url.replace(/\/+$/, '');
    const shared = {
      host: this.url,
      token: options.token,
      requesterFn: singleAttemptRequesterFn,
      queryTimeout: options.timeoutMs ?? 10_000,
      rateLimits: {},
    };
    this.projects = new Projects(shared);
    this.labels = new ProjectLabels(shared);
    this.hooks = new ProjectHooks(shared);
    this.issues = new Issues(shared);
    this.notes = new IssueNotes(shared);
    this.users = new Users(shared);
    this.tokens = new PersonalAccessTokens(shared);
    this.maxPages = Math.max(1, options.maxPages ?? 100);
  }

  /** `GET /projects/:id` by numeric id or full path. 404 names gitlab.project_id. */
  async project(idOrPath: string | number, signal?: AbortSignal): Promise<GlProject> {
    let raw: unknown;
    try {
      raw = await this.call('GET /projects/:id', true, signal, () => this.projects.show(idOrPath));
    } catch (err) {
      if (err instanceof PluginError && err.service?.status === 404) {
        throw new PluginError(
          'NOT_FOUND',
          `GitLab project ${JSON.stringify(String(idOrPath))} not found at ${this.url}: check ${PROJECT_KEY} (and that the token's user is a member of the project)`,
          {
            cause: err,
            userFacing: true,
            service: err.service,
          },
        );
      }
      throw err;
    }
    if (!isObject(raw) || !isPositiveInt(raw['id'])) {
      throw new PluginError('SERVICE_ERROR', `${this.url} did not answer GET /api/v4/projects/:id with a GitLab project: check ${URL_KEY}`, { userFacing: true });
    }
    return {
      id: raw['id'],
      name: str(raw['name']),
      pathWithNamespace: str(raw['path_with_namespace']),
      webUrl: str(raw['web_url']),
    };
  }

  /** `GET /user`: whose token this is. */
  async currentUser(signal?: AbortSignal): Promise<GlUser> {
    const raw = await this.call('GET /user', true, signal, () => this.users.showCurrentUser());
    if (!isObject(raw) || !isPositiveInt(raw['id'])) throw unexpected('GET /user');
    return { id: raw['id'], username: str(raw['username']), name: str(raw['name']) };
  }

  /**
   * `GET /personal_access_tokens/self` (GitLab 15.5+; also answers for project and group access
   * tokens): the token's scopes, for `check`.
   */
  async tokenInfo(signal?: AbortSignal): Promise<GlTokenInfo> {
    const raw = await this.call('GET /personal_access_tokens/self', true, signal, () => this.tokens.show());
    if (!isObject(raw) || !isPositiveInt(raw['id'])) throw unexpected('GET /personal_access_tokens/self');
    return {
      id: raw['id'],
      name: str(raw['name']),
      scopes: Array.isArray(raw['scopes']) ? raw['scopes'].map(String) : [],
      active: raw['active'] !== false,
      revoked: raw['revoked'] === true,
      expiresAt: typeof raw['expires_at'] === 'string' ? raw['expires_at'] : null,
      userId: typeof raw['user_id'] === 'number' ? raw['user_id'] : 0,
    };
  }

  /** Every label of the project (all pages). */
  async listLabels(projectId: number | string, signal?: AbortSignal): Promise<GlLabel[]> {
    const out: GlLabel[] = [];
    for await (const raw of this.pages('GET /projects/:id/labels', signal, (page) => this.labels.all(projectId, { page, perPage: PER_PAGE, showExpanded: true }))) {
      if (isObject(raw) && isPositiveInt(raw['id'])) out.push({ id: raw['id'], name: str(raw['name']), color: str(raw['color']) });
    }
    return out;
  }

  /**
   * `POST /projects/:id/labels`. Repeating it cannot make two labels (GitLab answers 409 "Label
   * already exists", which counts as done), so it runs as idempotent.
   */
  async createLabel(projectId: number | string, label: { name: string; color: string }, signal?: AbortSignal): Promise<{ name: string; created: boolean }> {
    try {
      const raw = await this.call('POST /projects/:id/labels', true, signal, () => this.labels.create(projectId, label.name, label.color));
      return { name: isObject(raw) && typeof raw['name'] === 'string' ? raw['name'] : label.name, created: true };
    } catch (err) {
      if (err instanceof PluginError && err.service?.status === 409) {
        this.options.logger?.debug('GitLab label already exists', { label: label.name });
        return { name: label.name, created: false };
      }
      throw err;
    }
  }

  /** Every hook of the project (all pages). Needs the Maintainer role. */
  async listHooks(projectId: number | string, signal?: AbortSignal): Promise<GlHook[]> {
    const out: GlHook[] = [];
    for await (const hook of this.hookPages(projectId, signal)) out.push(hook);
    return out;
  }

  /**
   * The project hook that calls `url` (compared without credentials, which GitLab may mask), the
   * oldest first. The find verb of addHook.
   */
  async findHookByUrl(projectId: number | string, url: string, signal?: AbortSignal): Promise<GlHook | undefined> {
    for await (const hook of this.hookPages(projectId, signal)) {
      if (sameHookTarget(hook.url, url)) return hook;
    }
    return undefined;
  }

  /** `POST /projects/:id/hooks` for issue events. Not idempotent (a repeat adds a second hook): see findHookByUrl. */
  async addHook(projectId: number | string, settings: HookSettings, signal?: AbortSignal): Promise<GlHook> {
    const raw = await this.call('POST /projects/:id/hooks', false, signal, () =>
      this.hooks.add(projectId, settings.url, { token: settings.token, issuesEvents: true, pushEvents: false }),
    );
    return toHook(raw, 'POST /projects/:id/hooks');
  }

  /** `PUT /projects/:id/hooks/:hook_id`: sets url, token and events (idempotent). */
  async editHook(projectId: number | string, hookId: number, settings: HookSettings, signal?: AbortSignal): Promise<GlHook> {
    const raw = await this.call('PUT /projects/:id/hooks/:hook_id', true, signal, () =>
      this.hooks.edit(projectId, hookId, settings.url, { token: settings.token, issuesEvents: true, pushEvents: false }),
    );
    return toHook(raw, 'PUT /projects/:id/hooks/:hook_id');
  }

  /** `DELETE /projects/:id/hooks/:hook_id` (idempotent: 404 counts as done). */
  async removeHook(projectId: number | string, hookId: number, signal?: AbortSignal): Promise<void> {
    try {
      await this.call('DELETE /projects/:id/hooks/:hook_id', true, signal, () => this.hooks.remove(projectId, hookId));
    } catch (err) {
      if (err instanceof PluginError && err.service?.status === 404) return;
      throw err;
    }
  }

  /**
   * `POST /projects/:id/issues`. Not idempotent (a repeat opens a second issue): the description
   * carries the request id, and findIssueByRequestId finds the issue again.
   */
  async createIssue(projectId: number | string, issue: NewIssue, signal?: AbortSignal): Promise<GlIssue> {
    const raw = await this.call('POST /projects/:id/issues', false, signal, () =>
      this.issues.create(projectId, issue.title, { description: issue.description, labels: issue.labels.join(',') }),
    );
    return toIssue(raw, 'POST /projects/:id/issues');
  }

  /**
   * The issue opened for `requestId`: `GET /projects/:id/issues?search=<id>&in=description`
   * (open and closed), kept only when the description's own request id line names it (a reason
   * quoting another request's id does not count). The oldest wins.
   */
  async findIssueByRequestId(projectId: number | string, requestId: string, signal?: AbortSignal): Promise<GlIssue | undefined> {
    const wanted = requestId.toLowerCase();
    for await (const raw of this.pages('GET /projects/:id/issues', signal, (page) =>
      this.issues.all({ projectId, search: requestId, in: 'description', orderBy: 'created_at', sort: 'asc', page, perPage: PER_PAGE, showExpanded: true }),
    )) {
      if (!isObject(raw)) continue;
      if (requestIdFromDescription(str(raw['description'])) === wanted) return toIssue(raw, 'GET /projects/:id/issues');
    }
    return undefined;
  }

  /** `GET /projects/:id/issues/:iid`. */
  async getIssue(projectId: number | string, issueIid: number, signal?: AbortSignal): Promise<GlIssue> {
    const raw = await this.call('GET /projects/:id/issues/:iid', true, signal, () => this.issues.show(issueIid, { projectId }));
    return toIssue(raw, 'GET /projects/:id/issues/:iid');
  }

  /** `PUT /projects/:id/issues/:iid`: close or reopen, add and remove labels (idempotent). */
  async updateIssue(projectId: number | string, issueIid: number, update: IssueUpdate, signal?: AbortSignal): Promise<GlIssue> {
    const body: Record<string, string> = {};
    if (update.stateEvent) body['stateEvent'] = update.stateEvent;
    if (update.addLabels && update.addLabels.length > 0) body['addLabels'] = update.addLabels.join(',');
    if (update.removeLabels && update.removeLabels.length > 0) body['removeLabels'] = update.removeLabels.join(',');
    const raw = await this.call('PUT /projects/:id/issues/:iid', true, signal, () => this.issues.edit(projectId, issueIid, body));
    return toIssue(raw, 'PUT /projects/:id/issues/:iid');
  }

  /** `POST /projects/:id/issues/:iid/notes`. Not idempotent: see findNote. */
  async createNote(projectId: number | string, issueIid: number, body: string, signal?: AbortSignal): Promise<GlNote> {
    const raw = await this.call('POST /projects/:id/issues/:iid/notes', false, signal, () => this.notes.create(projectId, issueIid, body));
    return toNote(raw, 'POST /projects/:id/issues/:iid/notes');
  }

  /**
   * A note on the issue with exactly this body (surrounding whitespace aside, which GitLab may
   * trim), newest first; system notes (label and state changes) never match.
   */
  async findNote(projectId: number | string, issueIid: number, body: string, signal?: AbortSignal): Promise<GlNote | undefined> {
    const wanted = body.trim();
    for await (const raw of this.pages('GET /projects/:id/issues/:iid/notes', signal, (page) =>
      this.notes.all(projectId, issueIid, { orderBy: 'created_at', sort: 'desc', page, perPage: PER_PAGE, showExpanded: true }),
    )) {
      if (!isObject(raw)) continue;
      const note = toNote(raw, 'GET /projects/:id/issues/:iid/notes');
      if (!note.system && note.body.trim() === wanted) return note;
    }
    return undefined;
  }

  private async *hookPages(projectId: number | string, signal: AbortSignal | undefined): AsyncGenerator<GlHook> {
    for await (const raw of this.pages('GET /projects/:id/hooks', signal, (page) => this.hooks.all(projectId, { page, perPage: PER_PAGE, showExpanded: true }))) {
      if (isObject(raw) && isPositiveInt(raw['id'])) yield toHook(raw, 'GET /projects/:id/hooks');
    }
  }

  /**
   * Offset pagination, one page per call (each page under the policy on its own, so a 429 on
   * page 7 retries page 7), following GitLab's `X-Next-Page`.
   */
  private async *pages(operation: string, signal: AbortSignal | undefined, fetchPage: (page: number) => Promise<unknown>): AsyncGenerator<unknown> {
    let page = 1;
    for (let n = 0; n < this.maxPages; n += 1) {
      const answer = await this.call(operation, true, signal, () => fetchPage(page));
      const data = isObject(answer) && Array.isArray(answer['data']) ? (answer['data'] as unknown[]) : [];
      for (const item of data) yield item;
      const info = isObject(answer) ? answer['paginationInfo'] : undefined;
      const next = isObject(info) && typeof info['next'] === 'number' ? info['next'] : null;
      if (next === null || next <= page || data.length === 0) return;
      page = next;
    }
    this.options.logger?.warn('GitLab listing stopped at the page limit', { operation, pages: this.maxPages });
  }

  private call<T>(operation: string, idempotent: boolean, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    return callService<T>({ service: SERVICE, operation, idempotent }, (attemptSignal) => attemptScope.run({ signal: attemptSignal }, attempt), {
      signal,
      policy: this.options.policy,
      logger: this.options.logger,
      classify: classifyGitlabError,
    });
  }
}

/**
 * An SDK failure as a PluginError with service facts: a GitLab answer (GitbeakerRequestError,
 * which carries the Response) becomes httpFailure with GitLab's message, Retry-After /
 * RateLimit-Reset and, for 401/403, what to fix in plain words; anything else is a transport
 * failure (networkFailure decides whether it certainly never left this host).
 */
export function classifyGitlabError(err: unknown, call: OutboundCall): PluginError {
  if (err instanceof GitbeakerRequestError && err.cause?.response) {
    const { response, description } = err.cause;
    const status = response.status;
    return httpFailure(call, {
      status,
      serviceCode: shorten(description),
      detail: plainWords(status),
      retryAfterMs: retryAfterMs(response.headers),
      userFacing: status === 401 || status === 403,
      cause: err,
    });
  }
  return networkFailure(call, err);
}

function plainWords(status: number): string | undefined {
  if (status === 401) return `GitLab rejected the token: check ${TOKEN_KEY} (it must be valid, not expired or revoked, with the api scope)`;
  if (status === 403) {
    return `the token may not do this: ${TOKEN_KEY} needs the api scope and the Maintainer role in the project ${PROJECT_KEY} (Maintainer manages webhooks)`;
  }
  return undefined;
}

/** The requester: one HTTP request per call, nothing retried, the caller's signal honoured. */
const singleAttemptRequesterFn = createRequesterFn((_resource: ResourceOptions, options: RequestOptions) => Promise.resolve(options), sendOnce);

async function sendOnce(endpoint: string, rawOptions?: Record<string, unknown>): Promise<FormattedResponse> {
  const options = (rawOptions ?? {}) as RequestOptions;
  const base = options.prefixUrl ?? '';
  const url = new URL(endpoint, base.endsWith('/') ? base : `${base}/`);
  url.search = options.searchParams ?? '';
  const signals = [options.signal, attemptScope.getStore()?.signal].filter((s): s is AbortSignal => s !== undefined);
  const request = new Request(url, {
    method: options.method ?? 'GET',
    headers: options.headers,
    body: options.body,
    signal: signals.length === 0 ? undefined : signals.length === 1 ? signals[0] : AbortSignal.any(signals),
  });
  // Never start a request that is already cancelled.
  request.signal.throwIfAborted();
  const response = await fetch(request);
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    const description = errorDescription(text, response.headers.get('content-type'));
    throw new GitbeakerRequestError(description, { cause: { description, request, response } });
  }
  const headers = Object.fromEntries(response.headers.entries());
  if (response.status === 204) {
    await response.body?.cancel();
    return { body: null, headers, status: response.status };
  }
  const type = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase();
  const text = await response.text();
  if (type === 'application/json') {
    try {
      return { body: text === '' ? {} : (JSON.parse(text) as FormattedResponse['body']), headers, status: response.status };
    } catch {
      // A proxy's HTML with a JSON content type, say: let the caller see garbage, not a crash.
      return { body: text, headers, status: response.status };
    }
  }
  return { body: text, headers, status: response.status };
}

/** GitLab errors are `{"message": ...}` (a string or a field map) or `{"error": "..."}`. */
function errorDescription(text: string, contentType: string | null): string {
  if (contentType?.includes('json')) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
      const value = parsed?.message ?? parsed?.error;
      if (value !== undefined) return typeof value === 'string' ? value : JSON.stringify(value);
    } catch {
      // fall through to the text
    }
  }
  return text.trim();
}

/** Hook URLs compared as GitLab may show them: credentials and a trailing slash ignored. */
export function sameHookTarget(a: string, b: string): boolean {
  const norm = (s: string): string | undefined => {
    try {
      const u = new URL(s);
      u.username = '';
      u.password = '';
      u.hash = '';
      return `${u.protocol}//${u.host.toLowerCase()}${u.pathname.replace(/\/+$/, '')}${u.search}`;
    } catch {
      return undefined;
    }
  };
  const na = norm(a);
  return na !== undefined && na === norm(b);
}

function toHook(raw: unknown, operation: string): GlHook {
  if (!isObject(raw) || !isPositiveInt(raw['id'])) throw unexpected(operation);
  return {
    id: raw['id'],
    url: str(raw['url']),
    issuesEvents: raw['issues_events'] === true,
    pushEvents: raw['push_events'] === true,
    enableSslVerification: raw['enable_ssl_verification'] !== false,
  };
}

function toIssue(raw: unknown, operation: string): GlIssue {
  if (!isObject(raw) || !isPositiveInt(raw['id']) || !isPositiveInt(raw['iid'])) throw unexpected(operation);
  return {
    id: raw['id'],
    iid: raw['iid'],
    projectId: typeof raw['project_id'] === 'number' ? raw['project_id'] : 0,
    title: str(raw['title']),
    description: str(raw['description']),
    state: str(raw['state']),
    labels: Array.isArray(raw['labels']) ? raw['labels'].map((l) => (isObject(l) ? str(l['name']) : String(l))) : [],
    webUrl: str(raw['web_url']),
  };
}

function toNote(raw: unknown, operation: string): GlNote {
  if (!isObject(raw) || !isPositiveInt(raw['id'])) throw unexpected(operation);
  const author = raw['author'];
  return {
    id: raw['id'],
    body: str(raw['body']),
    system: raw['system'] === true,
    authorId: isObject(author) && typeof author['id'] === 'number' ? author['id'] : undefined,
  };
}

function unexpected(operation: string): PluginError {
  return new PluginError('SERVICE_ERROR', `${SERVICE} ${operation}: unexpected answer (not the JSON object GitLab sends): check ${URL_KEY}`);
}

function shorten(text: string): string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function isPositiveInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
