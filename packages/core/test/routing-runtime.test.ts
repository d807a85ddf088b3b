// Routing in the real runtime (watcher, intake, dispatcher, ledger) on an in-memory Teleport: rules
// loaded after INIT and kept current from the watch stream, recipient replacement and fallback,
// the automatic review (deny beats approve, exactly once across replicas, announced decided),
// no self-review, dedupe, explain and /debug/requests/<id>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatExplanation } from '../src/routing/explain.js';
import { MemoryTeleport, makeAccessRequest } from '../src/testing/memoryTeleport.js';
import type { AccessMonitoringRule } from '../src/teleport/types.js';
import { ChatService, TicketService, chatAdapter, eventually, startRouted, ticketAdapter } from './routing-helpers.js';

const id = (n: number): string => `0196a8f2-0000-7000-8000-${String(n).padStart(12, '0')}`;
const rule = (name: string, condition: string, recipients: string[], plugin = 'chat'): Partial<AccessMonitoringRule> & { name: string; condition: string } => ({
  name,
  condition,
  notification: { name: plugin, recipients },
});
const reviewRule = (name: string, condition: string, decision: 'APPROVED' | 'DENIED'): Partial<AccessMonitoringRule> & { name: string; condition: string } => ({
  name,
  condition,
  desiredState: 'reviewed',
  automaticReview: { integration: 'oncall', decision, reason: '' },
});
const postedTo = (chat: ChatService, requestId: string): string[] =>
  chat
    .of('post', requestId)
    .map((s) => s.to)
    .sort();

describe('routing by Access Monitoring Rules (runtime)', () => {
  it('rules are loaded after INIT, kept current from rule events, and reloaded after a reconnect', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(rule('dba', 'contains(access_request.spec.roles, "db")', ['#dba']), false);
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })]);
    try {
      assert.equal(tp.watchOptions[0]?.accessMonitoringRules, true, 'the watch asks for rule events');
      tp.put(makeAccessRequest({ id: id(1), roles: ['db'] }));
      tp.put(makeAccessRequest({ id: id(2), roles: ['editor'] }));
      await t.settled();
      assert.deepEqual(postedTo(chat, id(1)), ['#dba'], 'replaced by the rule');
      assert.deepEqual(postedTo(chat, id(2)), ['#access'], 'no rule matched: the static map');

      // A new rule arrives on the stream.
      tp.putRule(rule('editors', 'contains(access_request.spec.roles, "editor")', ['#editors', 'lead@example.com']));
      await eventually(() => t.runtime.explain(id(2)).then((e) => e.rules.cached.includes('editors')), 'rule-put applied');
      tp.put(makeAccessRequest({ id: id(3), roles: ['editor'] }));
      await t.settled();
      assert.deepEqual(postedTo(chat, id(3)), ['#editors', 'lead@example.com']);

      // Deleted: back to the static map.
      tp.removeRule('editors');
      await eventually(() => t.runtime.explain(id(3)).then((e) => !e.rules.cached.includes('editors')), 'rule-delete applied');
      tp.put(makeAccessRequest({ id: id(4), roles: ['editor'] }));
      await t.settled();
      assert.deepEqual(postedTo(chat, id(4)), ['#access']);

      // Changed while no stream was open: the INIT of the new stream reloads.
      const lists = tp.callCount('listAccessMonitoringRules');
      tp.drop();
      tp.putRule(rule('dba', 'contains(access_request.spec.roles, "db")', ['#dba-oncall']), false);
      await eventually(() => tp.callCount('listAccessMonitoringRules') > lists, 'reloaded after the reconnect');
      await eventually(() => t.runtime.ready, 'watching again');
      tp.put(makeAccessRequest({ id: id(5), roles: ['db'] }));
      await t.settled();
      assert.deepEqual(postedTo(chat, id(5)), ['#dba-oncall']);
    } finally {
      await t.stop();
    }
  });

  it('without rule access: the static map, one warning across reconnects', async () => {
    const tp = new MemoryTeleport();
    tp.rulesAccess = 'denied';
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })]);
    try {
      tp.put(makeAccessRequest({ id: id(1) }));
      await t.settled();
      tp.drop();
      await eventually(() => tp.streams.length === 2 && t.runtime.ready, 'reconnected');
      tp.put(makeAccessRequest({ id: id(2) }));
      await t.settled();
      assert.deepEqual(postedTo(chat, id(1)), ['#access']);
      assert.deepEqual(postedTo(chat, id(2)), ['#access']);
      const warned = t.logger.entries.filter((e) => e.level === 'warn' && /Cannot load Access Monitoring Rules/.test(e.message));
      assert.equal(warned.length, 1);
      assert.match(warned[0]!.message, /access_monitoring_rule: \[read, list\]/);
    } finally {
      await t.stop();
    }
  });

  it('a server older than 16 is not asked for rule events', async () => {
    const tp = new MemoryTeleport();
    tp.cluster = { ...tp.cluster, serverVersion: '15.4.0' };
    const t = await startRouted(tp, [chatAdapter('chat', new ChatService(), { '*': ['#access'] })]);
    try {
      assert.equal(tp.watchOptions[0]?.accessMonitoringRules, undefined);
    } finally {
      await t.stop();
    }
  });

  it('nobody is asked to review their own request', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(rule('leads', 'true', ['alice@example.com', 'bob@example.com']), false);
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })]);
    try {
      tp.put(makeAccessRequest({ id: id(1), user: 'alice@example.com' }));
      tp.put(makeAccessRequest({ id: id(2), user: 'bob@example.com' }));
      await t.settled();
      assert.deepEqual(postedTo(chat, id(1)), ['bob@example.com']);
      assert.deepEqual(postedTo(chat, id(2)), ['alice@example.com']);
    } finally {
      await t.stop();
    }
  });

  it('dedupe: one person reached by two adapters hears from the preferred one only', async () => {
    const tp = new MemoryTeleport();
    const slack = new ChatService('Slack');
    const mail = new ChatService('Mail');
    const adapters = [chatAdapter('slack', slack, { '*': ['#ops', 'bob@example.com'] }), chatAdapter('email', mail, { '*': ['bob@example.com', 'carol@example.com'] })];
    const t = await startRouted(tp, adapters, { dedupe: ['slack', 'email'] });
    try {
      tp.put(makeAccessRequest({ id: id(1) }));
      await t.settled();
      assert.deepEqual(postedTo(slack, id(1)), ['#ops', 'bob@example.com']);
      assert.deepEqual(postedTo(mail, id(1)), ['carol@example.com']);
    } finally {
      await t.stop();
    }
  });
});

describe('automatic review (runtime)', () => {
  it('approves a new request before it is announced: messages show the outcome, ask nobody, repeat nothing', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(reviewRule('editors', 'contains(access_request.spec.roles, "editor")', 'APPROVED'), false);
    const chat = new ChatService();
    const tickets = new TicketService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] }), ticketAdapter('tickets', tickets)], { automaticReview: { integration: 'oncall' } });
    try {
      tp.put(makeAccessRequest({ id: id(1), roles: ['editor'] }));
      tp.put(makeAccessRequest({ id: id(2), roles: ['db'] }));
      await t.settled();
      await eventually(() => tp.pluginData(id(1), 'chat')?.['resolution'] === 'APPROVED', 'resolution recorded');
      assert.equal(tp.requests.get(id(1))?.state, 'APPROVED');
      assert.deepEqual(
        tp.decisions.map((d) => [d.requestId, d.review?.proposedState, d.review?.author]),
        [[id(1), 'APPROVED', undefined]],
      );
      assert.match(tp.decisions[0]!.review!.reason, /Approved automatically by access monitoring rule "editors"/);
      const posts = chat.of('post', id(1));
      assert.deepEqual(
        posts.map((p) => [p.to, p.status, p.asks]),
        [['#access', 'APPROVED', false]],
        'posted showing the outcome, no review asked',
      );
      assert.equal(chat.of('reply', id(1)).length, 0, 'the deciding review is not replied again');
      assert.equal(chat.of('notice', id(1)).length, 1, 'the requester is told');
      assert.deepEqual(tickets.opened, [id(2)], 'no ticket for a request nobody needs to act on');
      // Not matched: announced pending, as usual.
      assert.deepEqual(
        chat.of('post', id(2)).map((p) => [p.status, p.asks]),
        [['PENDING', true]],
      );
      const decision = t.logger.entries.find((e) => /Automatic review: APPROVED by access monitoring rule "editors"/.test(e.message));
      assert.ok(decision, 'each decision is logged with the rule');
      assert.equal(decision!.fields['rule'], 'editors');
      assert.equal(decision!.fields['facts'], '{}');
    } finally {
      await t.stop();
    }
  });

  it('[automatic_review] wait = "0s": a request is announced at once and its decision follows as a resolution', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(reviewRule('editors', 'contains(access_request.spec.roles, "editor")', 'APPROVED'), false);
    // The review is slow to submit: with no wait, the announcement does not wait for it.
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const submit = tp.submitAccessReview.bind(tp);
    tp.submitAccessReview = async (requestId, review) => {
      await released;
      return submit(requestId, review);
    };
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })], { automaticReview: { integration: 'oncall', waitMs: 0 } });
    try {
      tp.put(makeAccessRequest({ id: id(1), roles: ['editor'] }));
      await eventually(() => chat.of('post', id(1)).length === 1, 'announced before the decision');
      assert.deepEqual(
        chat.of('post', id(1)).map((p) => [p.status, p.asks]),
        [['PENDING', true]],
      );
      release();
      await eventually(() => tp.pluginData(id(1), 'chat')?.['resolution'] === 'APPROVED', 'the decision delivered as the resolution');
      assert.equal(tp.requests.get(id(1))?.state, 'APPROVED');
    } finally {
      release();
      await t.stop();
    }
  });

  it("every adapter's entry exists before the review is submitted: a crash between the two still announces it, decided", async () => {
    const tp = new MemoryTeleport();
    tp.putRule(reviewRule('editors', 'contains(access_request.spec.roles, "editor")', 'APPROVED'), false);
    const atReview: Array<string | undefined> = [];
    const submit = tp.submitAccessReview.bind(tp);
    tp.submitAccessReview = async (requestId, review) => {
      atReview.push(tp.pluginData(requestId, 'chat')?.['announced'], tp.pluginData(requestId, 'tickets')?.['announced']);
      return submit(requestId, review);
    };
    // The first instance dies after the review: its chat service never answers, and it is stopped
    // without time to finish.
    const dead = new ChatService();
    dead.post = () => new Promise(() => undefined);
    const routing = { automaticReview: { integration: 'oncall' } };
    const a = await startRouted(tp, [chatAdapter('chat', dead, { '*': ['#access'] }), ticketAdapter('tickets', new TicketService())], routing);
    tp.put(makeAccessRequest({ id: id(1), roles: ['editor'] }));
    await eventually(() => tp.requests.get(id(1))?.state === 'APPROVED', 'approved by the automatic review');
    await a.runtime.stop(0);
    assert.equal(atReview.length, 2);
    assert.ok(
      atReview.every((r) => r?.startsWith('run:')),
      `both entries recorded before the review: ${atReview.join(', ')}`,
    );
    assert.equal(tp.pluginData(id(1), 'chat')?.['resolution'], undefined, 'nothing delivered by the dead instance');

    const chat = new ChatService();
    const tickets = new TicketService();
    const b = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] }), ticketAdapter('tickets', tickets)], routing, { leaseMs: 50 });
    try {
      await eventually(() => tp.pluginData(id(1), 'chat')?.['resolution'] === 'APPROVED', 'announced and resolved by the next instance', 10_000);
      await b.settled();
      assert.deepEqual(
        chat.of('post', id(1)).map((p) => [p.to, p.status, p.asks]),
        [['#access', 'APPROVED', false]],
        'posted showing the outcome',
      );
      assert.equal(chat.of('reply', id(1)).length, 0);
      assert.equal(chat.of('notice', id(1)).length, 1, 'the requester is told');
      assert.deepEqual(tickets.opened, [], 'no ticket for a request nobody needs to act on');
      assert.equal(tp.decisions.length, 1, 'reviewed once');
    } finally {
      await b.stop();
    }
  });

  it('deny beats approve', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(reviewRule('a-approve', 'true', 'APPROVED'), false);
    tp.putRule(reviewRule('b-deny-no-reason', 'is_empty(access_request.spec.request_reason)', 'DENIED'), false);
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })], { automaticReview: { integration: 'oncall' } });
    try {
      tp.put(makeAccessRequest({ id: id(1), requestReason: '' }));
      tp.put(makeAccessRequest({ id: id(2), requestReason: 'incident 7' }));
      await t.settled();
      assert.equal(tp.requests.get(id(1))?.state, 'DENIED');
      assert.equal(tp.requests.get(id(2))?.state, 'APPROVED');
      assert.deepEqual(
        chat.of('post', id(1)).map((p) => p.status),
        ['DENIED'],
      );
    } finally {
      await t.stop();
    }
  });

  it('pending requests are reviewed after INIT; two replicas submit one review', async () => {
    const tp = new MemoryTeleport();
    tp.put(makeAccessRequest({ id: id(1), roles: ['editor'] }), false);
    tp.putRule(reviewRule('editors', 'contains(access_request.spec.roles, "editor")', 'APPROVED'), false);
    const chatA = new ChatService();
    const routing = { automaticReview: { integration: 'oncall' } };
    const [a, b] = await Promise.all([
      startRouted(tp, [chatAdapter('chat', chatA, { '*': ['#access'] })], routing),
      startRouted(tp, [chatAdapter('chat', chatA, { '*': ['#access'] })], routing),
    ]);
    try {
      await eventually(() => tp.requests.get(id(1))?.state === 'APPROVED', 'approved');
      await a.settled();
      await b.settled();
      assert.equal(tp.decisions.length, 1, 'one review: the other replica was told "already reviewed"');
      assert.equal(chatA.of('post', id(1)).length, 1, 'announced once');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('a rule that needs traits the plugin cannot read decides nothing', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(reviewRule('sre', 'contains(user.traits["team"], "sre")', 'APPROVED'), false);
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })], { automaticReview: { integration: 'oncall' } });
    try {
      tp.put(makeAccessRequest({ id: id(1), user: 'nobody@example.com' }));
      await t.settled();
      assert.equal(tp.requests.get(id(1))?.state, 'PENDING');
      assert.deepEqual(
        chat.of('post', id(1)).map((p) => p.status),
        ['PENDING'],
      );
      tp.addUser('sam@example.com', { team: ['sre'] });
      tp.put(makeAccessRequest({ id: id(2), user: 'sam@example.com' }));
      await t.settled();
      assert.equal(tp.requests.get(id(2))?.state, 'APPROVED');
    } finally {
      await t.stop();
    }
  });
});

describe('explain', () => {
  it('says which rules matched, whom each adapter chose and why, and what was auto-reviewed', async () => {
    const tp = new MemoryTeleport();
    tp.putRule(rule('dba', 'contains(access_request.spec.roles, "db")', ['#dba', 'alice@example.com']), false);
    tp.putRule(rule('weekend', 'true', ['#weekend'], 'chat'), false);
    tp.rules.set('weekend', { ...tp.rules.get('weekend')!, schedules: { sat: { timezone: 'Europe/Berlin', shifts: [{ weekday: 'Saturday', start: '00:00', end: '23:59' }] } } });
    tp.putRule(reviewRule('deny-db-without-reason', 'contains(access_request.spec.roles, "db") && is_empty(access_request.spec.request_reason)', 'DENIED'), false);
    const chat = new ChatService();
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })], {
      automaticReview: { integration: 'oncall' },
      followUp: { chat: { remindEveryMs: 30 * 60_000, remindTimes: 2, escalateAfterMs: undefined, escalateTo: [] } },
    });
    try {
      // Saturday 2026-01-03 10:00 UTC (11:00 in Berlin).
      tp.put(makeAccessRequest({ id: id(1), user: 'alice@example.com', roles: ['db'], requestReason: 'migration', created: new Date('2026-01-03T10:00:00Z') }));
      await t.settled();
      const e = await t.runtime.explain(id(1));
      const text = formatExplanation(e);
      assert.deepEqual(
        e.adapters[0]!.rules.map((r) => [r.name, r.status, r.schedule]),
        [
          ['dba', 'match', undefined],
          ['weekend', 'match', 'sat'],
        ],
      );
      assert.deepEqual(e.adapters[0]!.recipients?.recipients, ['#dba', '#weekend']);
      assert.equal(e.automaticReview?.decision, 'none');
      assert.match(text, /rule weekend: match \(schedule sat\): condition is true within schedule "sat"/);
      assert.match(text, /recipients \(from rules\): #dba, #weekend/);
      assert.match(text, /left out: alice@example\.com: the requester is never asked to review their own request/);
      assert.match(text, /Automatic review \(integration "oncall"\): none/);
      assert.match(text, /rule deny-db-without-reason: no-match: condition is false/);
      assert.match(text, /delivery: announced yes/);
      // Created long ago: both reminders are past; only the latest is due, the first superseded.
      assert.match(text, /remind 1: superseded/);
      assert.match(text, /remind 2: (due|done)/);
    } finally {
      await t.stop();
    }
  });

  it('/debug/requests/<id> is served only behind [http] basic auth', async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    const open = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#access'] })], {}, { http: { listenAddr: '127.0.0.1:0' }, insecureNoTls: true });
    try {
      const res = await fetch(`${open.runtime.httpUrl}/debug/requests/${id(1)}`);
      assert.equal(res.status, 404, 'no basic auth configured: the path does not exist');
    } finally {
      await open.stop();
    }
    const guarded = await startRouted(
      tp,
      [chatAdapter('chat', chat, { '*': ['#access'] })],
      {},
      {
        http: { listenAddr: '127.0.0.1:0', basicAuth: { user: 'ops', password: 's3cret' } },
        insecureNoTls: true,
      },
    );
    try {
      tp.put(makeAccessRequest({ id: id(1) }));
      await guarded.settled();
      const url = `${guarded.runtime.httpUrl}/debug/requests/${id(1)}`;
      assert.equal((await fetch(url)).status, 401);
      const auth = { authorization: `Basic ${Buffer.from('ops:s3cret').toString('base64')}` };
      const json = await fetch(url, { headers: auth });
      assert.equal(json.status, 200);
      const body = (await json.json()) as { requestId: string; adapters: Array<{ name: string; recipients: { recipients: string[] } }> };
      assert.equal(body.requestId, id(1));
      assert.deepEqual(body.adapters[0]?.recipients.recipients, ['#access']);
      const text = await fetch(`${url}?format=text`, { headers: auth });
      assert.match(await text.text(), /recipients \(static config\): #access/);
      assert.equal((await fetch(`${guarded.runtime.httpUrl}/debug/requests/..%2Fx`, { headers: auth })).status, 400);
    } finally {
      await guarded.stop();
    }
  });
});
