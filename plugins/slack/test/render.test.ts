import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  REASON_LIMIT,
  capSection,
  escapeBlock,
  escapeInline,
  messageBlocks,
  messageFields,
  requesterUpdateText,
  reviewReply,
  messageFallbackText,
  reviewsText,
  rfc822,
  statusText,
} from '../src/render.js';
import type { RequestMessage } from '@teleport-plugin/core';
import { makeReview } from './helpers.js';

/** What core's messaging kit hands the bot to render (messageFromRequest / messageFromData). */
const view = (over: Partial<RequestMessage> = {}): RequestMessage => ({
  id: 'req-1',
  user: 'alice@example.com',
  roles: ['editor', 'admin'],
  resources: [],
  reason: 'fix prod',
  loginsByRole: undefined,
  status: 'PENDING',
  resolveReason: '',
  reviews: [],
  longTerm: false,
  clusterName: 'c1',
  link: undefined,
  ...over,
});

const opts = { withButtons: false };
const status = (s: RequestMessage['status'], resolveReason = '') => statusText({ status: s, resolveReason });

describe('escaping', () => {
  it('wraps in a code block, trims, and marks empty text', () => {
    assert.equal(escapeBlock('  hi  ', 10), '```\nhi```');
    assert.equal(escapeBlock('   ', 10), '(empty)');
    assert.equal(escapeInline('a', 10), '`a`');
  });

  it('defuses backticks with U+FEFF and counts them double', () => {
    assert.equal(escapeInline('a`b', 10), '`a`\ufeffb`');
    assert.equal(escapeInline('``', 2), '``\ufeff` (truncated)');
    assert.equal(escapeInline('``', 3), '``\ufeff`\ufeff`');
  });

  it('truncates reasons at 500 runes like the upstream suites (because of + 489 A)', () => {
    const reason = `because of ${'A'.repeat(600)}`;
    assert.equal(REASON_LIMIT, 500);
    assert.equal(escapeBlock(reason, REASON_LIMIT), `\`\`\`\nbecause of ${'A'.repeat(489)}\`\`\` (truncated)`);
    // Runes, not UTF-16 units.
    assert.equal(escapeInline('😀😀😀', 2), '`😀😀` (truncated)');
  });
});

describe('one 500-rune limit for every free-text reason', () => {
  const long = `because of ${'A'.repeat(600)}`;
  const cut = `\`\`\`\nbecause of ${'A'.repeat(489)}\`\`\` (truncated)`;

  it('applies to the request reason, the resolution reason and review reasons alike', () => {
    assert.ok(messageFields(view({ reason: long })).includes(`*Reason*: ${cut}\n`));
    assert.equal(status('DENIED', long), `*Status*: ❌ DENIED\n*Resolution reason*: ${cut}`);
    assert.ok(reviewReply(makeReview('bob', 'DENIED', long)).endsWith(`Reason: ${cut}`));
    // Exactly at the limit nothing is cut.
    assert.equal(escapeBlock('A'.repeat(500), REASON_LIMIT), `\`\`\`\n${'A'.repeat(500)}\`\`\``);
  });

  it('caps section text without splitting a surrogate pair', () => {
    const capped = capSection(`${'x'.repeat(2987)}${'😀'.repeat(10)}`);
    assert.ok(capped.length <= 3000);
    assert.ok(capped.endsWith(' (truncated)'));
    assert.ok(!/[\ud800-\udbff](?![\udc00-\udfff])/.test(capped), 'no lone high surrogate');
  });
});

describe('message fields', () => {
  it('lists ID, cluster, user, sorted roles, reason and tsh commands while pending', () => {
    assert.equal(
      messageFields(view()),
      '*ID*: req-1\n*Cluster*: c1\n*User*: alice@example.com\n*Role(s)*: `admin,editor`\n*Reason*: ```\nfix prod```\n' +
        '*Approve*: `tsh request review --approve req-1`\n*Deny*: `tsh request review --deny req-1`\n',
    );
  });

  it('shows logins per role (sorted, "-" when none) and resources', () => {
    const text = messageFields(view({ loginsByRole: { editor: ['root', 'ubuntu'], admin: [] }, resources: ['/c1/node/b', '/c1/node/a'], reason: '' }));
    assert.match(text, /\*Role\*: `admin` \*Login\(s\)\*: `-`\n\*Role\*: `editor` \*Login\(s\)\*: `root, ubuntu`\n/);
    assert.match(text, /\*Resource\(s\)\*: `\/c1\/node\/a,\/c1\/node\/b`\n/);
    assert.doesNotMatch(text, /Reason/);
  });

  it('links to the web UI when the proxy is known, and drops tsh commands once resolved', () => {
    const linked = messageFields(view({ link: 'https://proxy.example.com:3080/web/requests/req-1' }));
    assert.match(linked, /\*Link\*: https:\/\/proxy\.example\.com:3080\/web\/requests\/req-1\n$/);
    assert.doesNotMatch(linked, /tsh/);
    assert.doesNotMatch(messageFields(view({ status: 'APPROVED' })), /tsh/);
  });
});

describe('status', () => {
  it('renders every state as upstream', () => {
    assert.equal(status('PENDING'), '*Status*: ⏳ PENDING');
    assert.equal(status('APPROVED'), '*Status*: ✅ APPROVED');
    assert.equal(status('DENIED', 'no'), '*Status*: ❌ DENIED\n*Resolution reason*: ```\nno```');
    assert.equal(status('EXPIRED'), '*Status*: ⌛ EXPIRED');
    assert.equal(status('PROMOTED'), '*Status*:  PROMOTED');
  });
});

describe('blocks', () => {
  it('has title, fields and status; buttons only when asked and pending', () => {
    const blocks = messageBlocks(view(), opts);
    assert.equal(blocks.length, 3);
    assert.deepEqual(blocks[0], { type: 'section', text: { type: 'mrkdwn', text: 'You have a new Role Request:' } });
    assert.deepEqual(blocks[2], { type: 'context', elements: [{ type: 'mrkdwn', text: '*Status*: ⏳ PENDING' }] });
    const withButtons = messageBlocks(view(), { ...opts, withButtons: true });
    const actions = withButtons[3] as { block_id: string; elements: Array<{ action_id: string; value: string }> };
    assert.equal(actions.block_id, 'review_block');
    assert.deepEqual(
      actions.elements.map((e) => [e.action_id, e.value]),
      [
        ['approve_button', 'req-1'],
        ['deny_button', 'req-1'],
      ],
    );
    assert.equal(messageBlocks(view({ status: 'DENIED' }), { ...opts, withButtons: true }).length, 3);
    const resource = messageBlocks(view({ resources: ['/c1/node/a'] }), opts)[0] as { text: { text: string } };
    assert.equal(resource.text.text, 'You have a new Resource Request:');
    const longTerm = messageBlocks(view({ resources: ['/c1/node/a'], longTerm: true }), opts)[0] as { text: { text: string } };
    assert.equal(longTerm.text.text, 'You have a new Resource Request (long-term access):');
  });

  it('shows who reviewed so far under the status while pending, and no longer once resolved', () => {
    const reviews = [makeReview('bob@example.com', 'APPROVED'), makeReview('carol', 'DENIED')];
    assert.equal(reviewsText([]), undefined);
    assert.equal(reviewsText(reviews), '*Reviews*: ✅ bob@example.com, ❌ carol');
    assert.deepEqual(messageBlocks(view({ reviews }), opts)[2], {
      type: 'context',
      elements: [
        { type: 'mrkdwn', text: '*Status*: ⏳ PENDING' },
        { type: 'mrkdwn', text: '*Reviews*: ✅ bob@example.com, ❌ carol' },
      ],
    });
    assert.deepEqual(messageBlocks(view({ reviews, status: 'APPROVED' }), opts)[2], { type: 'context', elements: [{ type: 'mrkdwn', text: '*Status*: ✅ APPROVED' }] });
  });

  it('has a plain-text fallback naming the request and the requester', () => {
    assert.equal(messageFallbackText(view()), 'You have a new Role Request: req-1 by alice@example.com');
    assert.equal(messageFallbackText(view({ resources: ['/c1/node/a'], longTerm: true })), 'You have a new Resource Request (long-term access): req-1 by alice@example.com');
  });

  it('caps section text at 3000 characters', () => {
    const blocks = messageBlocks(view({ roles: Array.from({ length: 400 }, (_, i) => `role-${i}`), reason: 'x' }), opts);
    const fields = blocks[1] as { text: { text: string } };
    // Inline fields are rune-limited too, so craft a long text via many logins instead.
    assert.ok(fields.text.text.length <= 3000);
    const many: Record<string, string[]> = {};
    for (let i = 0; i < 100; i += 1) many[`role-${String(i).padStart(3, '0')}`] = ['a-very-long-login-name'];
    const capped = (messageBlocks(view({ loginsByRole: many }), opts)[1] as { text: { text: string } }).text.text;
    assert.equal(capped.length, 3000);
    assert.ok(capped.endsWith(' (truncated)'));
  });
});

describe('replies and DMs', () => {
  it('formats a review reply with RFC822 time', () => {
    assert.equal(rfc822(new Date('2026-11-05T09:07:00Z')), '05 Nov 26 09:07 UTC');
    assert.equal(
      reviewReply(makeReview('bob@example.com', 'APPROVED', 'looks fine')),
      'bob@example.com reviewed the request at 25 Nov 26 10:05 UTC.\nResolution: ✅ APPROVED.\nReason: ```\nlooks fine```',
    );
    assert.equal(reviewReply(makeReview('bob', 'DENIED')), 'bob reviewed the request at 25 Nov 26 10:05 UTC.\nResolution: ❌ DENIED.\n');
  });

  it('formats the requester DM', () => {
    assert.equal(requesterUpdateText('req-1', 'APPROVED'), 'Request with ID "req-1" has been updated: *APPROVED*');
  });
});
