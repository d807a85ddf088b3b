import { rfc3339Nano } from '../ledger/fields.js';
import type { PluginData } from '../teleport/types.js';

/**
 * Plugin data of kind `access_list` (resource = the list's name, plugin = the adapter's name),
 * in the Go Slack plugin's layout plus one key of ours:
 *
 * - `user_notifications`: JSON `{"<owner>": "<RFC 3339 time>"}`, when each owner was last
 *   reminded of this list (Go's zero time `0001-01-01T00:00:00Z` = never). Read and written
 *   exactly as the Go plugin does, so a swap neither repeats nor skips a reminder.
 * - `reminder_in_flight`: JSON `{"<owner>": {"id", "at", "by"}}`, written before a reminder is
 *   sent and removed after: a process that stops in between leaves it, and the next one asks
 *   the service whether that reminder arrived before sending another. The Go plugin ignores it.
 *
 * Teleport expires `access_list` plugin data two weeks after its last write.
 */
export const USER_NOTIFICATIONS_KEY = 'user_notifications';
export const IN_FLIGHT_KEY = 'reminder_in_flight';

export interface InFlightReminder {
  /** The reminder's id (tags the message). */
  id: string;
  /** When sending started (ms since the epoch). */
  at: number;
  /** The instance that sent it. */
  by: string;
}

export interface ReminderRecord {
  /** owner -> last reminded (ms since the epoch). */
  notified: Map<string, number>;
  inFlight: Map<string, InFlightReminder>;
}

export function readReminderRecord(data: PluginData | undefined): ReminderRecord {
  const notified = new Map<string, number>();
  const inFlight = new Map<string, InFlightReminder>();
  for (const [owner, value] of Object.entries(parseObject(data?.[USER_NOTIFICATIONS_KEY]))) {
    const at = typeof value === 'string' ? Date.parse(value) : NaN;
    if (Number.isFinite(at)) notified.set(owner, at);
  }
  for (const [owner, value] of Object.entries(parseObject(data?.[IN_FLIGHT_KEY]))) {
    const v = value as Partial<InFlightReminder> | null;
    if (v && typeof v.id === 'string' && typeof v.at === 'number') inFlight.set(owner, { id: v.id, at: v.at, by: typeof v.by === 'string' ? v.by : '' });
  }
  return { notified, inFlight };
}

/** The plugin data for `record` (on top of `base`, whose other keys are kept); "" deletes a key. */
export function writeReminderRecord(base: PluginData | undefined, record: ReminderRecord): PluginData {
  const notified: Record<string, string> = {};
  for (const owner of [...record.notified.keys()].sort()) notified[owner] = rfc3339Nano(new Date(record.notified.get(owner)!));
  const inFlight: Record<string, InFlightReminder> = {};
  for (const owner of [...record.inFlight.keys()].sort()) inFlight[owner] = record.inFlight.get(owner)!;
  return {
    ...base,
    [USER_NOTIFICATIONS_KEY]: record.notified.size > 0 ? JSON.stringify(notified) : '',
    [IN_FLIGHT_KEY]: record.inFlight.size > 0 ? JSON.stringify(inFlight) : '',
  };
}

function parseObject(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    const value: unknown = JSON.parse(raw);
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
