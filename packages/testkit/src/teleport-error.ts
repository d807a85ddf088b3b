import { status } from '@grpc/grpc-js';

/** Teleport's trace error kinds the fake raises (shared spec §9). */
export type TraceKind = 'NotFound' | 'AlreadyExists' | 'AccessDenied' | 'BadParameter' | 'CompareFailed' | 'ConnectionProblem' | 'LimitExceeded' | 'NotImplemented';

/** api/trail/trail.go mapping from trace errors to gRPC codes. */
const TRACE_TO_GRPC: Record<TraceKind, status> = {
  NotFound: status.NOT_FOUND,
  AlreadyExists: status.ALREADY_EXISTS,
  AccessDenied: status.PERMISSION_DENIED,
  BadParameter: status.INVALID_ARGUMENT,
  CompareFailed: status.FAILED_PRECONDITION,
  ConnectionProblem: status.UNAVAILABLE,
  LimitExceeded: status.RESOURCE_EXHAUSTED,
  NotImplemented: status.UNIMPLEMENTED,
};

/** An error the fake cluster raises; travels as the matching gRPC status. */
export class FakeTeleportError extends Error {
  constructor(
    readonly kind: TraceKind,
    message: string,
  ) {
    super(message);
    this.name = 'FakeTeleportError';
  }

  get grpcCode(): status {
    return TRACE_TO_GRPC[this.kind];
  }
}

export const notFound = (m: string): FakeTeleportError => new FakeTeleportError('NotFound', m);
export const alreadyExists = (m: string): FakeTeleportError => new FakeTeleportError('AlreadyExists', m);
export const accessDenied = (m: string): FakeTeleportError => new FakeTeleportError('AccessDenied', m);
export const badParameter = (m: string): FakeTeleportError => new FakeTeleportError('BadParameter', m);
export const compareFailed = (m: string): FakeTeleportError => new FakeTeleportError('CompareFailed', m);
export const notImplemented = (m: string): FakeTeleportError => new FakeTeleportError('NotImplemented', m);
