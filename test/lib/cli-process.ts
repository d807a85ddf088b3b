import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeTeleport } from '@teleport-plugin/testkit';

/** The built CLI entry point (this file runs from test/dist/lib). */
export const CLI_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'dist', 'src', 'bin.js');
/** The `teleport-plugin` command as installed (bin/teleport-plugin.js: starts Node with the CLI's flags). */
export const CLI_COMMAND = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'cli', 'bin', 'teleport-plugin.js');

export interface CliProcessOptions {
  /** Where `--plugin <name>` resolves from; the test's own cwd if unset. */
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
}

/** The `teleport-plugin` command as a child process, stdout and stderr gathered into one log. */
export class CliProcess {
  readonly child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[], options: CliProcessOptions = {}) {
    this.child = spawn(process.execPath, [CLI_BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    // 'close', not 'exit': by then the pipes are drained, so `output` is complete.
    this.exited = new Promise((resolve) => this.child.on('close', (code) => resolve(code)));
  }

  /** SIGTERM (unless it already ended) and its exit code. */
  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    return this.exited;
  }
}

/**
 * Starts the CLI and resolves once it has opened a new watch on `tp`: requests created from then
 * on are seen live or by the re-list. Rejects with the CLI's log if it exits first or times out.
 */
export async function startWatching(tp: FakeTeleport, args: string[], options: CliProcessOptions = {}, timeoutMs = 15_000): Promise<CliProcess> {
  // Counted before the spawn, so a watch left over from an earlier run cannot satisfy the wait.
  const watchesBefore = tp.calls.filter((c) => c.method === 'WatchEvents').length;
  const cli = new CliProcess(args, options);
  const watching = tp
    .waitFor(() => tp.calls.filter((c) => c.method === 'WatchEvents').length > watchesBefore && tp.openWatchCount > 0, timeoutMs, 'the plugin to watch')
    .catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${cli.output}`);
    });
  const died = cli.exited.then((code) => {
    throw new Error(`plugin exited early (${code}):\n${cli.output}`);
  });
  try {
    await Promise.race([watching, died]);
  } catch (err) {
    // Not left running: the caller never gets a handle to stop it.
    await cli.stop();
    throw err;
  }
  return cli;
}
