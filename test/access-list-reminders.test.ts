// Access List review reminders, end to end in one process: the real runtime (gRPC over mutual TLS
// to the FakeTeleport's teleport.accesslist.v1 service) with the real Slack, Mattermost and email
// adapters against their fakes (real HTTP, a real SMTP server). Each run is triggered by the test
// (Runtime.remindAccessListOwners) instead of the 3-hour timer; windows are computed from now.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { createCaptureLogger, parseConfig, rfc3339Nano, parseRoutingConfig, type Adapter } from '@teleport-plugin/core';
import { FakeTeleport, startHarness, type Harness } from '@teleport-plugin/testkit';
import slack from '@teleport-plugin/slack';
import mattermost from '@teleport-plugin/mattermost';
import email from '@teleport-plugin/email';
import { FakeSlack, type FakeSlackMessage } from '@teleport-plugin/slack/testing';
import { FakeMattermost, type FakeMmUser } from '@teleport-plugin/mattermost/testing';
import { FakeMailgun, startSmtpServer, type TestSmtpServer } from '@teleport-plugin/email/testing';
import { CliProcess } from './lib/cli-process.js';

const DAY = 24 * 3600_000;
const PROXY_LINK = 'https://teleport.example.com/web/accesslists';
const KIND = 'access_list';
/** What a config file needs; the harness connects with its own identity. */
const TELEPORT = ['[teleport]', 'addr = "127.0.0.1:3025"', 'identity = "identity"'];

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

/** A review date `days` from now, an hour off the window edges. */
const dueIn = (days: number): Date => new Date(Date.now() + days * DAY + 3600_000);

describe('Access List review reminders', { timeout: 120_000 }, () => {
  let tp: FakeTeleport;
  let fakeSlack: FakeSlack;
  let mm: FakeMattermost;
  let smtp: TestSmtpServer;
  /** People exist in both chat fakes; each test has its own (alice of one test is not alice of the next). */
  const people = new Map<string, { email: string; slackId: string; mm: FakeMmUser }>();
  let round = 0;
  function person(name: string): { email: string; slackId: string; mm: FakeMmUser } {
    const email = `${name}.${round}@example.com`;
    let known = people.get(email);
    if (!known) {
      // Real ids' shape: the bot tells users (U…) from channels by it.
      const slackId = `U0${name.toUpperCase()}${round}`;
      fakeSlack.addUser({ id: slackId, name: `${name}${round}`, email });
      known = { email, slackId, mm: mm.addUser({ email }) };
      people.set(email, known);
    }
    return known;
  }
  const mail = (name: string): string => person(name).email;
  const harnesses: Harness[] = [];
  const lists: string[] = [];

  /** The runtime with the given adapters, built from a TOML text as the CLI would. */
  async function runtime(plugins: Array<'slack' | 'mattermost' | 'email'>, extra: string[] = [], teleport = tp, instanceName?: string): Promise<Harness> {
    const toml = [
      ...TELEPORT,
      '[slack]',
      `token = "${fakeSlack.token}"`,
      `api_url = "${fakeSlack.apiUrl}"`,
      '[mattermost]',
      `url = "${mm.url}"`,
      `token = "${mm.token}"`,
      '[smtp]',
      'host = "127.0.0.1"',
      `port = ${smtp.port}`,
      'username = "teleport"',
      'password = "smtp-test-password"',
      'starttls_policy = "disabled"',
      '[delivery]',
      'sender = "teleport@example.com"',
      '[role_to_recipients]',
      '"*" = ["ops@example.com"]',
      ...extra,
      '',
    ].join('\n');
    const config = parseConfig(toml, 'plugin.toml');
    const adapters = { slack, mattermost, email } as Record<string, Adapter<unknown>>;
    const h = await startHarness({
      teleport,
      pluginUser: { readAccessLists: true },
      adapters: plugins.map((name) => ({ adapter: adapters[name]!, config: adapters[name]!.parseConfig(config.section(name), config.context) })),
      runtimeOptions: {
        routing: parseRoutingConfig(config, plugins),
        // The timer stays out of the way: every run is the test's.
        accessListReminders: { firstDelayMs: 3_600_000, leaseMs: 5 * 60_000 },
        ...(instanceName ? { instanceName } : {}),
      },
    });
    harnesses.push(h);
    return h;
  }

  function list(name: string, options: Omit<Parameters<FakeTeleport['admin']['upsertAccessList']>[0], 'name'>): string {
    tp.admin.upsertAccessList({ name, memberCount: 2, ...options });
    lists.push(name);
    return name;
  }

  const slackOnly = (config: ReturnType<typeof parseConfig>): unknown => slack.parseConfig(config.section('slack'), config.context);
  const dmTo = (name: string): FakeSlackMessage[] => fakeSlack.rootMessages(fakeSlack.imChannel(person(name).slackId));
  const reminderId = (m: FakeSlackMessage): unknown => (m.metadata?.event_payload['kind'] === 'access_list_reminder' ? m.metadata.event_payload['request_id'] : undefined);
  const record = (listName: string, plugin = 'slack'): Record<string, string> | undefined => tp.admin.pluginData(listName, plugin, KIND);
  const notified = (listName: string, plugin = 'slack'): Record<string, string> => JSON.parse(record(listName, plugin)?.['user_notifications'] ?? '{}') as Record<string, string>;

  /** What a crashed process leaves: the reminder recorded as started, nothing after. */
  function leftInFlight(listName: string, flights: Record<string, { id: string; at: number; by: string }>, plugin: string): void {
    tp.admin.setPluginData(listName, plugin, { reminder_in_flight: JSON.stringify(flights) }, KIND);
  }

  /** A DM as an earlier process posted it, tagged with the reminder id (Slack Web API, our token). */
  async function postedEarlier(name: string, id: string): Promise<void> {
    const res = await fetch(`${fakeSlack.apiUrl}chat.postMessage`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fakeSlack.token}`, 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({
        channel: person(name).slackId,
        text: 'earlier',
        metadata: { event_type: 'teleport_access_request', event_payload: { request_id: id, kind: 'access_list_reminder' } },
      }),
    });
    assert.equal(((await res.json()) as { ok: boolean }).ok, true);
  }

  before(async () => {
    tp = await FakeTeleport.start();
    fakeSlack = new FakeSlack();
    await fakeSlack.start();
    mm = new FakeMattermost({ token: 'mm-token' });
    await mm.start();
    smtp = await startSmtpServer({ auth: { user: 'teleport', pass: 'smtp-test-password' } });
  });

  beforeEach(() => {
    round += 1;
  });

  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.stop();
    for (const name of lists.splice(0)) tp.admin.deleteAccessList(name);
  });

  after(async () => {
    await fakeSlack?.close();
    await mm?.close();
    await smtp?.close();
    await tp?.close();
  });

  it("reminds each owner, nested owner lists included, once per window, in the Go plugin's words and plugin data", async () => {
    const due = dueIn(5);
    list('prod-access', { title: 'Production access', owners: [mail('alice')], ownerLists: ['prod-owners'], nextAuditDate: due });
    // Its members own prod-access; it is managed as code (static), so it is never due itself.
    list('prod-owners', { type: 'static', owners: [mail('carol')], members: [mail('bob')], nextAuditDate: dueIn(1) });
    const h = await runtime(['slack']);

    const first = await h.runtime.remindAccessListOwners();
    assert.deepEqual(first, { dueLists: 1, sent: { slack: 2 }, settled: 0 });
    for (const owner of ['alice', 'bob']) {
      const [dm, ...more] = dmTo(owner);
      assert.equal(more.length, 0, `one DM to ${owner}`);
      assert.equal(dm!.text, `Access List *Production access* is due for a review by ${day(due.getTime())}. Please review it soon!\n*Link*: ${PROXY_LINK}/prod-access#review`);
      assert.deepEqual(dm!.blocks, [{ type: 'section', text: { type: 'mrkdwn', text: dm!.text } }]);
      assert.equal(typeof reminderId(dm!), 'string');
    }
    assert.equal(dmTo('carol').length, 0, 'the static list is never due');
    // The Go plugin's layout: owner -> RFC 3339 time; nothing left in flight.
    const data = record('prod-access')!;
    assert.deepEqual(Object.keys(data).sort(), ['user_notifications']);
    const times = notified('prod-access');
    assert.deepEqual(Object.keys(times), [mail('alice'), mail('bob')]);
    for (const t of Object.values(times)) assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.equal(record('prod-owners'), undefined);

    // The same window: nothing again, not even a write.
    const writes = tp.calls.filter((c) => c.method === 'UpdatePluginData').length;
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 1, sent: { slack: 0 }, settled: 0 });
    assert.equal(dmTo('alice').length, 1);
    assert.equal(tp.calls.filter((c) => c.method === 'UpdatePluginData').length, writes);
  });

  it('runs by itself once the watch is up, then at every interval', async () => {
    list('timed', { owners: [mail('trent')], nextAuditDate: dueIn(2) });
    const listed = (): number => tp.calls.filter((c) => c.method === 'AccessListService.ListAccessLists').length;
    const before = listed();
    const dmsBefore = dmTo('trent').length;
    const config = parseConfig(
      [...TELEPORT, '[slack]', `token = "${fakeSlack.token}"`, `api_url = "${fakeSlack.apiUrl}"`, '[role_to_recipients]', '"*" = ["ops@example.com"]'].join('\n'),
      'p.toml',
    );
    const h = await startHarness({
      teleport: tp,
      pluginUser: { readAccessLists: true },
      adapters: [{ adapter: slack, config: slackOnly(config) }],
      runtimeOptions: { accessListReminders: { firstDelayMs: 50, intervalMs: 100 } },
    });
    harnesses.push(h);
    await tp.waitFor(() => dmTo('trent').length > dmsBefore && listed() >= before + 3, 10_000, 'a reminder and three runs');
    assert.equal(dmTo('trent').length, dmsBefore + 1, 'one reminder however many runs');
  });

  it('puts every due list of an owner in one message, earliest first, with the overdue wording', async () => {
    list('payments', { title: 'Payments', owners: [mail('dave')], nextAuditDate: new Date(Date.now() - 3 * DAY - 3600_000) });
    list('billing', { title: 'Billing', owners: [mail('dave')], nextAuditDate: dueIn(10) });
    const h = await runtime(['slack']);
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 2, sent: { slack: 1 }, settled: 0 });
    const [dm, ...more] = dmTo('dave');
    assert.equal(more.length, 0);
    assert.equal(dm!.text, `2 Access Lists are due for reviews, earliest of which is 3 day(s) past due. Please review!\n*Link*: ${PROXY_LINK}`);
    assert.ok(notified('payments')[mail('dave')] && notified('billing')[mail('dave')], 'both lists record the reminder');
  });

  it('says nothing of lists that are never reviewed, have no date or no members, or are not in their window yet', async () => {
    list('scim-list', { type: 'scim', owners: [mail('erin')], nextAuditDate: dueIn(1) });
    list('no-date', { owners: [mail('erin')] });
    list('empty', { owners: [mail('erin')], nextAuditDate: dueIn(1), memberCount: 0 });
    list('later', { owners: [mail('erin')], nextAuditDate: dueIn(30) });
    // A list with a short notice period: not yet in its window four days before.
    list('short-notice', { owners: [mail('erin')], nextAuditDate: dueIn(4), notifyBeforeMs: 3 * DAY });
    const h = await runtime(['slack']);
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 0, sent: { slack: 0 }, settled: 0 });
    assert.equal(dmTo('erin').length, 0);
    for (const name of ['scim-list', 'no-date', 'empty', 'later', 'short-notice']) assert.equal(record(name), undefined, name);
  });

  it("takes over the Go plugin's record: reminded in this window = not again; before it = due", async () => {
    // Due in 5 days, notified from 14 days before: the current weekly window began 2 days ago.
    const due = dueIn(5);
    list('swap-recent', { owners: [mail('frank')], nextAuditDate: due });
    list('swap-old', { owners: [mail('grace'), mail('heidi')], nextAuditDate: due });
    // As the Go plugin writes it: nanoseconds, the plugin's local offset, keys sorted, zero time = never.
    const hourAgo = new Date(Date.now() - 3600_000);
    const goLocal = (d: Date): string => `${new Date(d.getTime() + 2 * 3600_000).toISOString().slice(0, 19)}.123456789+02:00`;
    tp.admin.setPluginData('swap-recent', 'slack', { user_notifications: JSON.stringify({ [mail('frank')]: goLocal(hourAgo) }) }, KIND);
    tp.admin.setPluginData(
      'swap-old',
      'slack',
      { user_notifications: JSON.stringify({ [mail('grace')]: goLocal(new Date(Date.now() - 3 * DAY)), [mail('heidi')]: '0001-01-01T00:00:00Z' }) },
      KIND,
    );
    const h = await runtime(['slack']);
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 2, sent: { slack: 2 }, settled: 0 });
    assert.equal(dmTo('frank').length, 0, 'reminded an hour ago by the Go plugin');
    assert.equal(dmTo('grace').length, 1);
    assert.equal(dmTo('heidi').length, 1, 'the zero time is "never"');
    assert.equal(record('swap-recent')!['user_notifications'], JSON.stringify({ [mail('frank')]: goLocal(hourAgo) }), 'left exactly as the Go plugin wrote it');
    assert.ok(Date.parse(notified('swap-old')[mail('grace')]!) > Date.now() - 60_000);
  });

  it('settles a reminder a crash cut off by asking Slack: found = recorded, not found = sent again under its id, fresh = left to its sender', async () => {
    const due = dueIn(5);
    list('crash', { owners: [mail('ivan'), mail('judy'), mail('mallory')], nextAuditDate: due });
    const tenMinutesAgo = Date.now() - 10 * 60_000;
    await postedEarlier('ivan', 'rem-arrived');
    leftInFlight(
      'crash',
      {
        [mail('ivan')]: { id: 'rem-arrived', at: tenMinutesAgo, by: 'gone' },
        [mail('judy')]: { id: 'rem-lost', at: tenMinutesAgo, by: 'gone' },
        [mail('mallory')]: { id: 'rem-busy', at: Date.now() - 60_000, by: 'alive' },
      },
      'slack',
    );
    const h = await runtime(['slack']);
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 1, sent: { slack: 1 }, settled: 2 });
    assert.deepEqual(dmTo('ivan').map(reminderId), ['rem-arrived'], 'not posted twice');
    assert.deepEqual(dmTo('judy').map(reminderId), ['rem-lost'], 'sent again, under the id it had');
    assert.equal(dmTo('mallory').length, 0, 'another live instance holds it');
    const times = notified('crash');
    assert.equal(times[mail('ivan')], rfc3339Nano(new Date(tenMinutesAgo)), 'recorded at the time it was sent');
    assert.ok(times[mail('judy')]);
    assert.deepEqual(Object.keys(JSON.parse(record('crash')!['reminder_in_flight']!) as object), [mail('mallory')]);
  });

  it('Mattermost asks its DM and SMTP sends again under the same Message-ID after a crash', async () => {
    const due = dueIn(4);
    list('crash-mm-mail', { owners: [mail('bob'), mail('carol')], nextAuditDate: due });
    const tenMinutesAgo = Date.now() - 10 * 60_000;
    // An earlier process posted bob's reminder (as the adapter does: props name the reminder) and died.
    const res = await fetch(`${mm.url}/api/v4/posts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mm.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        channel_id: mm.directChannelFor(mm.bot, person('bob').mm).id,
        message: 'earlier',
        props: { teleport_request_id: 'mm-arrived', teleport_kind: 'access-list-reminder' },
      }),
    });
    assert.equal(res.status, 201);
    leftInFlight(
      'crash-mm-mail',
      { [mail('bob')]: { id: 'mm-arrived', at: tenMinutesAgo, by: 'gone' }, [mail('carol')]: { id: 'mm-lost', at: tenMinutesAgo, by: 'gone' } },
      'mattermost',
    );
    // Plain SMTP cannot be asked: the mail goes again, with the Message-ID it had.
    leftInFlight('crash-mm-mail', { [mail('bob')]: { id: 'smtp-cut', at: tenMinutesAgo, by: 'gone' } }, 'email');
    const h = await runtime(['mattermost', 'email']);
    const report = await h.runtime.remindAccessListOwners();
    assert.deepEqual(report, { dueLists: 1, sent: { mattermost: 1, email: 2 }, settled: 3 });

    const posts = (name: string): unknown[] => mm.postsIn(mm.directChannelFor(mm.bot, person(name).mm).id).map((p) => p.props['teleport_request_id']);
    assert.deepEqual(posts('bob'), ['mm-arrived'], 'found, not posted twice');
    assert.deepEqual(posts('carol'), ['mm-lost'], 'sent again under its id');
    const bobMails = smtp.mailsTo(mail('bob')).filter((m) => /access-list-reminder/.test(m.messageId ?? ''));
    assert.equal(bobMails.length, 1);
    assert.match(bobMails[0]!.messageId!, /^<teleport-smtp-cut-access-list-reminder-[0-9a-f]{16}@example\.com>$/);
    assert.equal(record('crash-mm-mail', 'mattermost')?.['reminder_in_flight'], undefined);
    assert.equal(record('crash-mm-mail', 'email')?.['reminder_in_flight'], undefined);
  });

  it('a shutdown in the middle of a send leaves the record, and the next process finds the message instead of sending it twice', async () => {
    list('shutdown', { owners: [mail('victor')], nextAuditDate: dueIn(2) });
    const before = dmTo('victor').length;
    // A stable instance name (a pod's): the restarted process knows the record is its predecessor's.
    const first = await runtime(['slack'], [], tp, 'pod-0');
    fakeSlack.slowDownPosts(1, 1_000);
    const received = new Promise((resolve) => fakeSlack.once('post-received', resolve));
    const running = first.runtime.remindAccessListOwners();
    await received;
    await first.stop(); // while Slack holds the post: the answer never comes back
    await running.catch(() => undefined);
    await tp.waitFor(() => dmTo('victor').length === before + 1, 5_000, 'Slack to store the post it held');
    assert.ok(record('shutdown')?.['reminder_in_flight'], 'the reminder stays recorded as started');

    const second = await runtime(['slack'], [], tp, 'pod-0');
    const report = await second.runtime.remindAccessListOwners();
    assert.deepEqual(report, { dueLists: 1, sent: { slack: 0 }, settled: 1 });
    assert.equal(dmTo('victor').length, before + 1, 'found in the DM, not sent again');
    assert.ok(notified('shutdown')[mail('victor')]);
  });

  it('Mailgun: an answer lost after Mailgun took the mail is settled by its events, not sent twice', async () => {
    const mailgun = new FakeMailgun({ apiKey: 'key-reminders' });
    await mailgun.start();
    try {
      list('mailgun', { title: 'Mailgun list', owners: [mail('walter')], nextAuditDate: dueIn(3) });
      const toml = [
        ...TELEPORT,
        '[mailgun]',
        'domain = "mg.example.com"',
        'private_key = "key-reminders"',
        `api_base = "${mailgun.apiBase}"`,
        '[delivery]',
        'sender = "teleport@mg.example.com"',
        '[role_to_recipients]',
        '"*" = ["ops@example.com"]',
      ].join('\n');
      const config = parseConfig(toml, 'mailgun.toml');
      const h = await startHarness({
        teleport: tp,
        pluginUser: { readAccessLists: true },
        adapters: [{ adapter: email, config: email.parseConfig(config.section('email'), config.context) }],
        runtimeOptions: { accessListReminders: { firstDelayMs: 3_600_000 } },
      });
      harnesses.push(h);
      // Mailgun queues the mail, and the answer never arrives.
      mailgun.fail({ method: 'POST', path: /\/messages$/, afterEffect: true, drop: true });
      const first = await h.runtime.remindAccessListOwners();
      assert.equal(first!.sent['email'], 0);
      assert.equal(mailgun.messagesTo(mail('walter')).length, 1, 'Mailgun has it');
      assert.ok(record('mailgun', 'email')?.['reminder_in_flight'], 'recorded as started, not as sent');
      // The next run asks Mailgun's events before sending anything again.
      const second = await h.runtime.remindAccessListOwners();
      assert.deepEqual(second, { dueLists: 1, sent: { email: 0 }, settled: 1 });
      assert.equal(mailgun.messagesTo(mail('walter')).length, 1, 'not sent twice');
      assert.ok(notified('mailgun', 'email')[mail('walter')]);
      assert.equal(record('mailgun', 'email')?.['reminder_in_flight'], undefined);
    } finally {
      await mailgun.close();
    }
  });

  it('two replicas send each reminder once', async () => {
    list('shared', { owners: [mail('niaj'), mail('olivia')], nextAuditDate: dueIn(2) });
    const [a, b] = [await runtime(['slack']), await runtime(['slack'])];
    const [ra, rb] = await Promise.all([a.runtime.remindAccessListOwners(), b.runtime.remindAccessListOwners()]);
    assert.equal(ra!.sent['slack']! + rb!.sent['slack']!, 2);
    assert.equal(dmTo('niaj').length, 1);
    assert.equal(dmTo('olivia').length, 1);
  });

  it('a send Slack refuses is tried again at the next run, once', async () => {
    list('flaky', { owners: [mail('peggy')], nextAuditDate: dueIn(3) });
    const h = await runtime(['slack']);
    fakeSlack.fail({ path: '/api/chat.postMessage', status: 200, body: { ok: false, error: 'ratelimited' }, times: 10 });
    const failed = await h.runtime.remindAccessListOwners();
    fakeSlack.clearFaults();
    assert.equal(failed!.sent['slack'], 0);
    assert.equal(record('flaky')?.['reminder_in_flight'], undefined, 'nothing left in flight: Slack said no');
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 1, sent: { slack: 1 }, settled: 0 });
    assert.equal(dmTo('peggy').length, 1);
    const metrics = await h.runtime.metrics.registry.getSingleMetricAsString('teleport_plugin_access_list_reminders_total');
    assert.match(metrics, /teleport_plugin_access_list_reminders_total\{adapter="slack",outcome="failed"\} 1/);
    assert.match(metrics, /teleport_plugin_access_list_reminders_total\{adapter="slack",outcome="sent"\} 1/);
  });

  it('Mattermost and email remind too, each with its own record; [access_list_reminders] chooses which', async () => {
    const due = dueIn(6);
    list('mm-and-mail', { title: 'Data <warehouse>', owners: [mail('alice')], nextAuditDate: due });
    const h = await runtime(['slack', 'mattermost', 'email'], ['[access_list_reminders]', 'plugins = ["mattermost", "email"]']);
    const slackBefore = dmTo('alice').length;
    assert.deepEqual(await h.runtime.remindAccessListOwners(), { dueLists: 1, sent: { mattermost: 1, email: 1 }, settled: 0 });
    assert.equal(dmTo('alice').length, slackBefore, 'Slack is not among the plugins');

    const dm = mm.directChannelFor(mm.bot, person('alice').mm);
    const [post, ...more] = mm.rootPosts(dm.id);
    assert.equal(more.length, 0);
    assert.equal(
      post!.message,
      `Access List **Data <warehouse>** is due for a review by ${day(due.getTime())}. Please review it soon!\n**Link**: ${PROXY_LINK}/mm-and-mail#review`,
    );
    assert.equal(post!.props['teleport_kind'], 'access-list-reminder');

    const [sent, ...others] = smtp.mailsTo(mail('alice'));
    assert.equal(others.length, 0);
    assert.equal(sent!.subject, `Access List Data <warehouse> is due for review by ${day(due.getTime())}`);
    assert.match(
      sent!.text,
      /^Access List Data <warehouse> is due for a review by \d{4}-\d\d-\d\d\. Please review it soon!\nLink: https:\/\/teleport\.example\.com\/web\/accesslists\/mm-and-mail#review/,
    );
    assert.match(sent!.messageId ?? '', /^<teleport-.+-access-list-reminder-[0-9a-f]{16}@example\.com>$/);

    assert.ok(notified('mm-and-mail', 'mattermost')[mail('alice')]);
    assert.ok(notified('mm-and-mail', 'email')[mail('alice')]);
    assert.equal(record('mm-and-mail', 'slack'), undefined);
  });

  it('can be switched off', async () => {
    list('off', { owners: [mail('bob')], nextAuditDate: dueIn(1) });
    const listed = (): number => tp.calls.filter((c) => c.method === 'AccessListService.ListAccessLists').length;
    const before = listed();
    const h = await runtime(['slack'], ['[access_list_reminders]', 'enabled = false']);
    assert.equal(await h.runtime.remindAccessListOwners(), undefined);
    assert.equal(listed(), before, 'Access Lists are not even read');
    assert.equal(record('off'), undefined);
  });

  it('`teleport-plugin check` says whether the lists can be read and how many are in a review window', async () => {
    list('check-me', { owners: [mail('alice')], nextAuditDate: dueIn(3) });
    list('check-later', { owners: [mail('alice')], nextAuditDate: dueIn(60) });
    tp.addPluginUser(FakeTeleport.PLUGIN_USER, { readAccessLists: true });
    tp.addPluginUser('notify-only');
    const dir = await mkdtemp(path.join(tmpdir(), 'alr-check-'));
    try {
      const configFor = async (user: string): Promise<string> => {
        const identity = await tp.writeIdentityFile(dir, { user });
        const file = path.join(dir, `${user}.toml`);
        const toml = ['[teleport]', `addr = "${tp.addr}"`, `identity = "${identity}"`, '[slack]', `token = "${fakeSlack.token}"`, `api_url = "${fakeSlack.apiUrl}"`];
        await writeFile(file, [...toml, '[role_to_recipients]', '"*" = ["alice@example.com"]', ''].join('\n'));
        return file;
      };
      let check = new CliProcess(['check', '-c', await configFor(FakeTeleport.PLUGIN_USER), '--plugin', 'slack']);
      assert.equal(await check.exited, 0, check.output);
      assert.match(check.output, /access list reminders\s+OK\s+slack remind owners; 2 Access List\(s\), 1 in a review window now/);
      check = new CliProcess(['check', '-c', await configFor('notify-only'), '--plugin', 'slack']);
      assert.equal(await check.exited, 0, check.output);
      assert.match(check.output, /access list reminders\s+WARN\s+the plugin's role may not list Access Lists.*access_list: \[list, read\]/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('explains itself on clusters without Access Lists, without permission, or before nested owners (v16)', async () => {
    const oss = await FakeTeleport.start({ accessListsImplemented: false });
    const denied = await FakeTeleport.start();
    const v16 = await FakeTeleport.start({ version: '16.4.0' });
    try {
      const a = await runtime(['slack'], [], oss);
      assert.deepEqual(await a.runtime.remindAccessListOwners(), { dueLists: 0, sent: {}, settled: 0, skipped: 'not-implemented' });

      const logger = createCaptureLogger();
      denied.addPluginUser(FakeTeleport.PLUGIN_USER);
      const b = await startHarness({
        teleport: denied,
        logger,
        adapters: [
          {
            adapter: slack,
            config: slackOnly(
              parseConfig(
                [...TELEPORT, '[slack]', `token = "${fakeSlack.token}"`, `api_url = "${fakeSlack.apiUrl}"`, '[role_to_recipients]', '"*" = ["ops@example.com"]'].join('\n'),
                'p.toml',
              ),
            ),
          },
        ],
        runtimeOptions: { accessListReminders: { firstDelayMs: 3_600_000 } },
      });
      harnesses.push(b);
      assert.equal((await b.runtime.remindAccessListOwners())?.skipped, 'access-denied');
      assert.ok(logger.entries.some((e) => e.level === 'warn' && /access_list: \[list, read\]/.test(e.message)));

      v16.admin.upsertAccessList({ name: 'old', owners: [mail('carol')], ownerLists: ['leads'], nextAuditDate: dueIn(1), memberCount: 1 });
      v16.admin.upsertAccessList({ name: 'leads', type: 'static', members: [mail('dave')] });
      const c = await runtime(['slack'], [], v16);
      const before = dmTo('dave').length;
      assert.deepEqual(await c.runtime.remindAccessListOwners(), { dueLists: 1, sent: { slack: 1 }, settled: 0 });
      assert.equal(dmTo('dave').length, before, 'no GetAccessListOwners before v17: the named owners only');
      assert.ok(v16.calls.some((call) => call.method === 'AccessListService.GetAccessListOwners'));
    } finally {
      for (const h of harnesses.splice(0)) await h.stop();
      await oss.close();
      await denied.close();
      await v16.close();
    }
  });
});
