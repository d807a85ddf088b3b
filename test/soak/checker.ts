// The soak checker: a pure function from what the fakes recorded (Slack messages, PagerDuty
// incidents) and what the fake Teleport did (its audit log) to a verdict per request. No I/O and
// no clock, so it is unit-tested on hand-made inputs (test/soak-checker.test.ts).
import type { FaultKind } from './plan.js';

export type FinalState = 'PENDING' | 'APPROVED' | 'DENIED' | 'EXPIRED';

/** One access request as Teleport saw it: what the plugin's output must end up showing. */
export interface ObservedRequest {
  id: string;
  user: string;
  /** ms after the run's start. */
  createdAt: number;
  /** In order. */
  reviews: Array<{ author: string; at: number }>;
  final: FinalState;
  resolvedAt: number | undefined;
}

/** An audit log entry as the fake Teleport keeps it (only the fields used here). */
export interface AuditLike {
  type: string;
  requestId: string;
  state?: string;
  user?: string;
  author?: string;
  time: Date | number;
}

/** The requests' lifecycles, from the fake Teleport's audit log; times relative to `t0` (ms). */
export function requestsFromAudit(audit: readonly AuditLike[], t0: number): ObservedRequest[] {
  const byId = new Map<string, ObservedRequest>();
  const ms = (t: Date | number): number => (typeof t === 'number' ? t : t.getTime()) - t0;
  for (const e of audit) {
    if (e.type === 'access_request.create') {
      byId.set(e.requestId, { id: e.requestId, user: e.user ?? '', createdAt: ms(e.time), reviews: [], final: 'PENDING', resolvedAt: undefined });
      continue;
    }
    const r = byId.get(e.requestId);
    if (!r) continue;
    if (e.type === 'access_request.review') {
      r.reviews.push({ author: e.author ?? '', at: ms(e.time) });
      // A review that met a threshold resolves the request.
      if ((e.state === 'APPROVED' || e.state === 'DENIED') && r.final === 'PENDING') {
        r.final = e.state;
        r.resolvedAt = ms(e.time);
      }
    } else if (e.type === 'access_request.update') {
      if ((e.state === 'APPROVED' || e.state === 'DENIED') && r.final === 'PENDING') {
        r.final = e.state;
        r.resolvedAt = ms(e.time);
      }
    } else if (e.type === 'access_request.delete') {
      // Deleting a resolved request changes nothing it shows; a pending one has expired.
      if (r.final === 'PENDING') {
        r.final = 'EXPIRED';
        r.resolvedAt = ms(e.time);
      }
    }
  }
  return [...byId.values()];
}

export interface ObservedSlackMessage {
  channel: string;
  ts: string;
  /** Set for thread replies. */
  threadTs?: string | undefined;
  text: string;
  /** The mrkdwn/plain text of the blocks (blocksText). */
  blocksText: string;
}

export interface SlackObservation {
  messages: readonly ObservedSlackMessage[];
  /** Where every request's message must go (channel ids; a user recipient's DM channel id). */
  recipientChannels: readonly string[];
  /** Teleport requester -> their Slack DM channel, for requesters who are Slack users. */
  requesterDm: Readonly<Record<string, string>>;
}

export interface ObservedIncident {
  id: string;
  incidentKey: string;
  status: string;
  /** Note contents, in order. */
  notes: readonly string[];
}

export interface PagerDutyObservation {
  incidents: readonly ObservedIncident[];
  /** The incident_key prefix (`teleport-access-request/`). */
  keyPrefix?: string;
}

/** A fault as it happened: started at `at`, its effect lasted until `until` (ms after the start). */
export interface FaultEvent {
  kind: FaultKind;
  at: number;
  until: number;
  label: string;
}

export interface CheckInput {
  requests: readonly ObservedRequest[];
  slack?: SlackObservation;
  pagerduty?: PagerDutyObservation;
  faults: readonly FaultEvent[];
}

export type AnomalyClass = 'lost' | 'duplicated' | 'stale';

export type AnomalyItem =
  'slack message' | 'slack reply' | 'slack status' | 'requester DM' | 'pagerduty incident' | 'pagerduty note' | 'pagerduty closing note' | 'pagerduty status';

export interface Anomaly {
  cls: AnomalyClass;
  item: AnomalyItem;
  /** What exactly, e.g. `slack reply for review 2 (bob@example.com) in C0ACCESS`. */
  detail: string;
  /** The same without the place (`slack reply for review 2 (bob@example.com)`), for grouping. */
  what: string;
  /** The Slack channel, when there is one. */
  where: string | undefined;
  /** The lifecycle step the item belongs to, and when it happened. */
  step: 'create' | 'review' | 'resolve';
  stepAt: number;
  /** The fault the item is attributed to (see attribute()). */
  after: FaultEvent | undefined;
  /** Other faults with a duration still in effect at the step (a replica, refused streams), one per kind. */
  during: FaultEvent[];
  /** Faults shortly after the step (they may have hit the step's processing), one per kind. */
  then: FaultEvent[];
}

export interface RequestVerdict {
  id: string;
  final: FinalState;
  reviews: number;
  anomalies: Anomaly[];
}

export interface CheckResult {
  requests: number;
  /** Requests with at least one anomaly of the class. */
  lost: number;
  duplicated: number;
  stale: number;
  /** Requests with any anomaly, in creation order. */
  bad: RequestVerdict[];
  /** Bad requests per fault kind their anomalies are attributed to ('none': no fault before). */
  byFault: Record<string, number>;
  /** Anomalies per class and item, e.g. `lost slack reply`. */
  byItem: Record<string, number>;
}

export const PD_KEY_PREFIX = 'teleport-access-request/';
/** How long after a fault began (beyond its own duration) a step still counts as under it. */
export const ATTRIBUTION_GRACE_MS = 2000;
/** Faults this soon after a step are shown as `then` (they may have hit the step's processing). */
export const THEN_WINDOW_MS = 3000;

const ROOT_ID = /\*ID\*: (\S+)/;
const STATUS = /\*Status\*:[^A-Z]*([A-Z]+)/;
const OUTCOME_DM = /^Request with ID "([^"]+)" has been updated: \*([A-Z]+)\*/;
const REVIEWED_BY = /^(\S+) reviewed the request at /;
const CLOSING_NOTE = /^Access request has been (\w+)/;

/**
 * The fault an anomaly is blamed on: among faults that began at or before the step, the latest
 * one still in effect then (its duration plus a grace period), else simply the latest one.
 */
export function attribute(faults: readonly FaultEvent[], stepAt: number): { after: FaultEvent | undefined; during: FaultEvent[]; then: FaultEvent[] } {
  let latest: FaultEvent | undefined;
  let active: FaultEvent | undefined;
  const lasting: FaultEvent[] = [];
  const then: FaultEvent[] = [];
  for (const f of [...faults].sort((a, b) => a.at - b.at)) {
    if (f.at <= stepAt) {
      latest = f;
      if (Math.max(f.until, f.at) + ATTRIBUTION_GRACE_MS >= stepAt) active = f;
      if (f.until > f.at && f.until >= stepAt) lasting.push(f);
    } else if (f.at <= stepAt + THEN_WINDOW_MS && !then.some((t) => t.kind === f.kind)) {
      then.push(f);
    }
  }
  const after = active ?? latest;
  const during = lasting.filter((f, i) => f !== after && f.kind !== after?.kind && lasting.findIndex((g) => g.kind === f.kind) === i);
  return { after, during, then };
}

interface SlackIndex {
  /** request id -> its root messages (with blocks naming the id). */
  roots: Map<string, ObservedSlackMessage[]>;
  /** `channel/threadTs` -> replies. */
  replies: Map<string, ObservedSlackMessage[]>;
  /** request id -> outcome DMs (`Request with ID ... has been updated`). */
  outcomes: Map<string, Array<{ message: ObservedSlackMessage; tag: string }>>;
}

function indexSlack(messages: readonly ObservedSlackMessage[]): SlackIndex {
  const index: SlackIndex = { roots: new Map(), replies: new Map(), outcomes: new Map() };
  const push = <K, V>(map: Map<K, V[]>, key: K, value: V): void => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  for (const m of messages) {
    if (m.threadTs) {
      push(index.replies, `${m.channel}/${m.threadTs}`, m);
      continue;
    }
    const dm = OUTCOME_DM.exec(m.text);
    if (dm && !ROOT_ID.test(m.blocksText)) {
      push(index.outcomes, dm[1]!, { message: m, tag: dm[2]! });
      continue;
    }
    const id = ROOT_ID.exec(m.blocksText)?.[1];
    if (id) push(index.roots, id, m);
  }
  return index;
}

function countBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}

/** The verdict for every request. */
export function checkSoak(input: CheckInput): CheckResult {
  const faults = [...input.faults].sort((a, b) => a.at - b.at);
  const slack = input.slack ? indexSlack(input.slack.messages) : undefined;
  const prefix = input.pagerduty?.keyPrefix ?? PD_KEY_PREFIX;
  const incidents = new Map<string, ObservedIncident[]>();
  for (const inc of input.pagerduty?.incidents ?? []) {
    if (!inc.incidentKey.startsWith(prefix)) continue;
    const id = inc.incidentKey.slice(prefix.length);
    const list = incidents.get(id);
    if (list) list.push(inc);
    else incidents.set(id, [inc]);
  }

  const bad: RequestVerdict[] = [];
  for (const r of [...input.requests].sort((a, b) => a.createdAt - b.createdAt)) {
    const anomalies: Anomaly[] = [];
    const add: Add = ({ cls, item, what, where, step, stepAt }) => {
      const detail = where === undefined ? what : `${what} in ${where}`;
      anomalies.push({ cls, item, detail, what, where, step, stepAt, ...attribute(faults, stepAt) });
    };
    const resolveAt = r.resolvedAt ?? r.createdAt;
    if (slack && input.slack) checkSlack(r, input.slack, slack, add, resolveAt);
    if (input.pagerduty) checkPagerDuty(r, incidents.get(r.id) ?? [], add, resolveAt);
    if (anomalies.length > 0) bad.push({ id: r.id, final: r.final, reviews: r.reviews.length, anomalies });
  }

  const byFault: Record<string, number> = {};
  const byItem: Record<string, number> = {};
  for (const v of bad) {
    for (const kind of new Set(v.anomalies.map((a) => a.after?.kind ?? 'none'))) byFault[kind] = (byFault[kind] ?? 0) + 1;
    for (const a of v.anomalies) byItem[`${a.cls} ${a.item}`] = (byItem[`${a.cls} ${a.item}`] ?? 0) + 1;
  }
  const having = (cls: AnomalyClass): number => bad.filter((v) => v.anomalies.some((a) => a.cls === cls)).length;
  return { requests: input.requests.length, lost: having('lost'), duplicated: having('duplicated'), stale: having('stale'), bad, byFault, byItem };
}

/** Records one anomaly of the request being checked; `where` is the Slack channel, when there is one. */
type Add = (found: Pick<Anomaly, 'cls' | 'item' | 'what' | 'step' | 'stepAt'> & { where?: string | undefined }) => void;

function checkSlack(r: ObservedRequest, obs: SlackObservation, index: SlackIndex, add: Add, resolveAt: number): void {
  const dm = obs.requesterDm[r.user];
  const expected = [...new Set([...obs.recipientChannels, ...(dm ? [dm] : [])])];
  const roots = index.roots.get(r.id) ?? [];
  const want = r.final;
  for (const channel of expected) {
    const here = roots.filter((m) => m.channel === channel);
    if (here.length === 0) {
      add({ cls: 'lost', item: 'slack message', what: 'slack message', where: channel, step: 'create', stepAt: r.createdAt });
      continue;
    }
    if (here.length > 1) add({ cls: 'duplicated', item: 'slack message', what: `slack message ${here.length}x`, where: channel, step: 'create', stepAt: r.createdAt });
    for (const m of here) {
      const shown = STATUS.exec(m.blocksText)?.[1] ?? '(none)';
      if (shown !== want) {
        add({
          cls: 'stale',
          item: 'slack status',
          what: `slack message shows ${shown} (want ${want})`,
          where: channel,
          step: want === 'PENDING' ? 'create' : 'resolve',
          stepAt: want === 'PENDING' ? r.createdAt : resolveAt,
        });
      }
    }
    // Replies are checked in the first message of the channel (a duplicate is reported above).
    const replies = index.replies.get(`${channel}/${here[0]!.ts}`) ?? [];
    const perAuthor = countBy(replies, (m) => REVIEWED_BY.exec(m.text)?.[1]);
    r.reviews.forEach((review, k) => {
      const n = perAuthor.get(review.author) ?? 0;
      const what = `slack reply for review ${k + 1} (${review.author})`;
      if (n === 0) add({ cls: 'lost', item: 'slack reply', what, where: channel, step: 'review', stepAt: review.at });
      else if (n > 1) add({ cls: 'duplicated', item: 'slack reply', what: `${what} ${n}x`, where: channel, step: 'review', stepAt: review.at });
    });
    const authors = new Set(r.reviews.map((v) => v.author));
    const strays = replies.filter((m) => !authors.has(REVIEWED_BY.exec(m.text)?.[1] ?? ''));
    if (strays.length > 0)
      add({
        cls: 'duplicated',
        item: 'slack reply',
        what: `${strays.length} unexpected slack reply(ies)`,
        where: channel,
        step: 'review',
        stepAt: r.reviews.at(-1)?.at ?? r.createdAt,
      });
  }
  const unexpected = roots.filter((m) => !expected.includes(m.channel));
  for (const channel of new Set(unexpected.map((m) => m.channel))) {
    add({ cls: 'duplicated', item: 'slack message', what: 'slack message (unexpected channel)', where: channel, step: 'create', stepAt: r.createdAt });
  }

  const outcomes = index.outcomes.get(r.id) ?? [];
  if (want === 'PENDING') {
    if (outcomes.length > 0)
      add({ cls: 'duplicated', item: 'requester DM', what: `requester DM (${outcomes.map((o) => o.tag).join(', ')}) for a pending request`, step: 'create', stepAt: r.createdAt });
    return;
  }
  if (!dm) {
    if (outcomes.length > 0) add({ cls: 'duplicated', item: 'requester DM', what: 'requester DM to a requester who is no Slack user', step: 'resolve', stepAt: resolveAt });
    return;
  }
  const inDm = outcomes.filter((o) => o.message.channel === dm);
  if (inDm.length === 0) add({ cls: 'lost', item: 'requester DM', what: `requester DM (${want})`, where: dm, step: 'resolve', stepAt: resolveAt });
  else if (inDm.length > 1) add({ cls: 'duplicated', item: 'requester DM', what: `requester DM ${inDm.length}x`, where: dm, step: 'resolve', stepAt: resolveAt });
  const wrong = inDm.filter((o) => o.tag !== want);
  if (wrong.length > 0)
    add({ cls: 'stale', item: 'requester DM', what: `requester DM says ${wrong.map((o) => o.tag).join(', ')} (want ${want})`, where: dm, step: 'resolve', stepAt: resolveAt });
  if (outcomes.length > inDm.length) add({ cls: 'duplicated', item: 'requester DM', what: "requester DM outside the requester's DM channel", step: 'resolve', stepAt: resolveAt });
}

function checkPagerDuty(r: ObservedRequest, incidents: readonly ObservedIncident[], add: Add, resolveAt: number): void {
  if (incidents.length === 0) {
    add({ cls: 'lost', item: 'pagerduty incident', what: 'pagerduty incident', step: 'create', stepAt: r.createdAt });
    return;
  }
  if (incidents.length > 1) add({ cls: 'duplicated', item: 'pagerduty incident', what: `pagerduty incident ${incidents.length}x`, step: 'create', stepAt: r.createdAt });
  const incident = incidents[0]!;
  const perAuthor = countBy(incident.notes, (n) => REVIEWED_BY.exec(n)?.[1]);
  r.reviews.forEach((review, k) => {
    const n = perAuthor.get(review.author) ?? 0;
    const what = `pagerduty note for review ${k + 1} (${review.author})`;
    if (n === 0) add({ cls: 'lost', item: 'pagerduty note', what, step: 'review', stepAt: review.at });
    else if (n > 1) add({ cls: 'duplicated', item: 'pagerduty note', what: `${what} ${n}x`, step: 'review', stepAt: review.at });
  });
  const authors = new Set(r.reviews.map((v) => v.author));
  const closing = incident.notes.flatMap((n) => {
    const m = CLOSING_NOTE.exec(n);
    return m ? [m[1]!] : [];
  });
  const strays = incident.notes.filter((n) => !CLOSING_NOTE.test(n) && !authors.has(REVIEWED_BY.exec(n)?.[1] ?? ''));
  if (strays.length > 0)
    add({ cls: 'duplicated', item: 'pagerduty note', what: `${strays.length} unexpected pagerduty note(s)`, step: 'review', stepAt: r.reviews.at(-1)?.at ?? r.createdAt });

  if (r.final === 'PENDING') {
    if (closing.length > 0)
      add({ cls: 'duplicated', item: 'pagerduty closing note', what: `pagerduty closing note (${closing.join(', ')}) on a pending request`, step: 'create', stepAt: r.createdAt });
    if (incident.status !== 'triggered')
      add({ cls: 'stale', item: 'pagerduty status', what: `pagerduty incident ${incident.status} (want triggered)`, step: 'create', stepAt: r.createdAt });
    return;
  }
  const tag = r.final.toLowerCase();
  if (closing.length === 0) add({ cls: 'lost', item: 'pagerduty closing note', what: `pagerduty closing note (${tag})`, step: 'resolve', stepAt: resolveAt });
  else if (closing.length > 1)
    add({ cls: 'duplicated', item: 'pagerduty closing note', what: `pagerduty closing note ${closing.length}x (${closing.join(', ')})`, step: 'resolve', stepAt: resolveAt });
  const wrong = closing.filter((c) => c !== tag);
  if (wrong.length > 0)
    add({ cls: 'stale', item: 'pagerduty closing note', what: `pagerduty closing note says ${wrong.join(', ')} (want ${tag})`, step: 'resolve', stepAt: resolveAt });
  if (incident.status !== 'resolved')
    add({ cls: 'stale', item: 'pagerduty status', what: `pagerduty incident ${incident.status} (want resolved)`, step: 'resolve', stepAt: resolveAt });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

function describeFault(f: FaultEvent | undefined): string {
  return f ? `${f.kind} at ${seconds(f.at)}` : 'no fault';
}

/**
 * One line per bad request; anomalies of the same kind at the same step are merged across
 * channels: `<id> (approved, 2 reviews) lost: slack reply for review 1 (bob) in C0ACCESS+D0LEAD
 * [review at 8.7s]; after: refuse-streams at 8.3s | stale: ...`.
 */
export function formatVerdict(v: RequestVerdict): string {
  const groups = new Map<string, { a: Anomaly; wheres: string[] }>();
  for (const a of v.anomalies) {
    const key = `${a.cls}|${a.what}|${a.step}|${a.stepAt}`;
    const g = groups.get(key);
    if (g) {
      if (a.where !== undefined) g.wheres.push(a.where);
    } else {
      groups.set(key, { a, wheres: a.where === undefined ? [] : [a.where] });
    }
  }
  const parts = [...groups.values()].map(({ a, wheres }) => {
    const where = wheres.length > 0 ? ` in ${wheres.join('+')}` : '';
    const during = a.during.length > 0 ? ` (during ${a.during.map((f) => `${f.kind} since ${seconds(f.at)}`).join(', ')})` : '';
    const then = a.then.length > 0 ? ` (then ${a.then.map(describeFault).join(', ')})` : '';
    return `${a.cls}: ${a.what}${where} [${a.step} at ${seconds(a.stepAt)}]; after: ${describeFault(a.after)}${during}${then}`;
  });
  return `${v.id} (${v.final.toLowerCase()}, ${v.reviews} review${v.reviews === 1 ? '' : 's'}) ${parts.join(' | ')}`;
}

/** `soak: 2000 requests, lost 0 / duplicated 0 / stale 0` */
export function summaryLine(result: CheckResult): string {
  return `soak: ${result.requests} requests, lost ${result.lost} / duplicated ${result.duplicated} / stale ${result.stale}`;
}

/** The full report: a line per bad request, the summary line, then counts per fault kind and per item. */
export function formatReport(result: CheckResult, options: { maxLines?: number } = {}): string {
  const lines: string[] = [];
  const max = options.maxLines ?? Infinity;
  for (const v of result.bad.slice(0, max)) lines.push(formatVerdict(v));
  if (result.bad.length > max) lines.push(`... and ${result.bad.length - max} more bad requests`);
  lines.push(summaryLine(result));
  const fmt = (rec: Record<string, number>): string =>
    Object.entries(rec)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
  if (result.bad.length > 0) {
    lines.push(`bad requests by preceding fault: ${fmt(result.byFault)}`);
    lines.push(`anomalies by item: ${fmt(result.byItem)}`);
  }
  return lines.join('\n');
}

export function isClean(result: CheckResult): boolean {
  return result.lost === 0 && result.duplicated === 0 && result.stale === 0;
}
