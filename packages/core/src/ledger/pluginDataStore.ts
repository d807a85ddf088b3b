import { DecorrelatedBackoff } from '../backoff.js';
import { PluginError, isPluginError } from '../errors.js';
import type { PluginData, TeleportClient } from '../teleport/types.js';
import type { PluginDataStore } from './pluginDataStoreTypes.js';

export interface PluginDataStoreOptions {
  /** Resource kind (default `access_request`). */
  kind?: string;
  /** CAS attempts before giving up with COMPARE_FAILED (default 20). */
  maxAttempts?: number;
  /** Backoff between CAS attempts (default 1 ms .. 1 s, as the Go plugins). */
  backoff?: { baseMs: number; capMs: number };
  /** Called once per lost compare-and-swap (metrics). */
  onConflict?: () => void;
}

/** The store plus what the dispatcher needs to classify with one read less. */
export interface CasPluginDataStore extends PluginDataStore {
  /**
   * create() without its initial read, for a caller that has just read "absent" itself: only the
   * Expect map ("" for every key) guards the write. Same result as create().
   */
  createAfterRead(requestId: string, data: PluginData, signal?: AbortSignal): Promise<boolean>;
}

/**
 * Plugin data with the Go plugins' compare-and-swap semantics (`integrations/lib/plugindata/cas.go`).
 * Every write carries a non-empty Expect map, because an empty one means "no check" to Teleport.
 */
export function createPluginDataStore(
  client: Pick<TeleportClient, 'getPluginData' | 'updatePluginData' | 'listPluginData'>,
  plugin: string,
  options: PluginDataStoreOptions = {},
): CasPluginDataStore {
  const kind = options.kind ?? 'access_request';
  const maxAttempts = options.maxAttempts ?? 20;
  const backoffOptions = options.backoff ?? { baseMs: 1, capMs: 1000 };

  const get = (requestId: string, signal?: AbortSignal): Promise<PluginData | undefined> => client.getPluginData(requestId, plugin, { kind, signal });

  const createAfterRead = async (requestId: string, data: PluginData, signal?: AbortSignal): Promise<boolean> => {
    const keys = Object.keys(data);
    if (keys.length === 0) throw new PluginError('BAD_PARAMETER', `plugin data for ${plugin} must have at least one key`);
    // Expect "" for every key = "no entry yet": if another writer created it in between,
    // Teleport answers COMPARE_FAILED instead of letting us overwrite its data.
    const expect: PluginData = Object.fromEntries(keys.map((key) => [key, '']));
    try {
      await client.updatePluginData({ kind, resource: requestId, plugin, set: { ...data }, expect }, signal);
      return true;
    } catch (err) {
      if (isPluginError(err, 'COMPARE_FAILED')) {
        options.onConflict?.();
        return false;
      }
      throw err;
    }
  };

  return {
    plugin,
    get,

    async create(requestId, data, signal) {
      if ((await get(requestId, signal)) !== undefined) return false;
      return createAfterRead(requestId, data, signal);
    },

    createAfterRead,

    async swap(requestId, base, next, signal) {
      const { set, expect } = diff(base ?? {}, next);
      if (Object.keys(set).length === 0) return storedData(next);
      if (Object.keys(expect).length === 0) throw new PluginError('BAD_PARAMETER', `plugin data for ${plugin} must have at least one key`);
      try {
        await client.updatePluginData({ kind, resource: requestId, plugin, set, expect }, signal);
      } catch (err) {
        if (isPluginError(err, 'COMPARE_FAILED')) options.onConflict?.();
        throw err;
      }
      return storedData(next);
    },

    async list(signal) {
      if (!client.listPluginData) return undefined;
      const out = new Map<string, PluginData>();
      for (const { resource, data } of await client.listPluginData(plugin, { kind, signal })) out.set(resource, data);
      return out;
    },

    async update(requestId, modify, signal) {
      const backoff = new DecorrelatedBackoff(backoffOptions);
      for (let attempt = 1; ; attempt++) {
        const current = await get(requestId, signal);
        const next = modify(current === undefined ? undefined : { ...current });
        if (next === undefined) return current;
        const { set, expect } = diff(current ?? {}, next);
        if (Object.keys(set).length === 0) return current;
        try {
          await client.updatePluginData({ kind, resource: requestId, plugin, set, expect }, signal);
          return storedData(next);
        } catch (err) {
          if (!isPluginError(err, 'COMPARE_FAILED')) throw err;
          options.onConflict?.();
          if (attempt >= maxAttempts) {
            throw new PluginError('COMPARE_FAILED', `plugin data of ${plugin} for request ${requestId} kept changing under us (${attempt} tries)`, {
              cause: err,
              details: { plugin, requestId, attempts: attempt },
            });
          }
          await backoff.wait(signal);
        }
      }
    },
  };
}

/**
 * Set = the changed keys ("" deletes a key that `next` dropped); Expect = the value read for every
 * key of old ∪ new ("" for absent), so any concurrent change to the entry fails the write.
 */
function diff(old: PluginData, next: PluginData): { set: PluginData; expect: PluginData } {
  const set: PluginData = {};
  const expect: PluginData = {};
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    const before = old[key] ?? '';
    const after = next[key] ?? '';
    expect[key] = before;
    if (before !== after) set[key] = after;
  }
  return { set, expect };
}

/** What Teleport holds after writing `data` ("" values are deletions), undefined if nothing is left. */
export function storedData(data: PluginData): PluginData | undefined {
  const out: PluginData = {};
  for (const [key, value] of Object.entries(data)) if (value !== '') out[key] = value;
  return Object.keys(out).length > 0 ? out : undefined;
}
