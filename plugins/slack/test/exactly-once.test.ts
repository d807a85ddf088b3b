// The Slack adapter in the real runtime (watcher, dispatcher, ledger, reconciliation) on an
// in-memory Teleport (core/testing's startAdapterTest), against the fake Slack: every message,
// review reply and requester DM exactly once, through lost answers, timeouts, crashes, restarts
// and a second replica.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { accessRequestSnapshot, createCaptureLogger, messageFromRequest, type AccessRequest } from '@teleport-plugin/core';
import { MemoryTeleport, type AdapterTest } from '@teleport-plugin/core/testing';
import { SlackBot } from '../src/bot.js';
import { SlackClient } from '../src/client.js';
import {
  FAST_POLICY,
  IDS,
  blocksText,
  dmOf,
  makeRequest,
  nextRequestId,
  noticesFor,
  postCallsFor,
  refStrings,
  startFakeSlack,
  startSlackRuntime,
  storedRefs,
  type FakeSlack,
  type FakeSlackMessage,
} from './helpers.js';

let fake: FakeSlack;
before(async () => {
  fake = await startFakeSlack();
});
after(() => fake.close());

/** Two channels and the requester's own copy: three messages per request. */
const TWO_CHANNELS = { roleToRecipients: { '*': ['access-requests', 'dev-access'] } };
const ALL_THREE = [IDS.access, IDS.dev, dmOf(IDS.requester)].sort();

/** Root messages Slack holds for a request, by the metadata every one of ours carries. */
const rootsOf = (id: string): FakeSlackMessage[] => fake.rootMessages().filter((m) => m.metadata?.event_payload.request_id === id && m.metadata.event_payload.kind === 'request');
const repliesOf = (root: FakeSlackMessage): FakeSlackMessage[] => fake.replies(root.channel, root.ts);
const newRequest = (over: Partial<AccessRequest> = {}): AccessRequest => makeRequest({ id: nextRequestId('rt'), ...over });

async function withRuntime(options: Parameters<typeof startSlackRuntime>[1], body: (t: AdapterTest) => Promise<void>): Promise<void> {
  const t = await startSlackRuntime(fake, options);
  try {
    await body(t);
  } finally {
    fake.clearFaults();
    await t.close();
  }
}

/** Every root of the request has exactly these replies, in this order, and no others. */
function assertReplies(id: string, authors: string[]): void {
  for (const root of rootsOf(id)) {
    const replies = repliesOf(root);
    assert.deepEqual(
      replies.map((m) => m.text.split(' ')[0]),
      authors,
      `replies in ${root.channel}`,
    );
    assert.deepEqual(
      replies.map((m) => m.metadata?.event_payload.kind),
      authors.map((_, i) => `review:${i}`),
      `reply tags in ${root.channel}`,
    );
  }
}

describe('one runtime', () => {
  it('never posts twice when a handler attempt times out with its posts still in flight', async () => {
    // Moved here from the handler tests: the dispatcher, not the adapter, now guarantees that a
    // retry starts only after the abandoned attempt has settled (and recorded what it posted).
    await withRuntime({ config: TWO_CHANNELS, runtime: { handlerTimeoutMs: 150 } }, async (t) => {
      fake.slowDownPosts(2, 400);
      const r = t.teleport.put(newRequest({ user: 'someone' }));
      await t.settled();
      assert.ok(
        t.logger.entries.some((e) => e.level === 'warn' && /handler failed; retrying/.test(e.message) && /did not finish within 150 ms/.test(String(e.fields.error))),
        'the first attempt timed out',
      );
      assert.deepEqual(
        rootsOf(r.id)
          .map((m) => m.channel)
          .sort(),
        [IDS.access, IDS.dev],
      );
      assert.equal(postCallsFor(fake, r.id).length, 2);
      assert.deepEqual(storedRefs(t.data(r.id)), refStrings(rootsOf(r.id)));
      assert.equal(t.data(r.id)!.announced, 'ok');
    });
  });

  it('a refused token holds the announcement back instead of skipping every recipient; it is posted once the token works', async () => {
    await withRuntime({ config: TWO_CHANNELS }, async (t) => {
      // The token is revoked for the first calls, then works again (the retry budget is 4 tries).
      fake.fail({ path: '/api/chat.postMessage', status: 200, body: { ok: false, error: 'token_revoked' }, times: 3 });
      const r = t.teleport.put(newRequest());
      await t.settled();
      assert.deepEqual(
        rootsOf(r.id)
          .map((m) => m.channel)
          .sort(),
        ALL_THREE,
      );
      assert.deepEqual(storedRefs(t.data(r.id)), refStrings(rootsOf(r.id)));
      assert.equal(t.data(r.id)!.announced, 'ok');
      assert.equal(t.runtime.readiness().adapters.slack?.healthy, true);
    });
  });
});

describe('answers lost after Slack acted', () => {
  // The fault runs the route (Slack stores the message) and then drops the connection: the
  // client sees a failure for a post that happened. The handler fails (outcome unknown), the
  // dispatcher retries it, and the retry finds the message by its metadata.
  const lostAnswers = (times: number) => fake.fail({ path: '/api/chat.postMessage', afterEffect: true, drop: true, times });

  it('request messages: exactly one per recipient, its ref recorded, and later replies thread under it', async () => {
    await withRuntime({ config: TWO_CHANNELS }, async (t) => {
      lostAnswers(3);
      const r = t.teleport.put(newRequest());
      await t.settled();
      const roots = rootsOf(r.id);
      assert.deepEqual(roots.map((m) => m.channel).sort(), ALL_THREE);
      assert.equal(postCallsFor(fake, r.id).length, 3, 'no post repeated');
      assert.ok(
        postCallsFor(fake, r.id).every((c) => c.injected),
        'every answer was lost',
      );
      const data = t.data(r.id)!;
      assert.deepEqual(storedRefs(data), refStrings(roots));
      assert.equal(data.announced, 'ok');
      for (const key of ['fx/post/access-requests', 'fx/post/dev-access', `fx/post/requester/${IDS.requester}`]) assert.match(data[key] ?? '', /^ok:[A-Z0-9]+\/\d+\.\d+$/, key);

      t.teleport.review(r.id, 'alice@example.com', 'APPROVED', 'fine');
      await t.settled();
      assertReplies(r.id, ['alice@example.com']);
      assert.deepEqual(rootsOf(r.id), roots, 'no new root');
    });
  });

  it('review replies: exactly one per thread, recorded as found', async () => {
    await withRuntime({ config: TWO_CHANNELS }, async (t) => {
      const r = t.teleport.put(newRequest());
      await t.settled();
      lostAnswers(3);
      t.teleport.review(r.id, 'alice@example.com', 'APPROVED');
      await t.settled();
      assertReplies(r.id, ['alice@example.com']);
      assert.equal(postCallsFor(fake, r.id, 'review:0').length, 3, 'one reply call per thread, none repeated');
      const data = t.data(r.id)!;
      for (const root of rootsOf(r.id)) assert.equal(data[`fx/reply/0/${root.channel}/${root.ts}`], 'ok:found');
      assert.equal(data.reviews_count, '1');

      // The next review goes on in the same threads, after the found one.
      t.teleport.review(r.id, 'bob@example.com', 'DENIED');
      await t.settled();
      assertReplies(r.id, ['alice@example.com', 'bob@example.com']);
    });
  });

  it('the requester DM: exactly one, recorded as found', async () => {
    await withRuntime({ config: TWO_CHANNELS }, async (t) => {
      const r = t.teleport.put(newRequest());
      await t.settled();
      // Resolved without a new review: the only post of the resolution is the DM.
      lostAnswers(1);
      t.teleport.put({ ...t.teleport.requests.get(r.id)!, state: 'APPROVED', resolveReason: 'ok' });
      await t.settled();
      assert.deepEqual(
        noticesFor(fake, r.id).map((m) => [m.channel, m.text]),
        [[dmOf(IDS.requester), `Request with ID "${r.id}" has been updated: *APPROVED*`]],
      );
      assert.equal(postCallsFor(fake, r.id, 'notice:APPROVED').length, 1);
      assert.equal(t.data(r.id)!['fx/notice/APPROVED'], 'ok:found');
      assert.equal(t.data(r.id)!.resolution, 'APPROVED');
      for (const root of rootsOf(r.id)) assert.match(blocksText(root.blocks), /\*Status\*: ✅ APPROVED/);
    });
  });
});

describe('crash and restart', () => {
  it('a new runtime adopts the message a crashed instance posted but never recorded, and finishes the lifecycle', async () => {
    const teleport = new MemoryTeleport();
    const request = teleport.put(newRequest(), false);
    // What the dead instance did: claimed the announcement and the post to #access-requests,
    // posted it (Slack holds it, with its metadata), and crashed before recording the answer.
    const client = new SlackClient({ token: fake.token, apiUrl: fake.apiUrl, logger: createCaptureLogger(), policy: FAST_POLICY });
    const adopted = await new SlackBot(client, { reviewButtons: false }).post(
      { id: 'access-requests', label: 'access-requests' },
      messageFromRequest(request, teleport.cluster, undefined),
    );
    const tenMinutesAgo = Date.now() - 10 * 60_000;
    teleport.setPluginData(request.id, 'slack', {
      ...Object.fromEntries(Object.entries(accessRequestSnapshot(request)).filter(([, v]) => v !== '')),
      announced: `run:dead:${tenMinutesAgo}`,
      'fx/post/access-requests': `run:dead:${tenMinutesAgo}`,
    });

    await withRuntime({ teleport, config: { roleToRecipients: { '*': ['access-requests'] } } }, async (t) => {
      // The start-up reconciliation finds the unfinished announcement (its owner's lease is long gone).
      await t.runtime.reconcile();
      await t.settled();
      assert.ok(t.logger.entries.some((e) => /taking over the announcement/.test(e.message) && e.fields.previousOwner === 'dead'));
      const inChannel = rootsOf(request.id).filter((m) => m.channel === IDS.access);
      assert.deepEqual(
        inChannel.map((m) => m.ts),
        [adopted.id],
        'the crashed post is adopted, not repeated',
      );
      assert.deepEqual(
        rootsOf(request.id)
          .map((m) => m.channel)
          .sort(),
        [IDS.access, dmOf(IDS.requester)],
      );
      const data = t.data(request.id)!;
      assert.equal(data['fx/post/access-requests'], `ok:${IDS.access}/${adopted.id}`);
      assert.deepEqual(storedRefs(data), refStrings(rootsOf(request.id)));
      assert.equal(data.announced, 'ok');

      t.teleport.review(request.id, 'alice@example.com', 'APPROVED', 'ok', true);
      await t.settled();
      assertReplies(request.id, ['alice@example.com']);
      for (const root of rootsOf(request.id)) assert.match(blocksText(root.blocks), /\*Status\*: ✅ APPROVED/);
      assert.equal(noticesFor(fake, request.id).length, 1);
      assert.equal(t.data(request.id)!.resolution, 'APPROVED');
      assert.equal(rootsOf(request.id).length, 2);
    });
  });

  it('a request approved while the plugin was stopped: messages end APPROVED and the requester is told once', async () => {
    const teleport = new MemoryTeleport();
    let id = '';
    await withRuntime({ teleport, config: TWO_CHANNELS }, async (t) => {
      id = t.teleport.put(newRequest()).id;
      await t.settled();
      assert.equal(rootsOf(id).length, 3);
    });
    // Stopped: alice approves (no one is watching).
    teleport.review(id, 'alice@example.com', 'APPROVED', 'looks fine', true);
    assert.equal(noticesFor(fake, id).length, 0);

    await withRuntime({ teleport, config: TWO_CHANNELS }, async (t) => {
      await t.runtime.reconcile();
      await t.settled();
      assert.equal(rootsOf(id).length, 3, 'nothing posted again');
      assertReplies(id, ['alice@example.com']);
      for (const root of rootsOf(id)) assert.match(blocksText(root.blocks), /\*Status\*: ✅ APPROVED\n\*Resolution reason\*: ```\nlooks fine```/);
      assert.deepEqual(
        noticesFor(fake, id).map((m) => m.channel),
        [dmOf(IDS.requester)],
      );
      assert.equal(t.data(id)!.resolution, 'APPROVED');
    });
    // And a further restart owes nothing.
    await withRuntime({ teleport, config: TWO_CHANNELS }, async (t) => {
      const report = await t.runtime.reconcile();
      await t.settled();
      assert.equal(report?.dispatched, 0);
      assert.equal(noticesFor(fake, id).length, 1);
    });
  });
});

describe('re-rendering', () => {
  it('shows each review on the messages while pending (*Reviews*: line), and the final state at resolution', async () => {
    await withRuntime({ config: TWO_CHANNELS }, async (t) => {
      const r = t.teleport.put(newRequest());
      await t.settled();
      const updates = () => fake.callsTo('POST', '/api/chat.update').filter((c) => rootsOf(r.id).some((m) => m.ts === c.form?.get('ts')));
      assert.equal(updates().length, 0);

      t.teleport.review(r.id, 'alice@example.com', 'APPROVED');
      await t.settled();
      assert.equal(updates().length, 3, 'one chat.update per message');
      for (const root of rootsOf(r.id)) {
        assert.equal(root.updates, 1);
        assert.match(blocksText(root.blocks), /\*Status\*: ⏳ PENDING\n\*Reviews\*: ✅ alice@example\.com$/);
      }

      t.teleport.review(r.id, 'bob@example.com', 'DENIED');
      await t.settled();
      for (const root of rootsOf(r.id)) assert.match(blocksText(root.blocks), /\*Reviews\*: ✅ alice@example\.com, ❌ bob@example\.com$/);

      t.teleport.review(r.id, 'carol@example.com', 'APPROVED', 'ship it', true);
      await t.settled();
      for (const root of rootsOf(r.id)) {
        const text = blocksText(root.blocks);
        assert.match(text, /\*Status\*: ✅ APPROVED\n\*Resolution reason\*: ```\nship it```$/);
        assert.doesNotMatch(text, /\*Reviews\*/);
        assert.equal(root.updates, 3);
      }
    });
  });
});

describe('rate limits', () => {
  it("a call answered 429 every time is tried exactly the policy's attempts, and the handler fails retryable", async () => {
    await withRuntime(
      {
        config: { roleToRecipients: { '*': ['access-requests'] } },
        adapter: { policy: { ...FAST_POLICY, attempts: 3 } },
        runtime: { retry: { attempts: 2, baseMs: 5, capMs: 5 } },
      },
      async (t) => {
        fake.fail({ path: '/api/chat.postMessage', status: 429, headers: { 'retry-after': '0' }, body: { ok: false, error: 'ratelimited' }, times: 1_000 });
        const r = t.teleport.put(newRequest({ user: 'someone' }));
        await t.settled();
        // 2 handler tries (the runtime's retry policy) x 3 HTTP attempts (the outbound policy).
        assert.equal(postCallsFor(fake, r.id).length, 6);
        assert.ok(postCallsFor(fake, r.id).every((c) => c.status === 429));
        const retried = t.logger.entries.filter((e) => e.message === 'handler failed; retrying');
        assert.equal(retried.length, 1, 'the first failure was retryable');
        assert.ok(t.logger.entries.some((e) => e.level === 'error' && /handler failed; the reconciliation will try again later/.test(e.message) && e.fields.attempts === 2));
        // Nothing was posted, so nothing is "maybe": the record is clear and the step unrecorded.
        assert.equal(t.data(r.id)!['fx/post/access-requests'], undefined);
        assert.match(t.data(r.id)!.announced ?? '', /^run:/);

        // Slack recovers: the reconciliation posts it, once.
        fake.clearFaults();
        await t.runtime.reconcile();
        await t.settled();
        assert.equal(rootsOf(r.id).length, 1);
        assert.equal(t.data(r.id)!.announced, 'ok');
      },
    );
  });
});

describe('two runtimes on one Teleport and one Slack', () => {
  it('every message, review reply and requester DM exactly once', async () => {
    const teleport = new MemoryTeleport();
    const a = await startSlackRuntime(fake, { teleport, config: TWO_CHANNELS, runtime: { instanceId: 'replica-a' } });
    let b: AdapterTest | undefined;
    const settled = () => Promise.all([a.settled(), b?.settled()]);
    // Slack is slow to store posts: while one replica's post is in flight, the other one must
    // not take the message for missing (a lease keeps it away; it does not look it up and post).
    fake.slowDownPosts(1_000, 40);
    try {
      // Requests A announced alone: B learns of them only from their next events, with data it
      // reads fresh, so both act on every review and on the resolution at the same time.
      const early = Array.from({ length: 3 }, () => teleport.put(newRequest()).id);
      await settled();
      b = await startSlackRuntime(fake, { teleport, config: TWO_CHANNELS, runtime: { instanceId: 'replica-b' } });
      // Requests both see from the start: the compare-and-swap create decides who announces.
      const late = Array.from({ length: 3 }, () => teleport.put(newRequest()).id);
      await settled();
      const ids = [...early, ...late];
      for (const id of ids) teleport.review(id, 'alice@example.com', 'APPROVED');
      for (const id of ids) teleport.review(id, 'bob@example.com', 'DENIED');
      await settled();
      for (const id of ids) teleport.review(id, 'carol@example.com', 'APPROVED', '', true);
      await settled();
      // Whatever either replica left to the other is owed until done: let both reconcile.
      await Promise.all([a.runtime.reconcile(), b.runtime.reconcile()]);
      await settled();

      for (const id of ids) {
        assert.deepEqual(
          rootsOf(id)
            .map((m) => m.channel)
            .sort(),
          ALL_THREE,
          `roots of ${id}`,
        );
        assert.equal(postCallsFor(fake, id).length, 3, `post calls for ${id}`);
        assertReplies(id, ['alice@example.com', 'bob@example.com', 'carol@example.com']);
        assert.equal(noticesFor(fake, id).length, 1, `DMs for ${id}`);
        for (const root of rootsOf(id)) assert.match(blocksText(root.blocks), /\*Status\*: ✅ APPROVED/);
        const data = teleport.pluginData(id, 'slack')!;
        assert.equal(data.resolution, 'APPROVED');
        assert.deepEqual(storedRefs(data), refStrings(rootsOf(id)));
      }
      // They did compete: one found the other at work on an effect (its lease) and left it.
      const busy = [...a.logger.entries, ...b.logger.entries].filter((e) => /another instance is (still )?delivering/.test(e.message));
      assert.ok(busy.length > 0, 'the replicas never met on an effect');
    } finally {
      fake.slowDownPosts(0, 0);
      await a.close();
      await b?.close();
    }
  });
});
