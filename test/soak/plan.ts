// What a soak run does, decided up front from a seed: the requests' lifecycles and the fault
// timeline. Pure (no clocks, no I/O), so one seed always gives the same run plan.

/** mulberry32: small, fast, good enough to spread times and pick outcomes reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

export type Outcome = 'approve' | 'deny' | 'expire' | 'pending';

export interface PlannedReview {
  /** ms after the run's start. */
  at: number;
  author: string;
  state: 'APPROVED' | 'DENIED';
}

export interface PlannedRequest {
  index: number;
  user: string;
  /** ms after the run's start. */
  createAt: number;
  reviews: PlannedReview[];
  outcome: Outcome;
  /** When the request is approved, denied or expired (undefined while it stays pending). */
  resolveAt: number | undefined;
}

export interface WorkloadOptions {
  requests: number;
  /** Requests created per second. */
  rate: number;
  requesters: readonly string[];
  reviewers: readonly string[];
  /**
   * No lifecycle step earlier than this after the request's creation. Longer than any single
   * outage in the schedule (refused streams, a SIGKILL and restart), so every request is seen
   * pending at least once by a live plugin: announcing it is always a fair expectation.
   */
  minGapMs: number;
  /** Lifecycle steps are spread over up to this long after minGapMs. */
  spreadMs: number;
  /** Share of requests left pending to the end (the rest: approved 40 : denied 30 : expired 25). */
  pendingShare: number;
  /**
   * At least this long between a request's last review and its resolution (default 100 ms). Short
   * gaps race the review's processing against the resolution (e.g. an expiry deleting the request
   * while its review is being posted), which is realistic and finds bugs without any fault.
   */
  resolveGapMs?: number;
  /**
   * At least this long between a request's last review and its expiry (default 8 s, as the gap
   * before a request's first step). An expiry deletes the request and its reviews with it: a
   * review made during a stream outage and deleted before any plugin has re-listed the requests
   * can be seen by no plugin (nor by Teleport's own). Longer than any outage this harness injects
   * plus the re-listing after it (seconds for a restart with a backlog of ~2000 requests on a
   * loaded 2-core machine), so every review is visible to a plugin.
   */
  expiryGapMs?: number;
}

/** Seeded lifecycles: 0–2 reviews by distinct reviewers, then approved, denied, expired or left pending. */
export function planWorkload(options: WorkloadOptions, random: () => number): PlannedRequest[] {
  const out: PlannedRequest[] = [];
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const intervalMs = 1000 / options.rate;
  for (let index = 0; index < options.requests; index++) {
    const createAt = Math.round(index * intervalMs);
    const roll = random();
    const rest = (roll - options.pendingShare) / (1 - options.pendingShare);
    const outcome: Outcome = roll < options.pendingShare ? 'pending' : rest < 0.4 / 0.95 ? 'approve' : rest < 0.7 / 0.95 ? 'deny' : 'expire';
    const reviewCount = Math.floor(random() * 3);
    const start = createAt + options.minGapMs;
    const end = start + Math.round(random() * options.spreadMs) + 300 * reviewCount;
    const reviewers = shuffle([...options.reviewers], random).slice(0, reviewCount);
    // Reviews land anywhere from minGap to just before the resolution, in order.
    const times = reviewers.map(() => start + Math.round(random() * Math.max(0, end - start - 200))).sort((a, b) => a - b);
    const reviews = reviewers.map((author, k) => ({ at: times[k]!, author, state: random() < 0.6 ? ('APPROVED' as const) : ('DENIED' as const) }));
    out.push({
      index,
      user: pick(options.requesters),
      createAt,
      reviews,
      outcome,
      resolveAt:
        outcome === 'pending'
          ? undefined
          : Math.max(
              end,
              (times.at(-1) ?? 0) +
                (outcome === 'expire' && times.length > 0 ? Math.max(options.resolveGapMs ?? 100, options.expiryGapMs ?? 8_000) : (options.resolveGapMs ?? 100)),
            ),
    });
  }
  return out;
}

export type FaultKind = 'watch-drop' | 'refuse-streams' | 'sigkill' | 'slack-429' | 'slack-5xx' | 'pagerduty-5xx' | 'plugin-data-fail' | 'replica' | 'plugin-exit';

export const FAULT_KINDS: readonly FaultKind[] = [
  'watch-drop',
  'refuse-streams',
  'sigkill',
  'slack-429',
  'slack-5xx',
  'pagerduty-5xx',
  'plugin-data-fail',
  'replica',
  'plugin-exit',
];

/** One fault in the timeline: starts at `at`, its effect lasts `durationMs` (0: instantaneous). */
export interface PlannedFault {
  kind: FaultKind;
  at: number;
  durationMs: number;
  /** How many calls it fails (bursts), or 0. */
  count: number;
  /** HTTP status for bursts. */
  status?: number;
}

export interface FaultScheduleOptions {
  /** The faults fall in [startMs, endMs] (ms after the run's start). */
  startMs: number;
  endMs: number;
  /** Watch stream dropped about this often (0: never). */
  watchDropEveryMs: number;
  refusals: number;
  refuseMs: number;
  kills: number;
  slack429Bursts: number;
  slack5xxBursts: number;
  pagerduty5xxBursts: number;
  pluginDataBursts: number;
  /** The second replica's lifetime (0: no replica). */
  replicaMs: number;
  burstMs: number;
}

/** The default schedule for a window: counts scale with its length, every kind at least once. */
export function defaultFaultOptions(startMs: number, endMs: number, kills: number, replicaMs: number): FaultScheduleOptions {
  const span = Math.max(0, endMs - startMs);
  const bursts = Math.max(1, Math.round(span / 25_000));
  return {
    startMs,
    endMs,
    watchDropEveryMs: 5000,
    refusals: 3,
    refuseMs: 2000,
    kills,
    slack429Bursts: bursts,
    slack5xxBursts: bursts,
    pagerduty5xxBursts: bursts,
    pluginDataBursts: Math.max(2, bursts * 2),
    replicaMs: Math.min(replicaMs, Math.round(span * 0.6)),
    burstMs: 1500,
  };
}

/**
 * The fault timeline. Occurrences of one kind fall one per equal slice of the window (jittered),
 * so they are spread out, bounded in count, and never two SIGKILLs at once.
 */
export function planFaults(o: FaultScheduleOptions, random: () => number): PlannedFault[] {
  const span = o.endMs - o.startMs;
  if (span <= 0) return [];
  const faults: PlannedFault[] = [];
  const spread = (n: number, make: (at: number, i: number) => PlannedFault): void => {
    for (let i = 0; i < n; i++) {
      const slice = span / n;
      // Within the middle 80 % of the slice: never two of a kind back to back.
      const at = Math.round(o.startMs + slice * i + slice * (0.1 + 0.8 * random()));
      faults.push(make(at, i));
    }
  };
  if (o.watchDropEveryMs > 0) {
    for (let at = o.startMs + o.watchDropEveryMs; at < o.endMs; at += o.watchDropEveryMs) {
      const jitter = Math.round((random() - 0.5) * 0.4 * o.watchDropEveryMs);
      faults.push({ kind: 'watch-drop', at: Math.max(o.startMs, at + jitter), durationMs: 0, count: 0 });
    }
  }
  spread(o.refusals, (at) => ({ kind: 'refuse-streams', at, durationMs: o.refuseMs, count: 0 }));
  spread(o.kills, (at) => ({ kind: 'sigkill', at, durationMs: 0, count: 0 }));
  spread(o.slack429Bursts, (at) => ({ kind: 'slack-429', at, durationMs: o.burstMs, count: 40, status: 429 }));
  spread(o.slack5xxBursts, (at, i) => ({ kind: 'slack-5xx', at, durationMs: o.burstMs, count: 25, status: [500, 503, 502][i % 3]! }));
  spread(o.pagerduty5xxBursts, (at, i) => ({ kind: 'pagerduty-5xx', at, durationMs: o.burstMs, count: 25, status: [500, 502, 503][i % 3]! }));
  spread(o.pluginDataBursts, (at) => ({ kind: 'plugin-data-fail', at, durationMs: 0, count: 8 + Math.floor(random() * 8) }));
  if (o.replicaMs > 0) {
    const latestStart = o.endMs - o.replicaMs;
    const middle = Math.round(o.startMs + (span - o.replicaMs) / 2);
    faults.push({ kind: 'replica', at: Math.max(o.startMs, Math.min(latestStart, middle)), durationMs: o.replicaMs, count: 0 });
  }
  return faults.sort((a, b) => a.at - b.at);
}

/** Human label of a fault, as the timeline and the report print it. */
export function faultLabel(f: Pick<PlannedFault, 'kind' | 'count' | 'status' | 'durationMs'>): string {
  switch (f.kind) {
    case 'watch-drop':
      return 'watch stream dropped';
    case 'refuse-streams':
      return `watch dropped, new streams refused for ${(f.durationMs / 1000).toFixed(1)}s`;
    case 'sigkill':
      return 'plugin SIGKILLed and restarted';
    case 'slack-429':
      return `slack 429 burst (${f.count} calls, Retry-After 1)`;
    case 'slack-5xx':
      return `slack ${f.status ?? 500} burst (${f.count} calls)`;
    case 'pagerduty-5xx':
      return `pagerduty ${f.status ?? 500} burst (${f.count} calls)`;
    case 'plugin-data-fail':
      return `UpdatePluginData fails ${f.count}x`;
    case 'replica':
      return `second replica for ${(f.durationMs / 1000).toFixed(0)}s`;
    case 'plugin-exit':
      return 'plugin exited on its own and was restarted';
  }
}
