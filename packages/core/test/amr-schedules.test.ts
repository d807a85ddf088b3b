// Rule schedules: shifts in IANA zones read with Intl (weekday and wall clock in the zone),
// inclusive HH:MM bounds, daylight-saving transitions, weekday boundaries, and what a bad
// schedule says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSchedules, type CompiledSchedules } from '../src/amr/compileSchedules.js';
import type { AccessMonitoringSchedule, AccessMonitoringShift } from '../src/teleport/types.js';

function compiled(schedules: Record<string, AccessMonitoringSchedule>): CompiledSchedules {
  const result = compileSchedules(schedules);
  assert.ok(result.ok, result.ok ? '' : result.error);
  return result.schedules;
}

const one = (timezone: string, ...shifts: AccessMonitoringShift[]): CompiledSchedules => compiled({ s: { timezone, shifts } });
const shift = (weekday: string, start: string, end: string): AccessMonitoringShift => ({ weekday, start, end });
const inside = (s: CompiledSchedules, iso: string): boolean => s.containing(new Date(iso)) !== undefined;

test('UTC by default; start and end are inclusive to the minute', () => {
  // 2025-03-07 is a Friday.
  const s = one('', shift('Friday', '09:00', '17:00'));
  assert.equal(inside(s, '2025-03-07T08:59:59.999Z'), false);
  assert.equal(inside(s, '2025-03-07T09:00:00Z'), true);
  assert.equal(inside(s, '2025-03-07T12:00:00Z'), true);
  assert.equal(inside(s, '2025-03-07T17:00:00Z'), true);
  assert.equal(inside(s, '2025-03-07T17:00:59.999Z'), true, 'the end minute is included whole');
  assert.equal(inside(s, '2025-03-07T17:01:00Z'), false);
  assert.equal(inside(s, '2025-03-14T12:00:00Z'), true, 'every Friday');
  assert.equal(inside(s, '2025-03-08T12:00:00Z'), false, 'not Saturday');
  assert.equal(one('UTC', shift('Friday', '09:00', '17:00')).containing(new Date('2025-03-07T10:00:00Z')), 's');
});

test('the end of the day is "23:59" and includes its last second; the next day starts at 00:00', () => {
  const s = one('UTC', shift('Saturday', '00:00', '23:59'));
  assert.equal(inside(s, '2025-03-07T23:59:59.999Z'), false, 'Friday night is not Saturday');
  assert.equal(inside(s, '2025-03-08T00:00:00Z'), true);
  assert.equal(inside(s, '2025-03-08T23:59:59.999Z'), true);
  assert.equal(inside(s, '2025-03-09T00:00:00Z'), false, 'Sunday');
});

test("the weekday is the weekday in the schedule's zone, not in UTC", () => {
  // 2025-03-07T16:00Z is Friday in UTC but Saturday 01:00 in Tokyo (UTC+9, no DST).
  const tokyo = one('Asia/Tokyo', shift('Saturday', '00:00', '02:00'));
  assert.equal(inside(tokyo, '2025-03-07T16:00:00Z'), true);
  assert.equal(inside(tokyo, '2025-03-07T14:59:00Z'), false, 'Friday 23:59 in Tokyo');
  assert.equal(inside(tokyo, '2025-03-07T15:00:00Z'), true, 'Saturday 00:00 in Tokyo');
  const utcFriday = one('UTC', shift('Friday', '16:00', '16:30'));
  assert.equal(inside(utcFriday, '2025-03-07T16:00:00Z'), true, 'the same instant in a UTC schedule is Friday');
});

test('extreme offsets put one instant on different days', () => {
  const at = '2025-03-07T12:00:00Z'; // Friday noon UTC
  assert.equal(inside(one('Pacific/Kiritimati', shift('Saturday', '02:00', '02:30')), at), true);
  assert.equal(inside(one('Pacific/Kiritimati', shift('Friday', '00:00', '23:59')), at), false);
  assert.equal(inside(one('Pacific/Pago_Pago', shift('Friday', '01:00', '01:30')), at), true);
  assert.equal(inside(one('Pacific/Pago_Pago', shift('Thursday', '00:00', '23:59')), at), false);
});

test('daylight saving, spring forward (America/Los_Angeles, Sunday 2024-03-10 02:00 -> 03:00)', () => {
  const s = one('America/Los_Angeles', shift('Sunday', '03:00', '04:00'));
  assert.equal(inside(s, '2024-03-10T09:30:00Z'), false, '01:30 PST');
  assert.equal(inside(s, '2024-03-10T10:00:00Z'), true, '03:00 PDT: the first instant after the jump');
  assert.equal(inside(s, '2024-03-10T10:30:00Z'), true, '03:30 PDT (a fixed UTC-8 offset would say 02:30)');
  assert.equal(inside(s, '2024-03-10T11:00:00Z'), true, '04:00 PDT');
  assert.equal(inside(s, '2024-03-10T11:01:00Z'), false, '04:01 PDT');
  // A week earlier the same local time is one UTC hour later (PST).
  assert.equal(inside(s, '2024-03-03T11:30:00Z'), true, '03:30 PST');
  assert.equal(inside(s, '2024-03-03T10:30:00Z'), false, '02:30 PST');
});

test('daylight saving, fall back (America/Los_Angeles, Sunday 2024-11-03 02:00 -> 01:00): both 01:30s are inside', () => {
  const s = one('America/Los_Angeles', shift('Sunday', '01:00', '01:59'));
  assert.equal(inside(s, '2024-11-03T08:30:00Z'), true, '01:30 PDT');
  assert.equal(inside(s, '2024-11-03T09:30:00Z'), true, '01:30 PST');
  assert.equal(inside(s, '2024-11-03T10:30:00Z'), false, '02:30 PST');
  assert.equal(inside(s, '2024-11-03T07:59:00Z'), false, '00:59 PDT');
});

test('daylight saving in Europe (Europe/London, Sunday 2024-03-31 01:00 GMT -> 02:00 BST)', () => {
  const s = one('Europe/London', shift('Sunday', '09:00', '17:00'));
  assert.equal(inside(s, '2024-03-31T08:30:00Z'), true, '09:30 BST');
  assert.equal(inside(s, '2024-03-31T16:30:00Z'), false, '17:30 BST');
  assert.equal(inside(s, '2024-03-24T16:30:00Z'), true, '16:30 GMT the week before');
});

test('several shifts and schedules: the first schedule by name that contains the instant', () => {
  const s = compiled({
    weekend: { timezone: 'UTC', shifts: [shift('Saturday', '00:00', '23:59'), shift('Sunday', '00:00', '23:59')] },
    evenings: { timezone: 'America/New_York', shifts: [shift('Friday', '17:00', '23:59')] },
    always_on_saturday_morning: { timezone: 'UTC', shifts: [shift('saturday', '06:00', '07:00')] },
  });
  assert.equal(s.containing(new Date('2025-03-08T06:30:00Z')), 'always_on_saturday_morning');
  assert.equal(s.containing(new Date('2025-03-08T12:00:00Z')), 'weekend');
  assert.equal(s.containing(new Date('2025-03-08T01:00:00Z')), 'evenings', 'Friday 20:00 in New York, already Saturday in UTC');
  assert.equal(s.containing(new Date('2025-03-07T12:00:00Z')), undefined);
});

test('weekday names are case-insensitive; one-digit hours are accepted (Go "15:04")', () => {
  const s = one('UTC', shift('MONDAY', '9:00', '9:30'));
  assert.equal(inside(s, '2025-03-10T09:15:00Z'), true);
});

test('invalid schedules say why', () => {
  const bad = (schedule: AccessMonitoringSchedule): string => {
    const r = compileSchedules({ night: schedule });
    assert.ok(!r.ok);
    return r.error;
  };
  assert.equal(bad({ timezone: 'UTC', shifts: [] }), 'schedule "night": at least one shift is required');
  assert.equal(bad({ timezone: 'Mars/Olympus_Mons', shifts: [shift('Monday', '01:00', '02:00')] }), 'schedule "night": invalid timezone "Mars/Olympus_Mons"');
  assert.equal(bad({ timezone: '+01:00', shifts: [shift('Monday', '01:00', '02:00')] }), 'schedule "night": invalid timezone "+01:00"');
  assert.equal(bad({ timezone: 'Local', shifts: [shift('Monday', '01:00', '02:00')] }), 'schedule "night": invalid timezone "Local"');
  assert.equal(bad({ timezone: 'UTC', shifts: [shift('Funday', '01:00', '02:00')] }), 'schedule "night": failed to parse weekday: Funday');
  assert.equal(bad({ timezone: 'UTC', shifts: [shift('Monday', '24:00', '24:30')] }), 'schedule "night": invalid start time "24:00" (want HH:MM)');
  assert.equal(bad({ timezone: 'UTC', shifts: [shift('Monday', '01:00', '01:60')] }), 'schedule "night": invalid end time "01:60" (want HH:MM)');
  assert.equal(bad({ timezone: 'UTC', shifts: [shift('Monday', 'noon', '13:00')] }), 'schedule "night": invalid start time "noon" (want HH:MM)');
  assert.equal(bad({ timezone: 'UTC', shifts: [shift('Monday', '10:00', '10:00')] }), 'schedule "night": start time must be before end time (Monday 10:00-10:00)');
  assert.equal(
    bad({ timezone: 'UTC', shifts: [shift('Monday', '22:00', '02:00')] }),
    'schedule "night": start time must be before end time (Monday 22:00-02:00)',
    'a shift cannot cross midnight',
  );
  // IANA aliases and Etc zones are zones.
  assert.ok(compileSchedules({ s: { timezone: 'Etc/GMT+5', shifts: [shift('Monday', '01:00', '02:00')] } }).ok);
  assert.ok(compileSchedules({ s: { timezone: 'US/Pacific', shifts: [shift('Monday', '01:00', '02:00')] } }).ok);
  assert.ok(compileSchedules({}).ok, 'no schedules at all');
});
