// Access List review reminders, the parts without a server: the wire layout (bytes built BY HAND
// from upstream's field numbers in teleport.accesslist.v1 and teleport.header.v1), the reminder
// windows, the Go Slack plugin's texts and its plugin-data layout.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MethodDefinition } from '@grpc/proto-loader';
import { ACCESS_LIST_SERVICE, loadTeleportProto } from '../src/teleport/proto.js';
import { toAccessList } from '../src/teleport/mapping.js';
import type { WireGetAccessListOwnersResponse, WireListAccessListsResponse } from '../src/teleport/wire.js';
import { accessListWebLink } from '../src/teleport/links.js';
import { reviewWindow, DEFAULT_NOTIFY_BEFORE_MS } from '../src/accesslists/reviewWindow.js';
import { reminderSubject, reminderText, type AccessListReminder } from '../src/accesslists/reminderText.js';
import { readReminderRecord, writeReminderRecord } from '../src/accesslists/reminderData.js';
import { rfc3339Nano } from '../src/ledger/fields.js';
import type { AccessList } from '../src/teleport/types.js';
import { bytesField, msg, readFields, str, ts, vint } from './protobuf-bytes.js';

const DAY = 24 * 3600_000;

function method(name: string): MethodDefinition<object, object> {
  const def = (loadTeleportProto().definition[ACCESS_LIST_SERVICE] as Record<string, MethodDefinition<object, object>>)[name];
  assert.ok(def, `${ACCESS_LIST_SERVICE}/${name} in proto`);
  return def;
}

describe('teleport.accesslist.v1 on the wire', () => {
  it('decodes an AccessList (header 1, spec 2, status 3) and skips what it does not declare', () => {
    const owner = (name: string, kind: number): number[] => msg(2, str(1, name), str(2, 'on call'), vint(3, 1), vint(4, kind));
    const spec = [
      str(1, 'who may deploy'),
      owner('alice@example.com', 1),
      owner('leads', 2), // MEMBERSHIP_KIND_LIST: an owner list, not a user
      msg(3, ts(2, 1_893_456_000), msg(3, vint(1, 6), vint(2, 1)), msg(4, msg(1, vint(1, 7 * 86_400)))),
      msg(6, str(1, 'editor')), // grants: not declared, skipped
      str(8, 'Production deploys'),
      msg(11, str(1, 'reviewer')), // owner_grants: not declared, skipped
      str(12, ''),
      str(99, 'a field from the future'),
    ];
    const list = [
      ...msg(1, str(1, 'access_list'), str(3, 'v1'), msg(4, str(1, 'prod-deploy'), str(2, 'default'), str(8, 'rev-1'))),
      ...msg(2, ...spec),
      ...msg(3, vint(1, 4), vint(2, 1)),
    ];
    const wire = method('ListAccessLists').responseDeserialize(Buffer.from([...bytesField(1, list), ...str(2, 'next-page')])) as WireListAccessListsResponse;
    assert.equal(wire.next_token, 'next-page');
    assert.deepEqual(toAccessList(wire.access_lists[0]!), {
      name: 'prod-deploy',
      title: 'Production deploys',
      type: '',
      owners: ['alice@example.com'],
      nextAuditDate: new Date(1_893_456_000_000),
      notifyBeforeMs: 7 * DAY,
      memberCount: 5,
    });
  });

  it('reads an old server’s list (no status, no type, no notifications) with empty values', () => {
    const list = [...msg(1, msg(4, str(1, 'legacy'))), ...msg(2, msg(2, str(1, 'bob@example.com')), msg(3, ts(2, 1_893_456_000)))];
    const wire = method('ListAccessLists').responseDeserialize(Buffer.from(bytesField(1, list))) as WireListAccessListsResponse;
    assert.deepEqual(toAccessList(wire.access_lists[0]!), { name: 'legacy', title: 'legacy', type: '', owners: ['bob@example.com'], nextAuditDate: new Date(1_893_456_000_000) });
  });

  it('ListAccessListsRequest is page_size 1, next_token 2; GetAccessListOwners is access_list 1 -> owners 1', () => {
    const fields = readFields(method('ListAccessLists').requestSerialize({ page_size: 7, next_token: 'tok' }));
    assert.deepEqual(
      fields.map((f) => [f.field, f.wireType]),
      [
        [1, 0],
        [2, 2],
      ],
    );
    assert.equal(Number(fields[0]!.value), 7);
    assert.equal(String(fields[1]!.value), 'tok');
    const owners = readFields(method('GetAccessListOwners').requestSerialize({ access_list: 'prod-deploy' }));
    assert.deepEqual(
      owners.map((f) => [f.field, String(f.value)]),
      [[1, 'prod-deploy']],
    );
    const res = method('GetAccessListOwners').responseDeserialize(Buffer.from([...msg(1, str(1, 'carol@example.com'), vint(4, 1))])) as WireGetAccessListOwnersResponse;
    assert.deepEqual(
      res.owners.map((o) => o.name),
      ['carol@example.com'],
    );
  });
});

describe('reminder windows', () => {
  const now = Date.parse('2026-12-03T12:00:00Z');
  const list = (over: Partial<AccessList>): AccessList => ({ name: 'l', title: 'L', type: '', owners: ['a@example.com'], nextAuditDate: new Date(now + 5 * DAY), ...over });

  it('opens two weeks before the date by default, one window a week, then one a day once overdue', () => {
    const due = now + 5 * DAY;
    const w = reviewWindow(list({}), now);
    assert.ok(w.due);
    // Notices from due - 14 d = now - 9 d: the second weekly window began 2 days ago.
    assert.equal(w.windowStart, due - DEFAULT_NOTIFY_BEFORE_MS + 7 * DAY);
    assert.equal(w.overdue, false);
    const late = reviewWindow(list({ nextAuditDate: new Date(now - 3 * DAY - 3600_000) }), now);
    assert.ok(late.due);
    assert.equal(late.overdue, true);
    assert.equal(late.overdueDays, 3);
    assert.ok(now - late.windowStart < DAY && now >= late.windowStart, 'daily windows once overdue');
    const justLate = reviewWindow(list({ nextAuditDate: new Date(now - 3600_000) }), now);
    assert.ok(justLate.due && justLate.overdue && justLate.overdueDays === 0);
  });

  it('honours notifications.start and skips what is never reviewed, undated, empty or not yet due', () => {
    assert.deepEqual(reviewWindow(list({ notifyBeforeMs: 3 * DAY }), now), { due: false, why: 'not-yet' });
    assert.equal(reviewWindow(list({ notifyBeforeMs: 6 * DAY }), now).due, true);
    assert.deepEqual(reviewWindow(list({ type: 'static' }), now), { due: false, why: 'not-reviewable' });
    assert.deepEqual(reviewWindow(list({ type: 'scim' }), now), { due: false, why: 'not-reviewable' });
    assert.equal(reviewWindow(list({ type: 'dynamic' }), now).due, true, "17.5.4's name for the default type");
    const undated = list({});
    delete undated.nextAuditDate;
    assert.deepEqual(reviewWindow(undated, now), { due: false, why: 'no-review-date' });
    assert.deepEqual(reviewWindow(list({ memberCount: 0 }), now), { due: false, why: 'no-members' });
    assert.deepEqual(reviewWindow(list({ nextAuditDate: new Date(now + 20 * DAY) }), now), { due: false, why: 'not-yet' });
  });
});

describe('reminder texts (the Go Slack plugin wording)', () => {
  const due = new Date('2026-12-24T09:00:00Z');
  const one: AccessListReminder = {
    id: 'r',
    owner: 'a@example.com',
    lists: [{ name: 'prod', title: 'Prod', dueAt: due, overdue: false, overdueDays: 0, link: 'https://p/web/accesslists/prod#review' }],
  };

  it('one list due, one overdue, several, with and without a link', () => {
    assert.equal(reminderText(one), 'Access List *Prod* is due for a review by 2026-12-24. Please review it soon!\n*Link*: https://p/web/accesslists/prod#review');
    const noLink = { ...one.lists[0]! };
    delete noLink.link;
    assert.equal(reminderText({ ...one, lists: [noLink] }), 'Access List *Prod* is due for a review by 2026-12-24. Please review it soon!');
    assert.equal(reminderText({ ...one, lists: [{ ...noLink, overdue: true, overdueDays: 2 }] }), 'Access List *Prod* is 2 day(s) past due for a review! Please review it.');
    const two: AccessListReminder = { ...one, lists: [one.lists[0]!, { ...noLink, name: 'b', title: 'B' }], listsLink: 'https://p/web/accesslists' };
    assert.equal(reminderText(two), '2 Access Lists are due for reviews, earliest of which is due by 2026-12-24. Please review them soon!\n*Link*: https://p/web/accesslists');
    assert.equal(reminderText(two, { bold: (s) => `**${s}**` }).split('\n')[1], '**Link**: https://p/web/accesslists');
    assert.equal(
      reminderText({ ...two, lists: [{ ...noLink, overdue: true, overdueDays: 1 }, noLink] }).split('\n')[0],
      '2 Access Lists are due for reviews, earliest of which is 1 day(s) past due. Please review!',
    );
    assert.equal(reminderSubject(one), 'Access List Prod is due for review by 2026-12-24');
    assert.equal(reminderSubject(two), '2 Access Lists are due for review');
  });

  it('links from the proxy address: https added, :443 dropped, the name escaped', () => {
    assert.equal(accessListWebLink({ proxyPublicAddr: 'tele.example.com:443' }, 'a b'), 'https://tele.example.com/web/accesslists/a%20b#review');
    assert.equal(accessListWebLink({ proxyPublicAddr: 'tele.example.com:3080' }), 'https://tele.example.com:3080/web/accesslists');
    assert.equal(accessListWebLink({ proxyPublicAddr: '' }, 'x'), undefined);
  });
});

describe('plugin data (kind access_list), the Go layout', () => {
  it('reads what the Go plugin writes: nanoseconds, offsets, the zero time; keeps other keys', () => {
    const record = readReminderRecord({
      user_notifications: '{"a@example.com":"2026-12-01T14:00:00.123456789+02:00","b@example.com":"0001-01-01T00:00:00Z","c@example.com":"garbage"}',
    });
    assert.equal(record.notified.get('a@example.com'), Date.parse('2026-12-01T12:00:00.123Z'));
    assert.ok(record.notified.get('b@example.com')! < 0, 'the zero time is long ago');
    assert.equal(record.notified.has('c@example.com'), false);
    assert.equal(readReminderRecord({ user_notifications: 'not json' }).notified.size, 0);
  });

  it("writes Go's RFC 3339 form with sorted keys, and deletes emptied keys", () => {
    assert.equal(rfc3339Nano(new Date('2026-12-03T10:00:00.000Z')), '2026-12-03T10:00:00Z');
    assert.equal(rfc3339Nano(new Date('2026-12-03T10:00:00.120Z')), '2026-12-03T10:00:00.12Z');
    const notified = new Map([
      ['z@example.com', Date.parse('2026-12-03T10:00:00.5Z')],
      ['a@example.com', Date.parse('2026-12-03T09:00:00Z')],
    ]);
    const data = writeReminderRecord({ other: 'kept' }, { notified, inFlight: new Map() });
    assert.deepEqual(data, { other: 'kept', user_notifications: '{"a@example.com":"2026-12-03T09:00:00Z","z@example.com":"2026-12-03T10:00:00.5Z"}', reminder_in_flight: '' });
    const flight = { id: 'r1', at: 5, by: 'me' };
    const round = readReminderRecord(writeReminderRecord(undefined, { notified: new Map(), inFlight: new Map([['a@example.com', flight]]) }));
    assert.deepEqual([...round.inFlight], [['a@example.com', flight]]);
  });
});
