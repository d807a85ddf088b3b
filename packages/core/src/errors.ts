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
  | 'SHUTDOWN';

export interface PluginErrorOptions {
  cause?: unknown;
  /** A mistake the user can fix (config, credentials, missing package): printed without a stack. */
  userFacing?: boolean;
  /** Extra structured context for logs (never secrets). */
  details?: Record<string, unknown>;
}

export class PluginError extends Error {
  override readonly name = 'PluginError';
  readonly code: ErrorCode;
  readonly userFacing: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: PluginErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.userFacing = options.userFacing ?? false;
    this.details = options.details;
  }
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
