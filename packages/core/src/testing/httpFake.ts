import { EventEmitter } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';

/** One request as the fake received it (and what it answered). */
export interface RecordedCall {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  /** Parsed JSON body, when the body was JSON. */
  json: unknown;
  /** Parsed form body, when it was application/x-www-form-urlencoded. */
  form: URLSearchParams | undefined;
  /** Status the fake answered with (0 when the connection was dropped). */
  status: number;
  /** Whether the answer came from an injected fault rather than the route. */
  injected: boolean;
  /** When the request arrived (ms since the epoch), for asserting how far apart retries were. */
  at: number;
}

export interface FakeReply {
  status?: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON; strings as-is. */
  body?: unknown;
}

export type RouteHandler = (call: RecordedCall, params: Record<string, string>) => FakeReply | Promise<FakeReply>;

/** A fault injected into the next matching calls. */
export interface Fault {
  method?: string;
  /** Exact path, or a RegExp tested against it. Omitted: every path. */
  path?: string | RegExp;
  /** How many matching calls fail (default 1). */
  times?: number;
  /** Status to answer (e.g. 429, 500). Ignored with `drop`. */
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Destroy the connection without answering. */
  drop?: boolean;
  /**
   * Run the route first (its effect happens: the message is posted, the issue created), then
   * answer with `status` or `drop`: the client sees a failure for a call that did take effect,
   * which is what exactly-once delivery has to survive.
   */
  afterEffect?: boolean;
  /** Wait this long before answering (and still run the route unless status/drop is set). */
  delayMs?: number;
  /** Stop matching at this time (ms since the epoch), used up or not: a burst bounded in time. */
  until?: number;
}

interface Route {
  method: string;
  pattern: RegExp;
  names: string[];
  handler: RouteHandler;
}

/**
 * A small real HTTP(S) server for faking a vendor API: routes with `:params`, every call
 * recorded, and injectable 429s, 5xx, latency and dropped connections. Tests wait for outcomes
 * with waitFor(), never with fixed sleeps.
 */
export class HttpFake extends EventEmitter {
  readonly name: string;
  readonly calls: RecordedCall[] = [];
  private readonly routes: Route[] = [];
  private readonly faults: Array<Fault & { remaining: number }> = [];
  private latencyMs = 0;
  private server: http.Server | undefined;
  private baseUrl = '';

  constructor(
    name: string,
    private readonly tls?: { cert: string; key: string },
  ) {
    super();
    this.name = name;
    this.setMaxListeners(0);
  }

  /** Base URL, e.g. `http://127.0.0.1:41234`. Available after start(). */
  get url(): string {
    return this.baseUrl;
  }

  route(method: string, path: string, handler: RouteHandler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((part) => {
        if (part.startsWith(':')) {
          names.push(part.slice(1));
          return '([^/]+)';
        }
        return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** Inject a fault for the next matching call(s). */
  fail(fault: Fault): this {
    this.faults.push({ ...fault, remaining: fault.times ?? 1 });
    return this;
  }

  /** Drops every fault not yet used up. */
  clearFaults(): void {
    this.faults.length = 0;
  }

  /** Add latency to every call (0 to remove). */
  setLatency(ms: number): this {
    this.latencyMs = ms;
    return this;
  }

  /** Calls to one method and path (path exact or RegExp). */
  callsTo(method: string, path: string | RegExp): RecordedCall[] {
    return this.calls.filter((c) => c.method === method.toUpperCase() && (typeof path === 'string' ? c.path === path : path.test(c.path)));
  }

  /** Resolves once `predicate(calls)` holds; rejects after `timeoutMs` with what was seen. */
  waitFor(predicate: (calls: readonly RecordedCall[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (predicate(this.calls)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onCall = (): void => {
        if (predicate(this.calls)) {
          cleanup();
          resolve();
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.calls.map((c) => `${c.method} ${c.path} -> ${c.status}`).join('\n  ');
        reject(new Error(`${this.name}: condition not met within ${timeoutMs} ms; calls seen:\n  ${seen}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('call', onCall);
      };
      this.on('call', onCall);
    });
  }

  async start(port = 0): Promise<string> {
    const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      void this.handle(req, res);
    };
    this.server = this.tls ? https.createServer({ cert: this.tls.cert, key: this.tls.key }, listener) : http.createServer(listener);
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    const { port: actual } = this.server.address() as AddressInfo;
    this.baseUrl = `${this.tls ? 'https' : 'http'}://127.0.0.1:${actual}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://fake');
    const type = String(req.headers['content-type'] ?? '');
    let json: unknown;
    let form: URLSearchParams | undefined;
    if (type.includes('json') && rawBody) {
      try {
        json = JSON.parse(rawBody);
      } catch {
        json = undefined;
      }
    } else if (type.includes('application/x-www-form-urlencoded')) {
      form = new URLSearchParams(rawBody);
    }
    const call: RecordedCall = {
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      rawBody,
      json,
      form,
      status: 0,
      injected: false,
      at: Date.now(),
    };

    const fault = this.takeFault(call);
    const delay = (fault?.delayMs ?? 0) + this.latencyMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));

    let reply: FakeReply;
    if (fault?.afterEffect) {
      await this.dispatch(call);
    }
    if (fault?.drop) {
      call.injected = true;
      this.record(call);
      req.socket.destroy();
      return;
    } else if (fault?.status !== undefined) {
      call.injected = true;
      reply = { status: fault.status, headers: fault.headers ?? {}, body: fault.body ?? { error: `injected ${fault.status}` } };
    } else {
      reply = await this.dispatch(call);
    }
    call.status = reply.status ?? 200;
    const headers: Record<string, string> = { ...(reply.headers ?? {}) };
    let payload = '';
    if (reply.body !== undefined) {
      if (typeof reply.body === 'string') {
        payload = reply.body;
        headers['content-type'] ??= 'text/plain; charset=utf-8';
      } else {
        payload = JSON.stringify(reply.body);
        headers['content-type'] ??= 'application/json; charset=utf-8';
      }
    }
    res.writeHead(call.status, headers);
    res.end(payload);
    this.record(call);
  }

  private record(call: RecordedCall): void {
    this.calls.push(call);
    this.emit('call', call);
  }

  private takeFault(call: RecordedCall): Fault | undefined {
    for (let i = this.faults.length - 1; i >= 0; i--) {
      const until = this.faults[i]!.until;
      if (until !== undefined && until <= call.at) this.faults.splice(i, 1);
    }
    const index = this.faults.findIndex(
      (f) =>
        (f.method === undefined || f.method.toUpperCase() === call.method) &&
        (f.path === undefined || (typeof f.path === 'string' ? f.path === call.path : f.path.test(call.path))),
    );
    if (index < 0) return undefined;
    const fault = this.faults[index]!;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private async dispatch(call: RecordedCall): Promise<FakeReply> {
    for (const route of this.routes) {
      if (route.method !== call.method) continue;
      const m = route.pattern.exec(call.path);
      if (!m) continue;
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = decodeURIComponent(m[i + 1] ?? '');
      });
      try {
        return await route.handler(call, params);
      } catch (err) {
        return { status: 500, body: { error: err instanceof Error ? err.message : String(err) } };
      }
    }
    return { status: 404, body: { error: `${this.name}: no route for ${call.method} ${call.path}` } };
  }
}
