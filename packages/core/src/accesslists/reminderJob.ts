import { randomUUID } from 'node:crypto';
import { errorMessage, isOutcomeUnknown, isPluginError } from '../errors.js';
import { leaseState } from '../ledger/effectRecord.js';
import { createPluginDataStore, type CasPluginDataStore } from '../ledger/pluginDataStore.js';
import type { Logger } from '../log/logger.js';
import { accessListWebLink } from '../teleport/links.js';
import type { AccessList, ClusterInfo, PluginData, TeleportClient } from '../teleport/types.js';
import { readReminderRecord, writeReminderRecord, type InFlightReminder } from './reminderData.js';
import type { AccessListReminder, DueAccessList } from './reminderText.js';
import { reviewWindow } from './reviewWindow.js';

/** Where an owner's reminder goes (a chat recipient, a mail address). */
export interface ReminderDestination {
  readonly id: string;
  readonly label: string;
}

/**
 * What an adapter offers for Access List review reminders (the messaging kit builds it from a
 * bot). The job owns the rest: which lists are due, which owners, the plugin data, write-ahead
 * records and what happens after a crash.
 */
export interface AccessListReminderSender {
  /** The owner (a Teleport user name) as a destination; undefined when the service has nobody by that name (skipped). */
  resolveOwner(owner: string, signal?: AbortSignal): Promise<ReminderDestination | undefined>;
  /** One message to one owner. Throws a PluginError with service facts on failure. */
  send(to: ReminderDestination, reminder: AccessListReminder, signal?: AbortSignal): Promise<void>;
  /**
   * Whether the reminder with `reminder.id` reached `to` (messages since `since`, ms): asked only
   * after a crash or an answer that never came. Without it such a reminder is not repeated.
   */
  find?(to: ReminderDestination, reminder: Pick<AccessListReminder, 'id' | 'owner'>, signal?: AbortSignal, since?: number): Promise<boolean>;
  /**
   * Without `find`: sending the same reminder (same id) twice is harmless (a mail whose Message-ID
   * is made from the id, which receivers de-duplicate), so a reminder a crash cut off is sent
   * again rather than dropped.
   */
  repeatable?: boolean;
}

export interface AccessListReminderJobOptions {
  client: Pick<TeleportClient, 'getPluginData' | 'updatePluginData'> & Partial<Pick<TeleportClient, 'listAccessLists' | 'getAccessListOwners' | 'listPluginData'>>;
  /** Adapter name (= plugin data namespace, `slack` as the Go plugin) and what it sends with. */
  senders: ReadonlyArray<{ adapter: string; sender: AccessListReminderSender; logger: Logger }>;
  cluster: Pick<ClusterInfo, 'proxyPublicAddr'>;
  logger: Logger;
  /** This instance's name in write-ahead records. */
  instanceId: string;
  /** First run after start (default 30 s), then every `intervalMs` (default 3 h); both jittered down by up to a seventh. */
  firstDelayMs?: number;
  intervalMs?: number;
  /** A reminder another instance started this recently is left to it (default 5 min). */
  leaseMs?: number;
  now?: () => number;
  random?: () => number;
  /** Each reminder's outcome, for metrics: sent, failed (sent again next run), unknown (asked about next run). */
  onOutcome?: (adapter: string, outcome: 'sent' | 'failed' | 'unknown') => void;
}

export interface ReminderTickReport {
  /** Lists due for a reminder window now. */
  dueLists: number;
  /** Reminders sent, per adapter. */
  sent: Record<string, number>;
  /** Reminders cut off earlier and settled now: found (recorded) or not (sent again). */
  settled: number;
  /** Why nothing was read, when it wasn't. */
  skipped?: 'not-implemented' | 'access-denied' | 'error';
}

export const DEFAULT_FIRST_DELAY_MS = 30_000;
export const DEFAULT_REMINDER_INTERVAL_MS = 3 * 3600_000;
const DEFAULT_LEASE_MS = 5 * 60_000;

/** One adapter's part of a run: its store, sender and logger, and what the run learnt so far. */
interface AdapterRun {
  store: CasPluginDataStore;
  sender: AccessListReminderSender;
  logger: Logger;
  signal: AbortSignal;
  destinationOf(owner: string): Promise<ReminderDestination | undefined>;
  /** reminder id -> whether it arrived (asked once per run). */
  found: Map<string, Promise<boolean>>;
}

interface DueList {
  list: AccessList;
  entry: DueAccessList;
  windowStart: number;
  owners: string[];
}

/**
 * Access List review reminders, as the Go Slack plugin sends them and for every notifier: every
 * three hours the lists whose review window is open are read, and each owner (nested owner lists
 * included) gets one direct message per window naming every list of theirs that is due. Who was
 * reminded when lives in plugin data in the Go plugin's layout; each message is recorded before
 * it is sent and after, so a crash neither loses nor doubles one, and two replicas send it once.
 */
export class AccessListReminderJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly stores = new Map<string, CasPluginDataStore>();
  /** Reminders this process is sending right now (their in-flight records are not abandoned). */
  private readonly sending = new Set<string>();
  private ownersImplemented = true;
  private stopped = false;
  private lastWarning = '';

  constructor(private readonly options: AccessListReminderJobOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  /** Schedules the first run. */
  start(): void {
    if (this.stopped || this.options.senders.length === 0) return;
    this.schedule(this.options.firstDelayMs ?? DEFAULT_FIRST_DELAY_MS);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  /** One run now (tests, and the timer). Runs never overlap. */
  async runOnce(): Promise<ReminderTickReport> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.tick();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    // Seventh jitter, as the Go plugin: uniform in [6/7 d, d).
    const ms = delayMs - (delayMs / 7) * this.random();
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch((err: unknown) => this.options.logger.warn('Access List reminders failed; tried again at the next run', { error: errorMessage(err) }))
        .then((report) => {
          if (report?.skipped === 'not-implemented') return;
          this.schedule(this.options.intervalMs ?? DEFAULT_REMINDER_INTERVAL_MS);
        });
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<ReminderTickReport> {
    const { client, logger } = this.options;
    const signal = this.abort.signal;
    const report: ReminderTickReport = { dueLists: 0, sent: {}, settled: 0 };
    if (!client.listAccessLists) return { ...report, skipped: 'not-implemented' };
    let lists: AccessList[];
    try {
      lists = await client.listAccessLists(signal);
    } catch (err) {
      if (isPluginError(err, 'NOT_IMPLEMENTED')) {
        logger.info('This cluster has no Access Lists (open source, or an older version): no Access List review reminders');
        return { ...report, skipped: 'not-implemented' };
      }
      if (isPluginError(err, 'ACCESS_DENIED')) {
        this.warnOnce(
          'The plugin may not list Access Lists, so their owners get no review reminders: add access_list: [list, read] to its role, or set [access_list_reminders] enabled = false',
          err,
        );
        return { ...report, skipped: 'access-denied' };
      }
      this.warnOnce('Could not list Access Lists for review reminders; tried again at the next run', err);
      return { ...report, skipped: 'error' };
    }
    this.lastWarning = '';
    const now = this.now();
    const due: DueList[] = [];
    for (const list of lists) {
      const window = reviewWindow(list, now);
      if (!window.due) continue;
      const owners = await this.ownersOf(list, signal);
      if (owners.length === 0) continue;
      due.push({
        list,
        windowStart: window.windowStart,
        owners,
        entry: {
          name: list.name,
          title: list.title,
          dueAt: window.dueAt,
          overdue: window.overdue,
          overdueDays: window.overdueDays,
          ...optional('link', accessListWebLink(this.options.cluster, list.name)),
        },
      });
    }
    report.dueLists = due.length;
    for (const target of this.options.senders) {
      const counts = await this.remindFor(target, due, now, signal);
      report.sent[target.adapter] = counts.sent;
      report.settled += counts.settled;
    }
    return report;
  }

  /** Owners with nested owner lists flattened (v17+); the list's own owners on older servers. */
  private async ownersOf(list: AccessList, signal: AbortSignal): Promise<string[]> {
    const { client, logger } = this.options;
    if (!this.ownersImplemented || !client.getAccessListOwners) return list.owners;
    try {
      return await client.getAccessListOwners(list.name, signal);
    } catch (err) {
      if (isPluginError(err, 'NOT_IMPLEMENTED')) {
        this.ownersImplemented = false;
        return list.owners;
      }
      logger.warn('Could not read the owners of an Access List; its reminders wait for the next run', { accessList: list.name, error: errorMessage(err) });
      return [];
    }
  }

  private store(adapter: string): CasPluginDataStore {
    let store = this.stores.get(adapter);
    if (!store) {
      store = createPluginDataStore(this.options.client, adapter, { kind: 'access_list' });
      this.stores.set(adapter, store);
    }
    return store;
  }

  private async remindFor(
    target: AccessListReminderJobOptions['senders'][number],
    due: readonly DueList[],
    now: number,
    signal: AbortSignal,
  ): Promise<{ sent: number; settled: number }> {
    const { sender, logger } = target;
    const store = this.store(target.adapter);
    const destinations = new Map<string, Promise<ReminderDestination | undefined>>();
    const destinationOf = (owner: string): Promise<ReminderDestination | undefined> => {
      let d = destinations.get(owner);
      if (!d) {
        d = sender.resolveOwner(owner, signal).catch((err: unknown) => {
          logger.warn('Could not find an Access List owner on the service; no reminder for them this run', { owner, error: errorMessage(err) });
          return undefined;
        });
        destinations.set(owner, d);
      }
      return d;
    };
    const run: AdapterRun = { store, sender, logger, signal, destinationOf, found: new Map() };
    /** owner -> the id of a reminder cut off before it arrived: sent again under the same id. */
    const again = new Map<string, string>();
    let settled = 0;
    let sent = 0;

    // Which owner is owed a reminder for which lists (settling reminders a crash cut off first).
    // One bulk read of this adapter's entries where Teleport offers it; writes compare anyway.
    let bulk: Map<string, PluginData> | undefined;
    if (due.length > 1) {
      try {
        bulk = await store.list(signal);
      } catch (err) {
        logger.debug('Could not read Access List reminder data in bulk; reading list by list', { error: errorMessage(err) });
      }
    }
    const byOwner = new Map<string, DueList[]>();
    for (const item of due) {
      let record;
      try {
        record = readReminderRecord(bulk ? bulk.get(item.list.name) : await store.get(item.list.name, signal));
      } catch (err) {
        logger.warn('Could not read Access List reminder data; this list waits for the next run', { accessList: item.list.name, error: errorMessage(err) });
        continue;
      }
      for (const owner of item.owners) {
        let last = record.notified.get(owner) ?? -Infinity;
        const flight = record.inFlight.get(owner);
        if (flight) {
          // Another live instance is sending it, or this process is: leave it be.
          const lease = leaseState({ owner: flight.by, at: flight.at }, this.options.instanceId, now, this.options.leaseMs ?? DEFAULT_LEASE_MS);
          if (lease.state === 'busy' || this.sending.has(flight.id)) continue;
          const outcome = await this.settle(run, item.list.name, owner, flight);
          if (outcome === undefined) continue;
          settled += 1;
          if (outcome) last = Math.max(last, flight.at);
          else again.set(owner, flight.id);
        }
        if (item.windowStart > last) {
          const mine = byOwner.get(owner) ?? [];
          mine.push(item);
          byOwner.set(owner, mine);
        }
      }
    }

    for (const [owner, items] of byOwner) {
      if (signal.aborted) break;
      const to = await destinationOf(owner);
      if (!to) {
        logger.debug('An Access List owner has no address on this service; not reminded', { owner });
        continue;
      }
      const id = again.get(owner) ?? randomUUID();
      const flight: InFlightReminder = { id, at: now, by: this.options.instanceId };
      // Before: claim the owner's reminder on every list it names (another replica may be first).
      const claimed: DueList[] = [];
      for (const item of items) {
        let claim = false;
        try {
          await store.update(
            item.list.name,
            (current) => {
              claim = false;
              const record = readReminderRecord(current);
              if (record.inFlight.has(owner) || (record.notified.get(owner) ?? -Infinity) >= item.windowStart) return undefined;
              record.inFlight.set(owner, flight);
              claim = true;
              return writeReminderRecord(current, record);
            },
            signal,
          );
        } catch (err) {
          claim = false;
          logger.warn('Could not record an Access List reminder before sending it; it waits for the next run', { accessList: item.list.name, owner, error: errorMessage(err) });
        }
        if (claim) claimed.push(item);
      }
      if (claimed.length === 0) continue;
      claimed.sort((a, b) => a.entry.dueAt.getTime() - b.entry.dueAt.getTime());
      const reminder: AccessListReminder = {
        id,
        owner,
        lists: claimed.map((c) => c.entry),
        ...optional('listsLink', accessListWebLink(this.options.cluster)),
      };
      this.sending.add(id);
      try {
        await sender.send(to, reminder, signal);
      } catch (err) {
        const unknown = isOutcomeUnknown(err) || signal.aborted;
        this.options.onOutcome?.(target.adapter, unknown ? 'unknown' : 'failed');
        if (unknown) {
          // It may have arrived (no answer, or cut off by shutdown): the records stay, and the next
          // run (of this process or the next) asks the service first.
          logger.warn('An Access List reminder may or may not have been sent; the next run checks before sending again', { owner, error: errorMessage(err) });
        } else {
          logger.warn('Could not send an Access List reminder; tried again at the next run', { owner, error: errorMessage(err) });
          await this.finish(run, claimed, owner, flight, false);
        }
        continue;
      } finally {
        this.sending.delete(id);
      }
      sent += 1;
      this.options.onOutcome?.(target.adapter, 'sent');
      logger.info('Reminded an Access List owner of a review', { owner, accessLists: claimed.map((c) => c.list.name).join(',') });
      // After: the owner was reminded now (owners no longer on a list are dropped, as upstream).
      await this.finish(run, claimed, owner, flight, true);
    }
    return { sent, settled };
  }

  /** Removes the in-flight record of `flight` and, when it was delivered, records the reminder. */
  private async finish(run: AdapterRun, items: readonly DueList[], owner: string, flight: InFlightReminder, delivered: boolean): Promise<void> {
    const { store, signal, logger } = run;
    for (const item of items) {
      try {
        await store.update(
          item.list.name,
          (current) => {
            const record = readReminderRecord(current);
            if (record.inFlight.get(owner)?.id !== flight.id) return undefined;
            record.inFlight.delete(owner);
            if (delivered) {
              record.notified.set(owner, flight.at);
              for (const name of [...record.notified.keys()]) if (!item.owners.includes(name)) record.notified.delete(name);
            }
            return writeReminderRecord(current, record);
          },
          // Recorded even while shutting down: the message is out.
          delivered ? undefined : signal,
        );
      } catch (err) {
        logger.warn('Could not record an Access List reminder; the next run asks the service before sending another', {
          accessList: item.list.name,
          owner,
          error: errorMessage(err),
        });
      }
    }
  }

  /**
   * A reminder a stopped process (or an answer that never came) left unfinished: ask the service
   * whether it arrived, then record it (true) or clear it to be sent again (false). Undefined:
   * could not settle it now.
   */
  private async settle(run: AdapterRun, listName: string, owner: string, flight: InFlightReminder): Promise<boolean | undefined> {
    const { store, sender, signal, logger, destinationOf, found } = run;
    let arrived: boolean;
    try {
      const to = await destinationOf(owner);
      if (!to) {
        arrived = false;
      } else if (!sender.find) {
        // The service cannot be asked: again under the same id where that is harmless, else at most once.
        arrived = sender.repeatable !== true;
      } else {
        let answer = found.get(flight.id);
        if (!answer) {
          answer = sender.find(to, { id: flight.id, owner }, signal, flight.at);
          found.set(flight.id, answer);
        }
        arrived = await answer;
      }
      await store.update(
        listName,
        (current) => {
          const record = readReminderRecord(current);
          if (record.inFlight.get(owner)?.id !== flight.id) return undefined;
          record.inFlight.delete(owner);
          if (arrived) record.notified.set(owner, Math.max(record.notified.get(owner) ?? -Infinity, flight.at));
          return writeReminderRecord(current, record);
        },
        signal,
      );
    } catch (err) {
      logger.warn('Could not settle an Access List reminder left unfinished; tried again at the next run', { accessList: listName, owner, error: errorMessage(err) });
      return undefined;
    }
    logger.info(arrived ? 'An Access List reminder left unfinished had arrived; recorded' : 'An Access List reminder left unfinished had not arrived; sending it again', {
      accessList: listName,
      owner,
    });
    return arrived;
  }

  private warnOnce(message: string, err: unknown): void {
    const text = `${message}: ${errorMessage(err)}`;
    if (text === this.lastWarning) return;
    this.lastWarning = text;
    this.options.logger.warn(message, { error: errorMessage(err) });
  }
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
