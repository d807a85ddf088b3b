// The plugin as real child processes (`teleport-plugin start -c <config>`), each logging to its
// own file, and a safety net: whatever way this process ends, every child it started is
// SIGKILLed and registered temp dirs are removed.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { CLI_BIN } from '../lib/cli-process.js';

const liveChildren = new Set<ChildProcess>();
const exitCleanups = new Set<() => void>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // 'exit' handlers must be synchronous: kill and rmSync are.
  process.on('exit', () => {
    for (const child of liveChildren) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const fn of exitCleanups) {
      try {
        fn();
      } catch {
        /* best effort */
      }
    }
  });
}

/** Removes `dir` when this process exits, unless the returned function is called first. */
export function removeOnExit(dir: string): () => void {
  hookExit();
  const fn = (): void => rmSync(dir, { recursive: true, force: true });
  exitCleanups.add(fn);
  return () => exitCleanups.delete(fn);
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface PluginProcessOptions {
  /** Where `--plugin <name>` resolves from. */
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go here (appended). */
  logFile: string;
}

/** One `teleport-plugin` child process. */
export class PluginProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  /** Set before we kill or stop it on purpose, so its exit is not taken for a crash. */
  expectedExit = false;
  private done = false;

  constructor(
    readonly name: string,
    args: readonly string[],
    readonly options: PluginProcessOptions,
  ) {
    hookExit();
    const fd = openSync(options.logFile, 'a');
    try {
      this.child = spawn(process.execPath, [CLI_BIN, ...args], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', fd, fd],
      });
    } finally {
      // The child holds its own copy of the descriptor.
      closeSync(fd);
    }
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.done = true;
        liveChildren.delete(this.child);
        resolve({ code, signal });
      });
      this.child.once('error', () => {
        this.done = true;
        liveChildren.delete(this.child);
        resolve({ code: null, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  /** SIGKILL, as a crash or the OOM killer would; resolves once it is gone. */
  async kill(): Promise<ExitInfo> {
    this.expectedExit = true;
    if (this.running) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** SIGTERM (graceful), then SIGKILL if it is not gone within `graceMs`. */
  async stop(graceMs = 20_000): Promise<ExitInfo> {
    this.expectedExit = true;
    if (!this.running) return this.exited;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const forced = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        if (this.running) this.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([this.exited, forced]);
    clearTimeout(timer);
    return this.exited;
  }
}
