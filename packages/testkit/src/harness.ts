import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  createCaptureLogger,
  createTeleportClient,
  startRuntime,
  type Adapter,
  type CaptureLogger,
  type ConnectedTeleportClient,
  type Logger,
  type Runtime,
  type RuntimeOptions,
} from '@teleport-plugin/core';
import { FakeTeleport, type PluginUserOptions } from './fake-teleport.js';

export interface HarnessOptions {
  adapters: Array<{ adapter: Adapter<unknown>; config: unknown }>;
  /** A running fake to use (the harness then leaves it running at stop()). Default: a new one. */
  teleport?: FakeTeleport;
  /** The plugin's Teleport user (default `access-plugin`) and its extra permissions. */
  pluginUser?: { name?: string } & PluginUserOptions;
  /** Default: a capture logger (see `logger.entries`). */
  logger?: Logger;
  /** Anything else for startRuntime (fast retries and reconnects are the defaults here). */
  runtimeOptions?: Partial<Omit<RuntimeOptions, 'teleport' | 'adapters'>>;
}

export interface Harness {
  readonly teleport: FakeTeleport;
  readonly client: ConnectedTeleportClient;
  readonly runtime: Runtime;
  /** The logger the runtime writes to (a CaptureLogger unless one was passed in). */
  readonly logger: Logger & Partial<Pick<CaptureLogger, 'entries'>>;
  /** Stops the runtime, closes the client, and closes the fake if the harness started it. */
  stop(): Promise<void>;
}

/**
 * Runs adapters the way the CLI does (real gRPC client over mutual TLS, one watch stream, the
 * real dispatcher) against a FakeTeleport, for adapter tests. Resolves once the watch is
 * initialised, so requests created afterwards are seen live.
 */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const ownsTeleport = options.teleport === undefined;
  const teleport = options.teleport ?? (await FakeTeleport.start());
  const dir = await mkdtemp(path.join(tmpdir(), 'tp-harness-'));
  const logger = options.logger ?? createCaptureLogger();
  let client: ConnectedTeleportClient | undefined;
  let runtime: Runtime | undefined;
  const cleanup = async (): Promise<void> => {
    await runtime?.stop(5000).catch(() => undefined);
    await client?.close().catch(() => undefined);
    if (ownsTeleport) await teleport.close();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const { name = FakeTeleport.PLUGIN_USER, ...perms } = options.pluginUser ?? {};
    teleport.addPluginUser(name, perms);
    const identityFile = await teleport.writeIdentityFile(dir, { user: name });
    client = await createTeleportClient({ addr: teleport.addr, identityFile }, logger);
    runtime = await startRuntime({
      handlerTimeoutMs: 10_000,
      retry: { attempts: 3, baseMs: 10, capMs: 200 },
      watch: { backoff: { baseMs: 20, capMs: 200 } },
      ...options.runtimeOptions,
      logger,
      teleport: client,
      adapters: options.adapters,
    });
    const started = runtime;
    await teleport.waitFor(() => started.readiness().watch.initialised, 10_000, 'the runtime to initialise its watch');
  } catch (err) {
    await cleanup();
    throw err;
  }
  const ready = { client: client!, runtime: runtime! };
  let stopped: Promise<void> | undefined;
  return {
    teleport,
    client: ready.client,
    runtime: ready.runtime,
    logger,
    stop: () => (stopped ??= cleanup()),
  };
}
