import type { AccessMonitoringSchedule } from '../teleport/types.js';
import { zonedClock, zoneFormatter } from './zonedClock.js';

/** A rule's schedules, checked and ready: which one (if any) contains an instant. */
export interface CompiledSchedules {
  /** Name of the first schedule (by name) with a shift containing `at`; undefined when none does. */
  containing(at: Date): string | undefined;
  /** For explanations: each schedule's shifts, and what time `at` was in its zone. */
  describe(at: Date): string;
}

export type CompileSchedulesResult = { ok: true; schedules: CompiledSchedules } | { ok: false; error: string };

interface Shift {
  weekday: number;
  start: number;
  end: number;
}

const WEEKDAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

/**
 * Validates schedules as Teleport does when a rule is written (time required, at least one shift,
 * a weekday, HH:MM times with start before end, a known zone) and prepares them for matching.
 * A shift covers [start, end] in whole minutes, both ends included: `end: "23:59"` is how a
 * schedule reaches the end of the day, so 23:59:30 must still be inside it. Shifts never cross
 * midnight (start must be before end), so "which day" is simply the weekday in the zone.
 */
export function compileSchedules(schedules: Readonly<Record<string, AccessMonitoringSchedule>>): CompileSchedulesResult {
  const compiled: Array<{ name: string; zone: string; formatter: Intl.DateTimeFormat; shifts: Shift[] }> = [];
  for (const name of Object.keys(schedules).sort()) {
    const schedule = schedules[name]!;
    const fail = (message: string): CompileSchedulesResult => ({ ok: false, error: `schedule "${name}": ${message}` });
    if (schedule.shifts.length === 0) return fail('at least one shift is required');
    const zone = schedule.timezone || 'UTC';
    const formatter = zoneFormatter(zone);
    if (!formatter) return fail(`invalid timezone "${schedule.timezone}"`);
    const shifts: Shift[] = [];
    for (const shift of schedule.shifts) {
      const weekday = WEEKDAY_NAMES.indexOf(shift.weekday.toLowerCase());
      if (weekday < 0) return fail(`failed to parse weekday: ${shift.weekday}`);
      const start = clockMinutes(shift.start);
      if (start === undefined) return fail(`invalid start time "${shift.start}" (want HH:MM)`);
      const end = clockMinutes(shift.end);
      if (end === undefined) return fail(`invalid end time "${shift.end}" (want HH:MM)`);
      if (start >= end) return fail(`start time must be before end time (${shift.weekday} ${shift.start}-${shift.end})`);
      shifts.push({ weekday, start, end });
    }
    compiled.push({ name, zone, formatter, shifts });
  }
  return {
    ok: true,
    schedules: {
      containing(at: Date): string | undefined {
        for (const { name, formatter, shifts } of compiled) {
          const clock = zonedClock(at, formatter);
          if (shifts.some((s) => s.weekday === clock.weekday && clock.minuteOfDay >= s.start && clock.minuteOfDay <= s.end)) return name;
        }
        return undefined;
      },
      describe(at: Date): string {
        return compiled
          .map(({ name, zone, formatter, shifts }) => {
            const clock = zonedClock(at, formatter);
            const list = shifts.map((s) => `${WEEKDAY_NAMES[s.weekday]} ${hhmm(s.start)}-${hhmm(s.end)}`).join(', ');
            return `"${name}" (${zone}: ${list}; it was ${WEEKDAY_NAMES[clock.weekday]} ${hhmm(clock.minuteOfDay)} there)`;
          })
          .join('; ');
      },
    },
  };
}

function hhmm(minuteOfDay: number): string {
  return `${String(Math.floor(minuteOfDay / 60)).padStart(2, '0')}:${String(minuteOfDay % 60).padStart(2, '0')}`;
}

/** `HH:MM` (Go's "15:04": the hour may have one digit) -> minutes since midnight. */
function clockMinutes(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text);
  if (!m) return undefined;
  const hours = Number(m[1]);
  const minutes = Number(m[2]);
  if (hours > 23 || minutes > 59) return undefined;
  return hours * 60 + minutes;
}
