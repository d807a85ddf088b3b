import * as grpc from '@grpc/grpc-js';
import { loadTeleportProto } from '@teleport-plugin/core/internal/proto';
import { API_DOMAIN, type UserIdentity } from './pki.js';
import type { FakeTeleport } from './fake-teleport.js';

/**
 * A decoded protobuf message as proto-loader hands it over (plain objects, PascalCase or
 * snake_case fields). The raw client is the untyped view of the wire on purpose: tests call any
 * RPC with a literal and assert on any path of the answer, without core's typed client.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- untyped wire messages, by design (above)
export type Decoded = any;

/**
 * A bare grpc-js client for the fake (direct mutual TLS, SNI `teleport.cluster.local`), for tests
 * that must not depend on the core client: drive the fake as a real cluster would be driven.
 */
export interface RawTeleportClient {
  readonly identity: UserIdentity;
  /** The generated proto.AuthService client (untyped). */
  readonly auth: grpc.Client;
  /** The generated teleport.users.v1.UsersService client (untyped). */
  readonly users: grpc.Client;
  /** The generated teleport.accessmonitoringrules.v1.AccessMonitoringRulesService client (untyped). */
  readonly accessMonitoringRules: grpc.Client;
  /** Unary call on proto.AuthService, e.g. `call('Ping', {})`. */
  call<T = Decoded>(method: string, request: unknown, metadata?: Record<string, string>): Promise<T>;
  /** Unary call on teleport.users.v1.UsersService. */
  callUsers<T = Decoded>(method: string, request: unknown): Promise<T>;
  /** Unary call on teleport.accessmonitoringrules.v1.AccessMonitoringRulesService. */
  callAccessMonitoringRules<T = Decoded>(method: string, request: unknown): Promise<T>;
  /** Server-streaming call on proto.AuthService. */
  stream<T = Decoded>(method: string, request: unknown, metadata?: Record<string, string>): grpc.ClientReadableStream<T>;
  /** Server-streaming call collected until the stream ends. */
  collect<T = Decoded>(method: string, request: unknown): Promise<T[]>;
  close(): void;
}

type UnaryFn = (req: unknown, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;
type StreamFn = (req: unknown, md: grpc.Metadata) => grpc.ClientReadableStream<unknown>;

function md(values: Record<string, string> | undefined): grpc.Metadata {
  const m = new grpc.Metadata();
  for (const [k, v] of Object.entries(values ?? {})) m.set(k, v);
  return m;
}

export async function rawTeleportClient(
  tp: FakeTeleport,
  opts: { user?: string; identity?: UserIdentity; addr?: string; channelOptions?: grpc.ChannelOptions } = {},
): Promise<RawTeleportClient> {
  const identity = opts.identity ?? (await tp.issueIdentity({ user: opts.user ?? 'access-plugin' }));
  const creds = grpc.credentials.createSsl(Buffer.from(tp.pki.hostCaPem()), Buffer.from(identity.privateKeyPem), Buffer.from(identity.tlsCertPem));
  const options: grpc.ChannelOptions = {
    'grpc.ssl_target_name_override': API_DOMAIN,
    'grpc.default_authority': API_DOMAIN,
    ...opts.channelOptions,
  };
  const { grpcObject } = loadTeleportProto();
  const Auth = (grpcObject['proto'] as grpc.GrpcObject)['AuthService'] as grpc.ServiceClientConstructor;
  const Users = (((grpcObject['teleport'] as grpc.GrpcObject)['users'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject)['UsersService'] as grpc.ServiceClientConstructor;
  const Rules = (((grpcObject['teleport'] as grpc.GrpcObject)['accessmonitoringrules'] as grpc.GrpcObject)['v1'] as grpc.GrpcObject)[
    'AccessMonitoringRulesService'
  ] as grpc.ServiceClientConstructor;
  const addr = opts.addr ?? tp.addr;
  const auth = new Auth(addr, creds, options);
  const users = new Users(addr, creds, options);
  const accessMonitoringRules = new Rules(addr, creds, options);
  const unary = <T>(client: grpc.Client, method: string, request: unknown, metadata?: Record<string, string>): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, UnaryFn>)[method];
      if (!fn) return reject(new Error(`no method ${method}`));
      fn.call(client, request, md(metadata), (err, res) => (err ? reject(err) : resolve(res as T)));
    });
  const stream = <T>(method: string, request: unknown, metadata?: Record<string, string>): grpc.ClientReadableStream<T> => {
    const fn = (auth as unknown as Record<string, StreamFn>)[method];
    if (!fn) throw new Error(`no method ${method}`);
    return fn.call(auth, request, md(metadata)) as grpc.ClientReadableStream<T>;
  };
  return {
    identity,
    auth,
    users,
    accessMonitoringRules,
    call: (method, request, metadata) => unary(auth, method, request, metadata),
    callUsers: (method, request) => unary(users, method, request),
    callAccessMonitoringRules: (method, request) => unary(accessMonitoringRules, method, request),
    stream,
    collect: <T>(method: string, request: unknown) =>
      new Promise<T[]>((resolve, reject) => {
        const out: T[] = [];
        const s = stream<T>(method, request);
        s.on('data', (d: T) => out.push(d));
        s.on('error', reject);
        s.on('end', () => resolve(out));
      }),
    close() {
      auth.close();
      users.close();
      accessMonitoringRules.close();
    },
  };
}
