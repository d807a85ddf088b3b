import type { PluginData } from '../teleport/types.js';

/**
 * The plugin data this process last read or wrote, per request, for one adapter: the base of
 * the next compare-and-swap, so a write needs no read first. A stale entry (another replica or a
 * Go plugin wrote meanwhile) only costs a failed CAS and a re-read; it can never overwrite their
 * write, because every key we write is compared.
 *
 * Bounded: the oldest entries are dropped first (Map keeps insertion order; touching re-inserts).
 */
export class KnownData {
  private readonly entries = new Map<string, PluginData | null>();

  constructor(private readonly max = 20_000) {}

  /** `undefined`: not known here (read it); `null`: known to be absent. */
  get(requestId: string): PluginData | null | undefined {
    return this.entries.get(requestId);
  }

  set(requestId: string, data: PluginData | undefined | null): void {
    this.entries.delete(requestId);
    this.entries.set(requestId, data ?? null);
    if (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }

  forget(requestId: string): void {
    this.entries.delete(requestId);
  }

  get size(): number {
    return this.entries.size;
  }
}
