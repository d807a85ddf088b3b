/** Anything with Fetch-style header access (fetch Response headers, a Map wrapper...). */
export interface HeaderSource {
  get(name: string): string | null | undefined;
}

/** Epoch seconds are larger than any sane relative wait: GitLab sends epoch, PagerDuty seconds. */
const EPOCH_THRESHOLD_S = 1_000_000_000;

/**
 * The wait a 429 asks for, in milliseconds: `Retry-After` (seconds or an HTTP date), else
 * `ratelimit-reset` / `x-ratelimit-reset` (seconds from now, or epoch seconds). Undefined when the
 * answer names no wait.
 */
export function retryAfterMs(headers: HeaderSource, now: number = Date.now()): number | undefined {
  const retryAfter = headers.get('retry-after')?.trim();
  if (retryAfter) {
    if (/^\d+(\.\d+)?$/.test(retryAfter)) return Math.ceil(Number(retryAfter) * 1000);
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = (headers.get('ratelimit-reset') ?? headers.get('x-ratelimit-reset'))?.trim();
  if (reset && /^\d+(\.\d+)?$/.test(reset)) {
    const seconds = Number(reset);
    if (seconds >= EPOCH_THRESHOLD_S) return Math.max(0, Math.ceil(seconds * 1000 - now));
    return Math.ceil(seconds * 1000);
  }
  return undefined;
}

/** Plain object headers (`IncomingHttpHeaders`, axios headers) as a HeaderSource. */
export function headerSource(headers: Record<string, unknown> | undefined): HeaderSource {
  return {
    get(name: string) {
      if (!headers) return undefined;
      const wanted = name.toLowerCase();
      for (const [key, value] of Object.entries(headers)) {
        if (key.toLowerCase() !== wanted) continue;
        if (Array.isArray(value)) return value.length > 0 ? String(value[0]) : undefined;
        return value === undefined || value === null ? undefined : String(value);
      }
      return undefined;
    },
  };
}
