import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { PluginError, errorMessage, type ErrorCode } from '../errors.js';

/**
 * gRPC status -> ErrorCode, as Teleport's trail package maps its trace errors (shared spec §9).
 * DEADLINE_EXCEEDED is our own per-call deadline, so it is a TIMEOUT rather than UNKNOWN.
 */
const CODES: ReadonlyMap<number, ErrorCode> = new Map<number, ErrorCode>([
  [Status.NOT_FOUND, 'NOT_FOUND'],
  [Status.ALREADY_EXISTS, 'ALREADY_EXISTS'],
  [Status.PERMISSION_DENIED, 'ACCESS_DENIED'],
  [Status.INVALID_ARGUMENT, 'BAD_PARAMETER'],
  [Status.FAILED_PRECONDITION, 'COMPARE_FAILED'],
  [Status.UNAVAILABLE, 'CONNECTION_PROBLEM'],
  [Status.RESOURCE_EXHAUSTED, 'LIMIT_EXCEEDED'],
  [Status.UNIMPLEMENTED, 'NOT_IMPLEMENTED'],
  [Status.DEADLINE_EXCEEDED, 'TIMEOUT'],
]);

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number' && 'details' in err;
}

/**
 * Keeps the server's own message LAST (callers match "has already reviewed this request" by
 * suffix) and prefixes the method for context. `dialError` explains an UNAVAILABLE when the last
 * connection attempt failed for a reason we know (CA mismatch, refused certificate, ...).
 */
export function fromGrpcError(err: unknown, method: string, dialError?: PluginError): PluginError {
  if (err instanceof PluginError) return err;
  if (!isServiceError(err)) {
    return new PluginError('UNKNOWN', `${method}: ${errorMessage(err)}`, { cause: err });
  }
  const code = CODES.get(err.code) ?? 'UNKNOWN';
  const serverMessage = err.details || Status[err.code] || 'unknown error';
  if (code === 'CONNECTION_PROBLEM' && dialError) {
    return new PluginError(code, `${method}: ${serverMessage} (last connection attempt: ${dialError.message})`, {
      cause: dialError,
      details: { method, grpcCode: err.code, dialCode: dialError.code },
    });
  }
  return new PluginError(code, `${method}: ${serverMessage}`, { cause: err, details: { method, grpcCode: err.code } });
}
