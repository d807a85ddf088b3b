/**
 * Work keyed by request id: items with the same key run strictly one after another in arrival
 * order (a review must never overtake the creation it replies to); different keys run
 * concurrently, at most `concurrency` at a time. Keys take turns, so one busy request cannot
 * starve the others.
 */
export class KeyedQueue<T> {
  private readonly pending = new Map<string, T[]>();
  private readonly runnable: string[] = [];
  private readonly running = new Set<string>();
  private readonly idleWaiters: Array<() => void> = [];
  private closed = false;
  private waiting = 0;

  constructor(
    private readonly concurrency: number,
    private readonly process: (key: string, item: T) => Promise<void>,
  ) {
    if (!(concurrency >= 1)) throw new RangeError(`concurrency must be at least 1, got ${concurrency}`);
  }

  /** Items waiting (not yet started). */
  get queued(): number {
    return this.waiting;
  }

  /** Items being processed now. */
  get active(): number {
    return this.running.size;
  }

  push(key: string, item: T): void {
    if (this.closed) return;
    this.waiting++;
    const items = this.pending.get(key);
    if (items) {
      items.push(item);
      return;
    }
    this.pending.set(key, [item]);
    if (!this.running.has(key)) this.runnable.push(key);
    this.pump();
  }

  /** Drop everything not started yet and accept nothing more. */
  clear(): number {
    const dropped = this.queued;
    this.closed = true;
    this.waiting = 0;
    this.pending.clear();
    this.runnable.length = 0;
    this.notifyIdle();
    return dropped;
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running.size === 0 && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.running.size < this.concurrency && this.runnable.length > 0) {
      const key = this.runnable.shift()!;
      const items = this.pending.get(key);
      const item = items?.shift();
      if (item === undefined || items === undefined) continue;
      this.waiting--;
      if (items.length === 0) this.pending.delete(key);
      this.running.add(key);
      void this.run(key, item);
    }
  }

  private async run(key: string, item: T): Promise<void> {
    try {
      await this.process(key, item);
    } catch {
      // process() reports its own failures; the queue only keeps order.
    } finally {
      this.running.delete(key);
      if (this.pending.has(key)) this.runnable.push(key);
      this.pump();
      this.notifyIdle();
    }
  }

  private notifyIdle(): void {
    if (this.running.size > 0 || this.pending.size > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }
}
