/** Wall-clock reading of an instant in a time zone: weekday (0 = Sunday) and minute of the day. */
export interface ZonedClock {
  weekday: number;
  /** hours * 60 + minutes; seconds are dropped. */
  minuteOfDay: number;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

// One formatter per zone: building one is far slower than using it, and a cluster has few zones.
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Returns the formatter for an IANA zone name, or undefined when the name is not a zone. Only
 * names are accepted (Intl would also take offsets such as "+01:00", which Go's LoadLocation,
 * and so Teleport, rejects).
 */
export function zoneFormatter(timeZone: string): Intl.DateTimeFormat | undefined {
  const cached = formatters.get(timeZone);
  if (cached) return cached;
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timeZone)) return undefined;
  let formatter: Intl.DateTimeFormat;
  try {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      // h23, not hour12: false, which some ICU versions render midnight as "24".
      hourCycle: 'h23',
    });
  } catch {
    return undefined;
  }
  formatters.set(timeZone, formatter);
  return formatter;
}

/** The wall clock of `at` in `timeZone` (daylight saving included, as the zone's rules say). */
export function zonedClock(at: Date, formatter: Intl.DateTimeFormat): ZonedClock {
  let weekday = -1;
  let hour = 0;
  let minute = 0;
  for (const part of formatter.formatToParts(at)) {
    if (part.type === 'weekday') weekday = WEEKDAYS.indexOf(part.value);
    else if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'minute') minute = Number(part.value);
  }
  if (weekday < 0) throw new Error(`cannot read the weekday of ${at.toISOString()}`);
  return { weekday, minuteOfDay: hour * 60 + minute };
}
