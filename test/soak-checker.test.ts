// The soak checker on hand-made inputs: it must find every kind of lost, duplicated and stale
// output, blame the right fault, and find nothing in a correct run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attribute,
  checkSoak,
  formatReport,
  formatVerdict,
  isClean,
  requestsFromAudit,
  summaryLine,
  type CheckInput,
  type FaultEvent,
  type ObservedIncident,
  type ObservedRequest,
  type ObservedSlackMessage,
} from './soak/checker.js';
import { planFaults, planWorkload, seededRandom, defaultFaultOptions } from './soak/plan.js';

const CHANNEL = 'C0ACCESS';
const LEAD_DM = 'D0LEAD';
const ALICE = 'alice@example.com';
const ALICE_DM = 'D0ALICE';
const BOB = 'bob@example.com';
const CAROL = 'carol@example.com';
const EMOJI: Record<string, string> = { PENDING: '⏳', APPROVED: '✅', DENIED: '❌', EXPIRED: '⌛' };

let tsSeq = 0;
const nextTs = (): string => `1700000000.${String(++tsSeq).padStart(6, '0')}`;

function root(id: string, channel: string, status: string): ObservedSlackMessage {
  return {
    channel,
    ts: nextTs(),
    text: `You have a new Role Request: ${id} by ${ALICE}`,
    blocksText: `You have a new Role Request:\n*ID*: ${id}\n*Cluster*: example.com\n*User*: ${ALICE}\n*Status*: ${EMOJI[status] ?? ''} ${status}`,
  };
}

function reply(parent: ObservedSlackMessage, author: string): ObservedSlackMessage {
  return { channel: parent.channel, ts: nextTs(), threadTs: parent.ts, text: `${author} reviewed the request at 01 Jan 24 00:00 UTC.\nResolution: ✅ APPROVED.\n`, blocksText: '' };
}

function outcomeDm(id: string, tag: string, channel = ALICE_DM): ObservedSlackMessage {
  return { channel, ts: nextTs(), text: `Request with ID "${id}" has been updated: *${tag}*`, blocksText: '' };
}

function request(id: string, final: ObservedRequest['final'], reviewers: string[] = [], createdAt = 1000): ObservedRequest {
  return {
    id,
    user: ALICE,
    createdAt,
    reviews: reviewers.map((author, k) => ({ author, at: createdAt + 1000 * (k + 1) })),
    final,
    resolvedAt: final === 'PENDING' ? undefined : createdAt + 5000,
  };
}

/** Everything a correct plugin leaves behind for `r`. */
function perfect(r: ObservedRequest): { messages: ObservedSlackMessage[]; incident: ObservedIncident } {
  const messages: ObservedSlackMessage[] = [];
  for (const channel of [CHANNEL, LEAD_DM, ALICE_DM]) {
    const m = root(r.id, channel, r.final);
    messages.push(m, ...r.reviews.map((v) => reply(m, v.author)));
  }
  if (r.final !== 'PENDING') messages.push(outcomeDm(r.id, r.final));
  const notes = r.reviews.map((v) => `${v.author} reviewed the request at 01 Jan 24 00:00 UTC.\nResolution: APPROVED.\n`);
  if (r.final !== 'PENDING') notes.push(`Access request has been ${r.final.toLowerCase()}\n`);
  return {
    messages,
    incident: { id: `PIN-${r.id}`, incidentKey: `teleport-access-request/${r.id}`, status: r.final === 'PENDING' ? 'triggered' : 'resolved', notes },
  };
}

function input(requests: ObservedRequest[], tweak: (messages: ObservedSlackMessage[], incidents: ObservedIncident[]) => void = () => {}, faults: FaultEvent[] = []): CheckInput {
  const messages: ObservedSlackMessage[] = [];
  const incidents: ObservedIncident[] = [];
  for (const r of requests) {
    const p = perfect(r);
    messages.push(...p.messages);
    incidents.push(p.incident);
  }
  tweak(messages, incidents);
  return {
    requests,
    slack: { messages, recipientChannels: [CHANNEL, LEAD_DM], requesterDm: { [ALICE]: ALICE_DM } },
    pagerduty: { incidents },
    faults,
  };
}

const fault = (kind: FaultEvent['kind'], at: number, until = at): FaultEvent => ({ kind, at, until, label: kind });

describe('soak checker', () => {
  const all = [request('r-approved', 'APPROVED', [BOB, CAROL]), request('r-denied', 'DENIED', [BOB]), request('r-expired', 'EXPIRED'), request('r-pending', 'PENDING', [CAROL])];

  it('finds nothing wrong in a perfect run', () => {
    const result = checkSoak(input(all));
    assert.ok(isClean(result), formatReport(result));
    assert.equal(summaryLine(result), 'soak: 4 requests, lost 0 / duplicated 0 / stale 0');
    assert.equal(formatReport(result), 'soak: 4 requests, lost 0 / duplicated 0 / stale 0');
  });

  it('lost: a missing message, thread reply, requester DM, incident, note and closing note', () => {
    const result = checkSoak(
      input(all, (messages, incidents) => {
        const drop = (pred: (m: ObservedSlackMessage) => boolean): void => {
          const i = messages.findIndex(pred);
          assert.ok(i >= 0);
          messages.splice(i, 1);
        };
        // r-approved: no message in the lead's DM (and so none of its replies), no reply of carol in the channel.
        const leadRoot = messages.find((m) => m.channel === LEAD_DM && m.blocksText.includes('r-approved'))!;
        for (let i = messages.length - 1; i >= 0; i--) if (messages[i] === leadRoot || messages[i]!.threadTs === leadRoot.ts) messages.splice(i, 1);
        const channelRoot = messages.find((m) => m.channel === CHANNEL && m.blocksText.includes('r-approved'))!;
        drop((m) => m.threadTs === channelRoot.ts && m.text.startsWith(CAROL));
        // r-denied: no outcome DM; r-expired: no closing note; r-pending: no incident at all.
        drop((m) => m.text.startsWith('Request with ID "r-denied"'));
        incidents.find((i) => i.incidentKey.endsWith('r-expired'))!.notes = [];
        incidents.splice(
          incidents.findIndex((i) => i.incidentKey.endsWith('r-pending')),
          1,
        );
        // r-denied: bob's note is gone.
        const denied = incidents.find((i) => i.incidentKey.endsWith('r-denied'))!;
        denied.notes = denied.notes.filter((n) => !n.startsWith(BOB));
      }),
    );
    assert.equal(result.lost, 4);
    assert.equal(result.duplicated, 0);
    assert.equal(result.stale, 0);
    const details = Object.fromEntries(result.bad.map((v) => [v.id, v.anomalies.map((a) => `${a.cls}: ${a.detail}`)]));
    assert.deepEqual(details, {
      'r-approved': [`lost: slack reply for review 2 (${CAROL}) in ${CHANNEL}`, `lost: slack message in ${LEAD_DM}`],
      'r-denied': [`lost: requester DM (DENIED) in ${ALICE_DM}`, `lost: pagerduty note for review 1 (${BOB})`],
      'r-expired': ['lost: pagerduty closing note (expired)'],
      'r-pending': ['lost: pagerduty incident'],
    });
    assert.deepEqual(result.byItem, {
      'lost slack message': 1,
      'lost slack reply': 1,
      'lost requester DM': 1,
      'lost pagerduty note': 1,
      'lost pagerduty closing note': 1,
      'lost pagerduty incident': 1,
    });
  });

  it('duplicated: a second message, reply, DM, incident, note or closing note; output where none belongs', () => {
    const result = checkSoak(
      input(all, (messages, incidents) => {
        const a = messages.find((m) => m.channel === CHANNEL && m.blocksText.includes('r-approved'))!;
        messages.push(reply(a, BOB)); // bob's reply twice
        messages.push(root('r-denied', CHANNEL, 'DENIED')); // a second channel message
        messages.push(outcomeDm('r-expired', 'EXPIRED')); // the DM twice
        messages.push(outcomeDm('r-pending', 'APPROVED')); // a DM for a request still pending
        messages.push(root('r-expired', 'C0OTHER', 'EXPIRED')); // a channel nobody asked for
        const approved = incidents.find((i) => i.incidentKey.endsWith('r-approved'))!;
        approved.notes = [...approved.notes, approved.notes[0]!, 'Access request has been approved\n'];
        incidents.push({ ...incidents.find((i) => i.incidentKey.endsWith('r-pending'))!, id: 'PIN-second' });
      }),
    );
    assert.equal(result.duplicated, 4);
    assert.equal(result.lost, 0);
    assert.equal(result.stale, 0);
    const details = Object.fromEntries(result.bad.map((v) => [v.id, v.anomalies.map((a) => a.detail)]));
    assert.deepEqual(details, {
      'r-approved': [`slack reply for review 1 (${BOB}) 2x in ${CHANNEL}`, `pagerduty note for review 1 (${BOB}) 2x`, 'pagerduty closing note 2x (approved, approved)'],
      'r-denied': [`slack message 2x in ${CHANNEL}`],
      'r-expired': ['slack message (unexpected channel) in C0OTHER', `requester DM 2x in ${ALICE_DM}`],
      'r-pending': ['requester DM (APPROVED) for a pending request', 'pagerduty incident 2x'],
    });
  });

  it('stale: a message still PENDING, the wrong outcome, an incident left open', () => {
    const result = checkSoak(
      input(all, (messages, incidents) => {
        const lead = messages.find((m) => m.channel === LEAD_DM && m.blocksText.includes('r-approved'))!;
        lead.blocksText = lead.blocksText.replace('✅ APPROVED', '⏳ PENDING');
        const dm = messages.find((m) => m.text.startsWith('Request with ID "r-expired"'))!;
        dm.text = dm.text.replace('EXPIRED', 'APPROVED');
        incidents.find((i) => i.incidentKey.endsWith('r-denied'))!.status = 'triggered';
        const expired = incidents.find((i) => i.incidentKey.endsWith('r-expired'))!;
        expired.notes = ['Access request has been approved\n'];
        incidents.find((i) => i.incidentKey.endsWith('r-pending'))!.status = 'resolved';
      }),
    );
    assert.equal(result.stale, 4);
    assert.equal(result.lost, 0);
    assert.equal(result.duplicated, 0);
    const details = Object.fromEntries(result.bad.map((v) => [v.id, v.anomalies.map((a) => a.detail)]));
    assert.deepEqual(details, {
      'r-approved': [`slack message shows PENDING (want APPROVED) in ${LEAD_DM}`],
      'r-denied': ['pagerduty incident triggered (want resolved)'],
      'r-expired': [`requester DM says APPROVED (want EXPIRED) in ${ALICE_DM}`, 'pagerduty closing note says approved (want expired)'],
      'r-pending': ['pagerduty incident resolved (want triggered)'],
    });
  });

  it('prints one line per bad request, the same anomaly in several channels merged', () => {
    const r = request('r-one', 'APPROVED', [BOB], 2000); // review at 3 s, resolved at 7 s
    const result = checkSoak(
      input(
        [r],
        (messages, incidents) => {
          for (const m of messages) m.blocksText = m.blocksText.replace('✅ APPROVED', '⏳ PENDING');
          incidents[0]!.notes = [];
        },
        [fault('sigkill', 6000, 7500), fault('watch-drop', 8000), fault('slack-429', 8500, 10_000)],
      ),
    );
    assert.equal(
      formatVerdict(result.bad[0]!),
      'r-one (approved, 1 review) stale: slack message shows PENDING (want APPROVED) in C0ACCESS+D0LEAD+D0ALICE [resolve at 7.0s]; after: sigkill at 6.0s (then watch-drop at 8.0s, slack-429 at 8.5s)' +
        ` | lost: pagerduty note for review 1 (${BOB}) [review at 3.0s]; after: no fault (then sigkill at 6.0s)` +
        ' | lost: pagerduty closing note (approved) [resolve at 7.0s]; after: sigkill at 6.0s (then watch-drop at 8.0s, slack-429 at 8.5s)',
    );
    assert.deepEqual(result.byFault, { sigkill: 1, none: 1 });
  });

  it('a requester who is no Slack user gets no DM and no message, and that is expected', () => {
    const r: ObservedRequest = { ...request('r-x', 'APPROVED'), user: 'robot' };
    const p = perfect(r);
    const messages = p.messages.filter((m) => m.channel !== ALICE_DM);
    const result = checkSoak({
      requests: [r],
      slack: { messages, recipientChannels: [CHANNEL, LEAD_DM], requesterDm: { [ALICE]: ALICE_DM } },
      pagerduty: { incidents: [p.incident] },
      faults: [],
    });
    assert.ok(isClean(result), formatReport(result));
  });

  it('blames the fault in effect at the step, else the latest one before it, and shows one right after', () => {
    const faults = [fault('replica', 10_000, 25_000), fault('watch-drop', 20_000), fault('slack-5xx', 29_000, 30_500), fault('sigkill', 40_000, 41_500)];
    // 21 s: the watch drop a second ago is still in its grace period, and newer than the replica.
    assert.equal(attribute(faults, 21_000).after?.kind, 'watch-drop');
    assert.deepEqual(
      attribute(faults, 21_000).during.map((f) => f.kind),
      ['replica'],
    );
    // 24 s: the drop is old news; the replica still runs.
    assert.equal(attribute(faults, 24_000).after?.kind, 'replica');
    assert.deepEqual(attribute(faults, 24_000).during, []);
    // 35 s: nothing in effect; the latest before it.
    assert.equal(attribute(faults, 35_000).after?.kind, 'slack-5xx');
    // 38.5 s: the SIGKILL 1.5 s later is shown as `then`.
    assert.deepEqual(
      attribute(faults, 38_500).then.map((f) => f.kind),
      ['sigkill'],
    );
    assert.deepEqual(
      attribute(faults, 18_000).then.map((f) => f.kind),
      ['watch-drop'],
    );
    assert.equal(attribute(faults, 5_000).after, undefined);

    const r = request('r-late', 'APPROVED', [], 15_000); // resolved at 20 s
    const result = checkSoak(
      input(
        [r],
        (_messages, incidents) => {
          incidents[0]!.status = 'triggered';
        },
        faults,
      ),
    );
    assert.equal(result.stale, 1);
    const [anomaly] = result.bad[0]!.anomalies;
    assert.equal(anomaly!.step, 'resolve');
    assert.equal(anomaly!.after?.kind, 'watch-drop');
    assert.deepEqual(result.byFault, { 'watch-drop': 1 });
    assert.equal(
      formatVerdict(result.bad[0]!),
      'r-late (approved, 0 reviews) stale: pagerduty incident triggered (want resolved) [resolve at 20.0s]; after: watch-drop at 20.0s (during replica since 10.0s)',
    );
    const report = formatReport(result).split('\n');
    assert.equal(report[1], 'soak: 1 requests, lost 0 / duplicated 0 / stale 1');
    assert.equal(report[2], 'bad requests by preceding fault: watch-drop 1');
  });

  it("reads the lifecycles from the fake Teleport's audit log", () => {
    const t0 = 1_000_000;
    const at = (ms: number): Date => new Date(t0 + ms);
    const requests = requestsFromAudit(
      [
        { type: 'access_request.create', requestId: 'a', user: ALICE, state: 'PENDING', time: at(0) },
        { type: 'access_request.create', requestId: 'b', user: ALICE, state: 'PENDING', time: at(10) },
        { type: 'access_request.create', requestId: 'c', user: ALICE, state: 'PENDING', time: at(20) },
        { type: 'access_request.create', requestId: 'd', user: ALICE, state: 'PENDING', time: at(30) },
        { type: 'access_request.review', requestId: 'a', author: BOB, state: 'PENDING', time: at(100) },
        { type: 'access_request.review', requestId: 'a', author: CAROL, state: 'PENDING', time: at(200) },
        { type: 'access_request.update', requestId: 'a', state: 'APPROVED', time: at(300) },
        { type: 'access_request.delete', requestId: 'b', state: 'PENDING', time: at(400) },
        { type: 'access_request.review', requestId: 'c', author: BOB, state: 'DENIED', time: at(500) },
        { type: 'access_request.delete', requestId: 'c', state: 'DENIED', time: at(600) },
      ],
      t0,
    );
    assert.deepEqual(requests, [
      {
        id: 'a',
        user: ALICE,
        createdAt: 0,
        reviews: [
          { author: BOB, at: 100 },
          { author: CAROL, at: 200 },
        ],
        final: 'APPROVED',
        resolvedAt: 300,
      },
      { id: 'b', user: ALICE, createdAt: 10, reviews: [], final: 'EXPIRED', resolvedAt: 400 },
      { id: 'c', user: ALICE, createdAt: 20, reviews: [{ author: BOB, at: 500 }], final: 'DENIED', resolvedAt: 500 },
      { id: 'd', user: ALICE, createdAt: 30, reviews: [], final: 'PENDING', resolvedAt: undefined },
    ]);
  });
});

describe('soak plan', () => {
  it('is the same for the same seed, and keeps every step at least minGap after creation', () => {
    const options = { requests: 300, rate: 20, requesters: ['a@x', 'b@x'], reviewers: ['r1', 'r2', 'r3'], minGapMs: 8000, spreadMs: 10_000, pendingShare: 0.05 };
    const one = planWorkload(options, seededRandom(42));
    assert.deepEqual(planWorkload(options, seededRandom(42)), one);
    assert.notDeepEqual(planWorkload(options, seededRandom(43)), one);
    for (const p of one) {
      assert.ok(p.reviews.length <= 2);
      assert.equal(new Set(p.reviews.map((r) => r.author)).size, p.reviews.length);
      for (const r of p.reviews) assert.ok(r.at >= p.createAt + 8000 && (p.resolveAt === undefined || r.at < p.resolveAt));
      if (p.resolveAt !== undefined) assert.ok(p.resolveAt >= p.createAt + 8000);
      assert.equal(p.resolveAt === undefined, p.outcome === 'pending');
    }
    const outcomes = new Set(one.map((p) => p.outcome));
    assert.deepEqual([...outcomes].sort(), ['approve', 'deny', 'expire', 'pending']);
  });

  it('puts every fault kind in the window, bounded in count, SIGKILLs apart', () => {
    const faults = planFaults(defaultFaultOptions(2000, 40_000, 2, 8000), seededRandom(7));
    const kinds = new Set(faults.map((f) => f.kind));
    for (const k of ['watch-drop', 'refuse-streams', 'sigkill', 'slack-429', 'slack-5xx', 'pagerduty-5xx', 'plugin-data-fail', 'replica'] as const) {
      assert.ok(kinds.has(k), k);
    }
    for (const f of faults) assert.ok(f.at >= 2000 && f.at + f.durationMs <= 40_000 + 2000, `${f.kind} at ${f.at}`);
    const kills = faults.filter((f) => f.kind === 'sigkill');
    assert.equal(kills.length, 2);
    assert.ok(kills[1]!.at - kills[0]!.at > 3000);
    assert.equal(faults.filter((f) => f.kind === 'refuse-streams').length, 3);
    assert.deepEqual(planFaults(defaultFaultOptions(2000, 40_000, 2, 8000), seededRandom(7)), faults);
  });
});
