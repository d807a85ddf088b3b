// The messaging kit, verb by verb, through the real runtime on an in-memory Teleport with a bot
// whose "service" is a list in memory (outcomes injectable per call).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defineAdapter } from '../src/adapter.js';
import { PluginError } from '../src/errors.js';
import type { ChatRecipient, MessagingBot, ReviewReply } from '../src/messaging/bot.js';
import type { MessageRef } from '../src/messaging/messageLayout.js';
import { messagingHandlers, type MessagingOptions } from '../src/messaging/messagingHandlers.js';
import type { RequestMessage } from '../src/messaging/requestMessage.js';
import { httpFailure, refusal } from '../src/outbound/serviceFailure.js';
import { startAdapterTest, type AdapterTest } from '../src/testing/adapterTest.js';
import { MemoryTeleport, makeAccessRequest } from '../src/testing/memoryTeleport.js';

type Verb = 'post' | 'reply' | 'update' | 'outcome' | 'notice';
type Fault = 'refuse' | 'retryable' | 'lost' | 'unsent';

interface Sent {
  verb: Verb;
  to: string;
  requestId: string;
  status: string;
  detail: string;
}

/** A chat service in memory: what was sent, and faults for the next calls of a verb. */
class MemoryChat implements MessagingBot {
  readonly service = 'Chat';
  readonly sent: Sent[] = [];
  private readonly faults: Array<{ verb: Verb; to?: string; fault: Fault }> = [];
  private seq = 0;
  /** Recipients that do not exist. */
  readonly missing = new Set<string>(['ghost@example.com']);

  constructor(private readonly editable: boolean) {
    // Mail-like: no update verb at all.
    if (!editable) Object.defineProperty(this, 'update', { value: undefined });
  }

  failNext(verb: Verb, fault: Fault, to?: string): void {
    this.faults.push({ verb, fault, ...(to && { to }) });
  }

  private perform(verb: Verb, to: string, message: RequestMessage, detail: string): void {
    const i = this.faults.findIndex((f) => f.verb === verb && (f.to === undefined || f.to === to));
    const fault = i >= 0 ? this.faults.splice(i, 1)[0]!.fault : undefined;
    const call = { service: 'Chat', operation: verb, idempotent: verb === 'update' };
    if (fault === 'refuse') throw refusal(call, 'channel_not_found');
    if (fault === 'retryable') throw httpFailure(call, { status: 503 });
    // No answer, and in fact nothing happened: only asking the service tells this from 'lost'.
    if (fault === 'unsent') throw httpFailure(call, { status: 504 });
    this.sent.push({ verb, to, requestId: message.id, status: message.status, detail });
    // The effect happened, the answer did not arrive.
    if (fault === 'lost') throw httpFailure(call, { status: 502 });
  }

  count(verb: Verb, requestId: string, to?: string): number {
    return this.sent.filter((s) => s.verb === verb && s.requestId === requestId && (to === undefined || s.to === to)).length;
  }

  async resolveRecipient(raw: string): Promise<ChatRecipient | undefined> {
    return this.missing.has(raw) ? undefined : { id: raw, label: raw };
  }

  async resolveRequester(user: string): Promise<ChatRecipient | undefined> {
    return { id: `dm:${user}`, label: user, requester: true };
  }

  async post(to: ChatRecipient, message: RequestMessage): Promise<MessageRef> {
    this.perform('post', to.id, message, to.requester ? 'requester' : '');
    return { channel: to.id, id: `m${++this.seq}` };
  }

  async findPost(to: ChatRecipient, message: RequestMessage): Promise<MessageRef | undefined> {
    const i = this.sent.findIndex((s) => s.verb === 'post' && s.to === to.id && s.requestId === message.id);
    return i >= 0 ? { channel: to.id, id: `found${i}` } : undefined;
  }

  async reply(thread: MessageRef, reply: ReviewReply, message: RequestMessage): Promise<void> {
    this.perform('reply', thread.channel, message, `review:${reply.index}:${reply.review.author}`);
  }

  async findReply(thread: MessageRef, reply: ReviewReply, message: RequestMessage): Promise<boolean> {
    return this.sent.some((s) => s.verb === 'reply' && s.to === thread.channel && s.requestId === message.id && s.detail.startsWith(`review:${reply.index}:`));
  }

  async update(thread: MessageRef, message: RequestMessage, requesterCopy: boolean): Promise<void> {
    this.perform('update', thread.channel, message, `${message.reviews.length} reviews${requesterCopy ? ' requester' : ''}`);
  }

  async postOutcome(thread: MessageRef, message: RequestMessage): Promise<void> {
    this.perform('outcome', thread.channel, message, '');
  }

  async notifyRequester(message: RequestMessage): Promise<void> {
    this.perform('notice', message.user, message, '');
  }

  async findRequesterNotice(message: RequestMessage): Promise<boolean> {
    return this.count('notice', message.id) > 0 && this.sent.some((s) => s.verb === 'notice' && s.requestId === message.id && s.status === message.status);
  }
}

async function start(bot: MemoryChat, options: Partial<MessagingOptions> = {}, teleport?: MemoryTeleport): Promise<AdapterTest> {
  const adapter = defineAdapter<unknown>({
    name: 'chat',
    parseConfig: () => ({}),
    setup: async (ctx) => messagingHandlers(ctx, bot, { roleToRecipients: { '*': ['#ops', 'lead@example.com'], db: ['#dba', 'ghost@example.com'] }, ...options }),
  });
  return startAdapterTest(adapter, {}, { ...(teleport && { teleport }) });
}

let n = 0;
const newRequest = (over: Parameters<typeof makeAccessRequest>[0] = {}) => makeAccessRequest({ id: `req-${++n}`, ...over });

describe('messaging kit', () => {
  it('announces to every recipient (role map, "*", suggested reviewers, the requester) once; unknown ones are skipped', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot);
    try {
      const r = t.teleport.put(newRequest({ roles: ['db', 'editor'], suggestedReviewers: ['bob@example.com', 'not an email'] }));
      await t.settled();
      assert.deepEqual(
        bot.sent
          .filter((s) => s.verb === 'post')
          .map((s) => s.to)
          .sort(),
        ['#dba', '#ops', 'bob@example.com', 'dm:alice@example.com', 'lead@example.com'].sort(),
      );
      const data = t.data(r.id)!;
      assert.equal(data.messages?.split(',').length, 5);
      assert.equal(data.announced, 'ok');
      assert.ok(t.logger.entries.some((e) => e.level === 'warn' && e.fields['recipient'] === 'ghost@example.com'));
      // A replayed event (a reconnect listing) posts nothing more.
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(bot.count('post', r.id), 5);
    } finally {
      await t.close();
    }
  });

  it('a recipient that refuses for good is skipped; a retryable failure is retried for that recipient only', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot);
    try {
      // #ops refuses every time (a deleted channel); lead once, transiently.
      for (let i = 0; i < 5; i += 1) bot.failNext('post', 'refuse', '#ops');
      bot.failNext('post', 'retryable', 'lead@example.com');
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(bot.count('post', r.id, '#ops'), 0);
      assert.equal(bot.count('post', r.id, 'lead@example.com'), 1);
      assert.equal(bot.count('post', r.id, 'dm:alice@example.com'), 1);
      assert.ok(t.logger.entries.some((e) => e.level === 'error' && /skipped/.test(e.message) && e.fields['recipient'] === '#ops'));
    } finally {
      await t.close();
    }
  });

  it('a post whose answer was lost is found again and recorded, not posted twice', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot);
    try {
      bot.failNext('post', 'lost', '#ops');
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(bot.count('post', r.id, '#ops'), 1);
      assert.match(t.data(r.id)?.['fx/post/#ops'] ?? '', /^ok:#ops\/found\d+$/);
      assert.ok(t.data(r.id)?.messages?.includes('#ops/found'));
    } finally {
      await t.close();
    }
  });

  it('an effect whose outcome is unknown but that did not happen is done after asking the service (nothing lost)', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot, { roleToRecipients: { '*': ['#ops'] } });
    try {
      bot.failNext('post', 'unsent', '#ops');
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.equal(bot.count('post', r.id, '#ops'), 1);
      bot.failNext('reply', 'unsent', '#ops');
      bot.failNext('notice', 'unsent');
      t.teleport.review(r.id, 'bob', 'APPROVED', '', true);
      await t.settled();
      assert.equal(bot.count('reply', r.id, '#ops'), 1);
      assert.equal(bot.count('notice', r.id), 1);
    } finally {
      await t.close();
    }
  });

  it('replies once per review in every thread, in order, then re-renders while pending', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot, { roleToRecipients: { '*': ['#ops'] } });
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      bot.failNext('reply', 'lost', '#ops');
      t.teleport.review(r.id, 'bob', 'APPROVED', 'ok');
      t.teleport.review(r.id, 'carol', 'DENIED', 'no');
      await t.settled();
      for (const to of ['#ops', 'dm:alice@example.com']) {
        assert.deepEqual(
          bot.sent.filter((s) => s.verb === 'reply' && s.to === to).map((s) => s.detail),
          ['review:0:bob', 'review:1:carol'],
          to,
        );
      }
      const updates = bot.sent.filter((s) => s.verb === 'update');
      assert.ok(
        updates.some((u) => u.detail === '2 reviews' && u.status === 'PENDING'),
        'reviewer copies re-rendered with the reviews',
      );
      assert.ok(
        updates.some((u) => u.detail === '2 reviews requester'),
        'the requester copy is known as such',
      );
      assert.equal(t.data(r.id)?.reviews_count, '2');
    } finally {
      await t.close();
    }
  });

  it('a pending render that lands after the final one (a decision while it waited) is followed by the outcome again', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot, { roleToRecipients: { '*': ['#ops'] } });
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      // While our pending render waits (a rate limit), the request is approved, and another
      // instance renders the outcome and records the resolution before ours lands.
      const update = bot.update.bind(bot);
      let raced = false;
      bot.update = async (thread, message, requesterCopy) => {
        if (!raced && message.status === 'PENDING' && thread.channel === '#ops') {
          raced = true;
          const current = t.teleport.requests.get(r.id)!;
          t.teleport.put({ ...current, state: 'APPROVED', resolveReason: 'ok' }, false);
          bot.sent.push({ verb: 'update', to: '#ops', requestId: r.id, status: 'APPROVED', detail: 'another instance' });
          t.teleport.setPluginData(r.id, 'chat', { ...t.data(r.id), resolution: 'APPROVED', resolve_reason: 'ok' });
        }
        return update(thread, message, requesterCopy);
      };
      t.teleport.review(r.id, 'bob', 'APPROVED', 'fine');
      await t.settled();
      assert.ok(raced);
      const last = bot.sent.filter((s) => s.verb === 'update' && s.to === '#ops').at(-1);
      assert.equal(last?.status, 'APPROVED', 'the message ends showing the outcome');
    } finally {
      await t.close();
    }
  });

  it('resolution: every message re-rendered to the final state, the requester told once', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot, { roleToRecipients: { '*': ['#ops'] } });
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      bot.failNext('notice', 'lost');
      t.teleport.review(r.id, 'bob', 'APPROVED', 'fine', true);
      await t.settled();
      // The lost notice made the step run again: re-rendering is repeatable, the notice is not repeated.
      assert.deepEqual([...new Set(bot.sent.filter((s) => s.verb === 'update' && s.status === 'APPROVED').map((s) => s.to))].sort(), ['#ops', 'dm:alice@example.com']);
      assert.equal(bot.count('notice', r.id), 1);
      assert.equal(t.data(r.id)?.resolution, 'APPROVED');
    } finally {
      await t.close();
    }
  });

  it('expiry: rebuilt from plugin data after the request is gone, recorded, the requester told once', async () => {
    const bot = new MemoryChat(true);
    const t = await start(bot, { roleToRecipients: { '*': ['#ops'] } });
    try {
      const r = t.teleport.put(newRequest({ requestReason: 'for the outage' }));
      await t.settled();
      t.teleport.remove(r.id);
      await t.settled();
      const finals = bot.sent.filter((s) => s.verb === 'update' && s.status === 'EXPIRED');
      assert.equal(finals.length, 2);
      assert.equal(bot.count('notice', r.id), 1);
      assert.equal(t.data(r.id)?.resolution, 'EXPIRED');
    } finally {
      await t.close();
    }
  });

  it('media that cannot be edited get one outcome message per thread instead of updates, and no re-render after reviews', async () => {
    const bot = new MemoryChat(false);
    const t = await start(bot, { roleToRecipients: { '*': ['ops@example.com'] } });
    try {
      const r = t.teleport.put(newRequest());
      await t.settled();
      t.teleport.review(r.id, 'bob', 'DENIED', 'no', true);
      await t.settled();
      assert.equal(bot.sent.filter((s) => s.verb === 'update').length, 0);
      assert.deepEqual(
        bot.sent
          .filter((s) => s.verb === 'outcome')
          .map((s) => s.to)
          .sort(),
        ['dm:alice@example.com', 'ops@example.com'],
      );
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(bot.sent.filter((s) => s.verb === 'outcome').length, 2);
    } finally {
      await t.close();
    }
  });

  it("continues a Go plugin's messages: no new post, replies and updates go to its threads", async () => {
    const bot = new MemoryChat(true);
    const teleport = new MemoryTeleport();
    const r = teleport.put(newRequest(), false);
    teleport.setPluginData(r.id, 'chat', { user: r.user, roles: 'editor', request_reason: 'please', messages: 'C9/1700000000.0001' });
    const t = await start(bot, {}, teleport);
    try {
      await t.settled();
      teleport.review(r.id, 'bob', 'APPROVED', '', true);
      await t.settled();
      assert.equal(bot.count('post', r.id), 0);
      assert.deepEqual(
        bot.sent.filter((s) => s.requestId === r.id).map((s) => `${s.verb}:${s.to}`),
        ['reply:C9', 'update:C9', 'notice:alice@example.com'],
      );
    } finally {
      await t.close();
    }
  });

  it('logins by role are shown when Teleport lets us read them, kept for later renders, and never hold a message back', async () => {
    const bot = new MemoryChat(true);
    const teleport = new MemoryTeleport();
    teleport.addUser('alice@example.com', { logins: ['alice', 'root'] });
    teleport.addRole('editor', { allowLogins: ['{{internal.logins}}', 'ubuntu'] });
    const t = await start(bot, { roleToRecipients: { '*': ['#ops'] } }, teleport);
    try {
      const a = teleport.put(newRequest());
      await t.settled();
      assert.equal(t.data(a.id)?.logins_by_role, JSON.stringify({ editor: ['alice', 'root', 'ubuntu'] }));
      teleport.failNext('getUser', new PluginError('ACCESS_DENIED', 'no user read'), 10);
      const b = teleport.put(newRequest({ user: 'zed@example.com' }));
      await t.settled();
      assert.equal(bot.count('post', b.id), 2, 'posted without logins');
      assert.equal(t.data(b.id)?.logins_by_role, undefined);
    } finally {
      await t.close();
    }
  });
});
