import type { TeleportActions } from '../adapter.js';
import { FollowUpScheduler } from '../followup/scheduler.js';
import type { FollowUpStep } from './types.js';
import type { PluginDataStore } from '../ledger/pluginDataStoreTypes.js';
import type { Logger } from '../log/logger.js';
import { compareSemver, parseSemver } from '../teleport/semver.js';
import type { AccessRequest, PluginData, TeleportClient, WatchEvent } from '../teleport/types.js';
import type { WatcherEvent } from '../watcher/watcher.js';
import { AutomaticReviewer } from './automaticReview.js';
import { emptyRoutingConfig, type RoutingConfig } from './config.js';
import { explainRequest, type Explanation } from './explain.js';
import { Intake } from './intake.js';
import { Router } from './router.js';
import { RuleCache } from './ruleCache.js';
import type { AdapterRouting } from './types.js';

export interface RuntimeRoutingOptions {
  client: TeleportClient;
  actions: TeleportActions;
  logger: Logger;
  adapters: readonly string[];
  config: RoutingConfig | undefined;
  /** Teleport's version (Ping): rule events are watched on 16 and newer only. */
  serverVersion: string;
  /** Tests: how long a new request waits for its automatic review before it is announced anyway. */
  reviewWaitMs?: number;
}

/** What the dispatcher asks of follow-ups (see Dispatcher). */
export interface DispatchFollowUps {
  due(adapter: string, request: AccessRequest, data: PluginData | undefined): FollowUpStep[];
  markDone(data: PluginData, step: FollowUpStep): PluginData | undefined;
}

/**
 * Routing and follow-up as one piece for the runtime (host.ts): the rule cache fed by the
 * watcher, the router behind every adapter's `ctx.routing`, the automatic reviewer and the
 * follow-up scheduler behind the intake stage, and `explain`.
 */
export class RuntimeRouting {
  readonly config: RoutingConfig;
  readonly rules: RuleCache;
  readonly router: Router;
  readonly reviewer: AutomaticReviewer | undefined;
  readonly scheduler: FollowUpScheduler;
  /** Whether the watch asks for access_monitoring_rule events. */
  readonly watchRules: boolean;
  private intakeStage: Intake | undefined;
  private wakeHandler: (requestId: string) => void = () => undefined;
  private claimHandler: (request: AccessRequest, decision: string, signal?: AbortSignal) => Promise<void> = async () => undefined;

  constructor(private readonly options: RuntimeRoutingOptions) {
    this.config = options.config ?? emptyRoutingConfig();
    const logger = options.logger.child({ component: 'routing' });
    const integration = this.config.automaticReview?.integration;
    this.rules = new RuleCache({
      client: options.client,
      logger,
      ...(this.config.rules ? {} : { off: 'routing by Access Monitoring Rules is off ([routing] rules = false)' }),
      notificationNames: options.adapters,
      ...(integration === undefined ? {} : { integration }),
    });
    this.router = new Router({
      getUser: (name, signal) => options.actions.getUser(name, signal),
      logger,
      adapters: options.adapters,
      config: this.config,
      rules: this.rules,
    });
    this.reviewer =
      integration === undefined
        ? undefined
        : new AutomaticReviewer({
            router: this.router,
            teleport: options.actions,
            logger,
            beforeSubmit: (request, decision, signal) => this.claimHandler(request, decision, signal),
          });
    this.scheduler = new FollowUpScheduler({
      config: this.config,
      teleport: options.actions,
      wake: (requestId) => this.wakeHandler(requestId),
      logger: options.logger.child({ component: 'followup' }),
    });
    const version = parseSemver(options.serverVersion);
    const v16 = parseSemver('16.0.0')!;
    this.watchRules = this.config.rules && options.client.listAccessMonitoringRules !== undefined && (version === undefined || compareSemver(version, v16) >= 0);
    if (this.config.rules && !this.watchRules && options.client.listAccessMonitoringRules) {
      logger.info('Teleport is older than 16: no Access Monitoring Rules; notifications use the static config', { version: options.serverVersion });
    }
  }

  forAdapter(adapter: string): AdapterRouting {
    return this.router.forAdapter(adapter);
  }

  /**
   * The stage between event sources and the dispatcher; `wake` re-reads a request (host's resync);
   * `claim` records a request in every adapter's plugin data before its automatic review.
   */
  intake(
    dispatch: (event: WatcherEvent) => void,
    wake: (requestId: string) => void,
    claim: (request: AccessRequest, decision: string, signal?: AbortSignal) => Promise<void>,
  ): Intake {
    this.wakeHandler = wake;
    this.claimHandler = claim;
    this.intakeStage = new Intake({
      dispatch,
      reviewer: this.reviewer,
      scheduler: this.scheduler.enabled ? this.scheduler : undefined,
      onDecided: (requestId) => this.router.markDecidedOnArrival(requestId),
      logger: this.options.logger.child({ component: 'routing' }),
      ...(this.options.reviewWaitMs === undefined ? {} : { reviewWaitMs: this.options.reviewWaitMs }),
    });
    return this.intakeStage;
  }

  /** Every INIT: reload rules (when routing by rules). */
  onInit(acceptedKinds: readonly string[] | undefined): void {
    if (!this.config.rules) return;
    this.rules.onInit(this.watchRules ? acceptedKinds : undefined);
  }

  onWatchEvent(event: WatchEvent): void {
    if (event.type === 'rule-put' || event.type === 'rule-delete') this.rules.onEvent(event);
  }

  /**
   * The reconciliation's listing: every pending request gets its automatic review (once per
   * version of the rules) and its follow-up timer; one past its deadline is denied.
   */
  onListed(requests: readonly AccessRequest[]): void {
    for (const request of requests) {
      if (request.state !== 'PENDING') continue;
      if (this.scheduler.enabled) this.scheduler.track(request);
      if (this.reviewer) {
        void this.reviewer.review(request).then((reviewed) => {
          if (reviewed) this.wakeHandler(request.id);
        });
      }
    }
  }

  /** For the reconciliation: `adapter` owes a follow-up step for this request. */
  owed(adapter: string, request: AccessRequest, data: PluginData): boolean {
    return this.scheduler.enabled && this.scheduler.owed(adapter, request, data);
  }

  get followUps(): DispatchFollowUps | undefined {
    if (Object.keys(this.config.followUp).length === 0) return undefined;
    return {
      due: (adapter, request, data) => this.scheduler.due(adapter, request, data),
      markDone: (data, step) => this.scheduler.markDone(data, step),
    };
  }

  explain(requestId: string, adapters: ReadonlyArray<{ name: string; store: PluginDataStore }>, signal?: AbortSignal): Promise<Explanation> {
    return explainRequest(
      {
        router: this.router,
        reviewer: this.reviewer,
        scheduler: this.scheduler,
        getRequest: (id, s) => this.options.actions.getRequest(id, s),
        adapters,
        ...(signal ? { signal } : {}),
      },
      requestId,
    );
  }

  stop(): void {
    this.rules.stop();
    this.scheduler.stop();
    this.intakeStage?.stop();
  }
}
