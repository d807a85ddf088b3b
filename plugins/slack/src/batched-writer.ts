import type { PluginData } from '@teleport-plugin/core';

type Modify = (current: PluginData | undefined) => PluginData | undefined;

/**
 * Serialises one handler's plugin-data writes and folds the changes queued meanwhile into one
 * compare-and-swap. Parallel Slack calls each store their outcome as soon as they finish, but
 * never race each other's CAS (which would only cost COMPARE_FAILED retries and backoff).
 * Modifications must be pure: a CAS retry applies them again to fresh data.
 */
export function batchedWriter(write: (modify: Modify) => Promise<PluginData | undefined>): (modify: Modify) => Promise<PluginData | undefined> {
  let queue: Array<{ modify: Modify; resolve: (d: PluginData | undefined) => void; reject: (e: unknown) => void }> = [];
  let running = false;
  const drain = async (): Promise<void> => {
    running = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        const stored = await write((current) => {
          let data = current;
          let changed = false;
          for (const { modify } of batch) {
            const next = modify(data);
            if (next !== undefined) {
              data = next;
              changed = true;
            }
          }
          return changed ? data : undefined;
        });
        for (const b of batch) b.resolve(stored);
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    running = false;
  };
  return (modify) =>
    new Promise((resolve, reject) => {
      queue.push({ modify, resolve, reject });
      if (!running) void drain();
    });
}
