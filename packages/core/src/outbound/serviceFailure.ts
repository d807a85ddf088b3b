import { PluginError, errorMessage, type ErrorCode } from '../errors.js';
import type { OutboundCall } from './policy.js';

/**
 * Connection errors raised before a request left this host: the call certainly did not happen and
 * may be repeated whatever it is. Any other transport failure (reset, timeout, dropped connection)
 * may come after the service acted on it.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_INVALID_URL',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The system/undici code behind a fetch or SDK failure (`fetch failed` hides it in `cause`). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
  }
  return undefined;
}

/** Whether a transport failure certainly happened before anything was sent. */
export function certainlyNotSent(err: unknown): boolean {
  const code = networkCode(err);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

export interface HttpFailureInput {
  status: number;
  /** The service's own error code or short message, when its body says one. */
  serviceCode?: string;
  /** Longer explanation from the body (shown after the status). */
  detail?: string;
  retryAfterMs?: number;
  cause?: unknown;
  /** A 401/403 the user must fix (a wrong token): printed without a stack. */
  userFacing?: boolean;
}

/**
 * A service answered with an error status. 429 and 5xx are retryable; a 5xx to a call that is not
 * idempotent may have taken effect (outcome unknown); any other 4xx is final.
 */
export function httpFailure(call: OutboundCall, input: HttpFailureInput): PluginError {
  const { status } = input;
  const rateLimited = status === 429;
  const serverError = status >= 500;
  const code: ErrorCode = rateLimited ? 'RATE_LIMITED' : status === 404 ? 'NOT_FOUND' : status === 401 || status === 403 ? 'ACCESS_DENIED' : 'SERVICE_ERROR';
  const detail = [input.serviceCode, input.detail].filter((s) => s !== undefined && s !== '').join(': ');
  return new PluginError(code, `${call.service} ${call.operation}: HTTP ${status}${detail ? ` (${detail})` : ''}`, {
    cause: input.cause,
    userFacing: input.userFacing ?? false,
    service: {
      service: call.service,
      operation: call.operation,
      status,
      serviceCode: input.serviceCode,
      retryable: rateLimited || serverError,
      outcomeUnknown: serverError && !call.idempotent,
      retryAfterMs: input.retryAfterMs,
      ...(status === 401 ? { affectsEveryCall: true } : {}),
    },
  });
}

/**
 * A service answered "ok" at the HTTP level but refused the call (Slack's `{ok: false, error}`):
 * final unless the caller says the code is transient.
 */
export function refusal(
  call: OutboundCall,
  serviceCode: string,
  options: { retryable?: boolean; cause?: unknown; userFacing?: boolean; affectsEveryCall?: boolean } = {},
): PluginError {
  return new PluginError('SERVICE_ERROR', `${call.service} ${call.operation}: ${serviceCode}`, {
    cause: options.cause,
    userFacing: options.userFacing ?? false,
    service: {
      service: call.service,
      operation: call.operation,
      serviceCode,
      retryable: options.retryable ?? false,
      outcomeUnknown: false,
      ...(options.affectsEveryCall ? { affectsEveryCall: true } : {}),
    },
  });
}

/**
 * What every service API call passes to fetch: an API never redirects, so a redirect is an error
 * (networkFailure says which setting to fix) rather than a POST silently replayed as a GET; and
 * with no redirect to follow, undici sends the request as built instead of cloning its body first
 * (about a fifth of fetch's own CPU per call).
 */
export const API_FETCH_INIT = { redirect: 'error', window: null } as const satisfies RequestInit;

/** Undici's cause when a redirect meets `redirect: 'error'`. */
function isRedirectRefused(err: unknown): boolean {
  return err instanceof Error && err.message === 'fetch failed' && err.cause instanceof Error && err.cause.message === 'unexpected redirect';
}

/**
 * The call failed without an answer. If it certainly never left this host it is safe to repeat;
 * otherwise only an idempotent call is, and a write's outcome is unknown. A redirect (see
 * API_FETCH_INIT) is an answer: the configured address is not the API's, final and nothing done.
 */
export function networkFailure(call: OutboundCall, err: unknown): PluginError {
  if (isRedirectRefused(err)) {
    return new PluginError(
      'CONFIG',
      `${call.service} ${call.operation}: the service answered with a redirect: the configured URL is not its API address (https instead of http? a missing or extra path?)`,
      {
        cause: err,
        userFacing: true,
        service: { service: call.service, operation: call.operation, retryable: false, outcomeUnknown: false, affectsEveryCall: true },
      },
    );
  }
  const notSent = certainlyNotSent(err);
  const code = networkCode(err);
  const timedOut = err instanceof Error && (err.name === 'TimeoutError' || code === 'ETIMEDOUT' || code === 'ECONNABORTED' || code === 'UND_ERR_HEADERS_TIMEOUT');
  const what = timedOut ? 'no answer in time' : errorMessage(err instanceof Error && err.message === 'fetch failed' && err.cause ? err.cause : err);
  return new PluginError(
    timedOut ? 'TIMEOUT' : notSent ? 'UNREACHABLE' : 'CONNECTION_PROBLEM',
    `${call.service} ${call.operation}: ${what}${code && !what.includes(code) ? ` (${code})` : ''}`,
    {
      cause: err,
      service: {
        service: call.service,
        operation: call.operation,
        retryable: true,
        outcomeUnknown: !notSent && !call.idempotent,
      },
    },
  );
}
