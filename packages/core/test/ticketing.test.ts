// The ticketing kit, verb by verb, through the real runtime on an in-memory Teleport with a
// tracker whose tickets live in memory (faults injectable per call).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineAdapter, type AdapterContext } from '../src/adapter.js';
import { httpFailure } from '../src/outbound/serviceFailure.js';
import { startAdapterTest, type AdapterTest } from '../src/testing/adapterTest.js';
import { MemoryTeleport, makeAccessRequest } from '../src/testing/memoryTeleport.js';
import type { AccessRequest, PluginData } from '../src/teleport/types.js';
import { applyTicketDecision } from '../src/ticketing/ticketDecision.js';
import { ticketHandlers, type TicketingOptions } from '../src/ticketing/ticketHandlers.js';
import type { TicketNote, TicketOutcome, TicketRef, TicketTracker } from '../src/ticketing/tracker.js';

type Fault = 'lost' | 'unsent' | 'retryable';

interface Ticket {
  id: string;
  requestId: string;
  notes: string[];
  closed: string | undefined;
}

class MemoryTracker implements TicketTracker {
  readonly service = 'Tracker';
  readonly tickets: Ticket[] = [];
  private readonly faults: Array<{ verb: 'open' | 'note'; fault: Fault }> = [];
  wantsAll = true;

  failNext(verb: 'open' | 'note', fault: Fault): void {
    this.faults.push({ verb, fault });
  }

  private fault(verb: 'open' | 'note'): Fault | undefined {
    const i = this.faults.findIndex((f) => f.verb === verb);
    return i >= 0 ? this.faults.splice(i, 1)[0]!.fault : undefined;
  }

  private check(verb: 'open' | 'note', fault: Fault | undefined, after: boolean): void {
    const call = { service: 'Tracker', operation: verb, idempotent: false };
    if (!after && fault === 'retryable') throw httpFailure(call, { status: 503 });
    if (!after && fault === 'unsent') throw httpFailure(call, { status: 504 });
    if (after && fault === 'lost') throw httpFailure(call, { status: 502 });
  }

  ticketOf(data: PluginData | undefined): TicketRef | undefined {
    return data?.ticket_id ? { ticket_id: data.ticket_id } : undefined;
  }

  wants(): boolean {
    return this.wantsAll;
  }

  async open(request: AccessRequest): Promise<TicketRef> {
    const fault = this.fault('open');
    this.check('open', fault, false);
    const ticket = { id: `T-${this.tickets.length + 1}`, requestId: request.id, notes: [], closed: undefined };
    this.tickets.push(ticket);
    this.check('open', fault, true);
    return { ticket_id: ticket.id };
  }

  async find(request: AccessRequest): Promise<TicketRef | undefined> {
    const t = this.tickets.find((x) => x.requestId === request.id);
    return t && { ticket_id: t.id };
  }

  private text(note: TicketNote): string {
    return note.kind === 'review' ? `review ${note.index} by ${note.review.author}` : `resolved ${note.resolution}`;
  }

  async note(ticket: TicketRef, note: TicketNote): Promise<void> {
    const fault = this.fault('note');
    this.check('note', fault, false);
    this.byId(ticket).notes.push(this.text(note));
    this.check('note', fault, true);
  }

  async findNote(ticket: TicketRef, note: TicketNote): Promise<boolean> {
    return this.byId(ticket).notes.includes(this.text(note));
  }

  async close(ticket: TicketRef, outcome: TicketOutcome): Promise<void> {
    this.byId(ticket).closed = outcome.resolution;
  }

  byId(ref: TicketRef): Ticket {
    const t = this.tickets.find((x) => x.id === ref.ticket_id);
    if (!t) throw new Error(`no ticket ${ref.ticket_id}`);
    return t;
  }

  forRequest(id: string): Ticket[] {
    return this.tickets.filter((t) => t.requestId === id);
  }
}

let captured: AdapterContext<unknown> | undefined;

async function start(tracker: MemoryTracker, options: TicketingOptions = {}, teleport?: MemoryTeleport): Promise<AdapterTest> {
  const adapter = defineAdapter<unknown>({
    name: 'tracker',
    parseConfig: () => ({}),
    setup: async (ctx) => {
      captured = ctx;
      return ticketHandlers(ctx, tracker, options);
    },
  });
  return startAdapterTest(adapter, {}, { ...(teleport && { teleport }) });
}

let n = 0;
const newRequest = () => makeAccessRequest({ id: `req-t${++n}` });

describe('ticketing kit', () => {
  it('one ticket per request, a note per review, a closing note, then closed; recorded in the Go layout', async () => {
    const tracker = new MemoryTracker();
    const t = await start(tracker);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.review(r.id, 'bob', 'APPROVED');
      t.teleport.review(r.id, 'carol', 'APPROVED', '', true);
      await t.settled();
      const [ticket] = tracker.forRequest(r.id);
      assert.deepEqual(ticket?.notes, ['review 0 by bob', 'review 1 by carol', 'resolved APPROVED']);
      assert.equal(ticket?.closed, 'APPROVED');
      assert.equal(t.data(r.id)?.ticket_id, ticket?.id);
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(tracker.forRequest(r.id).length, 1);
      assert.equal(ticket?.notes.length, 3);
    } finally {
      await t.close();
    }
  });

  it('an open whose answer was lost is found again, not opened twice', async () => {
    const tracker = new MemoryTracker();
    const t = await start(tracker);
    try {
      tracker.failNext('open', 'lost');
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(tracker.forRequest(r.id).length, 1);
      assert.equal(t.data(r.id)?.ticket_id, tracker.forRequest(r.id)[0]?.id);
    } finally {
      await t.close();
    }
  });

  it('an open that may have happened but did not is done after asking (nothing lost)', async () => {
    const tracker = new MemoryTracker();
    const t = await start(tracker);
    try {
      tracker.failNext('open', 'unsent');
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(tracker.forRequest(r.id).length, 1);
    } finally {
      await t.close();
    }
  });

  it('a note whose answer was lost is found again, not added twice; an unsent one is added', async () => {
    const tracker = new MemoryTracker();
    const t = await start(tracker);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      tracker.failNext('note', 'lost');
      t.teleport.review(r.id, 'bob', 'APPROVED');
      await t.settled();
      tracker.failNext('note', 'unsent');
      t.teleport.remove(r.id);
      await t.settled();
      assert.deepEqual(tracker.forRequest(r.id)[0]?.notes, ['review 0 by bob', 'resolved EXPIRED']);
      assert.equal(tracker.forRequest(r.id)[0]?.closed, 'EXPIRED');
      assert.equal(t.data(r.id)?.resolution, 'EXPIRED');
    } finally {
      await t.close();
    }
  });

  it('afterOpen runs even when opening failed, and the step is retried until the ticket exists', async () => {
    const tracker = new MemoryTracker();
    const seen: string[] = [];
    const t = await start(tracker, { afterOpen: async (_r, ticket) => void seen.push(ticket ? 'with ticket' : 'without ticket') });
    try {
      tracker.failNext('open', 'retryable');
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.deepEqual(seen, ['without ticket', 'with ticket']);
      assert.equal(tracker.forRequest(r.id).length, 1);
    } finally {
      await t.close();
    }
  });

  it('no ticket when the tracker does not want one; nothing to note or close later', async () => {
    const tracker = new MemoryTracker();
    tracker.wantsAll = false;
    const t = await start(tracker);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.review(r.id, 'bob', 'DENIED', '', true);
      await t.settled();
      assert.equal(tracker.tickets.length, 0);
      assert.equal(t.data(r.id)?.resolution, 'DENIED');
    } finally {
      await t.close();
    }
  });
});

describe('decisions made in the tracker', () => {
  it('applies a decision only for the ticket recorded for a pending request, with the delegator; a redelivery changes nothing', async () => {
    const tracker = new MemoryTracker();
    const t = await start(tracker);
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const ctx = captured!;
      const ticket = tracker.forRequest(r.id)[0]!;
      const decide = (ticketId: string) =>
        applyTicketDecision(ctx, {
          requestId: r.id,
          sameTicket: (d) => d.ticket_id === ticketId,
          decision: 'APPROVED',
          delegator: 'tracker:bob@example.com',
          reason: 'looks fine',
        });
      assert.equal(await decide('T-999'), 'mismatch');
      assert.equal(t.teleport.decisions.length, 0);
      assert.equal(await applyTicketDecision(ctx, { requestId: 'unknown', sameTicket: () => true, decision: 'DENIED', delegator: 'x' }), 'unknown');
      assert.equal(await decide(ticket.id), 'applied');
      assert.deepEqual(
        t.teleport.decisions.map((d) => d.change),
        [{ state: 'APPROVED', delegator: 'tracker:bob@example.com', reason: 'looks fine' }],
      );
      await t.settled();
      assert.equal(ticket.closed, 'APPROVED');
      assert.equal(await decide(ticket.id), 'already');
      assert.equal(t.teleport.decisions.length, 1);
      t.teleport.remove(r.id, false);
      assert.equal(await decide(ticket.id), 'gone');
      await t.settled();
    } finally {
      await t.close();
    }
  });
});
