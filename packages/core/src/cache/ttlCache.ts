export interface TtlCacheOptions {
  /** Entries kept at most (oldest dropped first). */
  max: number;
  /** How long an answer is reused. */
  ttlMs: number;
  /** How long an "absent" answer (undefined) is reused: short, so a fix is seen soon. Default 30 s. */
  negativeTtlMs?: number;
  now?: () => number;
}

/**
 * Answers that rarely change (an email's chat user, a service's id, a role's logins), shared by
 * every request, bounded in size and age. Concurrent look-ups of one key share one call, and a
 * failed look-up is not cached at all.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V | undefined; expires: number }>();
  private readonly inFlight = new Map<string, Promise<V | undefined>>();
  private readonly now: () => number;

  constructor(private readonly options: TtlCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    const hit = this.entries.get(key);
    if (hit && hit.expires > this.now()) return hit.value;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const loading = load().then(
      (value) => {
        this.inFlight.delete(key);
        this.set(key, value);
        return value;
      },
      (err: unknown) => {
        this.inFlight.delete(key);
        throw err;
      },
    );
    this.inFlight.set(key, loading);
    return loading;
  }

  set(key: string, value: V | undefined): void {
    const ttl = value === undefined ? (this.options.negativeTtlMs ?? 30_000) : this.options.ttlMs;
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + ttl });
    while (this.entries.size > this.options.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}
