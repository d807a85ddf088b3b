import { PluginError, callService, httpFailure, networkFailure, retryAfterMs } from '@teleport-plugin/core';
import type { Logger, OutboundCall, OutboundPolicy } from '@teleport-plugin/core';
import pdjs from '@pagerduty/pdjs';

// CommonJS package: its named exports are reached through the default import.
const { api } = pdjs;

/*
 * The transport is @pagerduty/pdjs's `api()`: it sets the Accept, Authorization (`Token token=`),
 * Content-Type and User-Agent headers and parses the JSON. Its pitfalls (pdjs 2.2.4, measured in
 * ../shared/notes/dependencies.md) and how each is handled here:
 * - `server` is always prefixed with `https://`: every call passes a full `url` instead, so an
 *   `http://` api_endpoint (a local fake, a proxy) works.
 * - it arms a no-op 30 s timer per call and clears it only on success, so a failed call holds the
 *   process open: `requestTimeout: 0` turns that timer off; our own per-attempt timeout is an
 *   AbortSignal, which its fetch (node-fetch 2) honours.
 * - on a 429 it retries by itself, three times, after a fixed `retryTimeout`, without looking at
 *   Retry-After. We cannot see those answers, so we set `retryTimeout` to the last wait PagerDuty
 *   asked for (Retry-After or ratelimit-reset; `rateLimitWaitMs` until one is seen), and when
 *   pdjs hands back a 429 after its own retries, we wait what that answer asks before trying
 *   again. A 429 means nothing was done, so its retries never duplicate a note.
 * - it retries nothing else: 5xx, timeouts and connection errors are retried here, bounded, and
 *   only for calls that are safe to repeat.
 * - `resource` is null unless the host ends in `.com`: we read `data`.
 */

export interface PdService {
  id: string;
  name: string;
  escalationPolicyId: string;
}

export interface PdUser {
  id: string;
  name: string;
  email: string;
}

export interface PdOnCall {
  userId: string;
  userType: string;
  escalationPolicyId: string;
  escalationLevel: number | undefined;
}

export interface PdIncident {
  id: string;
  status: string;
  incidentKey: string;
  serviceId: string;
}

export interface NewIncident {
  title: string;
  incidentKey: string;
  serviceId: string;
  details: string;
}

export interface PagerDutyClientOptions {
  apiEndpoint: string;
  apiKey: string;
  /** `From` header on writes. */
  userEmail: string;
  logger?: Logger;
  /** Per call made outside a handler attempt, e.g. start-up checks (default 10 s, as the Go plugin's HTTP client); inside one, the attempt's deadline applies. */
  timeoutMs?: number;
  /** Core's outbound policy, tuned (tests shorten the backoff). */
  policy?: Partial<OutboundPolicy>;
  /**
   * pdjs's own wait before each of its three 429 retries, until PagerDuty has told us a wait
   * (default 2 s). Later calls use the last wait PagerDuty asked for, capped at 10 s.
   */
  rateLimitWaitMs?: number;
}

/** Longest wait we let pdjs sleep before one of its own 429 retries. */
const MAX_PDJS_RETRY_WAIT_MS = 10_000;

interface CallOptions {
  query?: Array<[string, string]>;
  body?: unknown;
  /**
   * May the call be repeated when we cannot tell whether it took effect (timeout, dropped
   * connection, 5xx)? Reads, the resolve PUT and incident creation (de-duplicated by
   * incident_key) may; posting a note may not, or a flaky network would double notes.
   */
  idempotent: boolean;
  signal?: AbortSignal;
}

/** The HTTP status of a failed PagerDuty call (its service facts), if it got an answer. */
export function pagerDutyStatus(err: unknown): number | undefined {
  return err instanceof PluginError ? err.service?.status : undefined;
}

/** PagerDuty's error texts (`errors` of its error body) of a failed call. */
export function pagerDutyErrors(err: unknown): string {
  return err instanceof PluginError ? (err.service?.serviceCode ?? '') : '';
}

/** The PagerDuty REST API v2 calls the adapter makes, with timeouts and bounded retries. */
export class PagerDutyClient {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly policy: Partial<OutboundPolicy>;
  /** What pdjs waits before its own 429 retries; learns from PagerDuty's answers. */
  private rateLimitWaitMs: number;

  constructor(private readonly options: PagerDutyClientOptions) {
    this.base = options.apiEndpoint.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // pdjs retries a 429 three times by itself and cannot be told not to: our policy adds no
    // 429 retries of its own, so one rate-limited call is at most four requests.
    this.policy = { ...options.policy, rateLimitedAttempts: 1 };
    this.rateLimitWaitMs = options.rateLimitWaitMs ?? 2_000;
  }

  get endpoint(): string {
    return this.base;
  }

  async abilities(signal?: AbortSignal): Promise<string[]> {
    const body = await this.call<{ abilities?: unknown }>('GET', '/abilities', { idempotent: true, signal });
    return Array.isArray(body.abilities) ? body.abilities.map(String) : [];
  }

  /** Service names are unique in PagerDuty ignoring case; `query` is a substring search. */
  async findServiceByName(name: string, signal?: AbortSignal): Promise<PdService | undefined> {
    const wanted = name.trim().toLowerCase();
    for await (const item of this.list<Record<string, unknown>>('/services', 'services', [['query', name.trim()]], signal)) {
      if (String(item['name'] ?? '').toLowerCase() === wanted) {
        const ep = item['escalation_policy'] as { id?: unknown } | undefined;
        return { id: String(item['id']), name: String(item['name']), escalationPolicyId: String(ep?.id ?? '') };
      }
    }
    return undefined;
  }

  /** Every service (all pages): on-call facts map escalation policies to services with it. */
  async listServices(signal?: AbortSignal): Promise<PdService[]> {
    const out: PdService[] = [];
    for await (const item of this.list<Record<string, unknown>>('/services', 'services', [], signal)) {
      const ep = item['escalation_policy'] as { id?: unknown } | undefined;
      out.push({ id: String(item['id']), name: String(item['name']), escalationPolicyId: String(ep?.id ?? '') });
    }
    return out;
  }

  async findUserByEmail(email: string, signal?: AbortSignal): Promise<PdUser | undefined> {
    const wanted = email.trim().toLowerCase();
    for await (const item of this.list<Record<string, unknown>>('/users', 'users', [['query', wanted]], signal)) {
      if (String(item['email'] ?? '').toLowerCase() === wanted) {
        return { id: String(item['id']), name: String(item['name'] ?? ''), email: String(item['email']) };
      }
    }
    return undefined;
  }

  /** Every on-call entry of `userId` in the given escalation policies (all pages). */
  async listOnCalls(userId: string, escalationPolicyIds: readonly string[], signal?: AbortSignal): Promise<PdOnCall[]> {
    const query: Array<[string, string]> = [['user_ids[]', userId], ...escalationPolicyIds.map((id): [string, string] => ['escalation_policy_ids[]', id])];
    const out: PdOnCall[] = [];
    for await (const item of this.list<Record<string, unknown>>('/oncalls', 'oncalls', query, signal)) {
      const user = item['user'] as { id?: unknown; type?: unknown } | undefined;
      const ep = item['escalation_policy'] as { id?: unknown } | undefined;
      const level = item['escalation_level'];
      out.push({
        userId: String(user?.id ?? ''),
        userType: String(user?.type ?? ''),
        escalationPolicyId: String(ep?.id ?? ''),
        escalationLevel: typeof level === 'number' ? level : undefined,
      });
    }
    return out;
  }

  /**
   * Creates the incident, or returns the open one that already carries `incidentKey` on that
   * service: PagerDuty refuses a second open incident with the same key (400), and that is exactly
   * the retry-after-a-lost-answer case, so we look the first one up instead of failing.
   */
  async createIncident(incident: NewIncident, signal?: AbortSignal): Promise<PdIncident> {
    const payload = {
      incident: {
        type: 'incident',
        title: incident.title,
        incident_key: incident.incidentKey,
        service: { type: 'service_reference', id: incident.serviceId },
        body: { type: 'incident_body', details: incident.details },
      },
    };
    try {
      const body = await this.call<{ incident?: Record<string, unknown> }>('POST', '/incidents', { body: payload, idempotent: true, signal });
      return toIncident(body.incident);
    } catch (err) {
      if (pagerDutyStatus(err) !== 400 || !/dedup|incident.?key/i.test(pagerDutyErrors(err))) throw err;
      const existing = await this.findOpenIncident(incident.incidentKey, incident.serviceId, signal);
      if (!existing) throw err;
      this.options.logger?.debug('Incident already open for this request; reusing it', { incidentId: existing.id });
      return existing;
    }
  }

  async findOpenIncident(incidentKey: string, serviceId: string, signal?: AbortSignal): Promise<PdIncident | undefined> {
    const found = await this.findIncident(incidentKey, signal, ['triggered', 'acknowledged']);
    return found && (found.serviceId === serviceId || !found.serviceId) ? found : undefined;
  }

  /** The incident carrying `incidentKey`, whatever its status (or only in `statuses`). */
  async findIncident(incidentKey: string, signal?: AbortSignal, statuses: readonly string[] = []): Promise<PdIncident | undefined> {
    const query: Array<[string, string]> = [['incident_key', incidentKey], ...statuses.map((s): [string, string] => ['statuses[]', s])];
    for await (const item of this.list<Record<string, unknown>>('/incidents', 'incidents', query, signal)) {
      const found = toIncident(item);
      if (found.incidentKey === incidentKey && (statuses.length === 0 || statuses.includes(found.status))) return found;
    }
    return undefined;
  }

  /** The contents of an incident's notes. */
  async listNotes(incidentId: string, signal?: AbortSignal): Promise<string[]> {
    const body = await this.call<{ notes?: Array<{ content?: unknown }> }>('GET', `/incidents/${encodeURIComponent(incidentId)}/notes`, { idempotent: true, signal });
    return (body.notes ?? []).map((n) => String(n.content ?? ''));
  }

  async addNote(incidentId: string, content: string, signal?: AbortSignal): Promise<void> {
    await this.call('POST', `/incidents/${encodeURIComponent(incidentId)}/notes`, { body: { note: { content } }, idempotent: false, signal });
  }

  async resolveIncident(incidentId: string, signal?: AbortSignal): Promise<void> {
    await this.call('PUT', `/incidents/${encodeURIComponent(incidentId)}`, {
      body: { incident: { type: 'incident_reference', status: 'resolved' } },
      idempotent: true,
      signal,
    });
  }

  /** Offset pagination (`offset`, `limit`, `more`), as every PagerDuty list endpoint does it. */
  private async *list<T>(path: string, key: string, query: Array<[string, string]>, signal?: AbortSignal): AsyncGenerator<T> {
    let offset = 0;
    // A server that keeps saying `more` with empty pages must not loop us forever.
    for (let page = 0; page < 1000; page++) {
      const body = await this.call<Record<string, unknown>>('GET', path, {
        query: [...query, ['limit', '100'], ['offset', String(offset)]],
        idempotent: true,
        signal,
      });
      const items = Array.isArray(body[key]) ? (body[key] as T[]) : [];
      for (const item of items) yield item;
      if (body['more'] !== true || items.length === 0) return;
      offset += items.length;
    }
  }

  /** One REST call under core's outbound policy; failures carry PagerDuty's status and error texts. */
  private async call<T>(method: string, path: string, options: CallOptions): Promise<T> {
    const url = new URL(this.base + path);
    for (const [k, v] of options.query ?? []) url.searchParams.append(k, v);
    const headers: Record<string, string> = {};
    if (method !== 'GET') headers['From'] = this.options.userEmail;
    const call: OutboundCall = { service: 'PagerDuty', operation: `${method} ${path}`, idempotent: options.idempotent };
    return callService(
      call,
      async (signal) => {
        // Inside a handler attempt its signal is the deadline (one timer per attempt, not per
        // call); calls outside one (start-up checks) get their own. pdjs may sleep through up to
        // three 429 waits inside one call; that is not the server being slow, so the deadline
        // allows for them.
        const retryWait = this.rateLimitWaitMs;
        const deadline = signal ? undefined : AbortSignal.timeout(this.timeoutMs + 3 * retryWait);
        const attemptSignal = signal ?? deadline!;
        let answer: PdjsAnswer;
        try {
          answer = await this.send({ method, url, headers, body: options.body, retryWaitMs: retryWait }, attemptSignal);
        } catch (err) {
          if (signal?.aborted) throw err;
          throw networkFailure(call, deadline?.aborted ? Object.assign(new Error('no answer in time'), { name: 'TimeoutError' }) : err);
        }
        const { status } = answer;
        if (status >= 200 && status < 300) {
          if (answer.data === undefined && !answer.empty) throw new PluginError('SERVICE_ERROR', `PagerDuty ${method} ${path} answered HTTP ${status} without valid JSON`);
          return (answer.data ?? {}) as T;
        }
        const asked = status === 429 ? retryAfterMs(answer.headers) : undefined;
        if (asked !== undefined) this.rateLimitWaitMs = Math.min(MAX_PDJS_RETRY_WAIT_MS, Math.max(100, asked));
        const { message, errors } = parseError(answer.data);
        throw httpFailure(call, {
          status,
          serviceCode: errors.join('; ') || message || undefined,
          detail: status === 401 ? 'the API key was rejected; check pagerduty.api_key' : undefined,
          retryAfterMs: asked,
          userFacing: status === 401 || status === 403,
        });
      },
      { signal: options.signal, logger: this.options.logger, policy: this.policy },
    );
  }

  /**
   * One pdjs call. Resolves with any HTTP answer (pdjs does not reject on error statuses);
   * rejects on network errors and on `signal`, at once even while pdjs sleeps between its own
   * 429 retries (that sleep cannot be cancelled; its follow-up request fails at once on the
   * aborted signal).
   */
  private async send({ method, url, headers, body, retryWaitMs }: PdjsRequest, signal: AbortSignal): Promise<PdjsAnswer> {
    // Never start a request that is already cancelled.
    if (signal.aborted) throw signal.reason;
    const pending: Promise<PdjsAnswer> = api({
      url: url.toString(),
      method,
      token: this.options.apiKey,
      tokenType: 'token',
      headers,
      ...(body === undefined ? {} : { data: body as object }),
      requestTimeout: 0,
      retryTimeout: retryWaitMs,
      signal: signal as RequestInit['signal'],
    }).then(
      (res) => ({ status: res.status, headers: res.headers, data: res.status === 204 ? undefined : (res.data as unknown), empty: res.status === 204 }),
      (err: unknown) => {
        // pdjs rejects with the response itself when its body is not JSON.
        if (isResponse(err)) return { status: err.status, headers: err.headers, data: undefined, empty: false };
        throw err;
      },
    );
    pending.catch(() => undefined);
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([pending, aborted]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }
}

/** What one pdjs call sends; `retryWaitMs` is how long pdjs waits before each of its own 429 retries. */
interface PdjsRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
  retryWaitMs: number;
}

/** What one pdjs call answered: status, headers and the parsed JSON body (when there was one). */
interface PdjsAnswer {
  status: number;
  headers: HeaderReader;
  data: unknown;
  /** 204: no body expected. */
  empty: boolean;
}

interface HeaderReader {
  get(name: string): string | null;
}

function isResponse(value: unknown): value is { status: number; headers: HeaderReader } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { status?: unknown }).status === 'number' &&
    typeof (value as { headers?: { get?: unknown } }).headers?.get === 'function'
  );
}

function toIncident(raw: Record<string, unknown> | undefined): PdIncident {
  if (!raw || typeof raw['id'] !== 'string') {
    throw new PluginError('SERVICE_ERROR', 'PagerDuty answered POST /incidents without an incident id');
  }
  const service = raw['service'] as { id?: unknown } | undefined;
  return {
    id: raw['id'],
    status: String(raw['status'] ?? ''),
    incidentKey: String(raw['incident_key'] ?? ''),
    serviceId: String(service?.id ?? ''),
  };
}

function parseError(data: unknown): { message: string; errors: string[] } {
  const error = (data as { error?: { message?: unknown; errors?: unknown } } | undefined)?.error;
  const errors = Array.isArray(error?.errors) ? error.errors.map(String) : [];
  return { message: typeof error?.message === 'string' ? error.message : '', errors };
}
