// Public entry of @teleport-plugin/core. Hand-picked exports only.
export { PluginError, isPluginError, isAlreadyReviewed, errorMessage, ALREADY_REVIEWED_SUFFIX } from './errors.js';
export type { ErrorCode, PluginErrorOptions } from './errors.js';
export { defineAdapter } from './adapter.js';
export type {
  Adapter,
  AdapterContext,
  AdapterHandlers,
  CheckItem,
  DemoKit,
  DemoProvider,
  DemoService,
  EventContext,
  PluginDataLayout,
  Resolution,
  TeleportActions,
  WebhookRequest,
  WebhookResponse,
  WebhookRoute,
} from './adapter.js';
export type { ConfigContext, ConfigSection, StringOptions } from './config/section.js';
export type { Logger, LogFields } from './log/logger.js';
export type { PluginDataStore } from './store/types.js';
export type * from './teleport/types.js';
// Config, logging and adapter loading (config/, log/, adapter-loader.ts).
export { loadConfig, parseConfig, CORE_SECTIONS, PLUGIN_OWNED_SECTIONS } from './config/load-config.js';
export type { LoadedConfig, LoadConfigOptions } from './config/load-config.js';
export { selectPlugins } from './config/select-plugins.js';
export { checkHttpTls } from './config/http-section.js';
export { parseDuration } from './config/duration.js';
export { toToml } from './config/to-toml.js';
export type { SecretOptions } from './config/section.js';
export { createLogger, silentLogger } from './log/create-logger.js';
export type { CreateLoggerOptions, RootLogger } from './log/create-logger.js';
export { createCaptureLogger } from './log/capture-logger.js';
export type { CaptureLogger, CapturedLogEntry } from './log/capture-logger.js';
export { DEFAULT_LOG_CONFIG, LOG_SEVERITIES } from './log/log-config.js';
export type { LogConfig, LogFormat, LogSeverity } from './log/log-config.js';
export { registerSecret, redactString, REDACTED } from './log/redaction.js';
export { loadAdapter, loadAdapterInfo } from './adapter-loader.js';
export type { LoadAdapterOptions, LoadedAdapter } from './adapter-loader.js';

// Watch-and-review loop, plugin data and HTTP (runtime host).
export { startRuntime } from './host.js';
export type { Runtime, RuntimeOptions } from './host.js';
export { DecorrelatedBackoff, sleep } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { createPluginDataStore } from './store/pluginDataStore.js';
export type { PluginDataStoreOptions } from './store/pluginDataStore.js';
export { accessRequestSnapshot, decodeAccessRequestData } from './plugindata/accessRequestSnapshot.js';
export type { AccessRequestData } from './plugindata/accessRequestSnapshot.js';
export { ticketSnapshot } from './plugindata/ticketSnapshot.js';
export {
  REVIEWS_COUNT_KEY,
  RESOLUTION_KEY,
  RESOLVE_REASON_KEY,
  formatReviewsCount,
  parseReviewsCount,
  upperResolutionTag,
  lowerResolutionTag,
  resourceIdString,
  goJson,
} from './plugindata/fields.js';
export { Watcher, isConnectionProblem } from './watcher/watcher.js';
export type { WatcherEvent, WatcherOptions } from './watcher/watcher.js';
export { Dispatcher } from './dispatcher/dispatcher.js';
export type { DispatchTarget, DispatcherOptions, RetryPolicy } from './dispatcher/dispatcher.js';
export { KeyedQueue } from './dispatcher/keyedQueue.js';
export { startHttpServer, parseListenAddr } from './http/server.js';
export type { HttpServerOptions, ReadinessReport, RuntimeHttpServer } from './http/server.js';
export { createRuntimeMetrics } from './http/metrics.js';
export type { RuntimeMetrics } from './http/metrics.js';
export type { HttpServerConfig } from './http/types.js';
export { createTeleportClient } from './teleport/client.js';
export type { ConnectedTeleportClient, TeleportClientOptions } from './teleport/client.js';
export { loadIdentity, loadIdentityFile, loadTlsTrio, parseIdentityFile, assertIdentityValid } from './teleport/identity.js';
export type { Identity } from './teleport/identity.js';
export { authAlpnProtocol, TELEPORT_API_DOMAIN } from './teleport/dial.js';
export { requestWebLink } from './teleport/links.js';

// Access Monitoring Rules (amr/): the condition language and schedules. Pure, no I/O.
export { compileRule } from './amr/compileRule.js';
export type { CompiledRule, CompileRuleResult, RuleCompileFailure, RuleOutcome } from './amr/compileRule.js';
export { matchingRules } from './amr/matchingRules.js';
export { buildConditionContext } from './amr/buildConditionContext.js';
export type { ConditionContext, ConditionContextInput } from './amr/buildConditionContext.js';
export { parseCondition } from './amr/parseCondition.js';
export type { ParsedCondition, ParseConditionResult } from './amr/parseCondition.js';
export { ConditionError } from './amr/conditionError.js';
export { goRfc822 } from './render/goRfc822.js';
