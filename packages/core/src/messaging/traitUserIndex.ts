import type { UserInfo } from '../teleport/types.js';

/** How long one listing of Teleport users answers lookups (the Go plugin caches for 10 minutes). */
export const TRAIT_INDEX_TTL_MS = 10 * 60 * 1000;
/** A chat id that is not (or not uniquely) in the listing lists again, but at most this often. */
export const TRAIT_INDEX_MISS_REFRESH_MS = 60 * 1000;

export type TraitLookup = { kind: 'one'; user: string } | { kind: 'none' } | { kind: 'several'; users: string[] };

/**
 * Chat user id -> Teleport users whose trait holds it, from a cached listing of every user.
 * Teleport cannot be asked "who has trait X = v" through the access we rely on, so we list all
 * users and index them ourselves. A miss refreshes early (an administrator may just have set the
 * trait) but rate-limited, so a stream of clicks from an unlinked chat user cannot turn into a
 * stream of full user listings.
 */
export class TraitUserIndex {
  private byValue = new Map<string, string[]>();
  private fetchedAt: number | undefined;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly trait: string,
    private readonly listUsers: (signal?: AbortSignal) => Promise<UserInfo[]>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws what listUsers throws (the caller decides between falling back and refusing). */
  async lookup(chatUserId: string, signal?: AbortSignal): Promise<TraitLookup> {
    if (this.fetchedAt === undefined || this.now() - this.fetchedAt >= TRAIT_INDEX_TTL_MS) await this.refresh(signal);
    let users = this.byValue.get(chatUserId) ?? [];
    if (users.length !== 1 && this.now() - (this.fetchedAt ?? 0) >= TRAIT_INDEX_MISS_REFRESH_MS) {
      await this.refresh(signal);
      users = this.byValue.get(chatUserId) ?? [];
    }
    if (users.length === 1) return { kind: 'one', user: users[0]! };
    return users.length === 0 ? { kind: 'none' } : { kind: 'several', users: [...users] };
  }

  /** Concurrent clicks share one listing. */
  private refresh(signal?: AbortSignal): Promise<void> {
    this.loading ??= (async () => {
      try {
        const users = await this.listUsers(signal);
        const index = new Map<string, string[]>();
        for (const user of users) {
          // A user listing the same id twice in the trait is still one user.
          for (const value of new Set(user.traits[this.trait] ?? [])) {
            const names = index.get(value);
            if (names) names.push(user.name);
            else index.set(value, [user.name]);
          }
        }
        this.byValue = index;
        this.fetchedAt = this.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }
}
