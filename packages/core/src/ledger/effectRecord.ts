/**
 * How one write-ahead record looks in plugin data (a plain string value, so Go plugins, which
 * ignore keys they do not know, are unaffected):
 *
 *   run:<owner>:<unix ms>   started by runtime instance <owner> at that time; outcome not known yet
 *   ok                      done
 *   ok:<result>             done, with what the service answered (a message ref, an issue id...)
 *
 * A `run` record is a lease: while it is fresh, another instance leaves the work to its owner;
 * once it is older than the lease, or it is our own from an earlier attempt, the service is asked
 * whether the work happened before it is done again.
 */
export type EffectRecord = { state: 'none' } | { state: 'running'; owner: string; at: number; raw: string } | { state: 'done'; result: string; raw: string };

export function parseEffectRecord(value: string | undefined): EffectRecord {
  if (value === undefined || value === '') return { state: 'none' };
  if (value === 'ok') return { state: 'done', result: '', raw: value };
  if (value.startsWith('ok:')) return { state: 'done', result: value.slice(3), raw: value };
  if (value.startsWith('run:')) {
    const rest = value.slice(4);
    const colon = rest.lastIndexOf(':');
    const at = Number(rest.slice(colon + 1));
    if (colon > 0 && Number.isFinite(at)) return { state: 'running', owner: rest.slice(0, colon), at, raw: value };
  }
  // Unknown spelling (a future version, or hand-edited): treat as done rather than act twice.
  return { state: 'done', result: value, raw: value };
}

export function runningRecord(owner: string, at: number): string {
  return `run:${owner}:${Math.floor(at)}`;
}

export function doneRecord(result: string): string {
  return result === '' ? 'ok' : `ok:${result}`;
}

/** Plugin-data key of an effect. Kits name effects (`post/#access`, `reply/C1/17.2/0`); this prefixes them. */
export function effectKey(name: string): string {
  return `fx/${name}`;
}

/** Whether any effect in `data` is still marked as started (work in flight, or cut short). */
export function hasRunningEffects(data: Readonly<Record<string, string>> | undefined): boolean {
  if (!data) return false;
  for (const [key, value] of Object.entries(data)) {
    if (key.startsWith('fx/') && value.startsWith('run:')) return true;
  }
  return false;
}

/**
 * Owner names in `run` records are `<nonce>` or, for an instance with a stable name (a Kubernetes
 * pod name: unique among running replicas, kept across a container restart), `<name>~<nonce>`.
 */
export function ownerName(instanceName: string | undefined, nonce: string): string {
  return instanceName ? `${instanceName}~${nonce}` : nonce;
}

/**
 * Who may act on a `run` record now:
 * - `mine`: this process wrote it (an earlier attempt; the dispatcher never overlaps attempts);
 * - `free`: its lease ran out, or it was written by an earlier process under our own stable name
 *   (that process is gone: a name runs once at a time), so whatever it did must be asked about;
 * - `busy`: another live instance holds it; `until` is when its lease runs out.
 */
export function leaseState(record: { owner: string; at: number }, me: string, now: number, leaseMs: number): { state: 'mine' | 'free' } | { state: 'busy'; until: number } {
  if (record.owner === me) return { state: 'mine' };
  const mine = me.lastIndexOf('~');
  const theirs = record.owner.lastIndexOf('~');
  if (mine > 0 && theirs > 0 && me.slice(0, mine) === record.owner.slice(0, theirs)) return { state: 'free' };
  const until = record.at + leaseMs;
  return now < until ? { state: 'busy', until } : { state: 'free' };
}
