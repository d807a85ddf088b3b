import { spawn } from 'node:child_process';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/bin.js');
/** The workspace root: adapters resolve from here like from a user's project. */
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI to completion (killed after `timeoutMs`). */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const child = startCli(args, options);
  return child.result;
}

export interface RunningCli {
  child: ReturnType<typeof spawn>;
  result: Promise<RunResult>;
  /** stdout+stderr so far. */
  output(): string;
  /** Resolves when stderr+stdout matched `pattern` (rejects at the timeout or exit). */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function startCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): RunningCli {
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env };
  if (options.env?.['TELEPORT_PLUGINS'] === undefined) delete env['TELEPORT_PLUGINS'];
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString();
    for (const l of listeners) l();
  });
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    for (const l of listeners) l();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const result = new Promise<RunResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const l of listeners) l();
      resolve({ code, signal, stdout, stderr });
    });
  });
  let exited = false;
  void result.then(() => {
    exited = true;
  });
  return {
    child,
    result,
    output: () => stdout + stderr,
    waitForOutput(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(stdout + stderr)) {
            done();
            resolve();
          } else if (exited) {
            done();
            reject(new Error(`exited before ${pattern}: ${stdout}${stderr}`));
          }
        };
        const t = setTimeout(() => {
          done();
          reject(new Error(`timed out waiting for ${pattern}: ${stdout}${stderr}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(t);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/**
 * A third-party adapter as a plain ESM file (no build, no dependencies): it reads `[<name>]`,
 * answers `check`, and appends the events it receives to `<events>` so tests can wait on them.
 */
export async function writeFixtureAdapter(dir: string, name: string, options: { withExample?: boolean } = {}): Promise<string> {
  const file = path.join(dir, `${name}.mjs`);
  const example = options.withExample === false ? '' : `exampleConfig: () => '[${name}]\\n# the greeting to log\\ngreeting = "hello"\\n',`;
  await fs.writeFile(
    file,
    `import { appendFileSync } from 'node:fs';
export default {
  name: ${JSON.stringify(name)},
  version: '9.9.9',
  ${example}
  parseConfig(section) {
    return {
      greeting: section.requireString('greeting', { description: 'a word to log' }),
      token: section.secret('token'),
      fail: section.bool('fail_check', false),
      events: section.string('events_file'),
    };
  },
  async setup(ctx) {
    const record = (line) => { if (ctx.config.events) appendFileSync(ctx.config.events, line + '\\n'); };
    // Careless on purpose: the secret goes into the message text, where only redaction can hide it.
    if (ctx.config.token) ctx.logger.debug('fixture using credential ' + ctx.config.token);
    return {
      async check() {
        return [
          { name: 'greeting', ok: true, detail: ctx.config.greeting + ' from cluster ' + ctx.cluster.clusterName },
          { name: 'service', ok: !ctx.config.fail, detail: ctx.config.fail ? 'service refused the token' : 'token accepted' },
        ];
      },
      async onPending(req, ev) { ev.logger.info('fixture saw request'); record('pending ' + req.id); },
      async onResolved(req) { record('resolved ' + req.id + ' ' + req.state); },
    };
  },
};
`,
  );
  return file;
}
