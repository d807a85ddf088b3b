import type { PluginData } from '../teleport/types.js';

/**
 * Plugin data of one adapter (its own namespace: plugin name = adapter name), stored in Teleport
 * with compare-and-swap. It is the runtime's only state, so several replicas and a swap from the
 * Go plugins never post twice.
 */
export interface PluginDataStore {
  readonly plugin: string;
  get(requestId: string, signal?: AbortSignal): Promise<PluginData | undefined>;
  /**
   * CAS create: succeeds only if the entry does not exist yet (Expect = every key ""). Returns
   * false when it already existed (someone else, or an earlier run, created it).
   */
  create(requestId: string, data: PluginData, signal?: AbortSignal): Promise<boolean>;
  /**
   * CAS update loop: read, apply `modify`, write with Expect = what was read; retried with
   * backoff on COMPARE_FAILED. `modify` returns the new data, or undefined for "no change"
   * (then nothing is written). Resolves to the data as stored afterwards (undefined if absent).
   */
  update(requestId: string, modify: (current: PluginData | undefined) => PluginData | undefined, signal?: AbortSignal): Promise<PluginData | undefined>;
  /**
   * One compare-and-swap from `base` (what the caller last saw; undefined = no entry) to `next`:
   * only changed keys are sent, and every key of either is compared, so any concurrent change
   * fails it with COMPARE_FAILED. No read, no retry. Resolves to what is stored afterwards.
   */
  swap(requestId: string, base: PluginData | undefined, next: PluginData, signal?: AbortSignal): Promise<PluginData | undefined>;
  /** Every entry of this plugin, by request id (one bulk read); undefined when the client cannot list. */
  list(signal?: AbortSignal): Promise<Map<string, PluginData> | undefined>;
}
