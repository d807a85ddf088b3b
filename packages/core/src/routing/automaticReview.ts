import type { TeleportActions } from '../adapter.js';
import { errorMessage, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest } from '../teleport/types.js';
import type { ReviewDecision, Router } from './router.js';

/** What happened to one request, kept (bounded) for `explain`. */
export interface AutomaticReviewRecord {
  at: Date;
  decision: ReviewDecision;
  /** `submitted`, `already-reviewed` (this plugin reviewed it before: done), `failed`, or `none` (no decision). */
  outcome: 'submitted' | 'already-reviewed' | 'failed' | 'none';
  error?: string;
}

export interface AutomaticReviewerOptions {
  router: Router;
  teleport: Pick<TeleportActions, 'submitReview' | 'getRequest'>;
  logger: Logger;
  /**
   * Called before a review is submitted: records the request in every adapter's plugin data, so
   * that a crash between the review and the announcement still leaves the announcement owed.
   * A failure stops the submission (tried again at the next reconciliation).
   */
  beforeSubmit?: (request: AccessRequest, decision: 'APPROVED' | 'DENIED', signal?: AbortSignal) => Promise<void>;
}

/**
 * The automatic-review integration: evaluates the integration's rules on a pending request and
 * submits the decision as a review by the plugin's own user. Exactly once by Teleport's own rule:
 * a user reviews a request once, so a second submission (a retry, a restart, another replica)
 * answers "already reviewed", which counts as done. Thresholds still apply: an approval may be one
 * of several needed.
 *
 * Each request is evaluated once per version of the rules in this process; concurrent asks for
 * one request share one evaluation.
 */
export class AutomaticReviewer {
  private readonly done = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<AccessRequest | undefined>>();
  private readonly records = new Map<string, AutomaticReviewRecord>();

  constructor(private readonly options: AutomaticReviewerOptions) {}

  /** The last automatic-review outcome for a request in this process, if any. */
  record(requestId: string): AutomaticReviewRecord | undefined {
    return this.records.get(requestId);
  }

  /**
   * Review a pending request if a rule says so. Resolves to the request as Teleport holds it after
   * the review (or after "already reviewed"), or undefined when nothing was submitted.
   */
  review(request: AccessRequest, signal?: AbortSignal): Promise<AccessRequest | undefined> {
    if (request.state !== 'PENDING') return Promise.resolve(undefined);
    const version = this.options.router.rules.version;
    if (this.done.get(request.id) === version) return Promise.resolve(undefined);
    const running = this.inFlight.get(request.id);
    if (running) return running;
    const work = this.run(request, version, signal).finally(() => this.inFlight.delete(request.id));
    this.inFlight.set(request.id, work);
    return work;
  }

  private async run(request: AccessRequest, version: number, signal?: AbortSignal): Promise<AccessRequest | undefined> {
    const log = this.options.logger.child({ requestId: request.id });
    const decision = await this.options.router.reviewDecision(request, signal);
    if (!decision) return undefined;
    const facts = JSON.stringify(decision.evaluation.facts);
    if (decision.decision === undefined) {
      this.remember(request.id, version, { at: new Date(), decision, outcome: 'none' });
      log.debug('Automatic review: no decision', { integration: decision.integration, why: decision.why, facts });
      return undefined;
    }
    const fields = { integration: decision.integration, decision: decision.decision, rule: decision.rule, facts, why: decision.why };
    try {
      await this.options.beforeSubmit?.(request, decision.decision, signal);
      const result = await this.options.teleport.submitReview(request.id, { proposedState: decision.decision, reason: decision.reason }, signal);
      if (result.outcome === 'already-reviewed') {
        this.remember(request.id, version, { at: new Date(), decision, outcome: 'already-reviewed' });
        log.info('Automatic review already submitted earlier (by this plugin, a replica or before a restart)', fields);
        return await this.options.teleport.getRequest(request.id, signal);
      }
      this.remember(request.id, version, { at: new Date(), decision, outcome: 'submitted' });
      log.info(`Automatic review: ${decision.decision} by access monitoring rule "${decision.rule}"`, fields);
      return result.request;
    } catch (err) {
      this.records.set(request.id, { at: new Date(), decision, outcome: 'failed', error: errorMessage(err) });
      const resolved = /already|resolved|not pending/i.test(errorMessage(err));
      if (resolved) {
        log.info('Automatic review not submitted: the request was decided meanwhile', { ...fields, error: errorMessage(err) });
        this.done.set(request.id, version);
        return undefined;
      }
      const hint = isPluginError(err, 'ACCESS_DENIED') ? " (the plugin's role needs review_requests for the requested roles)" : '';
      log.warn(`Automatic review could not be submitted${hint}; tried again at the next reconciliation`, { ...fields, error: errorMessage(err) });
      return undefined;
    }
  }

  private remember(requestId: string, version: number, record: AutomaticReviewRecord): void {
    this.done.set(requestId, version);
    this.records.set(requestId, record);
    for (const map of [this.done, this.records] as Array<Map<string, unknown>>) {
      if (map.size > 10_000) map.delete(map.keys().next().value as string);
    }
  }
}
