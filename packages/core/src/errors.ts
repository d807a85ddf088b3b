/**
 * The one error class of teleport-plugin. Every layer wraps with what it knew (`cause` keeps the
 * chain); `code` is stable and machine-readable; `userFacing` marks a mistake the user can fix,
 * which the CLI prints as one line without a stack trace.
 */
export type ErrorCode =
  // Teleport server errors (mapped from gRPC status codes, shared spec §9)
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'ACCESS_DENIED'
  | 'BAD_PARAMETER'
  | 'COMPARE_FAILED'
  | 'CONNECTION_PROBLEM'
  | 'LIMIT_EXCEEDED'
  | 'NOT_IMPLEMENTED'
  | 'UNKNOWN'
  // Client-side connection and credential problems
  | 'IDENTITY_MISSING'
  | 'IDENTITY_UNREADABLE'
  | 'IDENTITY_INVALID'
  | 'CERT_EXPIRED'
  | 'CA_MISMATCH'
  | 'UNREACHABLE'
  | 'CERT_REFUSED'
  | 'SERVER_TOO_OLD'
  | 'TIMEOUT'
  // Runtime
  | 'CONFIG'
  | 'ADAPTER_NOT_FOUND'
  | 'ADAPTER_INVALID'
  | 'ADAPTER_FAILED'
  | 'SERVICE_ERROR'
  | 'RATE_LIMITED'
  | 'SHUTDOWN'
  // Delivery
  | 'BUSY';

export interface PluginErrorOptions {
  cause?: unknown;
  /** A mistake the user can fix (config, credentials, missing package): printed without a stack. */
  userFacing?: boolean;
  /** Extra structured context for logs (never secrets). */
  details?: Record<string, unknown>;
  /** Facts about a failed call to a service (see outbound/); undefined for other errors. */
  service?: ServiceFacts;
}

/**
 * What a failed call to a service (Slack, PagerDuty, Jira...) tells the layers above it: the
 * outbound policy decides on retries from these, the ledger decides whether an effect may have
 * happened, the dispatcher whether the handler is worth another try.
 */
export interface ServiceFacts {
  /** `Slack`, `PagerDuty`... */
  service: string;
  /** The call: `chat.postMessage`, `POST /incidents`. */
  operation: string;
  /** HTTP status, when the service answered. */
  status?: number;
  /** The service's own error code (`channel_not_found`, `Invalid Input Provided`). */
  serviceCode?: string;
  /** Trying again later may succeed (429, 5xx, network). */
  retryable: boolean;
  /** The call may have taken effect although it failed (no answer, or a 5xx to a write). */
  outcomeUnknown: boolean;
  /** How long the service asked us to wait (429 Retry-After / ratelimit-reset). */
  retryAfterMs?: number;
  /**
   * The failure is the adapter's, not this call's: a refused token or login, an untrusted
   * certificate. Every other call fails the same way until someone fixes it, so work is kept for
   * later (never skipped as one bad destination would be) and the adapter reports itself unhealthy.
   */
  affectsEveryCall?: boolean;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
  readonly code: ErrorCode;
  readonly userFacing: boolean;
  readonly details: Record<string, unknown> | undefined;
  readonly service: ServiceFacts | undefined;

  constructor(code: ErrorCode, message: string, options: PluginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.userFacing = options.userFacing ?? false;
    this.details = options.details;
    this.service = options.service;
  }
}

/** True when a failed call may nevertheless have taken effect on the service. */
export function isOutcomeUnknown(err: unknown): boolean {
  return isPluginError(err) && err.service?.outcomeUnknown === true;
}

/**
 * Whether trying again may help. Service failures say so themselves; other errors by their code:
 * a retry cannot fix what the user must (config, permissions) or a request that is gone.
 */
export function isRetryable(err: unknown): boolean {
  if (!isPluginError(err)) return true;
  if (err.service) return err.service.retryable;
  if (err.userFacing) return false;
  return !['NOT_FOUND', 'ACCESS_DENIED', 'BAD_PARAMETER', 'CONFIG', 'NOT_IMPLEMENTED', 'SHUTDOWN', 'ALREADY_EXISTS'].includes(err.code);
}

/** Whether a failure breaks every call of the adapter (see ServiceFacts.affectsEveryCall). */
export function affectsEveryCall(err: unknown): boolean {
  return isPluginError(err) && err.service?.affectsEveryCall === true;
}

export function isPluginError(err: unknown, code?: ErrorCode): err is PluginError {
  return err instanceof PluginError && (code === undefined || err.code === code);
}

/** Teleport recognises a repeated review only by this message suffix (shared spec §9). */
export const ALREADY_REVIEWED_SUFFIX = 'has already reviewed this request';

export function isAlreadyReviewed(err: unknown): boolean {
  return err instanceof Error && err.message.trimEnd().endsWith(ALREADY_REVIEWED_SUFFIX);
}

/** A short message for any thrown value. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
