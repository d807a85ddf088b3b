import { compileRule, type CompiledRule } from '../amr/compileRule.js';
import { errorMessage, isPluginError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessMonitoringRule, TeleportClient } from '../teleport/types.js';

export const ACCESS_REQUEST_SUBJECT = 'access_request';

/** Where the rules stand, for logs, `/readyz`-like reports and `explain`. */
export type RuleCacheStatus =
  | { state: 'off'; detail: string }
  | { state: 'loading'; detail: string }
  | { state: 'loaded'; detail: string; loadedAt: Date }
  /** The plugin may not read rules, or the server has none: routing uses the static config. */
  | { state: 'unavailable'; detail: string };

export interface RuleCacheOptions {
  client: Pick<TeleportClient, 'listAccessMonitoringRules'>;
  logger: Logger;
  /** Plugin (adapter) names whose notification rules are cached. */
  notificationNames: readonly string[];
  /** The automatic-review integration served, if any. */
  integration?: string;
  /** After a failed load (other than "not allowed" / "not implemented"), try again after this (default 30 s). */
  retryMs?: number;
  /** Routing by rules is turned off: why (the cache then stays empty). */
  off?: string;
}

type RuleEvent = { type: 'rule-put'; rule: AccessMonitoringRule } | { type: 'rule-delete'; name: string };

interface Entry {
  rule: AccessMonitoringRule;
  compiled: CompiledRule | undefined;
}

/**
 * The Access Monitoring Rules that concern this runtime, as Teleport holds them: for each
 * adapter the rules whose `notification.name` is its name, and for the automatic-review
 * integration the rules that name it (with `desired_state: reviewed`); both only for the subject
 * `access_request`. Loaded with ListAccessMonitoringRulesWithFilter after every INIT (a new watch
 * stream replays nothing) and kept current from the stream's rule events in between.
 *
 * Events that arrive while a load is under way are applied after it, in order: each is a change
 * made after the INIT the load follows, so the last event for a rule is never older than what the
 * listing saw.
 *
 * A rule that does not compile is logged once (per version of it) and skipped. A plugin without
 * `access_monitoring_rule: [read, list]`, or a server without the service, leaves the cache
 * `unavailable` with one warning: routing then falls back to the static config.
 */
export class RuleCache {
  private entries = new Map<string, Entry>();
  private statusValue: RuleCacheStatus = { state: 'loading', detail: 'waiting for the watch stream' };
  private loading: Promise<void> | undefined;
  private again = false;
  private buffered: RuleEvent[] | undefined;
  private readonly warnedBroken = new Set<string>();
  private warnedUnavailable = false;
  private warnedUnwatched = false;
  private unwatched = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private versionValue = 0;
  private readonly listeners: Array<() => void> = [];

  constructor(private readonly options: RuleCacheOptions) {
    if (options.off !== undefined) {
      this.statusValue = { state: 'off', detail: options.off };
      this.stopped = true;
    } else if (!options.client.listAccessMonitoringRules) {
      this.statusValue = { state: 'unavailable', detail: 'this Teleport client cannot list Access Monitoring Rules' };
    }
  }

  get status(): RuleCacheStatus {
    return this.statusValue;
  }

  /** Bumped whenever the set of rules changes. */
  get version(): number {
    return this.versionValue;
  }

  /** Called after every change of the rules. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /**
   * At every INIT: (re)load. `acceptedKinds` says whether rule events will follow; without them
   * the rules are only refreshed at the next INIT (said once).
   */
  onInit(acceptedKinds: readonly string[] | undefined): void {
    if (this.stopped || !this.options.client.listAccessMonitoringRules) return;
    // Said after the load, and only if the rules can be read: a role without rule access gets the
    // one warning of the failed load, not two.
    this.unwatched = !(acceptedKinds === undefined || acceptedKinds.length === 0 || acceptedKinds.includes('access_monitoring_rule'));
    void this.load();
  }

  onEvent(event: RuleEvent): void {
    if (this.stopped) return;
    if (this.buffered) {
      this.buffered.push(event);
      return;
    }
    if (this.apply(event)) this.changed();
  }

  /** Resolves when no load is under way (or after `timeoutMs`); routing waits for the first load. */
  async ready(timeoutMs = 10_000): Promise<boolean> {
    const loading = this.loading;
    if (!loading) return this.statusValue.state !== 'loading';
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      loading.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return done;
  }

  /** Compiled rules routing notifications to `plugin`, by name. */
  notificationRules(plugin: string): CompiledRule[] {
    return this.select((rule) => rule.notification?.name === plugin);
  }

  /** Compiled rules of the automatic-review integration, by name. */
  reviewRules(): CompiledRule[] {
    const integration = this.options.integration;
    if (integration === undefined) return [];
    return this.select((rule) => isReviewRule(rule, integration));
  }

  /** Every cached rule (including ones that do not compile), by name: for `explain`. */
  all(): AccessMonitoringRule[] {
    return [...this.entries.values()].map((e) => e.rule).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Why a cached rule is skipped (it does not compile), or undefined. */
  brokenReason(name: string): string | undefined {
    const entry = this.entries.get(name);
    if (!entry || entry.compiled) return undefined;
    const result = compileRule(entry.rule);
    return result.ok ? undefined : result.error.message;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
  }

  /** One load at a time; a load asked for during one runs once more after it. */
  load(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const run = (async () => {
      do {
        this.again = false;
        await this.loadOnce();
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.loading = undefined;
    });
    this.loading = run;
    return run;
  }

  private async loadOnce(): Promise<void> {
    const list = this.options.client.listAccessMonitoringRules?.bind(this.options.client);
    if (!list || this.stopped) return;
    clearTimeout(this.retryTimer);
    this.buffered = [];
    if (this.statusValue.state !== 'loaded') this.statusValue = { state: 'loading', detail: 'loading Access Monitoring Rules' };
    const filters = [
      ...this.options.notificationNames.map((name) => ({ subjects: [ACCESS_REQUEST_SUBJECT], notificationName: name })),
      ...(this.options.integration === undefined ? [] : [{ subjects: [ACCESS_REQUEST_SUBJECT], automaticReviewName: this.options.integration }]),
    ];
    try {
      const lists = await Promise.all(filters.map((f) => list(f)));
      const fresh = new Map<string, Entry>();
      for (const rule of lists.flat()) {
        if (this.relevant(rule)) fresh.set(rule.name, this.entryFor(rule));
      }
      const events = this.buffered ?? [];
      this.buffered = undefined;
      const before = this.fingerprint();
      this.entries = fresh;
      for (const event of events) this.apply(event);
      this.statusValue = { state: 'loaded', detail: `${this.entries.size} rule${this.entries.size === 1 ? '' : 's'}`, loadedAt: new Date() };
      if (this.warnedUnavailable) {
        this.warnedUnavailable = false;
        this.options.logger.info('Access Monitoring Rules can be read again; routing by rules', { rules: this.entries.size });
      }
      this.options.logger.debug('Access Monitoring Rules loaded', { rules: [...this.entries.keys()].sort().join(',') });
      if (this.unwatched && !this.warnedUnwatched) {
        this.warnedUnwatched = true;
        this.options.logger.warn('Teleport did not accept a watch on access_monitoring_rule; rules are reloaded only when the watch stream reconnects');
      }
      if (this.fingerprint() !== before) this.changed();
    } catch (err) {
      const events = this.buffered ?? [];
      this.buffered = undefined;
      for (const event of events) this.apply(event);
      if (isPluginError(err, 'ACCESS_DENIED') || isPluginError(err, 'NOT_IMPLEMENTED')) {
        const why = isPluginError(err, 'ACCESS_DENIED')
          ? "the plugin's role may not read them (add access_monitoring_rule: [read, list])"
          : 'this Teleport has no Access Monitoring Rules service (Teleport 16 or newer has it)';
        const hadRules = this.entries.size > 0;
        this.entries = new Map();
        this.statusValue = { state: 'unavailable', detail: `cannot load Access Monitoring Rules: ${why}` };
        if (!this.warnedUnavailable) {
          this.warnedUnavailable = true;
          this.options.logger.warn(`Cannot load Access Monitoring Rules: ${why}; notifications use the static config (role_to_recipients) and no automatic reviews are made`, {
            error: errorMessage(err),
          });
        }
        if (hadRules) this.changed();
        return;
      }
      // Transient: keep what we had and try again soon.
      this.options.logger.warn('Could not load Access Monitoring Rules; keeping the rules loaded before and trying again', {
        error: errorMessage(err),
        retryInMs: this.options.retryMs ?? 30_000,
      });
      if (this.statusValue.state !== 'loaded') this.statusValue = { state: 'loading', detail: `first load failed: ${errorMessage(err)}` };
      this.retryTimer = setTimeout(() => void this.load(), this.options.retryMs ?? 30_000);
      this.retryTimer.unref();
    }
  }

  /** True when the cached set changed. */
  private apply(event: RuleEvent): boolean {
    if (event.type === 'rule-delete') return this.entries.delete(event.name);
    const rule = event.rule;
    if (!this.relevant(rule)) return this.entries.delete(rule.name);
    this.entries.set(rule.name, this.entryFor(rule));
    this.options.logger.debug('Access Monitoring Rule updated', { rule: rule.name });
    return true;
  }

  private relevant(rule: AccessMonitoringRule): boolean {
    if (!rule.subjects.includes(ACCESS_REQUEST_SUBJECT)) return false;
    if (rule.notification && this.options.notificationNames.includes(rule.notification.name)) return true;
    return this.options.integration !== undefined && isReviewRule(rule, this.options.integration);
  }

  private entryFor(rule: AccessMonitoringRule): Entry {
    const result = compileRule(rule);
    if (result.ok) return { rule, compiled: result };
    const key = `${rule.name}\u0000${rule.condition}\u0000${JSON.stringify(rule.schedules)}`;
    if (!this.warnedBroken.has(key)) {
      this.warnedBroken.add(key);
      this.options.logger.warn('Access Monitoring Rule skipped: it does not compile', { rule: rule.name, part: result.error.part, error: result.error.message });
    }
    return { rule, compiled: undefined };
  }

  private select(pick: (rule: AccessMonitoringRule) => boolean): CompiledRule[] {
    const out: CompiledRule[] = [];
    for (const entry of this.entries.values()) if (entry.compiled && pick(entry.rule)) out.push(entry.compiled);
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  private fingerprint(): string {
    return JSON.stringify([...this.entries.values()].map((e) => e.rule).sort((a, b) => a.name.localeCompare(b.name)));
  }

  private changed(): void {
    this.versionValue += 1;
    for (const listener of this.listeners) listener();
  }
}

export function isReviewRule(rule: AccessMonitoringRule, integration: string): boolean {
  return rule.desiredState === 'reviewed' && rule.automaticReview?.integration === integration && rule.subjects.includes(ACCESS_REQUEST_SUBJECT);
}
