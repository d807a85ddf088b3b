import * as http from 'node:http';
import * as https from 'node:https';
import { PluginError, callService, headerSource, httpFailure, isOutcomeUnknown, networkFailure, refusal, retryAfterMs, sleep } from '@teleport-plugin/core';
import type { HeaderSource, Logger, OutboundCall, OutboundPolicy } from '@teleport-plugin/core';
import { Version2Client } from 'jira.js';
import { COMMENT_MARKER_PROPERTY, REQUEST_ID_PROPERTY, sameMarker, type CommentMarker } from './render.js';
import type { JiraChangelogEntry, JiraComment, JiraIssue, JiraProject, JiraStatus, JiraTransition, JiraUser } from './types.js';
import { userFrom } from './webhook.js';

/*
 * The transport is jira.js's Version2Client (REST API v2, wiki-markup bodies, as the Go plugin).
 * jira.js 5.4 sends through axios and never retries by itself; what it needs from us:
 * - one client per attempt, built around shared keep-alive agents: it takes request options
 *   (timeout, agents, AbortSignal) only at construction, and building one costs little while the
 *   connections live in the agents;
 * - `maxRedirects: 0`: a redirected POST would turn into a GET; a redirect is reported instead;
 * - its errors are an HttpException (status, body; the axios error with the headers as `cause`)
 *   or a bare AxiosError (no answer: ECONNREFUSED, ECONNRESET, ECONNABORTED on our timeout,
 *   ERR_CANCELED on our signal), classified below into core's service facts;
 * - path segments are not escaped by jira.js: ids and keys are escaped here.
 * Every call goes through core's callService: 429 (Retry-After) and 5xx are retried there, writes
 * only when they certainly did not happen. Each write has a find verb for the ledger.
 */

export const JIRA_SERVICE = 'Jira';

/** What `check` and start-up verify the plugin's user may do in the project (as upstream). */
export const REQUIRED_PERMISSIONS = ['BROWSE_PROJECTS', 'CREATE_ISSUES', 'TRANSITION_ISSUES', 'ADD_COMMENTS'] as const;
export type JiraPermission = (typeof REQUIRED_PERMISSIONS)[number];

export interface JiraClientOptions {
  /** `jira.url`, without a trailing slash. */
  url: string;
  username: string;
  apiToken: string;
  /** Project key issues are created in and searched. */
  project: string;
  issueType: string;
  logger?: Logger;
  /** Core's outbound policy, overridden (tests use tiny backoffs). */
  policy?: Partial<OutboundPolicy>;
  /** Per attempt (default 10 s, the Go plugin's HTTP client timeout). */
  timeoutMs?: number;
  /** Connections kept per host (default 100, as the Go plugin). */
  maxSockets?: number;
  /**
   * Jira's search index trails writes by a few seconds. findIssueByRequestId keeps searching
   * for this long after the create attempt it is asked about (default 15 s).
   */
  searchSettleMs?: number;
  /** Pause between those searches (default 1 s). */
  searchPollMs?: number;
}

export interface NewIssue {
  requestId: string;
  summary: string;
  description: string;
}

export interface IssueRef {
  id: string;
  key: string;
}

export interface FindIssueOptions {
  /** Only issues created after this (the request's creation time); narrows the search. */
  createdAfter?: Date | undefined;
  /**
   * When the create whose outcome is unknown was attempted: an issue created then may not be
   * searchable yet, so "not found" is only answered once the index has had time to catch up.
   */
  attemptedAt?: Date | undefined;
  signal?: AbortSignal | undefined;
}

type Sdk = Version2Client;

export class JiraClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly searchSettleMs: number;
  private readonly searchPollMs: number;
  /** Cloud has `/search/jql`; Server/Data Center only `/search`. Learnt on first use. */
  private searchApi: 'jql' | 'legacy' | undefined;
  private self: JiraUser | undefined;

  constructor(private readonly options: JiraClientOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 100, maxFreeSockets: 10 };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
    this.searchSettleMs = options.searchSettleMs ?? 15_000;
    this.searchPollMs = options.searchPollMs ?? 1_000;
  }

  get project(): string {
    return this.options.project;
  }

  /** Frees the kept-alive connections. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  /** `GET /rest/api/2/myself`: the credentials work and jira.url is a Jira REST API. */
  async myself(signal?: AbortSignal): Promise<JiraUser> {
    const body = await this.call('GET /rest/api/2/myself', true, signal, (sdk) => sdk.myself.getCurrentUser());
    const user = userFrom(body);
    if (!isRecord(body) || !user) {
      throw refusal(this.op('GET /rest/api/2/myself', true), 'answered without a user (is jira.url the address of the Jira site?)', { userFacing: true });
    }
    this.self = user;
    return user;
  }

  /** The project with its issue types (`GET /rest/api/2/project/{key}`). */
  async getProject(signal?: AbortSignal): Promise<JiraProject> {
    const key = this.options.project;
    const body = await this.call('GET /rest/api/2/project/{key}', true, signal, (sdk) => sdk.projects.getProject({ projectIdOrKey: enc(key) }));
    const raw = asRecord(body);
    const types = Array.isArray(raw['issueTypes']) ? raw['issueTypes'].filter(isRecord) : [];
    return {
      id: str(raw['id']),
      key: str(raw['key']),
      name: str(raw['name']),
      issueTypes: types.map((t) => ({ id: str(t['id']), name: str(t['name']), subtask: t['subtask'] === true })),
    };
  }

  /**
   * The statuses the configured issue type can be in (`GET /rest/api/2/project/{key}/statuses`),
   * or undefined when the project has no such issue type.
   */
  async issueTypeStatuses(signal?: AbortSignal): Promise<string[] | undefined> {
    const key = this.options.project;
    const body = await this.call('GET /rest/api/2/project/{key}/statuses', true, signal, (sdk) => sdk.projects.getAllStatuses(enc(key)));
    const list = Array.isArray(body) ? body.filter(isRecord) : [];
    const wanted = this.options.issueType.toLowerCase();
    const entry = list.find((t) => str(t['name']).toLowerCase() === wanted);
    if (!entry) return undefined;
    const statuses = Array.isArray(entry['statuses']) ? entry['statuses'].filter(isRecord) : [];
    return statuses.map((s) => str(s['name']));
  }

  /** `GET /rest/api/2/mypermissions?projectKey=&permissions=`: which of the needed ones the user has. */
  async myPermissions(signal?: AbortSignal): Promise<Record<JiraPermission, boolean>> {
    const body = await this.call('GET /rest/api/2/mypermissions', true, signal, (sdk) =>
      sdk.permissions.getMyPermissions({ projectKey: this.options.project, permissions: REQUIRED_PERMISSIONS.join(',') }),
    );
    const perms = asRecord(asRecord(body)['permissions']);
    const out = {} as Record<JiraPermission, boolean>;
    for (const p of REQUIRED_PERMISSIONS) out[p] = asRecord(perms[p])['havePermission'] === true;
    return out;
  }

  /**
   * `POST /rest/api/2/issue` with the request id as issue property `teleportAccessRequestId`.
   * Not idempotent: Jira has no create key, so a create whose answer was lost is settled with
   * findIssueByRequestId, never by posting again.
   */
  async createIssue(issue: NewIssue, signal?: AbortSignal): Promise<IssueRef> {
    const body = await this.call('POST /rest/api/2/issue', false, signal, (sdk) =>
      sdk.issues.createIssue({
        fields: {
          project: { key: this.options.project },
          issuetype: { name: this.options.issueType },
          summary: issue.summary,
          description: issue.description,
        },
        properties: [{ key: REQUEST_ID_PROPERTY, value: issue.requestId }],
      }),
    );
    const raw = asRecord(body);
    const id = str(raw['id']);
    if (!id) throw refusal(this.op('POST /rest/api/2/issue', false), 'answered without an issue id');
    return { id, key: str(raw['key']) };
  }

  /**
   * The issue this plugin created for `requestId`, found by its `teleportAccessRequestId`
   * property. Jira can only filter on an entity property in JQL when an installed app declares it
   * for indexing, which a REST client cannot do; so this asks JQL for what it can filter on
   * (this project, created by this user, recently: `project = K AND creator = currentUser() AND
   * created >= -Nm`) with the property included in each result, and compares the property here.
   * Searches are eventually consistent: see FindIssueOptions.attemptedAt.
   */
  async findIssueByRequestId(requestId: string, options: FindIssueOptions = {}): Promise<IssueRef | undefined> {
    const settleUntil = options.attemptedAt ? options.attemptedAt.getTime() + this.searchSettleMs : 0;
    for (;;) {
      const found = await this.searchByProperty(requestId, options.createdAfter, options.signal);
      if (found) return found;
      if (Date.now() + this.searchPollMs > settleUntil) return undefined;
      this.options.logger?.debug('Jira issue not searchable yet; searching again', { requestId });
      await sleep(this.searchPollMs, options.signal);
    }
  }

  /** The JQL findIssueByRequestId runs (exported for tests and the fake). */
  searchJql(createdAfter: Date | undefined, now = Date.now()): string {
    let jql = `project = ${jqlString(this.options.project)} AND creator = currentUser()`;
    if (createdAfter) {
      // Relative to the server's clock, so neither side's time zone matters; 5 min for skew.
      const minutes = Math.max(1, Math.ceil((now - createdAfter.getTime()) / 60_000) + 5);
      jql += ` AND created >= "-${minutes}m"`;
    }
    return `${jql} ORDER BY created DESC`;
  }

  private async searchByProperty(requestId: string, createdAfter: Date | undefined, signal: AbortSignal | undefined): Promise<IssueRef | undefined> {
    const jql = this.searchJql(createdAfter);
    const matches = (issue: Record<string, unknown>): boolean => asRecord(issue['properties'])[REQUEST_ID_PROPERTY] === requestId;
    const pageSize = 100;
    // Bounded: a project where this user created thousands of issues in the window is not ours to page through.
    const maxPages = 20;
    if (this.searchApi !== 'legacy') {
      let nextPageToken: string | undefined;
      try {
        for (let page = 0; page < maxPages; page++) {
          const body = asRecord(
            await this.call('GET /rest/api/2/search/jql', true, signal, (sdk) =>
              sdk.issueSearch.searchForIssuesUsingJqlEnhancedSearch({
                jql,
                maxResults: pageSize,
                fields: ['status'],
                properties: [REQUEST_ID_PROPERTY],
                ...(nextPageToken ? { nextPageToken } : {}),
              }),
            ),
          );
          this.searchApi = 'jql';
          const issues = Array.isArray(body['issues']) ? body['issues'].filter(isRecord) : [];
          const hit = issues.find(matches);
          if (hit) return { id: str(hit['id']), key: str(hit['key']) };
          nextPageToken = typeof body['nextPageToken'] === 'string' && body['nextPageToken'] ? body['nextPageToken'] : undefined;
          if (!nextPageToken || body['isLast'] === true || issues.length === 0) return undefined;
        }
        return undefined;
      } catch (err) {
        // Jira Server/Data Center has no /search/jql; Cloud has removed /search (410).
        if (this.searchApi === 'jql' || !(err instanceof PluginError) || err.service?.status !== 404) throw err;
        this.searchApi = 'legacy';
      }
    }
    for (let page = 0, startAt = 0; page < maxPages; page++) {
      const body = asRecord(
        await this.call('GET /rest/api/2/search', true, signal, (sdk) =>
          sdk.issueSearch.searchForIssuesUsingJql({ jql, startAt, maxResults: pageSize, fields: ['status'], properties: [REQUEST_ID_PROPERTY] }),
        ),
      );
      const issues = Array.isArray(body['issues']) ? body['issues'].filter(isRecord) : [];
      const hit = issues.find(matches);
      if (hit) return { id: str(hit['id']), key: str(hit['key']) };
      startAt += issues.length;
      const total = typeof body['total'] === 'number' ? body['total'] : 0;
      if (issues.length === 0 || startAt >= total) return undefined;
    }
    return undefined;
  }

  /**
   * The issue with what the webhook and resolution need: status, comments, changelog,
   * transitions and the request id property (`fields=status,comment`,
   * `expand=changelog,transitions`, `properties=teleportAccessRequestId`), as the Go plugin asks.
   */
  async getIssue(issueIdOrKey: string, signal?: AbortSignal): Promise<JiraIssue> {
    const body = await this.call('GET /rest/api/2/issue/{id}', true, signal, (sdk) =>
      sdk.issues.getIssue({
        issueIdOrKey: enc(issueIdOrKey),
        fields: ['status', 'comment'],
        expand: 'changelog,transitions',
        properties: [REQUEST_ID_PROPERTY],
      }),
    );
    return toIssue(body);
  }

  /** One issue property's value, or undefined when the issue has no such property. */
  async getIssueProperty(issueIdOrKey: string, key: string = REQUEST_ID_PROPERTY, signal?: AbortSignal): Promise<unknown> {
    try {
      const body = await this.call('GET /rest/api/2/issue/{id}/properties/{key}', true, signal, (sdk) =>
        sdk.issueProperties.getIssueProperty({ issueIdOrKey: enc(issueIdOrKey), propertyKey: enc(key) }),
      );
      return asRecord(body)['value'];
    } catch (err) {
      if (err instanceof PluginError && err.service?.status === 404 && /propert/i.test(err.message)) return undefined;
      throw err;
    }
  }

  /** Every comment of the issue (all pages), newest first, with their properties where Jira returns them. */
  async listComments(issueIdOrKey: string, signal?: AbortSignal): Promise<JiraComment[]> {
    const out: JiraComment[] = [];
    const pageSize = 100;
    for (let page = 0, startAt = 0; page < 50; page++) {
      const body = asRecord(
        await this.call('GET /rest/api/2/issue/{id}/comment', true, signal, (sdk) =>
          sdk.issueComments.getComments({ issueIdOrKey: enc(issueIdOrKey), startAt, maxResults: pageSize, orderBy: '-created', expand: 'properties' }),
        ),
      );
      const comments = Array.isArray(body['comments']) ? body['comments'].filter(isRecord) : [];
      out.push(...comments.map(toComment));
      startAt += comments.length;
      const total = typeof body['total'] === 'number' ? body['total'] : startAt;
      if (comments.length === 0 || startAt >= total) break;
    }
    return out;
  }

  /**
   * `POST /rest/api/2/issue/{id}/comment`, carrying `marker` as comment property
   * `teleportAccessRequestComment`. Not idempotent: a comment whose answer was lost is settled
   * with findComment.
   */
  async addComment(issueIdOrKey: string, body: string, marker: CommentMarker, signal?: AbortSignal): Promise<{ id: string }> {
    const answer = await this.call('POST /rest/api/2/issue/{id}/comment', false, signal, (sdk) =>
      sdk.issueComments.addComment({
        issueIdOrKey: enc(issueIdOrKey),
        // jira.js sends `comment` as the REST field `body`.
        comment: body,
        properties: [{ key: COMMENT_MARKER_PROPERTY, value: marker }],
      }),
    );
    const id = str(asRecord(answer)['id']);
    if (!id) throw refusal(this.op('POST /rest/api/2/issue/{id}/comment', false), 'answered without a comment id');
    return { id };
  }

  /**
   * The comment `marker` names, if it was posted: by its property, else (comments posted by the
   * Go plugin, or sites that do not return comment properties) a comment by this plugin's user
   * whose text is `body`, compared ignoring how Jira re-renders whitespace.
   */
  async findComment(issueIdOrKey: string, marker: CommentMarker, body: string, signal?: AbortSignal): Promise<JiraComment | undefined> {
    const comments = await this.listComments(issueIdOrKey, signal);
    const byMarker = comments.find((c) => sameMarker(c.properties[COMMENT_MARKER_PROPERTY], marker));
    if (byMarker) return byMarker;
    const me = this.self ?? (await this.myself(signal));
    const wanted = normalizeBody(body);
    return comments.find((c) => normalizeBody(c.body) === wanted && sameAuthor(c.author, me));
  }

  /**
   * Moves the issue to `status` (compared case-insensitively) with the transition leading there;
   * given several statuses, to the first one its workflow can reach (and not at all when it is in
   * one of them already). Idempotent: an issue already there is left alone, and a transition
   * whose answer was lost is settled by reading the status again, never by posting blindly.
   */
  async transitionTo(issueIdOrKey: string, status: string | readonly string[], signal?: AbortSignal): Promise<'moved' | 'already'> {
    const wanted = (typeof status === 'string' ? [status] : [...status]).map((s) => s.toLowerCase());
    const first = typeof status === 'string' ? status : (status[0] ?? '');
    for (let round = 1; ; round++) {
      const current = await this.call('GET /rest/api/2/issue/{id}?expand=transitions', true, signal, (sdk) =>
        sdk.issues.getIssue({ issueIdOrKey: enc(issueIdOrKey), fields: ['status'], expand: 'transitions' }),
      );
      const issue = toIssue(current);
      if (wanted.includes(issue.status.name.toLowerCase())) return round === 1 ? 'already' : 'moved';
      let transition: JiraTransition | undefined;
      for (const target of wanted) {
        transition = issue.transitions.find((t) => t.to.name.toLowerCase() === target);
        if (transition) break;
      }
      if (!transition) {
        throw refusal(
          this.op('POST /rest/api/2/issue/{id}/transitions', true),
          `issue ${issue.key || issue.id} cannot move from "${issue.status.name}" to "${first}": its workflow has no such transition (the ${this.options.issueType} workflow needs transitions to Approved, Denied and Expired)`,
        );
      }
      const chosen = transition;
      try {
        await this.call('POST /rest/api/2/issue/{id}/transitions', false, signal, (sdk) =>
          sdk.issues.doTransition({ issueIdOrKey: enc(issueIdOrKey), transition: { id: chosen.id } }),
        );
        return 'moved';
      } catch (err) {
        // It may have happened: look before trying again.
        if (!isOutcomeUnknown(err) || round >= 3) throw err;
        this.options.logger?.debug('Jira transition outcome unknown; reading the status again', { issue: issueIdOrKey, status: first });
      }
    }
  }

  /** One SDK call under core's outbound policy. */
  private call<T>(operation: string, idempotent: boolean, signal: AbortSignal | undefined, run: (sdk: Sdk) => Promise<T>): Promise<T> {
    const call = this.op(operation, idempotent);
    return callService(
      call,
      async (attemptSignal) => {
        // Never start a request that is already cancelled.
        attemptSignal?.throwIfAborted();
        return run(this.sdk(attemptSignal));
      },
      {
        signal,
        policy: this.options.policy,
        logger: this.options.logger,
        classify: (err, c) => classifyJiraError(err, c),
      },
    );
  }

  private op(operation: string, idempotent: boolean): OutboundCall {
    return { service: JIRA_SERVICE, operation, idempotent };
  }

  private sdk(signal: AbortSignal | undefined): Sdk {
    return new Version2Client({
      host: this.base,
      authentication: { basic: { email: this.options.username, apiToken: this.options.apiToken } },
      baseRequestConfig: {
        timeout: this.timeoutMs,
        httpAgent: this.httpAgent,
        httpsAgent: this.httpsAgent,
        maxRedirects: 0,
        headers: { Accept: 'application/json' },
        ...(signal ? { signal } : {}),
      },
    });
  }
}

/**
 * A jira.js failure as a PluginError with service facts. 401/403 name the keys to fix; Jira's
 * `errorMessages` and `errors` become the detail; 429 carries Retry-After.
 */
export function classifyJiraError(err: unknown, call: OutboundCall): PluginError {
  if (err instanceof PluginError) return err;
  const answer = httpAnswer(err);
  if (!answer) return networkFailure(call, err);
  const { status, data, headers } = answer;
  const jira = jiraErrorText(data);
  let detail = jira;
  let userFacing = false;
  if (status === 401) {
    userFacing = true;
    detail = `Jira rejected the credentials: check jira.username and jira.api_token${jira ? `; Jira says: ${jira}` : ''}`;
  } else if (status === 403) {
    userFacing = true;
    const denied = headers.get('x-authentication-denied-reason');
    detail = denied
      ? `Jira refused the login (${denied}): log in once in a browser as jira.username, or check jira.api_token`
      : `the Jira user in jira.username lacks a permission for this (it needs Browse projects, Create issues, Transition issues and Add comments in jira.project)${jira ? `; Jira says: ${jira}` : ''}`;
  } else if (status >= 300 && status < 400) {
    userFacing = true;
    const location = headers.get('location');
    detail = `Jira redirected the call${location ? ` to ${location}` : ''}: set jira.url to the site's final address`;
  } else if (status === 404 && call.operation === 'GET /rest/api/2/myself') {
    userFacing = true;
    detail = `no Jira REST API here: check jira.url${jira ? `; Jira says: ${jira}` : ''}`;
  } else if (status === 404 && call.operation.startsWith('GET /rest/api/2/project/')) {
    userFacing = true;
    detail = `no project with the key in jira.project, or the user cannot browse it${jira ? `; Jira says: ${jira}` : ''}`;
  }
  return httpFailure(call, {
    status,
    ...(detail ? { detail } : {}),
    retryAfterMs: retryAfterMs(headers),
    cause: err,
    userFacing,
  });
}

interface HttpAnswer {
  status: number;
  data: unknown;
  headers: HeaderSource;
}

/** Status, body and headers of an answered call, from jira.js's HttpException or an AxiosError. */
function httpAnswer(err: unknown): HttpAnswer | undefined {
  if (!isRecord(err)) return undefined;
  const axiosLike = (e: unknown): { status: number; data: unknown; headers: Record<string, unknown> } | undefined => {
    if (!isRecord(e) || !isRecord(e['response'])) return undefined;
    const res = e['response'];
    if (typeof res['status'] !== 'number') return undefined;
    return { status: res['status'], data: res['data'], headers: isRecord(res['headers']) ? plainHeaders(res['headers']) : {} };
  };
  // HttpException: `status` + `response.data`, the axios error (with headers) as `cause`.
  const fromCause = axiosLike(err['cause']);
  if (fromCause) return { status: fromCause.status, data: fromCause.data, headers: headerSource(fromCause.headers) };
  const direct = axiosLike(err);
  if (direct) return { status: direct.status, data: direct.data, headers: headerSource(direct.headers) };
  // jira.js also wraps errors that never reached Jira in an HttpException (status 500 by
  // default, the original error as `response`): those are not answers.
  if (typeof err['status'] === 'number' && isRecord(err['response']) && !(err['response'] instanceof Error)) {
    return { status: err['status'], data: err['response']['data'], headers: headerSource(undefined) };
  }
  return undefined;
}

/** axios's AxiosHeaders (or a plain object) as a plain object. */
function plainHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const toJSON = headers['toJSON'];
  if (typeof toJSON === 'function') {
    const plain = (toJSON as () => unknown).call(headers);
    if (isRecord(plain)) return plain;
  }
  return headers;
}

/** `errorMessages` and `errors` of a Jira error body (`{"errorMessages":[...],"errors":{...}}`), in one line. */
export function jiraErrorText(data: unknown): string {
  if (typeof data === 'string') return data.trim().replace(/\s+/g, ' ').slice(0, 200);
  if (!isRecord(data)) return '';
  const parts: string[] = [];
  if (Array.isArray(data['errorMessages'])) parts.push(...data['errorMessages'].map(String));
  const errors = data['errors'];
  if (isRecord(errors)) for (const [k, v] of Object.entries(errors)) parts.push(`${k}: ${String(v)}`);
  else if (Array.isArray(errors)) parts.push(...errors.map(String));
  if (parts.length === 0 && typeof data['message'] === 'string') parts.push(data['message']);
  return parts.join('; ').slice(0, 500);
}

function toIssue(body: unknown): JiraIssue {
  const raw = asRecord(body);
  const fields = asRecord(raw['fields']);
  const properties = asRecord(raw['properties']);
  const requestId = properties[REQUEST_ID_PROPERTY];
  const changelog = asRecord(raw['changelog']);
  const histories = Array.isArray(changelog['histories']) ? changelog['histories'].filter(isRecord) : [];
  const commentPage = asRecord(fields['comment']);
  const comments = Array.isArray(commentPage['comments']) ? commentPage['comments'].filter(isRecord) : [];
  const transitions = Array.isArray(raw['transitions']) ? raw['transitions'].filter(isRecord) : [];
  return {
    id: str(raw['id']),
    key: str(raw['key']),
    status: toStatus(fields['status']),
    properties,
    requestId: typeof requestId === 'string' && requestId !== '' ? requestId : undefined,
    transitions: transitions.map((t): JiraTransition => ({ id: str(t['id']), name: str(t['name']), to: toStatus(t['to']) })),
    changelog: histories.map((h): JiraChangelogEntry => ({
      id: str(h['id']),
      author: userFrom(h['author']),
      created: str(h['created']),
      items: (Array.isArray(h['items']) ? h['items'].filter(isRecord) : []).map((i) => ({
        field: str(i['field']),
        fieldtype: str(i['fieldtype']),
        fromString: typeof i['fromString'] === 'string' ? i['fromString'] : undefined,
        toString: typeof i['toString'] === 'string' ? i['toString'] : undefined,
      })),
    })),
    comments: comments.map(toComment),
  };
}

function toStatus(value: unknown): JiraStatus {
  const raw = asRecord(value);
  return { id: str(raw['id']), name: str(raw['name']) };
}

function toComment(raw: Record<string, unknown>): JiraComment {
  const props: Record<string, unknown> = {};
  // Jira returns comment properties as [{key, value}] when expanded.
  if (Array.isArray(raw['properties'])) {
    for (const p of raw['properties'].filter(isRecord)) if (typeof p['key'] === 'string') props[p['key']] = p['value'];
  }
  return { id: str(raw['id']), body: str(raw['body']), author: userFrom(raw['author']), created: str(raw['created']), properties: props };
}

/** Comment text as compared by findComment: line endings, trailing spaces and outer blank lines ignored. */
export function normalizeBody(body: string): string {
  return body
    .replace(/\r\n?/g, '\n')
    .split('\n')
    .map((line) => line.replace(/[ \t]+$/, ''))
    .join('\n')
    .trim();
}

function sameAuthor(author: JiraUser | undefined, me: JiraUser): boolean {
  if (!author) return false;
  if (author.accountId && me.accountId) return author.accountId === me.accountId;
  if (author.key && me.key) return author.key === me.key;
  if (author.name && me.name) return author.name === me.name;
  return false;
}

/** A JQL string literal. */
export function jqlString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function enc(segment: string): string {
  return encodeURIComponent(segment);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asRecord(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}
