import type { TeleportActions } from '../adapter.js';
import { errorMessage, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { RoutingConfig, FollowUpPlan } from '../routing/config.js';
import type { FollowUpStep } from '../routing/types.js';
import type { AccessRequest, PluginData } from '../teleport/types.js';
import { dueSteps, markStepDone, stepTimes } from './schedule.js';

export interface FollowUpSchedulerOptions {
  config: Pick<RoutingConfig, 'followUp' | 'deadline'>;
  teleport: Pick<TeleportActions, 'getRequest' | 'submitReview' | 'setState'>;
  /** Re-read a request and bring every adapter up to date with it (the dispatcher then runs what is due). */
  wake(requestId: string): void;
  logger: Logger;
  now?: () => number;
}

/** setTimeout's limit; a later wake-up is reached in hops. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Wakes pending requests when a follow-up falls due. The schedule itself lives in each adapter's
 * plugin data (which steps are done), so this only holds timers: a restart loses nothing (the
 * reconciliation after INIT finds what is owed and re-arms the timers), and two replicas both
 * waking a request cost one comparison each, never a second reminder (the steps' effects are
 * write-ahead records in the ledger).
 *
 * The deadline denial is the one step that is not per adapter: a request still pending and
 * unreviewed at `deny_after` is denied with a review by the plugin's user (Teleport's
 * "already reviewed" keeps it once across replicas), and, should thresholds need more than one
 * denial, by setting the state.
 */
export class FollowUpScheduler {
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly denying = new Set<string>();
  private readonly now: () => number;
  private stopped = false;
  private warnedSetState = false;

  constructor(private readonly options: FollowUpSchedulerOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Whether anything is configured at all. */
  get enabled(): boolean {
    return Object.keys(this.options.config.followUp).length > 0 || this.options.config.deadline !== undefined;
  }

  plan(adapter: string): FollowUpPlan | undefined {
    return this.options.config.followUp[adapter];
  }

  /** When a pending request is denied for want of a review, or undefined. */
  deadlineOf(request: Pick<AccessRequest, 'created'>): number | undefined {
    const deadline = this.options.config.deadline;
    if (!deadline || !request.created) return undefined;
    return request.created.getTime() + deadline.afterMs;
  }

  /** Steps due now for `adapter` that its plugin data does not record as done. */
  due(adapter: string, request: AccessRequest, data: PluginData | undefined, now = this.now()): FollowUpStep[] {
    const plan = this.plan(adapter);
    if (!plan || request.state !== 'PENDING' || !request.created) return [];
    return dueSteps(plan, request.created.getTime(), now, data);
  }

  markDone(data: PluginData, step: FollowUpStep): PluginData | undefined {
    return markStepDone(data, step);
  }

  /** For the reconciliation: an adapter owes a follow-up for this request. */
  owed(adapter: string, request: AccessRequest, data: PluginData): boolean {
    return this.due(adapter, request, data).length > 0;
  }

  /**
   * A request as it is now: arm a timer for its next step (pending), or drop it (decided). Past the
   * deadline and unreviewed: deny it.
   */
  track(request: AccessRequest): void {
    if (this.stopped || !this.enabled) return;
    if (request.state !== 'PENDING' || !request.created) {
      this.forget(request.id);
      return;
    }
    const now = this.now();
    const created = request.created.getTime();
    const deadline = this.deadlineOf(request);
    if (deadline !== undefined && now >= deadline && request.reviews.length === 0) void this.deny(request.id);
    const times: number[] = [];
    for (const plan of Object.values(this.options.config.followUp)) times.push(...stepTimes(plan, created));
    if (deadline !== undefined) times.push(deadline);
    const next = Math.min(...times.filter((t) => t > now));
    if (!Number.isFinite(next)) {
      this.forget(request.id);
      return;
    }
    const existing = this.timers.get(request.id);
    if (existing && existing.at === next) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(request.id);
        if (this.stopped) return;
        this.options.wake(request.id);
      },
      Math.min(MAX_TIMER_MS, Math.max(0, next - now) + 5),
    );
    timer.unref();
    this.timers.set(request.id, { at: next, timer });
  }

  /** When the next wake-up of a request is (for `explain`), if armed. */
  nextWake(requestId: string): number | undefined {
    return this.timers.get(requestId)?.at;
  }

  forget(requestId: string): void {
    const existing = this.timers.get(requestId);
    if (existing) clearTimeout(existing.timer);
    this.timers.delete(requestId);
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private async deny(requestId: string): Promise<void> {
    const deadline = this.options.config.deadline;
    if (!deadline || this.denying.has(requestId)) return;
    this.denying.add(requestId);
    const log = this.options.logger.child({ requestId });
    const { teleport } = this.options;
    try {
      const current = await teleport.getRequest(requestId);
      if (!current || current.state !== 'PENDING' || current.reviews.length > 0) return;
      const reason = deadline.reason;
      const result = await teleport.submitReview(requestId, { proposedState: 'DENIED', reason });
      let denied = result.outcome === 'submitted';
      const after = result.outcome === 'submitted' ? result.request : await teleport.getRequest(requestId);
      if (after && after.state === 'PENDING') {
        // Thresholds want more than one denial (or our review was there already): decide it.
        try {
          await teleport.setState(requestId, { state: 'DENIED', reason });
        } catch (err) {
          if (!isPluginError(err, 'ACCESS_DENIED')) throw err;
          if (!this.warnedSetState) {
            this.warnedSetState = true;
            log.warn('Denied past the deadline by a review, but the request needs more denials and the plugin may not set its state (add access_request: [update] to its role)', {
              error: errorMessage(err),
            });
          }
          return;
        }
        denied = true;
      }
      if (denied) {
        log.info('Denied: nobody reviewed the request before the deadline', { deadlineMs: deadline.afterMs, reason });
      }
    } catch (err) {
      const message = errorMessage(err);
      if (/already|resolved|not pending/i.test(message)) return;
      log.warn('Could not deny a request past its deadline; tried again at the next reconciliation', { error: message });
    } finally {
      this.denying.delete(requestId);
    }
  }
}
