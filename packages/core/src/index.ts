// Public entry of @teleport-plugin/core. Hand-picked exports only.
export { PluginError, isPluginError, isAlreadyReviewed, isOutcomeUnknown, isRetryable, affectsEveryCall, errorMessage, ALREADY_REVIEWED_SUFFIX } from './errors.js';
export type { ErrorCode, PluginErrorOptions, ServiceFacts } from './errors.js';
// Outbound policy: every client's calls to its service (outbound/).
export { callService } from './outbound/callService.js';
export type { CallServiceOptions } from './outbound/callService.js';
export { DEFAULT_OUTBOUND_POLICY } from './outbound/policy.js';
export type { OutboundCall, OutboundPolicy } from './outbound/policy.js';
export { API_FETCH_INIT, httpFailure, networkFailure, refusal, certainlyNotSent, networkCode } from './outbound/serviceFailure.js';
export type { HttpFailureInput } from './outbound/serviceFailure.js';
export { fetchFailure } from './outbound/fetchFailure.js';
export { retryAfterMs, headerSource } from './outbound/retryAfter.js';
export type { HeaderSource } from './outbound/retryAfter.js';
export { defineAdapter } from './adapter.js';
export type {
  Adapter,
  AdapterContext,
  AdapterHandlers,
  CheckItem,
  DemoKit,
  DemoCluster,
  DemoProvider,
  DemoService,
  EffectOptions,
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
export type { PluginDataStore } from './ledger/pluginDataStoreTypes.js';
export type * from './teleport/types.js';
// Config, logging and adapter loading (config/, log/, adapter-loader.ts).
export { loadConfig, parseConfig, CORE_SECTIONS } from './config/load-config.js';
export type { LoadedConfig, LoadConfigOptions } from './config/load-config.js';
export { selectPlugins } from './config/select-plugins.js';
export { readInstances, INSTANCES_SECTION } from './config/instances.js';
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
export { loadAdapter, loadAdapterInfo, readAdapterTables } from './adapter-loader.js';
export type { LoadAdapterOptions, LoadedAdapter } from './adapter-loader.js';

// Watch-and-review loop, plugin data and HTTP (runtime host).
export { startRuntime } from './host.js';
export type { Runtime, RuntimeOptions } from './host.js';
export { DecorrelatedBackoff, sleep } from './backoff.js';
export { withDeadline } from './deadline.js';
export type { BackoffOptions } from './backoff.js';
export { createPluginDataStore } from './ledger/pluginDataStore.js';
export type { PluginDataStoreOptions } from './ledger/pluginDataStore.js';
export { accessRequestSnapshot, decodeAccessRequestData } from './ledger/accessRequestSnapshot.js';
export type { AccessRequestData } from './ledger/accessRequestSnapshot.js';
export { ticketSnapshot } from './ledger/ticketSnapshot.js';
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
  rfc3339Nano,
} from './ledger/fields.js';
export { Watcher, isConnectionProblem } from './watcher/watcher.js';
export type { WatcherEvent, WatcherOptions } from './watcher/watcher.js';
export { Dispatcher } from './dispatcher/dispatcher.js';
export type { DispatchTarget, DispatcherOptions, RetryPolicy } from './dispatcher/dispatcher.js';
export { Reconciler } from './dispatcher/reconciler.js';
export type { ReconcileReport, ReconcilerOptions } from './dispatcher/reconciler.js';
export { ANNOUNCED_KEY, isUnfinished } from './dispatcher/lifecycle.js';
export { RequestLedger } from './ledger/requestLedger.js';
export type { LedgerOptions, OnceOptions } from './ledger/requestLedger.js';
export { KnownData } from './ledger/knownData.js';
export { parseEffectRecord, effectKey, hasRunningEffects } from './ledger/effectRecord.js';
export type { EffectRecord } from './ledger/effectRecord.js';
export { KeyedQueue } from './dispatcher/keyedQueue.js';
export { startHttpServer, parseListenAddr } from './http/server.js';
export { freeLoopbackPort, demoHttpAddress } from './http/freePort.js';
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

// Messaging kit: chat and mail adapters (messaging/).
export { messagingHandlers } from './messaging/messagingHandlers.js';
export type { MessagingOptions } from './messaging/messagingHandlers.js';
export type { MessagingBot, ChatRecipient, ReviewReply } from './messaging/bot.js';
export { goMessagesLayout, MESSAGES_KEY } from './messaging/messageLayout.js';
export type { MessageLayout, MessageRef } from './messaging/messageLayout.js';
export { messageFromRequest, messageFromData, statusOf, parseLoginsByRole, LOGINS_BY_ROLE_KEY } from './messaging/requestMessage.js';
export type { RequestMessage, MessageStatus } from './messaging/requestMessage.js';
export { rawRecipients, isEmail } from './messaging/recipients.js';
export { escapeBlock, escapeInline, truncateRunes } from './messaging/escape.js';
export { LoginsByRole, expandLogin } from './messaging/loginsByRole.js';
export {
  ChatUserMapper,
  submitChatReview,
  replyForError,
  REPLY_ALREADY_REVIEWED,
  REPLY_INSUFFICIENT,
  REPLY_RESOLVED,
  REPLY_UNKNOWN,
  REPLY_OWN_REQUEST,
  REPLY_SUBMITTED,
  REPLY_LONG_TERM,
  REPLY_NO_USER,
  REPLY_NO_TRAIT_MATCH,
  REPLY_SEVERAL_TRAIT_MATCHES,
  REPLY_LOOKUP_FAILED,
} from './messaging/chatReviews.js';
export type { ChatUserMapperOptions, UserMapping } from './messaging/chatReviews.js';
export { TraitUserIndex, TRAIT_INDEX_TTL_MS, TRAIT_INDEX_MISS_REFRESH_MS } from './messaging/traitUserIndex.js';
export type { TraitLookup } from './messaging/traitUserIndex.js';
export { TtlCache } from './cache/ttlCache.js';
export type { TtlCacheOptions } from './cache/ttlCache.js';

// Ticketing kit: incident and issue trackers (ticketing/).
export { ticketHandlers } from './ticketing/ticketHandlers.js';
export type { TicketingOptions } from './ticketing/ticketHandlers.js';
export { encodeTicket, decodeTicket } from './ticketing/tracker.js';
export type { TicketTracker, TicketRef, TicketNote, TicketOutcome } from './ticketing/tracker.js';
export { applyTicketDecision } from './ticketing/ticketDecision.js';
export type { TicketDecisionOutcome } from './ticketing/ticketDecision.js';

// Routing and follow-up (routing/, followup/): Access Monitoring Rules for notifications,
// automatic reviews, dedupe, reminders and escalation, explain.
export { parseRoutingConfig, emptyRoutingConfig, ROUTING_SECTIONS } from './routing/config.js';
export type { RoutingConfig, FollowUpPlan } from './routing/config.js';
export { followUpNote, followUpText, formatWaiting } from './routing/types.js';
export type { AdapterRouting, RecipientDeclaration, RecipientPlan, FactProvider, FollowUpStep, FollowUpNote } from './routing/types.js';
export { RuleCache } from './routing/ruleCache.js';
export type { RuleCacheStatus, RuleCacheOptions } from './routing/ruleCache.js';
export { Router } from './routing/router.js';
export type { RouterOptions, Evaluation, ReviewDecision } from './routing/router.js';
export { AutomaticReviewer } from './routing/automaticReview.js';
export type { AutomaticReviewRecord } from './routing/automaticReview.js';
export { explainRequest, formatExplanation } from './routing/explain.js';
export type { Explanation, ExplainDeps, AdapterExplanation } from './routing/explain.js';
export { FollowUpScheduler } from './followup/scheduler.js';
export { dueSteps, followUpKey, isStepDone } from './followup/schedule.js';

// Access List review reminders (accesslists/): which lists are due, the Go Slack plugin's texts
// and plugin-data layout, and the job that sends one reminder per owner and window.
export { AccessListReminderJob, DEFAULT_FIRST_DELAY_MS, DEFAULT_REMINDER_INTERVAL_MS } from './accesslists/reminderJob.js';
export type { AccessListReminderSender, AccessListReminderJobOptions, ReminderDestination, ReminderTickReport } from './accesslists/reminderJob.js';
export { reminderText, reminderSubject } from './accesslists/reminderText.js';
export type { AccessListReminder, DueAccessList, ReminderTextStyle } from './accesslists/reminderText.js';
export { reviewWindow, DEFAULT_NOTIFY_BEFORE_MS } from './accesslists/reviewWindow.js';
export type { ReviewWindow } from './accesslists/reviewWindow.js';
export { readReminderRecord, writeReminderRecord, USER_NOTIFICATIONS_KEY, IN_FLIGHT_KEY } from './accesslists/reminderData.js';
export type { ReminderRecord, InFlightReminder } from './accesslists/reminderData.js';
export { accessListWebLink } from './teleport/links.js';
