import { createHmac, randomUUID } from 'node:crypto';
import { HttpFake } from '@teleport-plugin/core/testing';
import type { Fault, FakeReply, RecordedCall } from '@teleport-plugin/core/testing';

/*
 * A fake Jira (REST API v2, the calls teleport-plugin makes) on a real HTTP server: basic auth,
 * a project with issue types and a workflow, issues with properties, comments (with their own
 * properties), changelog and transitions, the JQL search the client runs, and outgoing
 * `jira:issue_updated` webhooks signed as Jira signs them. Every call is recorded on `http`
 * (an HttpFake), which also injects 429s, 5xx, latency and lost answers.
 *
 * Two flavours: `cloud` (users have accountIds, `/search/jql`, the old `/search` answers 410) and
 * `server` (users have key/name, only `/search`).
 */

export type JiraFlavor = 'cloud' | 'server';

export interface FakeJiraUser {
  accountId: string;
  key: string;
  name: string;
  displayName: string;
  emailAddress: string;
  /** Cloud users may hide their email: then it is left out of every user object. */
  hideEmail: boolean;
  /** Basic-auth secret (API token or password); users without one cannot call the API. */
  apiToken: string | undefined;
}

export interface FakeJiraComment {
  id: string;
  body: string;
  author: FakeJiraUser;
  created: Date;
  properties: Record<string, unknown>;
}

export interface FakeJiraChange {
  id: string;
  author: FakeJiraUser;
  created: Date;
  items: Array<{ field: string; fieldtype: string; from: string | null; fromString: string | null; to: string | null; toString: string | null }>;
}

export interface FakeJiraIssue {
  id: string;
  key: string;
  projectKey: string;
  issueType: string;
  summary: string;
  description: string;
  status: string;
  creator: FakeJiraUser;
  created: Date;
  properties: Record<string, unknown>;
  comments: FakeJiraComment[];
  /** Oldest first (the API answers newest first, as Jira Cloud does with expand=changelog). */
  changelog: FakeJiraChange[];
}

export interface FakeJiraTransition {
  id: string;
  name: string;
  to: string;
  /** Statuses it is available from; undefined = from any other status (a global transition). */
  from?: string[];
}

export interface FakeJiraOptions {
  flavor?: JiraFlavor;
  /** The plugin's user (basic auth). Default `jira-bot@example.com` / `jira-api-token`. */
  username?: string;
  apiToken?: string;
  projectKey?: string;
  projectName?: string;
  issueTypes?: string[];
  /** The issue types' workflow: statuses (the first is where issues start) and transitions. */
  workflow?: { statuses: string[]; transitions?: FakeJiraTransition[] };
  /** Permissions the plugin's user has in the project (default: all). */
  permissions?: Partial<Record<string, boolean>>;
  /**
   * How far the search index trails writes: an issue is found by JQL only this long after it was
   * created (real Jira: typically under a few seconds). Default 0.
   */
  searchLagMs?: number;
  /** Entity property keys an app has declared for indexing: only these work in JQL. */
  indexedProperties?: string[];
  /** Whether comment listings with `expand=properties` include comment properties (default true). */
  commentProperties?: boolean;
  /** How the site stores a posted comment body (Cloud converts wiki markup and back). Default: as sent. */
  storeCommentBody?: (body: string) => string;
  tls?: { cert: string; key: string };
}

/** Where `transitionAs` and `sendWebhook` deliver, and how they authenticate. */
export interface FakeJiraWebhookTarget {
  url: string;
  /** Signs each delivery: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. */
  secret?: string;
  /** Appended to the URL as `?token=`. */
  token?: string;
  /** Extra headers (e.g. Authorization for basic auth). */
  headers?: Record<string, string>;
}

export interface FakeJiraDelivery {
  id: string;
  url: string;
  body: string;
  headers: Record<string, string>;
  status: number;
  responseBody: string;
}

const DEFAULT_STATUSES = ['Pending', 'Approved', 'Denied', 'Expired'];
const PERMISSION_NAMES: Record<string, string> = {
  BROWSE_PROJECTS: 'Browse Projects',
  CREATE_ISSUES: 'Create Issues',
  TRANSITION_ISSUES: 'Transition Issues',
  ADD_COMMENTS: 'Add Comments',
};

export class FakeJira {
  readonly http: HttpFake;
  readonly flavor: JiraFlavor;
  readonly users: FakeJiraUser[] = [];
  readonly issues: FakeJiraIssue[] = [];
  readonly deliveries: FakeJiraDelivery[] = [];
  readonly webhooks: FakeJiraWebhookTarget[] = [];
  readonly bot: FakeJiraUser;
  projectKey: string;
  projectName: string;
  issueTypes: string[];
  statuses: string[];
  transitions: FakeJiraTransition[];
  permissions: Record<string, boolean>;
  searchLagMs: number;
  indexedProperties: string[];
  commentProperties: boolean;
  private readonly storeCommentBody: (body: string) => string;
  private seq = 0;
  private issueSeq = 10000;
  private keySeq = 0;

  constructor(options: FakeJiraOptions = {}) {
    this.flavor = options.flavor ?? 'cloud';
    this.projectKey = options.projectKey ?? 'REQ';
    this.projectName = options.projectName ?? 'Access Requests';
    this.issueTypes = options.issueTypes ?? ['Task', 'Bug'];
    this.statuses = options.workflow?.statuses ?? DEFAULT_STATUSES;
    this.transitions = options.workflow?.transitions ?? globalTransitions(this.statuses);
    this.permissions = { BROWSE_PROJECTS: true, CREATE_ISSUES: true, TRANSITION_ISSUES: true, ADD_COMMENTS: true, ...definedOnly(options.permissions ?? {}) };
    this.searchLagMs = options.searchLagMs ?? 0;
    this.indexedProperties = options.indexedProperties ?? [];
    this.commentProperties = options.commentProperties ?? true;
    this.storeCommentBody = options.storeCommentBody ?? ((b) => b);
    this.bot = this.addUser(options.username ?? 'jira-bot@example.com', { displayName: 'Teleport Jira bot', apiToken: options.apiToken ?? 'jira-api-token' });

    this.http = new HttpFake('fake-jira', options.tls);
    const api = '/rest/api/2';
    this.http
      .route('GET', `${api}/myself`, (c) => this.authed(c, (me) => ({ body: this.userJson(me) })))
      .route('GET', `${api}/project/:key`, (c, p) => this.authed(c, () => this.getProject(p['key'] ?? '')))
      .route('GET', `${api}/project/:key/statuses`, (c, p) => this.authed(c, () => this.projectStatuses(p['key'] ?? '')))
      .route('GET', `${api}/mypermissions`, (c) => this.authed(c, () => this.myPermissions(c)))
      .route('POST', `${api}/issue`, (c) => this.authed(c, (me) => this.createIssue(c, me)))
      .route('GET', `${api}/issue/:id`, (c, p) => this.authed(c, () => this.withIssue(p['id'], (i) => this.getIssue(c, i))))
      .route('GET', `${api}/issue/:id/properties/:key`, (c, p) => this.authed(c, () => this.withIssue(p['id'], (i) => this.getProperty(i, p['key'] ?? ''))))
      .route('GET', `${api}/issue/:id/comment`, (c, p) => this.authed(c, () => this.withIssue(p['id'], (i) => this.listComments(c, i))))
      .route('POST', `${api}/issue/:id/comment`, (c, p) => this.authed(c, (me) => this.withIssue(p['id'], (i) => this.postComment(c, i, me))))
      .route('GET', `${api}/issue/:id/transitions`, (c, p) =>
        this.authed(c, () => this.withIssue(p['id'], (i) => ({ body: { expand: 'transitions', transitions: this.available(i) } }))),
      )
      .route('POST', `${api}/issue/:id/transitions`, (c, p) => this.authed(c, (me) => this.withIssue(p['id'], (i) => this.postTransition(c, i, me))))
      .route('GET', `${api}/search/jql`, (c) => this.authed(c, () => this.search(c, 'jql')))
      .route('GET', `${api}/search`, (c) => this.authed(c, () => this.search(c, 'legacy')));
  }

  get url(): string {
    return this.http.url;
  }

  get calls(): readonly RecordedCall[] {
    return this.http.calls;
  }

  start(port = 0): Promise<string> {
    return this.http.start(port);
  }

  close(): Promise<void> {
    return this.http.close();
  }

  /** Inject a 429 / 5xx / dropped connection / lost answer / latency into the next matching call(s). */
  fail(fault: Fault): this {
    this.http.fail(fault);
    return this;
  }

  /** A Jira user (a reviewer, or another API user when `apiToken` is given). */
  addUser(emailAddress: string, options: { displayName?: string; apiToken?: string; hideEmail?: boolean; name?: string } = {}): FakeJiraUser {
    this.seq += 1;
    const name = options.name ?? emailAddress.split('@')[0] ?? emailAddress;
    const user: FakeJiraUser = {
      accountId: `5f${String(this.seq).padStart(6, '0')}${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      key: `JIRAUSER${10000 + this.seq}`,
      name,
      displayName: options.displayName ?? name,
      emailAddress,
      hideEmail: options.hideEmail ?? false,
      apiToken: options.apiToken,
    };
    this.users.push(user);
    return user;
  }

  /** Deliver `jira:issue_updated` events (from transitionAs) to this endpoint. */
  addWebhook(target: FakeJiraWebhookTarget): this {
    this.webhooks.push(target);
    return this;
  }

  issue(idOrKey: string): FakeJiraIssue | undefined {
    return this.issues.find((i) => i.id === idOrKey || i.key === idOrKey);
  }

  /** The issues carrying this `teleportAccessRequestId` (more than one = a duplicate). */
  issuesForRequest(requestId: string): FakeJiraIssue[] {
    return this.issues.filter((i) => i.properties['teleportAccessRequestId'] === requestId);
  }

  /** Resolves once `predicate(issues)` holds (checked after every API call). */
  waitForIssues(predicate: (issues: readonly FakeJiraIssue[]) => boolean, timeoutMs = 10_000): Promise<void> {
    return this.http.waitFor(() => predicate(this.issues), timeoutMs);
  }

  /** A comment by `user`, as if typed in Jira (e.g. `Reason: on call`). */
  commentAs(user: FakeJiraUser, idOrKey: string, body: string, at = new Date()): FakeJiraComment {
    const issue = this.mustIssue(idOrKey);
    const comment: FakeJiraComment = { id: String(++this.seq + 20000), body, author: user, created: at, properties: {} };
    issue.comments.push(comment);
    return comment;
  }

  /**
   * `user` moves the issue to `status` in Jira's UI: optionally comments first (the reason),
   * changes the status with a changelog entry, and delivers `jira:issue_updated` to every
   * registered webhook. Resolves with those deliveries.
   */
  async transitionAs(user: FakeJiraUser, idOrKey: string, status: string, options: { comment?: string; deliver?: boolean } = {}): Promise<FakeJiraDelivery[]> {
    const issue = this.mustIssue(idOrKey);
    if (options.comment !== undefined) this.commentAs(user, issue.id, options.comment);
    const transition = this.available(issue).find((t) => t.to.name.toLowerCase() === status.toLowerCase());
    if (!transition) throw new Error(`fake-jira: no transition from ${issue.status} to ${status}`);
    const change = this.move(issue, transition.to.name, user);
    if (options.deliver === false) return [];
    const payload = this.issueUpdatedPayload(issue, change, user);
    const out: FakeJiraDelivery[] = [];
    for (const target of this.webhooks) out.push(await this.sendWebhook(target, payload));
    return out;
  }

  /**
   * The `jira:issue_updated` body Jira sends after a status change (Cloud shape; Server's is the
   * same for the fields read here).
   */
  issueUpdatedPayload(issue: FakeJiraIssue, change: FakeJiraChange | undefined, user: FakeJiraUser, eventType = 'issue_generic'): Record<string, unknown> {
    return {
      timestamp: Date.now(),
      webhookEvent: 'jira:issue_updated',
      issue_event_type_name: eventType,
      user: this.userJson(user),
      issue: {
        id: issue.id,
        self: `${this.url}/rest/api/2/issue/${issue.id}`,
        key: issue.key,
        fields: {
          summary: issue.summary,
          issuetype: { name: issue.issueType, subtask: false },
          project: { key: issue.projectKey, name: this.projectName },
          status: this.statusJson(issue.status),
          creator: this.userJson(issue.creator),
          created: jiraTimestamp(issue.created),
        },
      },
      ...(change ? { changelog: { id: change.id, items: change.items.map((i) => ({ ...i, fieldId: i.field })) } } : {}),
    };
  }

  /**
   * POSTs `payload` as Jira does: JSON, `X-Atlassian-Webhook-Identifier`, signed with `secret`
   * (`X-Hub-Signature: sha256=...`) and/or `?token=` when the target has them. `retryOf`
   * redelivers an earlier delivery (same body and identifier, `X-Atlassian-Webhook-Retry`).
   */
  async sendWebhook(target: FakeJiraWebhookTarget, payload: unknown, retryOf?: FakeJiraDelivery): Promise<FakeJiraDelivery> {
    const body = retryOf?.body ?? JSON.stringify(payload);
    const url = new URL(target.url);
    if (target.token !== undefined) url.searchParams.set('token', target.token);
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': 'Atlassian Webhook HTTP Client',
      'x-atlassian-webhook-identifier': retryOf?.headers['x-atlassian-webhook-identifier'] ?? randomUUID(),
      ...(target.headers ?? {}),
    };
    if (retryOf) headers['x-atlassian-webhook-retry'] = String(Number(retryOf.headers['x-atlassian-webhook-retry'] ?? '0') + 1);
    if (target.secret !== undefined) headers['x-hub-signature'] = `sha256=${createHmac('sha256', target.secret).update(body).digest('hex')}`;
    const res = await fetch(url, { method: 'POST', headers, body });
    const delivery: FakeJiraDelivery = { id: randomUUID(), url: url.toString(), body, headers, status: res.status, responseBody: await res.text() };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** Sends an earlier delivery again, as Jira does after a 5xx. */
  redeliver(delivery: FakeJiraDelivery, target: FakeJiraWebhookTarget): Promise<FakeJiraDelivery> {
    return this.sendWebhook(target, undefined, delivery);
  }

  // ---- API ----

  private authed(call: RecordedCall, handler: (me: FakeJiraUser) => FakeReply): FakeReply {
    const header = String(call.headers['authorization'] ?? '');
    const match = /^Basic\s+(.+)$/i.exec(header);
    if (match) {
      const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const login = decoded.slice(0, colon);
      const secret = decoded.slice(colon + 1);
      const user = this.users.find((u) => u.apiToken !== undefined && (u.emailAddress === login || u.name === login) && u.apiToken === secret);
      if (user) return handler(user);
    }
    // What Jira answers a request without valid credentials.
    return {
      status: 401,
      headers: { 'www-authenticate': 'Basic realm="protected-area"' },
      body: { errorMessages: ['Client must be authenticated to access this resource.'], errors: {} },
    };
  }

  private userJson(user: FakeJiraUser): Record<string, unknown> {
    const common = {
      self: `${this.url}/rest/api/2/user?${this.flavor === 'cloud' ? `accountId=${user.accountId}` : `username=${user.name}`}`,
      displayName: user.displayName,
      active: true,
      timeZone: 'Etc/UTC',
      ...(user.hideEmail && this.flavor === 'cloud' ? {} : { emailAddress: user.emailAddress }),
    };
    return this.flavor === 'cloud' ? { ...common, accountId: user.accountId, accountType: 'atlassian' } : { ...common, key: user.key, name: user.name };
  }

  private statusJson(name: string): Record<string, unknown> {
    const index = this.statuses.findIndex((s) => s.toLowerCase() === name.toLowerCase());
    return { self: `${this.url}/rest/api/2/status/${10000 + index}`, id: String(10000 + index), name, description: '' };
  }

  private projectMissing(key: string): FakeReply {
    return { status: 404, body: { errorMessages: [`No project could be found with key '${key}'.`], errors: {} } };
  }

  private getProject(key: string): FakeReply {
    if (key !== this.projectKey || !this.permissions['BROWSE_PROJECTS']) return this.projectMissing(key);
    return {
      body: {
        self: `${this.url}/rest/api/2/project/10000`,
        id: '10000',
        key: this.projectKey,
        name: this.projectName,
        issueTypes: this.issueTypes.map((name, i) => ({ id: String(10001 + i), name, subtask: false })),
      },
    };
  }

  private projectStatuses(key: string): FakeReply {
    if (key !== this.projectKey || !this.permissions['BROWSE_PROJECTS']) return this.projectMissing(key);
    return {
      body: this.issueTypes.map((name, i) => ({
        id: String(10001 + i),
        name,
        subtask: false,
        statuses: this.statuses.map((s) => this.statusJson(s)),
      })),
    };
  }

  private myPermissions(call: RecordedCall): FakeReply {
    const wanted = call.query.get('permissions');
    // Jira Cloud requires the list (it used to answer everything).
    if (!wanted) return { status: 400, body: { errorMessages: ['The permissions query parameter is required.'], errors: {} } };
    const permissions: Record<string, unknown> = {};
    for (const key of wanted
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      permissions[key] = { id: key, key, name: PERMISSION_NAMES[key] ?? key, type: 'PROJECT', description: '', havePermission: this.permissions[key] === true };
    }
    return { body: { permissions } };
  }

  private createIssue(call: RecordedCall, me: FakeJiraUser): FakeReply {
    const input = call.json as { fields?: Record<string, unknown>; properties?: unknown } | undefined;
    const fields = input?.fields ?? {};
    const errors: Record<string, string> = {};
    const project = fields['project'] as { key?: unknown; id?: unknown } | undefined;
    if (project?.key !== this.projectKey && project?.id !== '10000') errors['project'] = 'valid project is required';
    else if (!this.permissions['CREATE_ISSUES']) {
      return { status: 400, body: { errorMessages: [], errors: { project: 'You do not have permission to create issues in this project.' } } };
    }
    const type = fields['issuetype'] as { name?: unknown } | undefined;
    const issueType = this.issueTypes.find((t) => typeof type?.name === 'string' && t.toLowerCase() === type.name.toLowerCase());
    if (!issueType) errors['issuetype'] = 'valid issue type is required';
    const summary = fields['summary'];
    if (typeof summary !== 'string' || summary.trim() === '') errors['summary'] = 'You must specify a summary of the issue.';
    else if (summary.length > 254) errors['summary'] = 'Summary must be less than 255 characters.';
    const description = fields['description'];
    if (description !== undefined && typeof description !== 'string') errors['description'] = 'Operation value must be a string';
    const properties: Record<string, unknown> = {};
    if (input?.properties !== undefined) {
      if (!Array.isArray(input.properties)) errors['properties'] = 'properties must be an array';
      else for (const p of input.properties as Array<{ key?: unknown; value?: unknown }>) if (typeof p.key === 'string') properties[p.key] = p.value;
    }
    if (Object.keys(errors).length > 0) return { status: 400, body: { errorMessages: [], errors } };

    this.issueSeq += 1;
    this.keySeq += 1;
    const issue: FakeJiraIssue = {
      id: String(this.issueSeq),
      key: `${this.projectKey}-${this.keySeq}`,
      projectKey: this.projectKey,
      issueType: issueType!,
      summary: summary as string,
      description: (description as string | undefined) ?? '',
      status: this.statuses[0]!,
      creator: me,
      created: new Date(),
      properties,
      comments: [],
      changelog: [],
    };
    this.issues.push(issue);
    return { status: 201, body: { id: issue.id, key: issue.key, self: `${this.url}/rest/api/2/issue/${issue.id}` } };
  }

  private withIssue(idOrKey: string | undefined, handler: (issue: FakeJiraIssue) => FakeReply): FakeReply {
    const issue = idOrKey === undefined ? undefined : this.issue(idOrKey);
    if (!issue || !this.permissions['BROWSE_PROJECTS']) {
      return { status: 404, body: { errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} } };
    }
    return handler(issue);
  }

  private mustIssue(idOrKey: string): FakeJiraIssue {
    const issue = this.issue(idOrKey);
    if (!issue) throw new Error(`fake-jira: no issue ${idOrKey}`);
    return issue;
  }

  private getIssue(call: RecordedCall, issue: FakeJiraIssue): FakeReply {
    const fieldsParam = call.query.getAll('fields').join(',');
    const wanted = fieldsParam ? new Set(fieldsParam.split(',').map((s) => s.trim())) : new Set(['*all']);
    const all = wanted.has('*all') || wanted.has('*navigable');
    const expand = new Set(
      call.query
        .getAll('expand')
        .join(',')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const fields: Record<string, unknown> = {};
    const add = (name: string, value: () => unknown): void => {
      if (all || wanted.has(name)) fields[name] = value();
    };
    add('summary', () => issue.summary);
    add('description', () => issue.description);
    add('status', () => this.statusJson(issue.status));
    add('issuetype', () => ({ name: issue.issueType, subtask: false }));
    add('project', () => ({ key: issue.projectKey, name: this.projectName, id: '10000' }));
    add('creator', () => this.userJson(issue.creator));
    add('created', () => jiraTimestamp(issue.created));
    add('comment', () => ({
      comments: issue.comments.map((c) => this.commentJson(c, false)),
      maxResults: issue.comments.length,
      total: issue.comments.length,
      startAt: 0,
    }));
    const body: Record<string, unknown> = {
      expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
      id: issue.id,
      self: `${this.url}/rest/api/2/issue/${issue.id}`,
      key: issue.key,
      fields,
    };
    const propsParam = call.query.getAll('properties').join(',');
    if (propsParam) {
      const keys = propsParam.split(',').map((s) => s.trim());
      const properties: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(issue.properties)) if (keys.includes('*all') || keys.includes(k)) properties[k] = v;
      body['properties'] = properties;
    }
    if (expand.has('changelog')) {
      const histories = [...issue.changelog].reverse().map((h) => ({
        id: h.id,
        author: this.userJson(h.author),
        created: jiraTimestamp(h.created),
        items: h.items,
      }));
      body['changelog'] = { startAt: 0, maxResults: histories.length, total: histories.length, histories };
    }
    if (expand.has('transitions')) body['transitions'] = this.available(issue);
    return { body };
  }

  private getProperty(issue: FakeJiraIssue, key: string): FakeReply {
    if (!(key in issue.properties)) return { status: 404, body: { errorMessages: [`The property with key '${key}' does not exist.`], errors: {} } };
    return { body: { key, value: issue.properties[key] } };
  }

  private commentJson(comment: FakeJiraComment, withProperties: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {
      self: `${this.url}/rest/api/2/comment/${comment.id}`,
      id: comment.id,
      author: this.userJson(comment.author),
      body: comment.body,
      updateAuthor: this.userJson(comment.author),
      created: jiraTimestamp(comment.created),
      updated: jiraTimestamp(comment.created),
      jsdPublic: true,
    };
    if (withProperties && this.commentProperties) out['properties'] = Object.entries(comment.properties).map(([key, value]) => ({ key, value }));
    return out;
  }

  private listComments(call: RecordedCall, issue: FakeJiraIssue): FakeReply {
    const startAt = Math.max(0, Number(call.query.get('startAt') ?? '0') || 0);
    const maxResults = Math.min(100, Math.max(1, Number(call.query.get('maxResults') ?? '50') || 50));
    const orderBy = call.query.get('orderBy') ?? 'created';
    const sorted = [...issue.comments].sort((a, b) => a.created.getTime() - b.created.getTime() || Number(a.id) - Number(b.id));
    if (orderBy.startsWith('-')) sorted.reverse();
    const withProperties = (call.query.get('expand') ?? '').split(',').includes('properties');
    const page = sorted.slice(startAt, startAt + maxResults);
    return { body: { startAt, maxResults, total: sorted.length, comments: page.map((c) => this.commentJson(c, withProperties)) } };
  }

  private postComment(call: RecordedCall, issue: FakeJiraIssue, me: FakeJiraUser): FakeReply {
    if (!this.permissions['ADD_COMMENTS']) return { status: 403, body: { errorMessages: ['You do not have the permission to comment on this issue.'], errors: {} } };
    const input = call.json as { body?: unknown; properties?: unknown } | undefined;
    if (typeof input?.body !== 'string' || input.body.trim() === '') {
      return { status: 400, body: { errorMessages: [], errors: { comment: 'Comment body can not be empty!' } } };
    }
    const properties: Record<string, unknown> = {};
    if (Array.isArray(input.properties)) for (const p of input.properties as Array<{ key?: unknown; value?: unknown }>) if (typeof p.key === 'string') properties[p.key] = p.value;
    const comment: FakeJiraComment = { id: String(++this.seq + 20000), body: this.storeCommentBody(input.body), author: me, created: new Date(), properties };
    issue.comments.push(comment);
    return { status: 201, body: this.commentJson(comment, true) };
  }

  private available(issue: FakeJiraIssue): Array<Record<string, unknown> & { id: string; name: string; to: { name: string } }> {
    return this.transitions
      .filter((t) => t.to.toLowerCase() !== issue.status.toLowerCase() && (t.from === undefined || t.from.some((f) => f.toLowerCase() === issue.status.toLowerCase())))
      .map((t) => ({
        id: t.id,
        name: t.name,
        to: this.statusJson(t.to) as { name: string },
        hasScreen: false,
        isGlobal: t.from === undefined,
        isInitial: false,
        isConditional: false,
      }));
  }

  private postTransition(call: RecordedCall, issue: FakeJiraIssue, me: FakeJiraUser): FakeReply {
    if (!this.permissions['TRANSITION_ISSUES']) return { status: 403, body: { errorMessages: ['You do not have permission to transition this issue.'], errors: {} } };
    const id = (call.json as { transition?: { id?: unknown } } | undefined)?.transition?.id;
    const transition = this.available(issue).find((t) => t.id === String(id));
    if (!transition) return { status: 400, body: { errorMessages: [`Transition id '${String(id)}' is not valid for this issue.`], errors: {} } };
    this.move(issue, transition.to.name, me);
    return { status: 204 };
  }

  private move(issue: FakeJiraIssue, to: string, user: FakeJiraUser): FakeJiraChange {
    const from = issue.status;
    const fromJson = this.statusJson(from);
    const toJson = this.statusJson(to);
    const change: FakeJiraChange = {
      id: String(++this.seq + 30000),
      author: user,
      created: new Date(),
      items: [{ field: 'status', fieldtype: 'jira', from: String(fromJson['id']), fromString: from, to: String(toJson['id']), toString: to }],
    };
    issue.status = to;
    issue.changelog.push(change);
    return change;
  }

  /**
   * The JQL subset teleport-plugin uses: `project = K`, `creator = currentUser()`,
   * `created >= "-Nm"`, `issue.property[key].value = "v"` (only for indexed properties, as on a
   * real site), joined by AND, optional `ORDER BY created DESC|ASC`.
   */
  private search(call: RecordedCall, api: 'jql' | 'legacy'): FakeReply {
    if (api === 'jql' && this.flavor === 'server') return { status: 404, body: { errorMessages: ['null for uri: /rest/api/2/search/jql'], errors: {} } };
    if (api === 'legacy' && this.flavor === 'cloud') {
      return {
        status: 410,
        body: { errorMessages: ['The requested API has been removed. Please migrate to the /rest/api/3/search/jql API.'], errors: {} },
      };
    }
    const me = this.currentUser(call);
    const jql = call.query.get('jql') ?? '';
    let filter: (issue: FakeJiraIssue) => boolean;
    let descending = false;
    try {
      ({ filter, descending } = this.compileJql(jql, me));
    } catch (err) {
      return { status: 400, body: { errorMessages: [(err as Error).message], errors: {}, warningMessages: [] } };
    }
    const visibleBefore = Date.now() - this.searchLagMs;
    let found = this.issues.filter((i) => i.created.getTime() <= visibleBefore && filter(i));
    found.sort((a, b) => a.created.getTime() - b.created.getTime() || Number(a.id) - Number(b.id));
    if (descending) found = found.reverse();
    const maxResults = Math.min(100, Math.max(1, Number(call.query.get('maxResults') ?? '50') || 50));
    const propKeys = call.query
      .getAll('properties')
      .join(',')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const toJson = (i: FakeJiraIssue): Record<string, unknown> => {
      const out: Record<string, unknown> = { id: i.id, key: i.key, self: `${this.url}/rest/api/2/issue/${i.id}`, fields: { status: this.statusJson(i.status) } };
      if (propKeys.length > 0) {
        const properties: Record<string, unknown> = {};
        for (const k of propKeys) if (k in i.properties) properties[k] = i.properties[k];
        out['properties'] = properties;
      }
      return out;
    };
    if (api === 'jql') {
      const start = Number(call.query.get('nextPageToken') ?? '0') || 0;
      const page = found.slice(start, start + maxResults);
      const next = start + page.length;
      return { body: { issues: page.map(toJson), isLast: next >= found.length, ...(next < found.length ? { nextPageToken: String(next) } : {}) } };
    }
    const startAt = Math.max(0, Number(call.query.get('startAt') ?? '0') || 0);
    const page = found.slice(startAt, startAt + maxResults);
    return { body: { expand: 'schema,names', startAt, maxResults, total: found.length, issues: page.map(toJson) } };
  }

  private currentUser(call: RecordedCall): FakeJiraUser {
    let found: FakeJiraUser = this.bot;
    this.authed(call, (me) => {
      found = me;
      return {};
    });
    return found;
  }

  private compileJql(jql: string, me: FakeJiraUser): { filter: (i: FakeJiraIssue) => boolean; descending: boolean } {
    const [where = '', order] = jql.split(/\s+ORDER\s+BY\s+/i);
    let descending = false;
    if (order !== undefined) {
      const m = /^created(?:\s+(ASC|DESC))?\s*$/i.exec(order.trim());
      if (!m) throw new Error(`Error in the JQL Query: unsupported ORDER BY "${order}" (fake-jira)`);
      descending = (m[1] ?? 'ASC').toUpperCase() === 'DESC';
    }
    const clauses = splitAnd(where);
    const tests: Array<(i: FakeJiraIssue) => boolean> = [];
    for (const clause of clauses) {
      let m: RegExpExecArray | null;
      if ((m = /^project\s*=\s*(.+)$/i.exec(clause))) {
        const key = unquote(m[1]!);
        if (key !== this.projectKey) throw new Error(`The value '${key}' does not exist for the field 'project'.`);
        tests.push((i) => i.projectKey === key);
      } else if ((m = /^creator\s*=\s*(.+)$/i.exec(clause))) {
        const value = m[1]!.trim();
        const who = /^currentUser\(\)$/i.test(value) ? me : this.users.find((u) => [u.accountId, u.name, u.emailAddress].includes(unquote(value)));
        tests.push((i) => who !== undefined && i.creator === who);
      } else if ((m = /^created\s*>=\s*(.+)$/i.exec(clause))) {
        const since = jqlDate(unquote(m[1]!));
        tests.push((i) => i.created.getTime() >= since);
      } else if ((m = /^issue\.property\[([^\]]+)\]\.value\s*=\s*(.+)$/i.exec(clause))) {
        const key = m[1]!.trim();
        // Without an app declaring the property for indexing, Jira does not know the field.
        if (!this.indexedProperties.includes(key)) {
          throw new Error(`Field 'issue.property[${key}].value' does not exist or you do not have permission to view it.`);
        }
        const value = unquote(m[2]!);
        tests.push((i) => i.properties[key] === value);
      } else {
        throw new Error(`Error in the JQL Query: unsupported clause "${clause}" (fake-jira)`);
      }
    }
    return { filter: (i) => tests.every((t) => t(i)), descending };
  }
}

/** Every status reachable from any other, one transition each (`id` 11, 21, ...). */
function globalTransitions(statuses: readonly string[]): FakeJiraTransition[] {
  return statuses.slice(1).map((to, i) => ({ id: String(21 + i * 10), name: to, to }));
}

/** Jira's timestamp format: `2026-11-25T10:15:30.000+0000`. */
export function jiraTimestamp(date: Date): string {
  return date.toISOString().replace('Z', '+0000');
}

function definedOnly(record: Partial<Record<string, boolean>>): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(record)) if (v !== undefined) out[k] = v;
  return out;
}

function splitAnd(where: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  const tokens = where.split(/(\s+AND\s+|")/i);
  for (const token of tokens) {
    if (token === '"') {
      quoted = !quoted;
      current += token;
    } else if (!quoted && /^\s+AND\s+$/i.test(token)) {
      out.push(current.trim());
      current = '';
    } else {
      current += token;
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.startsWith('"') && v.endsWith('"')) return v.slice(1, -1).replace(/\\(.)/g, '$1');
  return v;
}

/** `-90m`, `-2h`, `-1d`, `-1w` relative to now, or an absolute `yyyy-mm-dd[ hh:mm]`. */
function jqlDate(value: string): number {
  const rel = /^-(\d+)([mhdw])$/.exec(value);
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[rel[2] as 'm' | 'h' | 'd' | 'w'];
    return Date.now() - Number(rel[1]) * unit;
  }
  const abs = Date.parse(value.replace(/\//g, '-').replace(' ', 'T') + (value.includes(':') ? ':00Z' : 'T00:00:00Z'));
  if (Number.isNaN(abs)) throw new Error(`Date value '${value}' for field 'created' is invalid.`);
  return abs;
}
