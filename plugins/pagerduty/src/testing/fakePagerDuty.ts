import { HttpFake } from '@teleport-plugin/core/testing';
import type { Fault, FakeReply, RecordedCall } from '@teleport-plugin/core/testing';

export interface FakePdEscalationPolicy {
  id: string;
  name: string;
}

export interface FakePdService {
  id: string;
  name: string;
  escalationPolicyId: string;
}

export interface FakePdUser {
  id: string;
  name: string;
  email: string;
}

export interface FakePdOnCall {
  userId: string;
  escalationPolicyId: string;
  escalationLevel: number;
}

export interface FakePdNote {
  id: string;
  content: string;
  /** The `From` header of the write. */
  from: string;
}

export interface FakePdIncident {
  id: string;
  title: string;
  status: 'triggered' | 'acknowledged' | 'resolved';
  incidentKey: string;
  serviceId: string;
  details: string;
  from: string;
  notes: FakePdNote[];
}

export interface FakePagerDutyOptions {
  /** The only accepted key (`Authorization: Token token=<key>`). Default: any non-empty key. */
  apiKey?: string;
  /** Largest page any list endpoint returns, whatever `limit` asks (real PagerDuty: 100). */
  maxLimit?: number;
  /**
   * What a second POST /incidents with the key of an open incident on the same service gets.
   * `reject` (default) is what the real REST API does: 400 "Open incident with matching dedup key
   * already exists on this service". `return` answers with the existing incident instead.
   */
  dedup?: 'reject' | 'return';
  /** Serve HTTPS with this certificate (PEM) instead of plain HTTP. */
  tls?: { cert: string; key: string };
}

const REFERENCE_TYPES = {
  service: 'service_reference',
  policy: 'escalation_policy_reference',
  user: 'user_reference',
} as const;

/**
 * A fake of the PagerDuty REST API v2 (the subset teleport-plugin uses) on a real HTTP server:
 * token auth, `From` on writes, offset pagination, incident_key de-duplication, notes and
 * resolution. Every call is recorded on `http` (an HttpFake), which also injects faults.
 */
export class FakePagerDuty {
  readonly http: HttpFake;
  readonly services: FakePdService[] = [];
  readonly policies: FakePdEscalationPolicy[] = [];
  readonly users: FakePdUser[] = [];
  readonly onCalls: FakePdOnCall[] = [];
  readonly incidents: FakePdIncident[] = [];
  private readonly options: Required<Omit<FakePagerDutyOptions, 'apiKey' | 'tls'>> & { apiKey: string | undefined };
  private seq = 0;

  constructor(options: FakePagerDutyOptions = {}) {
    this.options = { apiKey: options.apiKey, maxLimit: options.maxLimit ?? 100, dedup: options.dedup ?? 'reject' };
    this.http = new HttpFake('fake-pagerduty', options.tls);
    this.http
      .route('GET', '/abilities', (c) => this.guard(c, false, () => ({ body: { abilities: ['teams', 'sso', 'read_only_users'] } })))
      .route('GET', '/services', (c) => this.guard(c, false, () => this.listServices(c)))
      .route('GET', '/users', (c) => this.guard(c, false, () => this.listUsers(c)))
      .route('GET', '/oncalls', (c) => this.guard(c, false, () => this.listOnCalls(c)))
      .route('GET', '/incidents', (c) => this.guard(c, false, () => this.listIncidents(c)))
      .route('POST', '/incidents', (c) => this.guard(c, true, () => this.createIncident(c)))
      .route('PUT', '/incidents/:id', (c, p) => this.guard(c, true, () => this.updateIncident(c, p['id'] ?? '')))
      .route('POST', '/incidents/:id/notes', (c, p) => this.guard(c, true, () => this.addNote(c, p['id'] ?? '')))
      .route('GET', '/incidents/:id/notes', (c, p) => this.guard(c, false, () => this.listNotes(p['id'] ?? '')));
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

  /** Inject a 429 / 5xx / dropped connection / latency into the next matching call(s). */
  fail(fault: Fault): this {
    this.http.fail(fault);
    return this;
  }

  addEscalationPolicy(name: string, id = this.nextId('PEP')): FakePdEscalationPolicy {
    const policy = { id, name };
    this.policies.push(policy);
    return policy;
  }

  /** A service paging through `policy` (a new policy named after the service when omitted). */
  addService(name: string, policy?: FakePdEscalationPolicy, id = this.nextId('PSV')): FakePdService {
    const ep = policy ?? this.addEscalationPolicy(`${name} policy`);
    const service = { id, name, escalationPolicyId: ep.id };
    this.services.push(service);
    return service;
  }

  addUser(email: string, name = email.split('@')[0] ?? email, id = this.nextId('PUS')): FakePdUser {
    const user = { id, name, email };
    this.users.push(user);
    return user;
  }

  /** `user` is on call in `policy` at `level` (1 = first responder). */
  addOnCall(user: FakePdUser, policy: FakePdEscalationPolicy, level = 1): FakePdOnCall {
    const onCall = { userId: user.id, escalationPolicyId: policy.id, escalationLevel: level };
    this.onCalls.push(onCall);
    return onCall;
  }

  incidentByKey(incidentKey: string): FakePdIncident | undefined {
    return this.incidents.find((i) => i.incidentKey === incidentKey);
  }

  /** Resolves once `predicate(incidents)` holds (checked after every call). */
  waitForIncidents(predicate: (incidents: readonly FakePdIncident[]) => boolean, timeoutMs = 10_000): Promise<void> {
    return this.http.waitFor(() => predicate(this.incidents), timeoutMs);
  }

  private nextId(prefix: string): string {
    this.seq += 1;
    return `${prefix}${String(this.seq).padStart(4, '0')}`;
  }

  private guard(call: RecordedCall, write: boolean, handler: () => FakeReply): FakeReply {
    const auth = String(call.headers['authorization'] ?? '');
    const match = /^Token token=(.+)$/.exec(auth);
    if (!match || (this.options.apiKey !== undefined && match[1] !== this.options.apiKey)) {
      return error(401, 2006, 'Unauthorized');
    }
    if (write && !String(call.headers['from'] ?? '').trim()) {
      return error(400, 2001, 'You must specify a user\'s email address in the "From" header to perform this action');
    }
    return handler();
  }

  private page<T>(call: RecordedCall, items: readonly T[]): { offset: number; limit: number; more: boolean; total: null; page: T[] } {
    const limit = Math.min(positive(call.query.get('limit'), 25), this.options.maxLimit);
    const offset = Math.max(0, Number.parseInt(call.query.get('offset') ?? '0', 10) || 0);
    const page = items.slice(offset, offset + limit);
    return { offset, limit, more: offset + page.length < items.length, total: null, page };
  }

  private listServices(call: RecordedCall): FakeReply {
    const query = (call.query.get('query') ?? '').toLowerCase();
    const found = this.services.filter((s) => s.name.toLowerCase().includes(query));
    const { page, ...paging } = this.page(call, found);
    return {
      body: {
        ...paging,
        services: page.map((s) => ({
          id: s.id,
          type: 'service',
          name: s.name,
          summary: s.name,
          escalation_policy: { id: s.escalationPolicyId, type: REFERENCE_TYPES.policy },
        })),
      },
    };
  }

  private listUsers(call: RecordedCall): FakeReply {
    const query = (call.query.get('query') ?? '').toLowerCase();
    const found = this.users.filter((u) => u.email.toLowerCase().includes(query) || u.name.toLowerCase().includes(query));
    const { page, ...paging } = this.page(call, found);
    return { body: { ...paging, users: page.map((u) => ({ id: u.id, type: 'user', name: u.name, email: u.email, summary: u.name })) } };
  }

  private listOnCalls(call: RecordedCall): FakeReply {
    const userIds = call.query.getAll('user_ids[]');
    const policyIds = call.query.getAll('escalation_policy_ids[]');
    const found = this.onCalls.filter((o) => (userIds.length === 0 || userIds.includes(o.userId)) && (policyIds.length === 0 || policyIds.includes(o.escalationPolicyId)));
    const { page, ...paging } = this.page(call, found);
    return {
      body: {
        ...paging,
        oncalls: page.map((o) => ({
          user: { id: o.userId, type: REFERENCE_TYPES.user },
          escalation_policy: { id: o.escalationPolicyId, type: REFERENCE_TYPES.policy },
          escalation_level: o.escalationLevel,
          schedule: null,
          start: null,
          end: null,
        })),
      },
    };
  }

  private listIncidents(call: RecordedCall): FakeReply {
    const key = call.query.get('incident_key');
    const found = this.incidents.filter((i) => key === null || i.incidentKey === key);
    const { page, ...paging } = this.page(call, found);
    return { body: { ...paging, incidents: page.map(incidentJson) } };
  }

  private createIncident(call: RecordedCall): FakeReply {
    const incident = (call.json as { incident?: Record<string, unknown> } | undefined)?.incident;
    if (!incident || incident['type'] !== 'incident' || typeof incident['title'] !== 'string' || !incident['title']) {
      return error(400, 2001, 'Invalid Input Provided', ['Incident must have type "incident" and a title.']);
    }
    const serviceRef = incident['service'] as { id?: unknown; type?: unknown } | undefined;
    const service = this.services.find((s) => s.id === serviceRef?.id);
    if (!service || serviceRef?.type !== REFERENCE_TYPES.service) {
      return error(400, 2001, 'Invalid Input Provided', ['Service not found.']);
    }
    const key = typeof incident['incident_key'] === 'string' ? incident['incident_key'] : '';
    const open = key ? this.incidents.find((i) => i.incidentKey === key && i.serviceId === service.id && i.status !== 'resolved') : undefined;
    if (open) {
      if (this.options.dedup === 'return') return { status: 201, body: { incident: incidentJson(open) } };
      return error(400, 2001, 'Invalid Input Provided', ['Open incident with matching dedup key already exists on this service']);
    }
    const body = incident['body'] as { type?: unknown; details?: unknown } | undefined;
    const created: FakePdIncident = {
      id: this.nextId('PIN'),
      title: incident['title'],
      status: 'triggered',
      incidentKey: key || this.nextId('key'),
      serviceId: service.id,
      details: typeof body?.details === 'string' ? body.details : '',
      from: String(call.headers['from']),
      notes: [],
    };
    this.incidents.push(created);
    return { status: 201, body: { incident: incidentJson(created) } };
  }

  private updateIncident(call: RecordedCall, id: string): FakeReply {
    const found = this.incidents.find((i) => i.id === id);
    if (!found) return error(404, 2100, 'Not Found');
    const incident = (call.json as { incident?: Record<string, unknown> } | undefined)?.incident;
    const type = incident?.['type'];
    if (type !== 'incident_reference' && type !== 'incident') {
      return error(400, 2001, 'Invalid Input Provided', ['Incident type must be "incident_reference".']);
    }
    const status = incident?.['status'];
    if (status === 'resolved' || status === 'acknowledged') found.status = status;
    else if (status !== undefined) return error(400, 2001, 'Invalid Input Provided', [`Unknown status ${String(status)}.`]);
    return { body: { incident: incidentJson(found) } };
  }

  /** Every note of an incident (PagerDuty does not page this endpoint). */
  private listNotes(id: string): FakeReply {
    const found = this.incidents.find((i) => i.id === id);
    if (!found) return error(404, 2100, 'Not Found');
    return { body: { notes: found.notes.map((n) => ({ id: n.id, content: n.content, created_at: new Date().toISOString() })) } };
  }

  private addNote(call: RecordedCall, id: string): FakeReply {
    const found = this.incidents.find((i) => i.id === id);
    if (!found) return error(404, 2100, 'Not Found');
    const content = (call.json as { note?: { content?: unknown } } | undefined)?.note?.content;
    if (typeof content !== 'string' || !content) return error(400, 2001, 'Invalid Input Provided', ['Note content is required.']);
    const note = { id: this.nextId('PNO'), content, from: String(call.headers['from']) };
    found.notes.push(note);
    return { status: 201, body: { note: { id: note.id, content: note.content, created_at: new Date().toISOString() } } };
  }
}

function incidentJson(i: FakePdIncident): Record<string, unknown> {
  return {
    id: i.id,
    type: 'incident',
    title: i.title,
    status: i.status,
    incident_key: i.incidentKey,
    service: { id: i.serviceId, type: REFERENCE_TYPES.service },
    body: { type: 'incident_body', details: i.details },
  };
}

function error(status: number, code: number, message: string, errors: string[] = []): FakeReply {
  return { status, body: { error: { code, message, errors } } };
}

function positive(value: string | null, fallback: number): number {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n > 0 ? n : fallback;
}
