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
const rootsOf = (id: string): FakeSlackMessage[] =>
  fake.rootMessages().filter((m) => m.metadata?.event_payload.request_id === id && m.metadata.event_payload.kind === 'request');
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
    assert.deepEqual(replies.map((m) => m.text.split(' ')[0]), authors, `replies in ${root.channel}`);
    assert.deepEqual(replies.map((m) => m.metadata?.event_payload.kind), authors.map((_, i) => `review:${i}`), `reply tags in ${root.channel}`);
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
      assert.deepEqual(rootsOf(r.id).map((m) => m.channel).sort(), [IDS.access, IDS.dev]);
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
      assert.deepEqual(rootsOf(r.id).map((m) => m.channel).sort(), ALL_THREE);
      assert.deepEqual(storedRefs(t.data(r.id)), refStrings(rootsOf(r.id)));
      assert.equal(t.data(r.id)!.announced, 'ok');
      assert.equal(t.runtime.readiness().adapters.slack?.healthy, true);
    });
  });
});
