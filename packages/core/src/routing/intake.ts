import { KeyedQueue } from '../dispatcher/keyedQueue.js';
import { errorMessage } from '../errors.js';
import type { FollowUpScheduler } from '../followup/scheduler.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest } from '../teleport/types.js';
import type { WatcherEvent } from '../watcher/watcher.js';
import type { AutomaticReviewer } from './automaticReview.js';

export interface IntakeOptions {
  /** The dispatcher. */
  dispatch(event: WatcherEvent): void;
  reviewer?: AutomaticReviewer | undefined;
  scheduler?: FollowUpScheduler | undefined;
  logger: Logger;
  /** How long a new pending request waits for its automatic review before it is announced anyway (default 10 s). */
  reviewWaitMs?: number;
  /** A request the review decided on arrival, announced decided. */
  onDecided?(requestId: string): void;
}

/**
 * What every event passes before the dispatcher: the follow-up scheduler learns each request's
 * state, and, with an automatic-review integration, a pending request is reviewed before any
 * adapter announces it. A request the review decided is then announced already decided (the
 * dispatcher's `announce`): messages show the outcome instead of asking for a review. Events of
 * one request keep their order through this stage; without an integration it adds nothing.
 */
export class Intake {
  private readonly queue: KeyedQueue<WatcherEvent> | undefined;
  private stopped = false;

  constructor(private readonly options: IntakeOptions) {
    if (options.reviewer) this.queue = new KeyedQueue(128, (_key, event) => this.process(event));
  }

  push(event: WatcherEvent): void {
    if (this.stopped) return;
    if (event.type === 'put') this.options.scheduler?.track(event.request);
    else this.options.scheduler?.forget(event.requestId);
    if (!this.queue) {
      this.options.dispatch(event);
      return;
    }
    this.queue.push(event.type === 'put' ? event.request.id : event.requestId, event);
  }

  /** Resolves when nothing waits in this stage. */
  idle(): Promise<void> {
    return this.queue?.idle() ?? Promise.resolve();
  }

  stop(): void {
    this.stopped = true;
    this.queue?.clear();
  }

  private async process(event: WatcherEvent): Promise<void> {
    const reviewer = this.options.reviewer;
    if (event.type !== 'put' || event.request.state !== 'PENDING' || !reviewer || this.stopped) {
      this.options.dispatch(event);
      return;
    }
    let reviewed: AccessRequest | undefined;
    try {
      reviewed = await waitUpTo(reviewer.review(event.request), this.options.reviewWaitMs ?? 10_000);
    } catch (err) {
      this.options.logger.warn('automatic review failed; announcing the request as it is', { requestId: event.request.id, error: errorMessage(err) });
    }
    if (this.stopped) return;
    if (!reviewed) {
      this.options.dispatch(event);
      return;
    }
    this.options.scheduler?.track(reviewed);
    if (reviewed.state !== 'PENDING') this.options.onDecided?.(reviewed.id);
    this.options.dispatch({ ...event, request: reviewed, ...(reviewed.state !== 'PENDING' ? { announce: true } : {}) });
  }
}

/** The work's result, or undefined once `ms` have passed (the work goes on). */
async function waitUpTo<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
