import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Loads our subset of Teleport's protos (top-level `proto/` of the repository; copied into the
 * package as `proto/` when published). Options follow shared spec §2: upstream's PascalCase
 * names kept, enums as strings, int64 as strings, defaults filled in, oneof name reported.
 */
export const PROTO_FILES = [
  'teleport/legacy/client/proto/authservice.proto',
  'teleport/users/v1/users_service.proto',
  'teleport/accessmonitoringrules/v1/access_monitoring_rules_service.proto',
  'teleport/accesslist/v1/accesslist_service.proto',
] as const;

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Directory holding `teleport/...proto`: the package's own copy, else the repository's. */
export function protoDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [
    path.resolve(here, '../../../proto'), // packages/core/proto (published package)
    path.resolve(here, '../../../../../proto'), // repository root (workspace)
  ];
  for (const dir of candidates) {
    if (existsSync(path.join(dir, PROTO_FILES[0]))) return dir;
  }
  throw new Error(`Teleport proto files not found (looked in ${candidates.join(', ')})`);
}

let cached: { definition: protoLoader.PackageDefinition; grpcObject: grpc.GrpcObject } | undefined;

export function loadTeleportProto(): { definition: protoLoader.PackageDefinition; grpcObject: grpc.GrpcObject } {
  if (!cached) {
    const definition = protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
    cached = { definition, grpcObject: grpc.loadPackageDefinition(definition) };
  }
  return cached;
}

/** Full gRPC method paths, as a real cluster serves them. */
export const AUTH_SERVICE = 'proto.AuthService';
export const USERS_SERVICE = 'teleport.users.v1.UsersService';
export const AMR_SERVICE = 'teleport.accessmonitoringrules.v1.AccessMonitoringRulesService';
export const ACCESS_LIST_SERVICE = 'teleport.accesslist.v1.AccessListService';
