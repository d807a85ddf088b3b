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
