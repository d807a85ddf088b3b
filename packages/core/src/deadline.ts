import { PluginError } from './errors.js';

/**
 * Resolves or rejects with `work`, or rejects with a TIMEOUT PluginError (`<what> did not finish
 * within <ms> ms`) once `ms` have passed; the work is abandoned, not cancelled. The timer never
 * keeps the process alive.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PluginError('TIMEOUT', `${what} did not finish within ${ms} ms`)), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
