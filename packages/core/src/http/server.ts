import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { WebhookRequest, WebhookResponse, WebhookRoute } from '../adapter.js';
import { PluginError, errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RuntimeMetrics } from './metrics.js';
import { DEFAULT_LISTEN_ADDR, type HttpServerConfig } from './types.js';

/** What /readyz reports. */
export interface ReadinessReport {
  ready: boolean;
  teleport: { connected: boolean };
  watch: { initialised: boolean };
  adapters: Record<string, { healthy: boolean; reason?: string }>;
}

export interface HttpServerOptions {
  config: HttpServerConfig;
  /** Serve plain HTTP (with a warning) instead of requiring a certificate. */
  insecureNoTls?: boolean;
  logger: Logger;
  /** Adapter routes, served under `/<adapter>/`. */
  routes: ReadonlyArray<{ adapter: string; routes: readonly WebhookRoute[] }>;
  readiness(): ReadinessReport;
  metrics?: RuntimeMetrics;
  /**
   * `/debug/...` (routing's `/debug/requests/<id>`): served only when `[http] basic_auth` is
   * configured, always behind it; undefined = not found.
   */
  debug?(path: string, query: URLSearchParams): Promise<WebhookResponse | undefined>;
}

export interface RuntimeHttpServer {
  /** The local URL it listens on, e.g. `https://127.0.0.1:8081`. */
  readonly url: string;
  /** Stop accepting connections (in-flight requests finish). */
  stopAccepting(): void;
  /** Close for good, dropping idle and remaining connections. */
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The one HTTP(S) server of the runtime: adapter webhooks under `/<adapter>/`, `/healthz`,
 * `/readyz` and `/metrics`. Basic auth (when configured) guards webhooks and metrics but never
 * the probes, which orchestrators call without credentials.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<RuntimeHttpServer> {
  const { config, logger } = options;
  const { host, port } = parseListenAddr(config.listenAddr || DEFAULT_LISTEN_ADDR);
  const maxBody = config.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const routes = new Map<string, readonly WebhookRoute[]>();
  for (const { adapter, routes: list } of options.routes) if (list.length > 0) routes.set(adapter, list);
  // The Go plugins' webhook URLs (`/` for Jira, `/webhook` for GitLab), served as well.
  const legacy = new Map<string, { adapter: string; route: WebhookRoute }[]>();
  for (const { adapter, routes: list } of options.routes) {
    for (const route of list) {
      if (route.legacyPath === undefined) continue;
      const path = normalize(route.legacyPath);
      const claims = legacy.get(path) ?? [];
      if (claims.length > 0 && claims[0]!.adapter !== adapter) {
        options.logger.warn('legacy webhook path already served by another adapter; ignored', { path, adapter, servedBy: claims[0]!.adapter });
        continue;
      }
      legacy.set(path, [...claims, { adapter, route }]);
    }
  }

  const hasCert = Boolean(config.httpsCertFile);
  const hasKey = Boolean(config.httpsKeyFile);
  if (hasCert !== hasKey) {
    throw new PluginError('CONFIG', `[http] ${hasCert ? 'https_key_file' : 'https_cert_file'} is missing: set both https_cert_file and https_key_file, or neither`, {
      userFacing: true,
    });
  }
  let tls: https.ServerOptions | undefined;
  if (options.insecureNoTls) {
    logger.warn('serving plain HTTP (--insecure-no-tls): webhooks and credentials travel unencrypted');
  } else if (!hasCert) {
    throw new PluginError('CONFIG', '[http] https_cert_file and https_key_file are required (or start with --insecure-no-tls)', { userFacing: true });
  } else {
    tls = {
      cert: await readPem(config.httpsCertFile!, 'https_cert_file'),
      key: await readPem(config.httpsKeyFile!, 'https_key_file'),
    };
    if (config.verifyClientCert) {
      tls.requestCert = true;
      tls.rejectUnauthorized = true;
      if (config.clientCaFile) tls.ca = await readPem(config.clientCaFile, 'tls.client_ca_file');
    }
  }

  const expectedAuth = config.basicAuth ? digest(`${config.basicAuth.user}:${config.basicAuth.password}`) : undefined;

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      logger.error('HTTP request failed', { path: req.url, error: errorMessage(err) });
      if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      else res.destroy();
    });
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = (req.method ?? 'GET').toUpperCase();
    // `%zz` or a cut-off `%E0%A4%A` is the client's mistake: a 400, not the 500 of the URIError
    // decoding would throw below. Debug, without a stack: scanners send these all day.
    if (!decodable(path)) {
      logger.debug('Refused a request with malformed percent-encoding in the path', { path: path.slice(0, 200), remoteAddress: req.socket.remoteAddress });
      return send(res, { status: 400, body: 'bad request: malformed percent-encoding in the path\n' });
    }

    if (path === '/healthz') return send(res, { status: 200, body: { status: 'ok' } });
    if (path === '/readyz') {
      const report = options.readiness();
      return send(res, { status: report.ready ? 200 : 503, body: report });
    }
    const unauthorized = (): void => send(res, { status: 401, headers: { 'WWW-Authenticate': 'Basic realm=Restricted' }, body: { error: 'unauthorized' } });
    if (path === '/metrics') {
      if (expectedAuth && !authorized(req.headers.authorization, expectedAuth)) return unauthorized();
      if (!options.metrics) return send(res, { status: 404, body: { error: 'not found' } });
      const text = await options.metrics.registry.metrics();
      return send(res, { status: 200, headers: { 'Content-Type': options.metrics.registry.contentType }, body: text });
    }

    if (options.debug && path.startsWith('/debug/')) {
      // Never without basic auth: the answers name people, rules and facts.
      if (!expectedAuth) return send(res, { status: 404, body: { error: 'not found' } });
      if (!authorized(req.headers.authorization, expectedAuth)) return unauthorized();
      if (method !== 'GET') return send(res, { status: 405, headers: { Allow: 'GET' }, body: { error: 'method not allowed' } });
      return send(res, (await options.debug(path, url.searchParams)) ?? { status: 404, body: { error: 'not found' } });
    }

    const match = /^\/([^/]+)(\/.*)?$/.exec(path);
    const legacyClaims = legacy.get(normalize(path));
    const adapter = legacyClaims ? legacyClaims[0]!.adapter : match ? decodeURIComponent(match[1]!) : undefined;
    const adapterRoutes = adapter === undefined ? undefined : routes.get(adapter);
    const subPath = legacyClaims ? normalize(legacyClaims[0]!.route.path) : normalize(match?.[2] ?? '/');
    const candidates = legacyClaims ? legacyClaims.map((c) => c.route) : (adapterRoutes?.filter((r) => normalize(r.path) === subPath) ?? []);
    // Routes whose callers prove themselves (Slack signs every request and cannot send basic
    // auth) skip basic auth; everything else, unknown paths included, is guarded by it when it
    // is configured, so an unauthenticated caller cannot probe which routes exist.
    const selfAuthenticated = candidates.length > 0 && candidates.every((r) => r.selfAuthenticated);
    if (expectedAuth && !selfAuthenticated && !authorized(req.headers.authorization, expectedAuth)) return unauthorized();
    if (candidates.length === 0) return send(res, { status: 404, body: { error: 'not found' } });
    const route = candidates.find((r) => r.method === method);
    if (!route) {
      return send(res, { status: 405, headers: { Allow: candidates.map((r) => r.method).join(', ') }, body: { error: 'method not allowed' } });
    }

    const limit = route.maxBodyBytes ?? maxBody;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) return tooLarge(req, res, limit);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limit) return tooLarge(req, res, limit);
      chunks.push(chunk as Buffer);
    }
    const request: WebhookRequest = {
      method,
      path: subPath,
      query: url.searchParams,
      headers: req.headers,
      rawBody: Buffer.concat(chunks),
      remoteAddress: req.socket.remoteAddress,
    };
    let response: WebhookResponse;
    try {
      response = await route.handle(request);
    } catch (err) {
      logger.error('webhook handler failed', { adapter, path: subPath, error: errorMessage(err) });
      response = { status: 500, body: { error: 'internal error' } };
    }
    send(res, response);
  };

  const server = tls ? https.createServer(tls, listener) : http.createServer(listener);
  if (tls && config.verifyClientCert) {
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
      logger.debug('TLS client rejected', { error: err.message, remoteAddress: socket.remoteAddress });
    });
  }
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new PluginError('CONFIG', `[http] cannot listen on ${config.listenAddr || DEFAULT_LISTEN_ADDR}: ${err.message}`, { userFacing: true, cause: err }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => logger.error('HTTP server error', { error: err.message }));
  const address = server.address() as AddressInfo;
  const shownHost = !host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`;
  logger.info('HTTP server listening', { url, tls: Boolean(tls) });
  if (options.debug && !expectedAuth) logger.info('/debug/requests/<id> is not served: it needs [http] basic_auth');

  let closed: Promise<void> | undefined;
  return {
    url,
    stopAccepting() {
      if (server.listening) server.close();
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Give in-flight webhook calls a moment, then drop whatever is left.
        setTimeout(() => server.closeAllConnections(), 1000).unref();
        if (!server.listening) {
          server.closeAllConnections();
        }
      });
      return closed;
    },
  };
}

/** `host:port`, `:port` or `[v6]:port`. */
export function parseListenAddr(addr: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(addr.trim());
  if (!m) throw new PluginError('CONFIG', `[http] listen_addr: expected host:port or :port, got "${addr}"`, { userFacing: true });
  const port = Number(m[3]);
  if (port > 65535) throw new PluginError('CONFIG', `[http] listen_addr: port ${port} is out of range`, { userFacing: true });
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port };
}

function decodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

function normalize(path: string): string {
  const trimmed = path.length > 1 ? path.replace(/\/+$/, '') : path;
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/** Compares digests with timingSafeEqual so the time taken says nothing about the password. */
function authorized(header: string | undefined, expected: Buffer): boolean {
  if (!header || !/^basic /i.test(header)) return false;
  const given = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  return timingSafeEqual(digest(given), expected);
}

function tooLarge(req: http.IncomingMessage, res: http.ServerResponse, limit: number): void {
  send(res, { status: 413, headers: { Connection: 'close' }, body: { error: `request body larger than ${limit} bytes` } });
  // Stop reading: the client may keep sending, and we have already answered.
  res.on('finish', () => req.destroy());
}

function send(res: http.ServerResponse, response: WebhookResponse): void {
  const headers: Record<string, string> = { ...(response.headers ?? {}) };
  let payload: string | Buffer = '';
  if (response.body !== undefined) {
    if (typeof response.body === 'string' || Buffer.isBuffer(response.body)) {
      payload = response.body;
      if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'text/plain; charset=utf-8';
    } else {
      payload = JSON.stringify(response.body);
      if (!hasHeader(headers, 'content-type')) headers['Content-Type'] = 'application/json; charset=utf-8';
    }
  }
  res.writeHead(response.status, headers);
  res.end(payload);
}

function hasHeader(headers: Record<string, string>, name: string): boolean {
  return Object.keys(headers).some((k) => k.toLowerCase() === name);
}

async function readPem(file: string, key: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new PluginError('CONFIG', `[http] ${key}: cannot read ${file}: ${errorMessage(err)}`, { userFacing: true, cause: err });
  }
}
