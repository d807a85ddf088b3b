import { PluginError } from '@teleport-plugin/core';

/**
 * The one line a fatal error gets on stderr. User mistakes (userFacing) never show a stack; other
 * errors show one only with --debug, where the whole cause chain is printed too.
 */
export function printFatal(err: unknown, options: { debug?: boolean } = {}): void {
  const message = err instanceof Error ? err.message : String(err);
  const userFacing = err instanceof PluginError && err.userFacing;
  let line = `teleport-plugin: error: ${message.split('\n')[0] ?? message}`;
  if (!userFacing && options.debug !== true) line += ' (run with --debug for details)';
  process.stderr.write(`${line}\n`);
  if (options.debug === true && err instanceof Error) {
    let cur: unknown = err;
    const seen = new Set<unknown>();
    while (cur instanceof Error && !seen.has(cur)) {
      seen.add(cur);
      process.stderr.write(`${cur.stack ?? cur.message}\n`);
      cur = cur.cause;
      if (cur instanceof Error) process.stderr.write('caused by: ');
    }
  }
}

/** A usage mistake on the command line. */
export function usageError(message: string): PluginError {
  return new PluginError('CONFIG', message, { userFacing: true });
}
