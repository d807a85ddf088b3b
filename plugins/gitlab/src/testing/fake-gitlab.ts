import { randomUUID } from 'node:crypto';
import { HttpFake } from '@teleport-plugin/core/testing';
import type { Fault, FakeReply, RecordedCall } from '@teleport-plugin/core/testing';

/*
 * A fake of the GitLab REST API v4 (the part teleport-plugin uses) on a real HTTP server, and of
 * GitLab's project webhooks: PRIVATE-TOKEN auth with GitLab's 401/403 bodies, projects by id or
 * URL-encoded path, labels, issues with per-project iids, notes (with the quick actions that
 * matter here), hooks, issue search, offset pagination with GitLab's headers, and Issue Hook
 * deliveries to registered hooks. Every API call is recorded on `http` (an HttpFake), which also
 * injects 429s, 5xx, latency and dropped connections.
 */

export type FakeRole = 'reporter' | 'developer' | 'maintainer' | 'owner';

export interface FakeGlUser {
  id: number;
  username: string;
  name: string;
  email: string;
}

export interface FakeGlToken {
  token: string;
  userId: number;
  name: string;
  scopes: string[];
  revoked: boolean;
  /** `YYYY-MM-DD` or null. */
  expiresAt: string | null;
}

export interface FakeGlLabel {
  id: number;
  name: string;
  color: string;
  description: string;
}

export interface FakeGlNote {
  id: number;
  body: string;
  system: boolean;
  authorId: number;
  createdAt: string;
}

export interface FakeGlIssue {
  id: number;
  iid: number;
  projectId: number;
  title: string;
  description: string;
  state: 'opened' | 'closed';
  /** Label names, in the order GitLab lists them. */
  labels: string[];
  authorId: number;
  createdAt: string;
  updatedAt: string;
  notes: FakeGlNote[];
}

export interface FakeGlHook {
  id: number;
  projectId: number;
  url: string;
  /** The secret GitLab sends as X-Gitlab-Token (never shown by the API). */
  token: string;
  issuesEvents: boolean;
  pushEvents: boolean;
  enableSslVerification: boolean;
  createdAt: string;
}

export interface FakeGlProject {
  id: number;
  name: string;
  pathWithNamespace: string;
  labels: FakeGlLabel[];
  issues: FakeGlIssue[];
  hooks: FakeGlHook[];
  /** The token user's role here; hooks need maintainer. */
  role: FakeRole;
}

/** One Issue Hook the fake sent (or tried to). */
export interface FakeHookDelivery {
  hookId: number | undefined;
  url: string;
  event: string;
  payload: unknown;
  /** 0 when the request failed without an answer. */
  status: number;
  responseBody: string;
  error: string | undefined;
}

/** One webhook call to make: what its delivery records, the raw body, and the headers. */
interface HookCall extends Pick<FakeHookDelivery, 'hookId' | 'url' | 'event' | 'payload'> {
  body: string;
  headers: Record<string, string>;
}

export interface FakeGitLabOptions {
  /** The bot's token (default `glpat-teleport-test`), user `teleport-bot`, scopes `scopes`. */
  token?: string;
  scopes?: string[];
  /** Largest page (GitLab: 100). Small values exercise pagination. */
  maxPerPage?: number;
  /** Answer 404 on /personal_access_tokens/self, as GitLab before 15.5. */
  noTokenIntrospection?: boolean;
  /** Show hook URLs with their password masked, as some GitLab versions do. */
  maskHookPasswords?: boolean;
  /** Send `[REDACTED]` as the user email in hook payloads, as GitLab 16+ does. */
  redactHookEmails?: boolean;
  /** Deliver Issue Hooks for changes made through the API too (as GitLab does; default true). */
  hooksForApiChanges?: boolean;
  /** Serve HTTPS with this certificate (PEM) instead of plain HTTP. */
  tls?: { cert: string; key: string };
}

const API = '/api/v4';
const DEFAULT_TOKEN = 'glpat-teleport-test';
const ROLE_RANK: Record<FakeRole, number> = { reporter: 20, developer: 30, maintainer: 40, owner: 50 };

export class FakeGitLab {
  readonly http: HttpFake;
  readonly users: FakeGlUser[] = [];
  readonly tokens: FakeGlToken[] = [];
  readonly projects: FakeGlProject[] = [];
  readonly deliveries: FakeHookDelivery[] = [];
  /** The plugin's own user (owner of the default token). */
  readonly bot: FakeGlUser;
  private readonly options: FakeGitLabOptions;
  private readonly pending = new Set<Promise<unknown>>();
  private seq = { user: 0, project: 0, label: 0, issue: 0, note: 0, hook: 0, token: 0 };

  constructor(options: FakeGitLabOptions = {}) {
    this.options = options;
    this.http = new HttpFake('fake-gitlab', options.tls);
    this.bot = this.addUser({ username: 'teleport-bot', name: 'Teleport Bot', email: 'teleport-bot@example.com' });
    this.addToken(options.token ?? DEFAULT_TOKEN, { user: this.bot, scopes: options.scopes ?? ['api'] });
    this.routes();
  }

  get url(): string {
    return this.http.url;
  }

  get calls(): readonly RecordedCall[] {
    return this.http.calls;
  }

  /** The default token. */
  get token(): string {
    return this.tokens[0]!.token;
  }

  start(port = 0): Promise<string> {
    return this.http.start(port);
  }

  /** Waits for hook deliveries still under way, then stops the server. */
  async close(): Promise<void> {
    await this.settled();
    await this.http.close();
  }

  /** Resolves when every hook delivery started so far has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Inject a 429 / 5xx / dropped connection / latency into the next matching API call(s). */
  fail(fault: Fault): this {
    this.http.fail(fault);
    return this;
  }

  /** GitLab's 429: `Retry-After` and `RateLimit-*` headers, plain-text body. */
  rateLimit(options: { times?: number; retryAfterS?: number; method?: string; path?: string | RegExp } = {}): this {
    const retryAfter = options.retryAfterS ?? 1;
    return this.fail({
      method: options.method,
      path: options.path,
      times: options.times ?? 1,
      status: 429,
      headers: {
        'retry-after': String(retryAfter),
        'ratelimit-limit': '600',
        'ratelimit-remaining': '0',
        'ratelimit-reset': String(Math.ceil(Date.now() / 1000) + retryAfter),
        'content-type': 'text/plain',
      },
      body: 'Retry later\n',
    });
  }

  // ---- state helpers ----

  addUser(user: { username: string; name?: string; email?: string }): FakeGlUser {
    const u = { id: ++this.seq.user, username: user.username, name: user.name ?? user.username, email: user.email ?? `${user.username}@example.com` };
    this.users.push(u);
    return u;
  }

  addToken(token: string, options: { user?: FakeGlUser; scopes?: string[]; revoked?: boolean; expiresAt?: string | null; name?: string } = {}): FakeGlToken {
    const t = {
      token,
      userId: (options.user ?? this.bot).id,
      name: options.name ?? 'teleport-plugin',
      scopes: options.scopes ?? ['api'],
      revoked: options.revoked ?? false,
      expiresAt: options.expiresAt ?? null,
    };
    this.tokens.push(t);
    return t;
  }

  /** A project (`group/name` path); ids count from 1000 unless given. */
  addProject(path: string, options: { id?: number; role?: FakeRole } = {}): FakeGlProject {
    const id = options.id ?? 1000 + ++this.seq.project;
    const project = { id, name: path.split('/').at(-1) ?? path, pathWithNamespace: path, labels: [], issues: [], hooks: [], role: options.role ?? 'maintainer' };
    this.projects.push(project);
    return project;
  }

  addLabel(project: FakeGlProject, name: string, color = '#6699cc'): FakeGlLabel {
    const label = { id: ++this.seq.label, name, color, description: '' };
    project.labels.push(label);
    return label;
  }

  addHook(project: FakeGlProject, hook: { url: string; token?: string; issuesEvents?: boolean; pushEvents?: boolean }): FakeGlHook {
    const h = {
      id: ++this.seq.hook,
      projectId: project.id,
      url: hook.url,
      token: hook.token ?? '',
      issuesEvents: hook.issuesEvents ?? true,
      pushEvents: hook.pushEvents ?? true,
      enableSslVerification: true,
      createdAt: now(),
    };
    project.hooks.push(h);
    return h;
  }

  /** An issue opened by `author` (default: the bot), as if through the UI. */
  addIssue(project: FakeGlProject, issue: { title: string; description?: string; labels?: string[]; author?: FakeGlUser }): FakeGlIssue {
    return this.openIssue(project, issue.title, issue.description ?? '', issue.labels ?? [], issue.author ?? this.bot);
  }

  project(idOrPath: number | string): FakeGlProject | undefined {
    const key = String(idOrPath);
    return this.projects.find((p) => String(p.id) === key || p.pathWithNamespace.toLowerCase() === key.toLowerCase());
  }

  issue(project: FakeGlProject, iid: number): FakeGlIssue | undefined {
    return project.issues.find((i) => i.iid === iid);
  }

  /** Non-system notes of an issue, oldest first. */
  notesOf(issue: FakeGlIssue): FakeGlNote[] {
    return issue.notes.filter((n) => !n.system);
  }

  userNamed(username: string): FakeGlUser | undefined {
    return this.users.find((u) => u.username === username);
  }

  /**
   * A reviewer adds `label` to the issue in the GitLab UI: the labels change (a new project label
   * is created if needed) and every hook of the project with issue events gets a realistic Issue
   * Hook (`action: update`, `changes.labels`) with its own token. Resolves with the deliveries.
   */
  async addLabelAs(user: FakeGlUser | string, project: FakeGlProject, issueIid: number, label: string): Promise<FakeHookDelivery[]> {
    const actor = typeof user === 'string' ? (this.userNamed(user) ?? this.addUser({ username: user })) : user;
    const issue = this.issue(project, issueIid);
    if (!issue) throw new Error(`fake-gitlab: no issue #${issueIid} in ${project.pathWithNamespace}`);
    const previous = this.labelObjects(project, issue.labels);
    if (!issue.labels.includes(label)) {
      this.ensureLabel(project, label);
      issue.labels.push(label);
      issue.updatedAt = now();
      this.systemNote(issue, actor, `added ~${this.ensureLabel(project, label).id} label`);
    }
    const payload = this.issueHookPayload(project, issue, actor, 'update', previous);
    return this.deliver(project, payload);
  }

  /**
   * Sends one Issue Hook call as crafted by the test: to every hook of `project` (or to `url`),
   * with each hook's token unless `token` is given, and any header or body override.
   */
  async sendIssueHook(options: {
    project?: FakeGlProject;
    url?: string;
    payload?: unknown;
    rawBody?: string;
    token?: string;
    event?: string;
    contentType?: string;
    headers?: Record<string, string>;
  }): Promise<FakeHookDelivery[]> {
    const targets: Array<{ hookId: number | undefined; url: string; token: string }> = options.url
      ? [{ hookId: undefined, url: options.url, token: options.token ?? '' }]
      : (options.project?.hooks ?? []).map((h) => ({ hookId: h.id, url: h.url, token: options.token ?? h.token }));
    const body = options.rawBody ?? JSON.stringify(options.payload ?? {});
    const results = await Promise.all(
      targets.map((t) =>
        this.post({
          hookId: t.hookId,
          url: t.url,
          event: options.event ?? 'Issue Hook',
          body,
          payload: options.payload,
          headers: {
            'content-type': options.contentType ?? 'application/json',
            'x-gitlab-token': t.token,
            ...(options.headers ?? {}),
          },
        }),
      ),
    );
    return results;
  }

  /** The Issue Hook payload GitLab sends for `issue` (labels as they are now vs `previousLabels`). */
  issueHookPayload(
    project: FakeGlProject,
    issue: FakeGlIssue,
    actor: FakeGlUser,
    action: 'open' | 'update' | 'close' | 'reopen',
    previousLabels?: Array<Record<string, unknown>>,
  ): Record<string, unknown> {
    const current = this.labelObjects(project, issue.labels);
    const changes: Record<string, unknown> = { updated_at: { previous: issue.createdAt, current: issue.updatedAt } };
    if (previousLabels !== undefined) changes['labels'] = { previous: previousLabels, current };
    const webUrl = `${this.url}/${project.pathWithNamespace}`;
    return {
      object_kind: 'issue',
      event_type: 'issue',
      user: {
        id: actor.id,
        name: actor.name,
        username: actor.username,
        avatar_url: `${this.url}/uploads/-/system/user/avatar/${actor.id}/avatar.png`,
        email: this.options.redactHookEmails ? '[REDACTED]' : actor.email,
      },
      project: {
        id: project.id,
        name: project.name,
        description: '',
        web_url: webUrl,
        avatar_url: null,
        git_ssh_url: `git@fake-gitlab:${project.pathWithNamespace}.git`,
        git_http_url: `${webUrl}.git`,
        namespace: project.pathWithNamespace.split('/')[0] ?? '',
        visibility_level: 0,
        path_with_namespace: project.pathWithNamespace,
        default_branch: 'main',
        homepage: webUrl,
        url: `git@fake-gitlab:${project.pathWithNamespace}.git`,
        ssh_url: `git@fake-gitlab:${project.pathWithNamespace}.git`,
        http_url: `${webUrl}.git`,
      },
      object_attributes: {
        id: issue.id,
        iid: issue.iid,
        title: issue.title,
        description: issue.description,
        project_id: project.id,
        author_id: issue.authorId,
        state: issue.state,
        action,
        created_at: issue.createdAt,
        updated_at: issue.updatedAt,
        updated_by_id: actor.id,
        confidential: false,
        labels: current,
        url: `${webUrl}/-/issues/${issue.iid}`,
      },
      labels: current,
      changes,
      repository: { name: project.name, url: `git@fake-gitlab:${project.pathWithNamespace}.git`, description: '', homepage: webUrl },
      assignees: [],
    };
  }

  // ---- the API ----

  private routes(): void {
    const r = (method: string, path: string, handler: (c: RecordedCall, p: Record<string, string>, user: FakeGlUser, token: FakeGlToken) => FakeReply) =>
      this.http.route(method, API + path, (c, p) => this.guard(c, (user, token) => handler(c, p, user, token)));
    r('GET', '/user', (_c, _p, user) => ({ body: userJson(user) }));
    r('GET', '/personal_access_tokens/self', (_c, _p, user, token) => {
      if (this.options.noTokenIntrospection) return notFound('404 Not Found');
      return {
        body: {
          id: this.tokens.indexOf(token) + 1,
          name: token.name,
          revoked: token.revoked,
          created_at: '2026-01-01T00:00:00.000Z',
          scopes: token.scopes,
          user_id: user.id,
          last_used_at: now(),
          active: !token.revoked,
          expires_at: token.expiresAt,
        },
      };
    });
    r('GET', '/projects/:id', (_c, p) => this.withProject(p, 'reporter', (project) => ({ body: this.projectJson(project) })));
    r('GET', '/projects/:id/labels', (c, p) => this.withProject(p, 'reporter', (project) => this.page(c, project.labels.map(labelJson))));
    r('POST', '/projects/:id/labels', (c, p) => this.withProject(p, 'reporter', (project) => this.createLabel(c, project)));
    r('GET', '/projects/:id/hooks', (c, p) =>
      this.withProject(p, 'maintainer', (project) =>
        this.page(
          c,
          project.hooks.map((h) => this.hookJson(h)),
        ),
      ),
    );
    r('GET', '/projects/:id/hooks/:hook', (_c, p) => this.withHook(p, (_project, hook) => ({ body: this.hookJson(hook) })));
    r('POST', '/projects/:id/hooks', (c, p) => this.withProject(p, 'maintainer', (project) => this.createHook(c, project)));
    r('PUT', '/projects/:id/hooks/:hook', (c, p) => this.withHook(p, (_project, hook) => this.editHook(c, hook)));
    r('DELETE', '/projects/:id/hooks/:hook', (_c, p) =>
      this.withHook(p, (project, hook) => {
        project.hooks.splice(project.hooks.indexOf(hook), 1);
        return { status: 204 };
      }),
    );
    r('GET', '/projects/:id/issues', (c, p) => this.withProject(p, 'reporter', (project) => this.listIssues(c, project)));
    r('POST', '/projects/:id/issues', (c, p, user) => this.withProject(p, 'reporter', (project) => this.createIssue(c, project, user)));
    r('GET', '/projects/:id/issues/:iid', (_c, p) => this.withIssue(p, (project, issue) => ({ body: this.issueJson(project, issue) })));
    r('PUT', '/projects/:id/issues/:iid', (c, p, user) => this.withIssue(p, (project, issue) => this.editIssue(c, project, issue, user)));
    r('GET', '/projects/:id/issues/:iid/notes', (c, p) => this.withIssue(p, (project, issue) => this.listNotes(c, project, issue)));
    r('POST', '/projects/:id/issues/:iid/notes', (c, p, user) => this.withIssue(p, (project, issue) => this.createNote(c, project, issue, user)));
  }

  private guard(call: RecordedCall, handle: (user: FakeGlUser, token: FakeGlToken) => FakeReply): FakeReply {
    const given = header(call, 'private-token') ?? header(call, 'authorization')?.replace(/^Bearer\s+/i, '');
    const token = this.tokens.find((t) => t.token === given);
    const user = token && this.users.find((u) => u.id === token.userId);
    if (!token || !user || token.revoked || (token.expiresAt !== null && token.expiresAt < now().slice(0, 10))) {
      return { status: 401, body: { message: '401 Unauthorized' } };
    }
    const write = call.method !== 'GET';
    if (!token.scopes.includes('api') && (write || !token.scopes.includes('read_api'))) {
      return {
        status: 403,
        body: { error: 'insufficient_scope', error_description: 'The request requires higher privileges than provided by the access token.', scope: 'api' },
      };
    }
    return handle(user, token);
  }

  private withProject(params: Record<string, string>, role: FakeRole, handle: (project: FakeGlProject) => FakeReply): FakeReply {
    const project = this.project(params['id'] ?? '');
    if (!project) return notFound('404 Project Not Found');
    if (ROLE_RANK[project.role] < ROLE_RANK[role]) return { status: 403, body: { message: '403 Forbidden' } };
    return handle(project);
  }

  private withHook(params: Record<string, string>, handle: (project: FakeGlProject, hook: FakeGlHook) => FakeReply): FakeReply {
    return this.withProject(params, 'maintainer', (project) => {
      const hook = project.hooks.find((h) => String(h.id) === params['hook']);
      return hook ? handle(project, hook) : notFound('404 Not Found');
    });
  }

  private withIssue(params: Record<string, string>, handle: (project: FakeGlProject, issue: FakeGlIssue) => FakeReply): FakeReply {
    return this.withProject(params, 'reporter', (project) => {
      const issue = project.issues.find((i) => String(i.iid) === params['iid']);
      return issue ? handle(project, issue) : notFound('404 Not found');
    });
  }

  private createLabel(call: RecordedCall, project: FakeGlProject): FakeReply {
    const body = jsonBody(call);
    const name = typeof body['name'] === 'string' ? body['name'].trim() : '';
    const color = typeof body['color'] === 'string' ? body['color'] : '';
    if (name === '') return { status: 400, body: { error: 'name is missing' } };
    if (!/^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(color)) return { status: 400, body: { message: { color: ['must be a valid color code'] } } };
    if (project.labels.some((l) => l.name === name)) return { status: 409, body: { message: 'Label already exists' } };
    return { status: 201, body: labelJson(this.addLabel(project, name, color)) };
  }

  private createHook(call: RecordedCall, project: FakeGlProject): FakeReply {
    const body = jsonBody(call);
    const url = typeof body['url'] === 'string' ? body['url'] : '';
    if (!isHttpUrl(url)) return { status: 422, body: { error: 'Invalid url given' } };
    const hook = this.addHook(project, {
      url,
      token: typeof body['token'] === 'string' ? body['token'] : '',
      issuesEvents: body['issues_events'] === true,
      pushEvents: body['push_events'] !== false,
    });
    return { status: 201, body: this.hookJson(hook) };
  }

  private editHook(call: RecordedCall, hook: FakeGlHook): FakeReply {
    const body = jsonBody(call);
    if (typeof body['url'] === 'string') {
      if (!isHttpUrl(body['url'])) return { status: 422, body: { error: 'Invalid url given' } };
      hook.url = body['url'];
    }
    if (typeof body['token'] === 'string') hook.token = body['token'];
    if (typeof body['issues_events'] === 'boolean') hook.issuesEvents = body['issues_events'];
    if (typeof body['push_events'] === 'boolean') hook.pushEvents = body['push_events'];
    return { body: this.hookJson(hook) };
  }

  private listIssues(call: RecordedCall, project: FakeGlProject): FakeReply {
    const q = call.query;
    let issues = project.issues.slice();
    const search = q.get('search');
    if (search) {
      const fields = (q.get('in') ?? 'title,description').split(',').map((s) => s.trim());
      const needle = search.toLowerCase();
      issues = issues.filter(
        (i) => (fields.includes('title') && i.title.toLowerCase().includes(needle)) || (fields.includes('description') && i.description.toLowerCase().includes(needle)),
      );
    }
    const state = q.get('state');
    if (state === 'opened' || state === 'closed') issues = issues.filter((i) => i.state === state);
    const labels = q.get('labels');
    if (labels) {
      const wanted = labels
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      issues = issues.filter((i) => wanted.every((w) => i.labels.some((l) => l.toLowerCase() === w.toLowerCase())));
    }
    const orderBy = q.get('order_by') === 'updated_at' ? 'updatedAt' : 'createdAt';
    const desc = (q.get('sort') ?? 'desc') !== 'asc';
    issues.sort((a, b) => (a[orderBy] === b[orderBy] ? a.id - b.id : a[orderBy] < b[orderBy] ? -1 : 1) * (desc ? -1 : 1));
    return this.page(
      call,
      issues.map((i) => this.issueJson(project, i)),
    );
  }

  private createIssue(call: RecordedCall, project: FakeGlProject, user: FakeGlUser): FakeReply {
    const body = jsonBody(call);
    const title = typeof body['title'] === 'string' ? body['title'].trim() : '';
    if (title === '') return { status: 400, body: { error: 'title is missing' } };
    if (title.length > 255) return { status: 400, body: { message: { title: ['is too long (maximum is 255 characters)'] } } };
    const labels = splitLabels(body['labels']);
    const issue = this.openIssue(project, title, typeof body['description'] === 'string' ? body['description'] : '', labels, user);
    return { status: 201, body: this.issueJson(project, issue) };
  }

  private editIssue(call: RecordedCall, project: FakeGlProject, issue: FakeGlIssue, user: FakeGlUser): FakeReply {
    const body = jsonBody(call);
    const previous = this.labelObjects(project, issue.labels);
    const before = { state: issue.state, labels: issue.labels.slice() };
    if (typeof body['title'] === 'string') issue.title = body['title'];
    if (typeof body['description'] === 'string') issue.description = body['description'];
    if (body['labels'] !== undefined) issue.labels = [];
    for (const name of [...splitLabels(body['labels']), ...splitLabels(body['add_labels'])]) this.applyLabel(project, issue, user, name);
    for (const name of splitLabels(body['remove_labels'])) this.removeLabel(project, issue, user, name);
    if (body['state_event'] === 'close' && issue.state === 'opened') {
      issue.state = 'closed';
      this.systemNote(issue, user, 'closed');
    } else if (body['state_event'] === 'reopen' && issue.state === 'closed') {
      issue.state = 'opened';
      this.systemNote(issue, user, 'reopened');
    }
    const labelsChanged = before.labels.join('\n') !== issue.labels.join('\n');
    if (labelsChanged || before.state !== issue.state || body['title'] !== undefined || body['description'] !== undefined) {
      issue.updatedAt = now();
      if (this.options.hooksForApiChanges !== false) {
        const action = before.state !== issue.state ? (issue.state === 'closed' ? 'close' : 'reopen') : 'update';
        void this.deliver(project, this.issueHookPayload(project, issue, user, action, labelsChanged ? previous : undefined));
      }
    }
    return { body: this.issueJson(project, issue) };
  }

  private listNotes(call: RecordedCall, project: FakeGlProject, issue: FakeGlIssue): FakeReply {
    const desc = (call.query.get('sort') ?? 'desc') !== 'asc';
    const notes = issue.notes.slice().sort((a, b) => (a.id - b.id) * (desc ? -1 : 1));
    return this.page(
      call,
      notes.map((n) => this.noteJson(project, issue, n)),
    );
  }

  private createNote(call: RecordedCall, project: FakeGlProject, issue: FakeGlIssue, user: FakeGlUser): FakeReply {
    const body = jsonBody(call);
    const text = typeof body['body'] === 'string' ? body['body'] : '';
    if (text.trim() === '') return { status: 400, body: { error: 'body is missing' } };
    const remaining = this.runQuickActions(project, issue, user, text);
    if (remaining.trim() === '') return { status: 202, body: { commands_changes: {}, summary: ['Commands applied'] } };
    const note = { id: ++this.seq.note, body: remaining, system: false, authorId: user.id, createdAt: now() };
    issue.notes.push(note);
    return { status: 201, body: this.noteJson(project, issue, note) };
  }

  // ---- internals ----

  private openIssue(project: FakeGlProject, title: string, description: string, labels: string[], author: FakeGlUser): FakeGlIssue {
    const created = now();
    const issue: FakeGlIssue = {
      id: ++this.seq.issue + 5000,
      iid: project.issues.reduce((max, i) => Math.max(max, i.iid), 0) + 1,
      projectId: project.id,
      title,
      description: '',
      state: 'opened',
      labels: [],
      authorId: author.id,
      createdAt: created,
      updatedAt: created,
      notes: [],
    };
    project.issues.push(issue);
    for (const name of labels) this.applyLabel(project, issue, author, name, false);
    // GitLab runs quick actions in a new description, and removes them from it.
    issue.description = this.runQuickActions(project, issue, author, description);
    return issue;
  }

  /** `/label ~"x"`, `/unlabel ~"x"`, `/close` on a line of their own (outside code). */
  private runQuickActions(project: FakeGlProject, issue: FakeGlIssue, user: FakeGlUser, text: string): string {
    let fenced = false;
    const kept: string[] = [];
    for (const line of text.split('\n')) {
      if (/^\s*```/.test(line)) fenced = !fenced;
      const m = fenced ? null : /^\/(label|unlabel|close)\b(.*)$/.exec(line);
      if (!m) {
        kept.push(line);
        continue;
      }
      const names = [...(m[2] ?? '').matchAll(/~"([^"]+)"|~(\S+)/g)].map((x) => x[1] ?? x[2] ?? '').filter(Boolean);
      if (m[1] === 'label') for (const n of names) this.applyLabel(project, issue, user, n);
      if (m[1] === 'unlabel') for (const n of names) this.removeLabel(project, issue, user, n);
      if (m[1] === 'close' && issue.state === 'opened') {
        issue.state = 'closed';
        this.systemNote(issue, user, 'closed');
      }
    }
    return kept.join('\n');
  }

  private applyLabel(project: FakeGlProject, issue: FakeGlIssue, user: FakeGlUser, name: string, note = true): void {
    const label = this.ensureLabel(project, name);
    if (issue.labels.includes(label.name)) return;
    issue.labels.push(label.name);
    if (note) this.systemNote(issue, user, `added ~${label.id} label`);
  }

  private removeLabel(_project: FakeGlProject, issue: FakeGlIssue, user: FakeGlUser, name: string): void {
    const index = issue.labels.findIndex((l) => l.toLowerCase() === name.toLowerCase());
    if (index < 0) return;
    issue.labels.splice(index, 1);
    this.systemNote(issue, user, `removed ~${name} label`);
  }

  /** GitLab creates a project label when an issue names one that does not exist. */
  private ensureLabel(project: FakeGlProject, name: string): FakeGlLabel {
    return project.labels.find((l) => l.name.toLowerCase() === name.toLowerCase()) ?? this.addLabel(project, name);
  }

  private systemNote(issue: FakeGlIssue, user: FakeGlUser, body: string): void {
    issue.notes.push({ id: ++this.seq.note, body, system: true, authorId: user.id, createdAt: now() });
  }

  private labelObjects(project: FakeGlProject, names: readonly string[]): Array<Record<string, unknown>> {
    return names.map((name) => {
      const label = this.ensureLabel(project, name);
      return {
        id: label.id,
        title: label.name,
        color: label.color,
        project_id: project.id,
        created_at: '2026-01-01T00:00:00.000Z',
        updated_at: '2026-01-01T00:00:00.000Z',
        template: false,
        description: label.description || null,
        type: 'ProjectLabel',
        group_id: null,
      };
    });
  }

  private deliver(project: FakeGlProject, payload: Record<string, unknown>): Promise<FakeHookDelivery[]> {
    const hooks = project.hooks.filter((h) => h.issuesEvents);
    const body = JSON.stringify(payload);
    return Promise.all(
      hooks.map((h) => this.post({ hookId: h.id, url: h.url, event: 'Issue Hook', body, payload, headers: { 'content-type': 'application/json', 'x-gitlab-token': h.token } })),
    );
  }

  /** One webhook request, as GitLab's delivery worker sends it (basic auth from the URL). */
  private post({ hookId, url: rawUrl, event, body, payload, headers }: HookCall): Promise<FakeHookDelivery> {
    const run = async (): Promise<FakeHookDelivery> => {
      const delivery: FakeHookDelivery = { hookId, url: rawUrl, event, payload, status: 0, responseBody: '', error: undefined };
      try {
        const url = new URL(rawUrl);
        const auth =
          url.username || url.password ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` : undefined;
        url.username = '';
        url.password = '';
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'user-agent': 'GitLab/17.6.0',
            'x-gitlab-event': event,
            'x-gitlab-instance': this.url,
            'x-gitlab-webhook-uuid': randomUUID(),
            'x-gitlab-event-uuid': randomUUID(),
            ...(auth ? { authorization: auth } : {}),
            ...headers,
          },
          body,
          signal: AbortSignal.timeout(10_000),
        });
        delivery.status = res.status;
        delivery.responseBody = await res.text();
      } catch (err) {
        delivery.error = err instanceof Error ? err.message : String(err);
      }
      this.deliveries.push(delivery);
      return delivery;
    };
    const p = run();
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
    return p;
  }

  /** Offset pagination as GitLab: `page`, `per_page` (max 100) and the X-/Link headers. */
  private page(call: RecordedCall, items: unknown[]): FakeReply {
    const max = this.options.maxPerPage ?? 100;
    const perPage = Math.min(max, Math.max(1, Number(call.query.get('per_page') ?? 20) || 20));
    const page = Math.max(1, Number(call.query.get('page') ?? 1) || 1);
    const totalPages = Math.max(1, Math.ceil(items.length / perPage));
    const next = page < totalPages ? page + 1 : undefined;
    const prev = page > 1 ? page - 1 : undefined;
    const link = (p: number, rel: string): string => {
      const u = new URL(this.url + call.path);
      for (const [k, v] of call.query) u.searchParams.set(k, v);
      u.searchParams.set('page', String(p));
      u.searchParams.set('per_page', String(perPage));
      return `<${u.toString()}>; rel="${rel}"`;
    };
    const links = [next ? link(next, 'next') : undefined, prev ? link(prev, 'prev') : undefined, link(1, 'first'), link(totalPages, 'last')].filter(Boolean);
    return {
      headers: {
        'x-page': String(page),
        'x-per-page': String(perPage),
        'x-total': String(items.length),
        'x-total-pages': String(totalPages),
        'x-next-page': next ? String(next) : '',
        'x-prev-page': prev ? String(prev) : '',
        link: links.join(', '),
      },
      body: items.slice((page - 1) * perPage, page * perPage),
    };
  }

  private projectJson(p: FakeGlProject): Record<string, unknown> {
    return {
      id: p.id,
      name: p.name,
      path: p.pathWithNamespace.split('/').at(-1),
      path_with_namespace: p.pathWithNamespace,
      name_with_namespace: p.pathWithNamespace.split('/').join(' / '),
      web_url: `${this.url}/${p.pathWithNamespace}`,
      issues_enabled: true,
      default_branch: 'main',
    };
  }

  private hookJson(h: FakeGlHook): Record<string, unknown> {
    let url = h.url;
    if (this.options.maskHookPasswords) {
      try {
        const u = new URL(h.url);
        if (u.password) {
          u.password = '*****';
          url = u.toString();
        }
      } catch {
        // keep as stored
      }
    }
    return {
      id: h.id,
      url,
      project_id: h.projectId,
      push_events: h.pushEvents,
      issues_events: h.issuesEvents,
      confidential_issues_events: false,
      merge_requests_events: false,
      note_events: false,
      enable_ssl_verification: h.enableSslVerification,
      created_at: h.createdAt,
      alert_status: 'executable',
      url_variables: [],
    };
  }

  private issueJson(project: FakeGlProject, i: FakeGlIssue): Record<string, unknown> {
    const author = this.users.find((u) => u.id === i.authorId);
    return {
      id: i.id,
      iid: i.iid,
      project_id: i.projectId,
      title: i.title,
      description: i.description,
      state: i.state,
      created_at: i.createdAt,
      updated_at: i.updatedAt,
      closed_at: i.state === 'closed' ? i.updatedAt : null,
      labels: i.labels.slice(),
      author: author ? userJson(author) : null,
      web_url: `${this.url}/${project.pathWithNamespace}/-/issues/${i.iid}`,
      user_notes_count: i.notes.filter((n) => !n.system).length,
    };
  }

  private noteJson(project: FakeGlProject, issue: FakeGlIssue, n: FakeGlNote): Record<string, unknown> {
    const author = this.users.find((u) => u.id === n.authorId);
    return {
      id: n.id,
      type: null,
      body: n.body,
      author: author ? userJson(author) : null,
      created_at: n.createdAt,
      updated_at: n.createdAt,
      system: n.system,
      noteable_id: issue.id,
      noteable_type: 'Issue',
      noteable_iid: issue.iid,
      project_id: project.id,
      confidential: false,
      internal: false,
    };
  }
}

function userJson(u: FakeGlUser): Record<string, unknown> {
  return { id: u.id, username: u.username, name: u.name, state: 'active', avatar_url: null, web_url: `https://fake-gitlab/${u.username}` };
}

function labelJson(l: FakeGlLabel): Record<string, unknown> {
  return { id: l.id, name: l.name, color: l.color, description: l.description || null, text_color: '#FFFFFF', open_issues_count: 0, priority: null, is_project_label: true };
}

function notFound(message: string): FakeReply {
  return { status: 404, body: { message } };
}

function header(call: RecordedCall, name: string): string | undefined {
  const v = call.headers[name];
  return typeof v === 'string' ? v : undefined;
}

function jsonBody(call: RecordedCall): Record<string, unknown> {
  return typeof call.json === 'object' && call.json !== null && !Array.isArray(call.json) ? (call.json as Record<string, unknown>) : {};
}

/** GitLab takes label lists as comma-separated strings or arrays. */
function splitLabels(value: unknown): string[] {
  const list = Array.isArray(value) ? value.map(String) : typeof value === 'string' ? value.split(',') : [];
  return list.map((s) => s.trim()).filter(Boolean);
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Timestamps strictly increase, so ordering by created_at is stable within a test. */
let lastNow = 0;
function now(): string {
  lastNow = Math.max(Date.now(), lastNow + 1);
  return new Date(lastNow).toISOString();
}
