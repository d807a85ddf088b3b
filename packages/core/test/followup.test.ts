// Reminders, escalation and the deadline: when steps fall due (pure), and in the runtime, each
// reminder once per thread across a restart and with two replicas at once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dueSteps, followUpKey } from '../src/followup/schedule.js';
import type { FollowUpPlan } from '../src/routing/config.js';
import { followUpText } from '../src/routing/types.js';
import { MemoryTeleport, makeAccessRequest } from '../src/testing/memoryTeleport.js';
import { ChatService, TicketService, chatAdapter, eventually, startRouted, ticketAdapter } from './routing-helpers.js';

const id = (n: number): string => `0196a8f2-0000-7000-8000-${String(n).padStart(12, '0')}`;
const plan = (p: Partial<FollowUpPlan>): FollowUpPlan => ({ remindEveryMs: undefined, remindTimes: 3, escalateAfterMs: undefined, escalateTo: [], ...p });

describe('follow-up schedule', () => {
  const created = 1_000_000;
  const every = plan({ remindEveryMs: 100, remindTimes: 3, escalateAfterMs: 250, escalateTo: ['#leads'] });

  it('reminder n falls due at created + n * every, up to `times`', () => {
    assert.deepEqual(dueSteps(every, created, created + 99, undefined), []);
    assert.deepEqual(
      dueSteps(every, created, created + 100, undefined).map((s) => s.id),
      ['remind/1'],
    );
    const second = dueSteps(every, created, created + 220, { [followUpKey('remind/1')]: 'ok' });
    assert.deepEqual(
      second.map((s) => [s.id, s.kind === 'reminder' && s.index, s.kind === 'reminder' && s.of, s.pendingForMs]),
      [['remind/2', 2, 3, 200]],
    );
    assert.deepEqual(dueSteps(every, created, created + 10_000, { [followUpKey('remind/3')]: 'ok', [followUpKey('escalate')]: 'ok' }), [], 'no fourth');
  });

  it('reminders missed while nothing ran collapse into the latest; escalation comes once', () => {
    const steps = dueSteps(every, created, created + 320, undefined);
    assert.deepEqual(
      steps.map((s) => s.id),
      ['escalate', 'remind/3'],
      'ordered by when they fell due',
    );
    assert.deepEqual(dueSteps(every, created, created + 320, { [followUpKey('escalate')]: 'ok', [followUpKey('remind/3')]: 'ok' }), []);
    // A later reminder done (by a replica ahead of us): nothing earlier is owed.
    assert.deepEqual(dueSteps(every, created, created + 220, { [followUpKey('remind/3')]: 'ok' }), []);
  });

  it('nothing configured, nothing due', () => {
    assert.deepEqual(dueSteps(plan({}), created, created + 1e9, undefined), []);
  });
});

const FAST = { remindEveryMs: 150, remindTimes: 3, escalateAfterMs: undefined, escalateTo: [] } satisfies FollowUpPlan;

describe('reminders in the runtime', () => {
  it("remind in every thread (not the requester's copy) up to `times`, then stop; none after a decision", async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    chat.requesterCopies = true;
    const t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops', 'lead@example.com'] })], { followUp: { chat: FAST } });
    try {
      tp.put(makeAccessRequest({ id: id(1), created: new Date() }));
      tp.put(makeAccessRequest({ id: id(2), created: new Date() }));
      await t.settled();
      // Decided before its first reminder.
      tp.review(id(2), 'bob@example.com', 'APPROVED', 'ok', true);
      await eventually(() => chat.of('remind', id(1)).length === 6, 'three reminders in two threads', 5_000);
      await new Promise((r) => setTimeout(r, 300));
      await t.settled();
      const texts = chat
        .of('remind', id(1))
        .map((s) => `${s.to} ${s.text.slice(0, 16)}`)
        .sort();
      assert.deepEqual(texts, [
        '#ops Reminder 1 of 3:',
        '#ops Reminder 2 of 3:',
        '#ops Reminder 3 of 3:',
        'lead@example.com Reminder 1 of 3:',
        'lead@example.com Reminder 2 of 3:',
        'lead@example.com Reminder 3 of 3:',
      ]);
      assert.ok(
        chat.of('post', id(1)).some((p) => p.to === `dm:${makeAccessRequest().user}`),
        'the requester has a copy...',
      );
      assert.equal(chat.of('remind', id(2)).length, 0, 'none after the decision');
      assert.equal(tp.pluginData(id(1), 'chat')?.[followUpKey('remind/3')], 'ok');
    } finally {
      await t.stop();
    }
  });

  it('across a restart: each reminder once, none skipped, the schedule read from plugin data', async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    const slow = { ...FAST, remindEveryMs: 400 };
    let t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], { followUp: { chat: slow } }, { instanceName: 'pod-a' });
    tp.put(makeAccessRequest({ id: id(1), created: new Date() }));
    await t.settled();
    await eventually(() => chat.of('remind', id(1)).length === 1, 'first reminder', 3_000);
    // The process goes away between reminders; a new one (new nonce) takes over.
    await t.stop();
    t = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], { followUp: { chat: slow } }, { instanceName: 'pod-a' });
    try {
      await eventually(() => chat.of('remind', id(1)).length === 3, 'second and third reminders after the restart', 4_000);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        chat.of('remind', id(1)).map((s) => s.text.slice(0, 14)),
        ['Reminder 1 of ', 'Reminder 2 of ', 'Reminder 3 of '],
      );
    } finally {
      await t.stop();
    }
  });

  it('a restart right after a reminder was sent but before it was recorded does not send it again', async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    // Reminder 1 is due at once; the "crash": its effect record stays `run`, its step unmarked.
    const created = new Date(Date.now() - 200);
    tp.put(makeAccessRequest({ id: id(1), created }), false);
    const first = await startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], {}, { instanceName: 'pod-a' });
    await first.settled();
    await first.stop();
    const data = tp.pluginData(id(1), 'chat')!;
    const thread = data['messages']!;
    // The reminder went out; the process died before recording it.
    chat.sent.push({
      verb: 'remind',
      to: '#ops',
      requestId: id(1),
      status: 'PENDING',
      asks: false,
      text: followUpText({ kind: 'reminder', requestId: id(1), index: 1, of: 1, pendingForMs: 150 }),
    });
    tp.setPluginData(id(1), 'chat', { ...data, [`fx/remind/1/${thread}`]: `run:pod-a~dead:${Date.now()}` });
    const second = await startRouted(
      tp,
      [chatAdapter('chat', chat, { '*': ['#ops'] })],
      { followUp: { chat: { ...FAST, remindEveryMs: 150, remindTimes: 1 } } },
      { instanceName: 'pod-a' },
    );
    try {
      await eventually(() => tp.pluginData(id(1), 'chat')?.[followUpKey('remind/1')] === 'ok', 'step recorded', 3_000);
      assert.equal(chat.of('remind', id(1)).length, 1, 'found, not sent again');
      assert.match(tp.pluginData(id(1), 'chat')?.[`fx/remind/1/${thread}`] ?? '', /^ok/);
    } finally {
      await second.stop();
    }
  });

  it('two replicas at once: each reminder once per thread', async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    chat.remindDelayMs = 30;
    const routing = { followUp: { chat: FAST } };
    const adapters = () => [chatAdapter('chat', chat, { '*': ['#ops', '#sre'] })];
    // Announced by an earlier instance; both replicas then find the requests at their INIT, and both
    // wake them at every reminder.
    const created = new Date();
    const earlier = await startRouted(tp, adapters());
    for (let n = 1; n <= 3; n++) tp.put(makeAccessRequest({ id: id(n), created }));
    await earlier.settled();
    await earlier.stop();
    const [a, b] = await Promise.all([startRouted(tp, adapters(), routing, { leaseMs: 10_000 }), startRouted(tp, adapters(), routing, { leaseMs: 10_000 })]);
    try {
      await eventually(() => chat.of('remind').length >= 18, 'three reminders, two threads, three requests', 6_000);
      await new Promise((r) => setTimeout(r, 500));
      await a.settled();
      await b.settled();
      const sent = chat.of('remind').map((s) => `${s.requestId} ${s.to} ${s.text.slice(0, 12)}`);
      assert.equal(sent.length, 18, sent.join('\n'));
      assert.equal(new Set(sent).size, 18, 'no duplicates');
      for (let n = 1; n <= 3; n++) assert.equal(chat.of('post', id(n)).length, 2, 'announced once per channel');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('ticketing: a note per reminder on the ticket', async () => {
    const tp = new MemoryTeleport();
    const tickets = new TicketService();
    const t = await startRouted(tp, [ticketAdapter('tickets', tickets)], { followUp: { tickets: { ...FAST, remindTimes: 2 } } });
    try {
      tp.put(makeAccessRequest({ id: id(1), created: new Date() }));
      await eventually(() => tickets.notes.filter((n) => n.text.startsWith('Reminder')).length === 2, 'two reminder notes', 3_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        tickets.notes.map((n) => n.text.slice(0, 14)),
        ['Reminder 1 of ', 'Reminder 2 of '],
      );
    } finally {
      await t.stop();
    }
  });
});

describe('escalation and deadline in the runtime', () => {
  it('escalates once: a note in the threads and the request posted to the new recipients (never the requester)', async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    const escalate = { remindEveryMs: undefined, remindTimes: 0, escalateAfterMs: 150, escalateTo: ['#leads', 'alice@example.com'] };
    const routing = { followUp: { chat: escalate } };
    const [a, b] = await Promise.all([
      startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], routing),
      startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], routing),
    ]);
    try {
      tp.put(makeAccessRequest({ id: id(1), user: 'alice@example.com', created: new Date() }));
      await eventually(() => tp.pluginData(id(1), 'chat')?.[followUpKey('escalate')] === 'ok', 'escalated', 3_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        chat.of('post', id(1)).map((p) => [p.to, p.asks]),
        [
          ['#ops', true],
          ['#leads', true],
        ],
      );
      assert.deepEqual(
        chat.of('remind', id(1)).map((s) => [s.to, s.text.slice(0, 10)]),
        [['#ops', 'Escalated:']],
      );
      assert.ok(!chat.sent.some((s) => s.to === 'alice@example.com' && s.verb === 'post'), 'the requester is not asked');
      // A review now reaches the escalation thread too.
      tp.review(id(1), 'lead@example.com', 'APPROVED', '', true);
      await a.settled();
      await b.settled();
      assert.deepEqual(
        chat
          .of('reply', id(1))
          .map((r) => r.to)
          .sort(),
        ['#leads', '#ops'],
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('denies a request nobody reviewed before the deadline, with the reason, once across replicas', async () => {
    const tp = new MemoryTeleport();
    const chat = new ChatService();
    const routing = { deadline: { afterMs: 200, reason: 'Nobody reviewed this request in time' } };
    const [a, b] = await Promise.all([
      startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], routing),
      startRouted(tp, [chatAdapter('chat', chat, { '*': ['#ops'] })], routing),
    ]);
    try {
      tp.put(makeAccessRequest({ id: id(1), created: new Date() }));
      tp.put(makeAccessRequest({ id: id(2), created: new Date() }));
      tp.review(id(2), 'bob@example.com', 'APPROVED', 'one of two');
      await eventually(() => tp.requests.get(id(1))?.state === 'DENIED', 'denied at the deadline', 3_000);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(tp.requests.get(id(1))?.resolveReason, 'Nobody reviewed this request in time');
      assert.equal(tp.decisions.filter((d) => d.requestId === id(1)).length, 1, 'one denial');
      assert.equal(tp.requests.get(id(2))?.state, 'PENDING', 'someone answered: not denied');
      await a.settled();
      await b.settled();
      assert.deepEqual(
        chat
          .of('update', id(1))
          .map((u) => u.status)
          .slice(-1),
        ['DENIED'],
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
