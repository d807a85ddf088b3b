/**
 * Runs tasks one at a time per key. The dispatcher may retry a handler whose first attempt timed
 * out while that attempt's Slack call is still in flight; waiting for it here is what keeps the
 * retry from posting the same message a second time.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<void>>();

  /** `task` learns whether it had to wait for an earlier task on the same key. */
  async run<T>(key: string, task: (waited: boolean) => Promise<T>): Promise<T> {
    const earlier = this.tails.get(key);
    const previous = earlier ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    try {
      await previous;
      return await task(earlier !== undefined);
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  /** Resolves when every queued task has finished. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.tails.values()]);
  }
}
