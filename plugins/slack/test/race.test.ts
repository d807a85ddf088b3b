import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDS, REVIEWERS, blocksText, dmOf, rootsFor, useThreeReviewerHarness } from './helpers.js';

describe('many concurrent requests through the real runtime', () => {
  const env = useThreeReviewerHarness();

  it('handles 30 concurrent requests with three reviewers each: one root per recipient, each review replied once', async () => {
    const { fake, h } = env;
    const replies = () => fake.messages.filter((m) => m.threadTs !== undefined && m.text.includes(' reviewed the request at ')).length;
    const baseline = replies();
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => h.teleport.admin.createRequest({ user: 'requester@example.com', roles: ['editor'], reason: `race ${i}` })));
    // Reviews race the initial posts: the dispatcher must still thread every one exactly once.
    await Promise.all(ids.flatMap((id) => REVIEWERS.map((author) => h.teleport.admin.review(id, { author, state: 'APPROVED' }))));
    // Cheap progress check (it runs on every Slack call); the exact assertions follow.
    const mine = new Set(ids);
    const dmsSent = () => fake.messages.filter((m) => m.text.startsWith('Request with ID') && [...mine].some((id) => m.text.includes(id))).length;
    await fake.waitFor(() => replies() - baseline >= 30 * 3 * 3 && dmsSent() >= 30, 25_000);
    await h.runtime.idle();
    for (const id of ids) {
      const roots = rootsFor(fake, id);
      assert.deepEqual(roots.map((m) => m.channel).sort(), [IDS.access, IDS.dev, dmOf(IDS.requester)].sort(), `roots of ${id}`);
      for (const root of roots) {
        assert.match(blocksText(root.blocks), /\*Status\*: ✅ APPROVED/, `status of ${id} in ${root.channel}`);
        const authors = fake
          .replies(root.channel, root.ts)
          .map((m) => m.text.split(' ')[0])
          .sort();
        assert.deepEqual(authors, REVIEWERS, `replies in ${root.channel} for ${id}`);
      }
      const dms = fake.messages.filter((m) => m.text === `Request with ID "${id}" has been updated: *APPROVED*`);
      assert.equal(dms.length, 1, `requester DMs for ${id}`);
    }
  });
});
