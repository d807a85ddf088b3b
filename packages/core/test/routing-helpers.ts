// Shared by the routing and follow-up tests: a chat service in memory (one per "service", shared by
// replicas), adapters on the messaging and ticketing kits, and runtimes on one MemoryTeleport.
import { defineAdapter, type Adapter } from '../src/adapter.js';
import { startRuntime, type Runtime, type RuntimeOptions } from '../src/host.js';
import { createCaptureLogger, type CaptureLogger } from '../src/log/capture-logger.js';
import type { ChatRecipient, MessagingBot, ReviewReply } from '../src/messaging/bot.js';
import type { MessageRef } from '../src/messaging/messageLayout.js';
import { messagingHandlers } from '../src/messaging/messagingHandlers.js';
import type { RequestMessage } from '../src/messaging/requestMessage.js';
import { emptyRoutingConfig, type RoutingConfig } from '../src/routing/config.js';
import { followUpText, type FollowUpNote } from '../src/routing/types.js';
import type { MemoryTeleport } from '../src/testing/memoryTeleport.js';
import { ticketHandlers } from '../src/ticketing/ticketHandlers.js';
import type { TicketNote, TicketRef, TicketTracker } from '../src/ticketing/tracker.js';
import type { AccessRequest, TeleportClient } from '../src/teleport/types.js';

export interface Sent {
  verb: 'post' | 'reply' | 'update' | 'remind' | 'notice';
  to: string;
  requestId: string;
  status: string;
  /** Review buttons would be shown (pending, not the requester's copy). */
  asks: boolean;
  text: string;
}

/** A chat service: recipients are used as given, every call is recorded. */
export class ChatService implements MessagingBot {
  readonly sent: Sent[] = [];
  private seq = 0;
  /** Slow down remind calls (ms), to widen races between replicas. */
  remindDelayMs = 0;
  /** Send the requester a copy of their request (`dm:<user>`), as Slack does. */
  requesterCopies = false;

  async resolveRequester(user: string): Promise<ChatRecipient | undefined> {
    return this.requesterCopies ? { id: `dm:${user}`, label: user, requester: true } : undefined;
  }

  constructor(readonly service = 'Chat') {}

  of(verb: Sent['verb'], requestId?: string): Sent[] {
    return this.sent.filter((s) => s.verb === verb && (requestId === undefined || s.requestId === requestId));
  }

  async resolveRecipient(raw: string): Promise<ChatRecipient | undefined> {
    return { id: raw, label: raw };
  }

  async post(to: ChatRecipient, message: RequestMessage): Promise<MessageRef> {
    this.sent.push({ verb: 'post', to: to.id, requestId: message.id, status: message.status, asks: message.status === 'PENDING' && !to.requester, text: '' });
    return { channel: to.id, id: `m${++this.seq}` };
  }

  async findPost(to: ChatRecipient, message: RequestMessage): Promise<MessageRef | undefined> {
    const i = this.sent.findIndex((s) => s.verb === 'post' && s.to === to.id && s.requestId === message.id);
    return i >= 0 ? { channel: to.id, id: `found${i}` } : undefined;
  }

  async reply(thread: MessageRef, reply: ReviewReply, message: RequestMessage): Promise<void> {
    this.sent.push({ verb: 'reply', to: thread.channel, requestId: message.id, status: message.status, asks: false, text: `${reply.index}:${reply.review.author}` });
  }

  async update(thread: MessageRef, message: RequestMessage): Promise<void> {
    this.sent.push({ verb: 'update', to: thread.channel, requestId: message.id, status: message.status, asks: false, text: '' });
  }

  async remind(thread: MessageRef, note: FollowUpNote, message: RequestMessage): Promise<void> {
    if (this.remindDelayMs > 0) await new Promise((r) => setTimeout(r, this.remindDelayMs));
    this.sent.push({ verb: 'remind', to: thread.channel, requestId: message.id, status: message.status, asks: false, text: followUpText(note) });
  }

  async findReminder(thread: MessageRef, note: FollowUpNote, message: RequestMessage): Promise<boolean> {
    return this.sent.some((s) => s.verb === 'remind' && s.to === thread.channel && s.requestId === message.id && s.text === followUpText(note));
  }

  async notifyRequester(message: RequestMessage): Promise<void> {
    this.sent.push({ verb: 'notice', to: message.user, requestId: message.id, status: message.status, asks: false, text: '' });
  }
}

/** A messaging adapter named `name` on `chat`, with this role map. */
export function chatAdapter(name: string, chat: ChatService, roleToRecipients: Record<string, string[]>): Adapter<unknown> {
  return defineAdapter<unknown>({
    name,
    parseConfig: () => ({}),
    setup: async (ctx) => messagingHandlers(ctx, chat, { roleToRecipients, loginsByRole: false }),
  });
}

/** A tracker in memory: one ticket per request, notes recorded. */
export class TicketService implements TicketTracker {
  readonly service = 'Tickets';
  readonly opened: string[] = [];
  readonly notes: Array<{ requestId: string; text: string }> = [];
  ticketOf(data: Record<string, string> | undefined): TicketRef | undefined {
    return data?.['ticket'] ? { ticket: data['ticket'] } : undefined;
  }
  async open(request: AccessRequest): Promise<TicketRef> {
    this.opened.push(request.id);
    return { ticket: `T-${this.opened.length}` };
  }
  async note(ticket: TicketRef, note: TicketNote): Promise<void> {
    this.notes.push({ requestId: note.requestId, text: `${note.kind}` });
  }
  async followUp(ticket: TicketRef, note: FollowUpNote): Promise<void> {
    this.notes.push({ requestId: note.requestId, text: followUpText(note) });
  }
  async findFollowUp(ticket: TicketRef, note: FollowUpNote): Promise<boolean> {
    return this.notes.some((n) => n.requestId === note.requestId && n.text === followUpText(note));
  }
  async close(): Promise<void> {}
}

export function ticketAdapter(name: string, tracker: TicketService): Adapter<unknown> {
  return defineAdapter<unknown>({ name, parseConfig: () => ({}), setup: async (ctx) => ticketHandlers(ctx, tracker) });
}

export interface Routed {
  runtime: Runtime;
  logger: CaptureLogger;
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A runtime on `teleport` with routing, tuned for tests (fast retries, no periodic reconcile). */
export async function startRouted(
  teleport: MemoryTeleport | TeleportClient,
  adapters: Array<Adapter<unknown>>,
  routing: Partial<RoutingConfig> = {},
  options: Partial<Omit<RuntimeOptions, 'teleport' | 'adapters' | 'logger' | 'routing'>> = {},
): Promise<Routed> {
  const logger = createCaptureLogger();
  const runtime = await startRuntime({
    teleport,
    adapters: adapters.map((adapter) => ({ adapter, config: {} })),
    logger,
    retry: { attempts: 6, baseMs: 5, capMs: 40 },
    handlerTimeoutMs: 5_000,
    reconcileIntervalMs: 0,
    ledgerWrites: { attempts: 6, baseMs: 1, capMs: 5 },
    routing: { ...emptyRoutingConfig(), ...routing },
    ...options,
  });
  const settled = async (): Promise<void> => {
    for (let quiet = 0; quiet < 3;) {
      await new Promise((resolve) => setImmediate(resolve));
      const before = 'streams' in teleport ? (teleport as MemoryTeleport).streams.reduce((n, s) => n + s.pending, 0) : 0;
      await runtime.idle();
      quiet = before === 0 ? quiet + 1 : 0;
    }
  };
  return { runtime, logger, settled, stop: () => runtime.stop(2_000) };
}

/** Resolves once `predicate()` holds; rejects after `timeoutMs` naming `what`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
