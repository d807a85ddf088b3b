import type { ConfigContext, ConfigSection } from './config/section.js';
import type { OnceOptions } from './ledger/requestLedger.js';
import type { Logger } from './log/logger.js';
import type { PluginDataStore } from './ledger/pluginDataStoreTypes.js';
import type { AccessRequest, AccessReview, ClusterInfo, PluginData, ReviewSubmission, RoleInfo, StateChange, UserInfo } from './teleport/types.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { AdapterRouting, FollowUpStep } from './routing/types.js';
import type { AccessListReminderSender } from './accesslists/reminderJob.js';

/**
 * The adapter contract. One shape for notifiers (Slack, email), reviewers (PagerDuty on-call
 * auto-approval) and both (Jira, GitLab through webhooks). The core never branches on an
 * adapter's name: everything it needs to know is declared here.
 *
 * A package is an adapter when its default export is an `Adapter` (see defineAdapter).
 */
export interface Adapter<TConfig = unknown> {
  /** `slack`: the CLI flag, the config section and the plugin-data namespace. */
  readonly name: string;
  readonly version?: string;
  /** Validate `[<name>]` (and anything else it reads); throw ConfigSection.error(...) on bad input. */
  parseConfig(section: ConfigSection, ctx: ConfigContext): TConfig;
  /** Build the service client; must not post anything. */
  setup(ctx: AdapterContext<TConfig>): Promise<AdapterHandlers>;
  /** A commented example config (`teleport-plugin configure --plugin <name>`). */
  exampleConfig?(): string;
  /** How the Go plugin of the same name lays out its plugin data, so a swap keeps working. */
  pluginData?: PluginDataLayout;
  /** Runs the adapter against a local fake of its service for `teleport-plugin demo`. */
  demo?: DemoProvider;
}

export function defineAdapter<TConfig>(adapter: Adapter<TConfig>): Adapter<TConfig> {
  return adapter;
}

/** The final outcome the dispatcher records once per request. */
export type Resolution = 'APPROVED' | 'DENIED' | 'PROMOTED' | 'EXPIRED';

export interface PluginDataLayout {
  /**
   * The keys written when a request is first seen. Default: the common access-request layout of
   * the Go slack/mattermost/discord plugins (core's `accessRequestSnapshot`).
   */
  snapshot?(request: AccessRequest): PluginData;
  /** How `resolution` is spelled. Default: the state name (`APPROVED`); pagerduty/jira use lower case. */
  resolutionTag?(resolution: Resolution): string;
}

export interface AdapterContext<TConfig> {
  readonly name: string;
  readonly config: TConfig;
  /**
   * `run` for `teleport-plugin start`; `check` when setup() runs only so `teleport-plugin check`
   * can call the handlers' check(): then setup must change nothing on the service (no labels or
   * webhooks created), only read.
   */
  readonly mode: 'run' | 'check';
  /** Child logger carrying `{ adapter: name }`. */
  readonly logger: Logger;
  readonly cluster: ClusterInfo;
  /** This adapter's plugin data (namespace = adapter name). */
  readonly store: PluginDataStore;
  readonly teleport: TeleportActions;
  /** Aborted when the runtime shuts down. */
  readonly signal: AbortSignal;
  /**
   * Re-read a request from Teleport and bring every adapter up to date with it (e.g. after a
   * webhook found a ticket out of step with the request). Fire and forget.
   */
  resync(requestId: string): void;
  /** Register cleanup (close sockets, servers); run in reverse order at shutdown. */
  onClose(fn: () => Promise<void> | void): void;
  /** Mark the adapter unhealthy (shown by /readyz and `check`) or healthy again. */
  reportHealth(healthy: boolean, reason?: string): void;
  /**
   * Recipients from Access Monitoring Rules (with the adapter's static config as the fallback),
   * facts for automatic-review conditions. The kits use it; optional so that contexts built by
   * hand (tests, `check`) need not offer it.
   */
  readonly routing?: AdapterRouting;
}

/** What adapters may ask of Teleport. */
export interface TeleportActions {
  /**
   * Submit a review as the plugin's own user (author empty) or, when the identity may submit for
   * users, as `author`. "Already reviewed" resolves to `already-reviewed`, not an error.
   */
  submitReview(requestId: string, review: ReviewSubmission, signal?: AbortSignal): Promise<{ outcome: 'submitted'; request: AccessRequest } | { outcome: 'already-reviewed' }>;
  /** Approve or deny directly, recording who decided as `delegator` (`jira:<email>`). */
  setState(requestId: string, change: StateChange, signal?: AbortSignal): Promise<void>;
  getRequest(requestId: string, signal?: AbortSignal): Promise<AccessRequest | undefined>;
  getUser(name: string, signal?: AbortSignal): Promise<UserInfo>;
  getRole(name: string, signal?: AbortSignal): Promise<RoleInfo>;
  /**
   * Every Teleport user (paged ListUsers). Needs `user: [list, read]` in the plugin's role:
   * PluginError ACCESS_DENIED without it, NOT_IMPLEMENTED on servers without the RPC. Optional
   * so that existing TeleportActions implementations (test doubles) keep compiling; the runtime
   * always provides it.
   */
  listUsers?(signal?: AbortSignal): Promise<UserInfo[]>;
  /** Every role (for checks that read role annotations). Needs `role: [list, read]`. Optional, as listUsers. */
  listRoles?(signal?: AbortSignal): Promise<RoleInfo[]>;
}

/** How a side effect is settled when a record says it may already have happened. */
export type EffectOptions = Omit<OnceOptions, 'signal'>;

/** Per-event context: a logger with the request id, a deadline, and this request's plugin data. */
export interface EventContext {
  readonly requestId: string;
  readonly logger: Logger;
  /** Aborted at the handler timeout or at shutdown. */
  readonly signal: AbortSignal;
  /** 1 for the first try; higher when the dispatcher retries a failed handler. */
  readonly attempt: number;
  /** This adapter's plugin data for this request: fresh at the start of each attempt, and kept current by the writes below. */
  readonly data: PluginData | undefined;
  /**
   * Compare-and-swap update of this request's plugin data (`modify` must be pure: a conflict
   * applies it again to fresh data). Bound to shutdown, not to this attempt, so an outcome is
   * recorded even after the attempt timed out.
   */
  updateData(modify: (current: PluginData | undefined) => PluginData | undefined): Promise<PluginData | undefined>;
  /**
   * Runs one side effect (a post, a note, an incident) at most once per `name` for this request,
   * exactly once where `options.find` can ask the service whether it happened: it is recorded in
   * plugin data before it runs and after. Resolves to its result (what `run` returned or `find`
   * found), also when it was done by an earlier attempt, a crashed process or another replica.
   */
  once(name: string, run: (signal: AbortSignal | undefined) => Promise<string | void>, options?: EffectOptions): Promise<string>;
}

/**
 * Each step of a request (announce, reviews, resolution) is recorded only after its handler
 * succeeded, so a handler is called again after a crash, a timeout or a failure: make every side
 * effect inside it go through `ev.once`, and repeatable work (re-rendering a message, resolving
 * an incident) simply repeatable. Failed handlers are retried with backoff (`ev.attempt` counts),
 * and the reconciliation tries again later whatever is still unrecorded.
 */
export interface AdapterHandlers {
  /** Live checks for `teleport-plugin check` and start-up (token valid, scopes, channels...). */
  check?(signal: AbortSignal): Promise<CheckItem[]>;
  /** Announce a request this adapter is responsible for (it created its plugin data). */
  onPending?(request: AccessRequest, ev: EventContext): Promise<void>;
  /** Reviews beyond those delivered (`reviews_count`), in order. */
  onReviewed?(request: AccessRequest, added: readonly AccessReview[], ev: EventContext): Promise<void>;
  /** APPROVED, DENIED or PROMOTED. Recorded (`resolution`) once this returns. */
  onResolved?(request: AccessRequest, ev: EventContext): Promise<void>;
  /** The request was deleted while still unresolved (expiry). Only its plugin data remains, still writable. */
  onExpired?(requestId: string, ev: EventContext): Promise<void>;
  /**
   * A follow-up of a pending request fell due (a reminder, an escalation; `[reminders]`): called
   * like the other handlers, again after a failure, so every side effect goes through `ev.once`.
   * Recorded as done (`followup/<step id>` in plugin data) once this returns.
   */
  onFollowUp?(request: AccessRequest, step: FollowUpStep, ev: EventContext): Promise<void>;
  /**
   * Access List review reminders: how this adapter reaches an owner (the messaging kit builds it).
   * The runtime decides when and whom, and keeps the record in plugin data (kind `access_list`).
   */
  accessListReminders?: AccessListReminderSender;
  /** Served by the shared HTTP server under `/<adapter name>/`. */
  routes?: readonly WebhookRoute[];
  /** Called once the watch stream is initialised (background work may start here). */
  start?(): Promise<void>;
  /** Called at shutdown, before onClose callbacks. */
  stop?(): Promise<void>;
}

export interface CheckItem {
  name: string;
  ok: boolean;
  /** Works, but deserves attention (e.g. an unauthenticated webhook allowed on purpose). */
  warning?: boolean;
  /** Plain words: what is wrong and how to fix it, or what was verified. */
  detail?: string;
}

export interface WebhookRequest {
  method: string;
  /** Path below `/<adapter>`, starting with `/`. */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The exact bytes received (signature checks need them). */
  rawBody: Buffer;
  remoteAddress: string | undefined;
}

export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON. */
  body?: string | Buffer | object;
}

export interface WebhookRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Relative to `/<adapter>`, e.g. `/` or `/interactivity`. */
  path: string;
  /**
   * The handler authenticates its callers itself (e.g. Slack's request signature), so the
   * shared server's `[http] basic_auth` is not required on this route. Default false.
   */
  selfAuthenticated?: boolean;
  /** Largest body accepted on this route (default: the server's, 1 MiB); 413 beyond it. */
  maxBodyBytes?: number;
  /**
   * Also serve this route at an absolute path, for webhook URLs the Go plugins used (Jira posts
   * to `/`, GitLab to `/webhook`), so a swap needs no change on the service's side. The first
   * adapter to claim a path keeps it; a second claim is logged and ignored.
   */
  legacyPath?: string;
  handle(req: WebhookRequest): Promise<WebhookResponse>;
}

/**
 * Demo support: start a fake of the adapter's service (from @teleport-plugin/testkit, passed in
 * by the CLI so the adapter needs no runtime dependency on it) and return the config section
 * that points the adapter at it.
 */
export interface DemoProvider {
  start(kit: DemoKit): Promise<DemoService>;
}

export interface DemoKit {
  /** The @teleport-plugin/testkit module namespace. */
  readonly testkit: unknown;
  /** The running fake Teleport (testkit FakeTeleport). */
  readonly teleport: unknown;
  readonly logger: Logger;
  /**
   * The demo's one HTTP server (plain HTTP on 127.0.0.1), shared by every adapter that takes
   * webhooks: `listenAddr` for `[http] listen_addr`, `url` for what the fake service calls
   * (routes are under `<url>/<adapter>/`). Absent with an older CLI: pick a port yourself.
   */
  readonly http?: { readonly listenAddr: string; readonly url: string };
  /** The fake cluster, for demos that adjust it (roles, annotations) or read it. Absent with an older CLI. */
  readonly cluster?: DemoCluster;
}

/** What a demo may do to the demo's fake Teleport (testkit's `demoCluster`). */
export interface DemoCluster {
  /** Adds `verbs` on `resource` to the plugin's roles (e.g. `access_request` `update`, to decide from a ticket). */
  grantPlugin(resource: string, verbs: readonly string[]): void;
  /** Adds request annotations to every role that may request roles (e.g. PagerDuty's service names). */
  annotateRequesterRoles(annotations: Readonly<Record<string, string[]>>): void;
  /** The names of the cluster's users that are email addresses. */
  emailUsers(): string[];
  /** A request's plugin data under `plugin`, as Teleport stores it. */
  pluginData(requestId: string, plugin: string): Record<string, string> | undefined;
  /** Resolves true once `predicate` holds (checked as the cluster changes), false after `timeoutMs`. */
  waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean>;
}

export interface DemoService {
  /** The adapter's TOML table, as parsed values (e.g. `{ token: 'xoxb-demo', api_url: '...' }`). */
  section: Record<string, unknown>;
  /** Extra top-level tables to merge into the demo config (e.g. `role_to_recipients`). */
  topLevel?: Record<string, unknown>;
  /**
   * Decides a pending request the way the service's own users would (a Jira issue moved to
   * Approved, whose webhook approves it), for the demo's "to be approved" request. Resolves to a
   * line saying what happened, or undefined when the service has nothing to do with the request
   * (then the demo's reviewer approves it in Teleport). Optional.
   */
  approve?(requestId: string): Promise<string | undefined>;
  /**
   * Denies a pending request in the service, as `approve` approves one (a GitLab issue labelled
   * "Teleport: Denied"), for the demo's "to be denied" request. Optional.
   */
  deny?(requestId: string): Promise<string | undefined>;
  /** Human-readable lines describing what the fake service received so far. */
  describe(): string[];
  close(): Promise<void>;
}
