import { buildConditionContext } from '../amr/buildConditionContext.js';
import type { CompiledRule, RuleOutcome } from '../amr/compileRule.js';
import { TtlCache } from '../cache/ttlCache.js';
import { AUTO_REVIEW_KEY } from '../dispatcher/lifecycle.js';
import { errorMessage, isPluginError } from '../errors.js';
import { withDeadline } from '../deadline.js';
import type { Logger } from '../log/logger.js';
import { isEmail } from '../messaging/recipients.js';
import type { AccessRequest, Traits } from '../teleport/types.js';
import type { RoutingConfig } from './config.js';
import type { RuleCache } from './ruleCache.js';
import { traitUsage } from './traitUsage.js';
import type { AdapterRouting, FactProvider, RecipientDeclaration, RecipientPlan } from './types.js';

export interface RouterOptions {
  /** Reads the requester's traits (`user.traits`). */
  getUser(name: string, signal?: AbortSignal): Promise<{ traits: Traits }>;
  logger: Logger;
  /** Adapter names, in load order. */
  adapters: readonly string[];
  config: RoutingConfig;
  rules: RuleCache;
  /** How long a plan waits for the first rule load after an INIT (default 10 s). */
  rulesWaitMs?: number;
  /** Per fact provider call (default 10 s). */
  factsTimeoutMs?: number;
}

/** One evaluation of rules for one request: each rule's outcome, and the facts read. */
export interface Evaluation {
  outcomes: RuleOutcome[];
  /** Facts computed for these rules (name -> values). */
  facts: Record<string, string[]>;
  /** Fact providers that failed (adapter -> error). */
  factErrors: Record<string, string>;
  /** Whether the requester's traits were read (`unknown`: needed but could not be read). */
  traits: 'not-needed' | 'known' | 'unknown';
}

export interface ReviewDecision {
  integration: string;
  /** undefined: no review (no rule matched, or none may apply). */
  decision: 'APPROVED' | 'DENIED' | undefined;
  /** The deciding rule. */
  rule?: string;
  /** The review's reason. */
  reason: string;
  /** Plain words: why this decision (or none). */
  why: string;
  evaluation: Evaluation;
}

/**
 * Notification routing and rule evaluation for every adapter, from the rule cache, the
 * adapters' declared static recipients and their fact providers. No I/O but the requester's
 * traits (cached) and the facts rules ask for.
 */
export class Router {
  private readonly declarations = new Map<string, RecipientDeclaration>();
  private readonly providers = new Map<string, { adapter: string; provider: FactProvider }>();
  private readonly traits = new TtlCache<Traits>({ max: 5_000, ttlMs: 60_000, negativeTtlMs: 30_000 });
  private warnedTraits = false;
  private readonly decided = new Set<string>();

  constructor(private readonly options: RouterOptions) {}

  get config(): RoutingConfig {
    return this.options.config;
  }

  get rules(): RuleCache {
    return this.options.rules;
  }

  /** The routing an adapter sees in its context. */
  forAdapter(adapter: string): AdapterRouting {
    return {
      declareRecipients: (declaration) => {
        this.declarations.set(adapter, declaration);
      },
      recipients: (request, signal) => this.plan(adapter, request, signal),
      provideFacts: (provider) => this.addFacts(adapter, provider),
      decidedOnArrival: (requestId, data) => this.decided.has(requestId) || (data?.[AUTO_REVIEW_KEY] ?? '') !== '',
    };
  }

  /** The intake announces this request already decided (see AdapterRouting.decidedOnArrival). */
  markDecidedOnArrival(requestId: string): void {
    this.decided.add(requestId);
    if (this.decided.size > 10_000) this.decided.delete(this.decided.values().next().value as string);
  }

  /** Fact names and who provides them. */
  factNames(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [name, { adapter }] of this.providers) out[name] = adapter;
    return out;
  }

  hasDeclaration(adapter: string): boolean {
    return this.declarations.has(adapter);
  }

  private addFacts(adapter: string, provider: FactProvider): void {
    for (const name of provider.names) {
      if (!name.startsWith(`${adapter}.`)) throw new Error(`fact "${name}" of adapter "${adapter}" must start with "${adapter}."`);
      const owner = this.providers.get(name);
      if (owner && owner.adapter !== adapter) throw new Error(`fact "${name}" is provided by "${owner.adapter}" already`);
      this.providers.set(name, { adapter, provider });
    }
  }

  /** Recipients of `adapter` for a request (see AdapterRouting.recipients). */
  async plan(adapter: string, request: AccessRequest, signal?: AbortSignal): Promise<RecipientPlan> {
    const base = await this.basePlan(adapter, request, signal);
    return this.applyDedupe(adapter, request, base, signal);
  }

  /** Rules or static recipients, without the requester; before cross-adapter dedupe. */
  private async basePlan(adapter: string, request: AccessRequest, signal?: AbortSignal): Promise<RecipientPlan> {
    const staticOf = (why: string): RecipientPlan =>
      withoutRequester(request, { recipients: this.staticRecipients(adapter, request), source: 'static', rules: [], why, dropped: [] });
    const { config, rules } = this.options;
    if (!config.rules) return staticOf('routing by Access Monitoring Rules is off ([routing] rules = false)');
    await rules.ready(this.options.rulesWaitMs ?? 10_000);
    const status = rules.status;
    if (status.state === 'unavailable') return staticOf(status.detail);
    if (status.state !== 'loaded') return staticOf(`Access Monitoring Rules are not loaded yet (${status.detail})`);
    const candidates = rules.notificationRules(adapter);
    if (candidates.length === 0) return staticOf(`no Access Monitoring Rule names "${adapter}"`);
    const evaluation = await this.evaluate(candidates, request, signal);
    const matched = evaluation.outcomes.filter((o) => o.status === 'match');
    const recipients: string[] = [];
    const used: RecipientPlan['rules'] = [];
    for (const outcome of matched) {
      const named = (outcome.rule.notification?.recipients ?? []).map((r) => r.trim()).filter((r) => r !== '');
      if (named.length === 0) continue;
      used.push({ name: outcome.name, ...(outcome.schedule === undefined ? {} : { schedule: outcome.schedule }), recipients: named });
      for (const r of named) if (!recipients.includes(r)) recipients.push(r);
    }
    if (recipients.length === 0) {
      const why =
        matched.length === 0
          ? `none of the ${candidates.length} rule${candidates.length === 1 ? '' : 's'} naming "${adapter}" matched`
          : `the matching rule${matched.length === 1 ? '' : 's'} (${matched.map((m) => m.name).join(', ')}) name no recipients`;
      return staticOf(why);
    }
    return withoutRequester(request, {
      recipients,
      source: 'rules',
      rules: used,
      why: `matching rule${used.length === 1 ? '' : 's'} ${used.map((u) => `"${u.name}"`).join(', ')}`,
      dropped: [],
    });
  }

  private staticRecipients(adapter: string, request: AccessRequest): string[] {
    const declaration = this.declarations.get(adapter);
    if (!declaration) return [];
    return [
      ...new Set(
        declaration
          .static(request)
          .map((r) => r.trim())
          .filter((r) => r !== ''),
      ),
    ];
  }

  /**
   * A person (an email recipient) that an adapter listed earlier in `[routing] dedupe` reaches
   * for this request is left out here. Only adapters whose email recipients are people (DMs,
   * mails) take part; channels are never deduplicated (who reads them is not known).
   */
  private async applyDedupe(adapter: string, request: AccessRequest, plan: RecipientPlan, signal?: AbortSignal): Promise<RecipientPlan> {
    const order = this.options.config.dedupe;
    const index = order.indexOf(adapter);
    if (index <= 0 || !this.declarations.get(adapter)?.people) return plan;
    const reachedBy = new Map<string, string>();
    for (const preferred of order.slice(0, index)) {
      if (!this.declarations.get(preferred)?.people) continue;
      const theirs = await this.basePlan(preferred, request, signal);
      for (const r of theirs.recipients) if (isEmail(r) && !reachedBy.has(r.toLowerCase())) reachedBy.set(r.toLowerCase(), preferred);
    }
    if (reachedBy.size === 0) return plan;
    const kept: string[] = [];
    const dropped = [...plan.dropped];
    for (const r of plan.recipients) {
      const other = isEmail(r) ? reachedBy.get(r.toLowerCase()) : undefined;
      if (other) dropped.push({ recipient: r, reason: 'dedupe', detail: `reached through "${other}" (preferred in [routing] dedupe)` });
      else kept.push(r);
    }
    return { ...plan, recipients: kept, dropped };
  }

  /**
   * Evaluates rules for a request. The requester's traits are read only when a rule reads traits
   * other than facts; facts only for the rules that read them. A rule whose facts could not be
   * computed comes back as an `error` outcome (skipped), never as a silent "false".
   */
  async evaluate(rules: readonly CompiledRule[], request: AccessRequest, signal?: AbortSignal): Promise<Evaluation> {
    const usages = rules.map((r) => traitUsage(r.rule.condition));
    const factNames = new Set(this.providers.keys());
    const needsReal = usages.some((u) => u.whole || [...u.keys].some((k) => !factNames.has(k)));
    const wantedFacts = new Set<string>();
    for (const u of usages) for (const k of u.keys) if (factNames.has(k)) wantedFacts.add(k);

    let real: Traits | undefined;
    let traitsState: Evaluation['traits'] = 'not-needed';
    if (needsReal) {
      real = await this.requesterTraits(request.user, signal);
      traitsState = real ? 'known' : 'unknown';
    }

    const facts: Record<string, string[]> = {};
    const factErrors: Record<string, string> = {};
    const failedFacts = new Set<string>();
    const byProvider = new Map<FactProvider, { adapter: string; names: string[] }>();
    for (const name of wantedFacts) {
      const { adapter, provider } = this.providers.get(name)!;
      const entry = byProvider.get(provider) ?? { adapter, names: [] };
      entry.names.push(name);
      byProvider.set(provider, entry);
    }
    await Promise.all(
      [...byProvider].map(async ([provider, { adapter, names }]) => {
        try {
          const values = await withDeadline(provider.facts(request, signal), this.options.factsTimeoutMs ?? 10_000, `facts from ${adapter}`);
          for (const name of provider.names) {
            if (names.includes(name) || values[name] !== undefined) facts[name] = [...(values[name] ?? [])];
          }
        } catch (err) {
          factErrors[adapter] = errorMessage(err);
          for (const name of names) failedFacts.add(name);
          this.options.logger.warn('Could not compute facts for a request; rules that read them are skipped', {
            requestId: request.id,
            adapter,
            facts: names.join(','),
            error: errorMessage(err),
          });
        }
      }),
    );

    // Real traits without the names facts own (a trait must not pose as a fact), then the facts.
    let userTraits: Traits | undefined;
    if (real) {
      userTraits = {};
      for (const [k, v] of Object.entries(real)) if (!factNames.has(k)) userTraits[k] = [...v];
    } else if (!needsReal) {
      userTraits = {};
    }
    if (userTraits) for (const [k, v] of Object.entries(facts)) userTraits[k] = [...v];
    const context = buildConditionContext({ request, ...(userTraits ? { userTraits } : {}) });

    const outcomes = rules.map((rule, i): RuleOutcome => {
      const missing = [...usages[i]!.keys].filter((k) => failedFacts.has(k));
      if (missing.length > 0) {
        return {
          name: rule.name,
          rule: rule.rule,
          status: 'error',
          reason: `facts not available (${missing.join(', ')}): ${[...new Set(missing.map((m) => factErrors[this.providers.get(m)!.adapter]))].join('; ')}`,
        };
      }
      return rule.matches(context);
    });
    for (const o of outcomes) {
      if (o.status === 'error') this.options.logger.debug('Access Monitoring Rule could not be evaluated; skipped', { requestId: request.id, rule: o.name, reason: o.reason });
    }
    return { outcomes, facts, factErrors, traits: traitsState };
  }

  /**
   * The automatic review the integration's rules ask for: any matching DENIED rule wins, otherwise
   * the first matching APPROVED one (rules by name). Long-term requests are never approved
   * automatically (standing access deserves a person).
   */
  async reviewDecision(request: AccessRequest, signal?: AbortSignal): Promise<ReviewDecision | undefined> {
    const integration = this.options.config.automaticReview?.integration;
    if (integration === undefined) return undefined;
    const empty: Evaluation = { outcomes: [], facts: {}, factErrors: {}, traits: 'not-needed' };
    const none = (why: string, evaluation = empty): ReviewDecision => ({ integration, decision: undefined, reason: '', why, evaluation });
    const { rules } = this.options;
    await rules.ready(this.options.rulesWaitMs ?? 10_000);
    if (rules.status.state === 'unavailable') return none(rules.status.detail);
    if (rules.status.state !== 'loaded') return none(`Access Monitoring Rules are not loaded yet (${rules.status.detail})`);
    const candidates = rules.reviewRules();
    if (candidates.length === 0) return none(`no Access Monitoring Rule names the integration "${integration}" (with desired_state: reviewed)`);
    const evaluation = await this.evaluate(candidates, request, signal);
    const matched = evaluation.outcomes.filter((o) => o.status === 'match');
    const deny = matched.find((o) => o.rule.automaticReview?.decision === 'DENIED');
    const approve = matched.find((o) => o.rule.automaticReview?.decision === 'APPROVED');
    const chosen = deny ?? approve;
    if (!chosen) return none(`none of the ${candidates.length} rule${candidates.length === 1 ? '' : 's'} of integration "${integration}" matched`, evaluation);
    if (!deny && request.requestKind === 'LONG_TERM') {
      return none(`rule "${chosen.name}" would approve, but long-term requests are never approved automatically`, evaluation);
    }
    const decision = deny ? 'DENIED' : 'APPROVED';
    const given = chosen.rule.automaticReview?.reason?.trim();
    const reason = `${decision === 'APPROVED' ? 'Approved' : 'Denied'} automatically by access monitoring rule "${chosen.name}"${given ? `: ${given}` : ''}`;
    const overruled = deny && approve ? ` (it overrules approving rule "${approve.name}": deny beats approve)` : '';
    return {
      integration,
      decision,
      rule: chosen.name,
      reason,
      why: `rule "${chosen.name}" matched${chosen.schedule ? ` within schedule "${chosen.schedule}"` : ''}${overruled}`,
      evaluation,
    };
  }

  private async requesterTraits(user: string, signal?: AbortSignal): Promise<Traits | undefined> {
    try {
      return await this.traits.get(user, async () => (await this.options.getUser(user, signal)).traits);
    } catch (err) {
      if (!this.warnedTraits && isPluginError(err, 'ACCESS_DENIED')) {
        this.warnedTraits = true;
        this.options.logger.warn("Cannot read requesters' traits; rules that read user.traits are skipped (the plugin role needs user: [read])", {
          error: errorMessage(err),
        });
      } else {
        this.options.logger.debug("Could not read the requester's traits; rules that read user.traits are skipped", { user, error: errorMessage(err) });
      }
      return undefined;
    }
  }
}

/** Nobody is asked to review their own request: the requester is left out of the recipients. */
function withoutRequester(request: AccessRequest, plan: RecipientPlan): RecipientPlan {
  const me = request.user.trim().toLowerCase();
  if (me === '') return plan;
  const kept: string[] = [];
  const dropped = [...plan.dropped];
  for (const r of plan.recipients) {
    if (r.toLowerCase() === me) dropped.push({ recipient: r, reason: 'requester', detail: 'the requester is never asked to review their own request' });
    else kept.push(r);
  }
  return { ...plan, recipients: kept, dropped };
}
