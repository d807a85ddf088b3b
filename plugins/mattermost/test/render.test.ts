import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { markdownEscape, postText, requesterOutcomeText, reviewReplyText, statusLine, type PostView } from '../src/render.js';

// The upstream suite's parsers (integrations/access/mattermost/testlib/suite.go).
const msgFieldRegexp = /^\*\*([a-zA-Z ]+)\*\*: +(.+)$/gim;
const requestReasonRegexp = /^\*\*Reason\*\*: ```\n(.*?)```(.*?)$/gim;
const resolutionReasonRegexp = /^\*\*Resolution reason\*\*: ```\n(.*?)```(.*?)$/gim;

function field(text: string, name: string): string | undefined {
  for (const m of text.matchAll(msgFieldRegexp)) if (m[1] === name) return m[2];
  return undefined;
}

const OSS = { webProxyUrl: undefined };
const ENTERPRISE = { webProxyUrl: 'https://teleport.example.com:443' };

function view(extra: Partial<PostView> = {}): PostView {
  return { id: 'req-1', user: 'requester@example.com', roles: ['editor', 'dba'], reason: '', resolution: '', resolveReason: '', ...extra };
}

describe('request post', () => {
  it('pending, OSS: upstream template character for character', () => {
    assert.equal(
      postText(view({ reason: 'because of it' }), OSS),
      '*You have new pending request to review!*\n' +
        '**User**: requester@example.com\n' +
        '**Roles**: editor, dba\n' +
        '**Request ID**: req-1\n' +
        '**Reason**: ```\nbecause of it```\n' +
        '**Status**: ⏳ PENDING\n' +
        '\n' +
        '**Approve**: `tsh request review --approve req-1`\n' +
        '**Deny**: `tsh request review --deny req-1`',
    );
  });

  it('pending without a reason keeps the empty line; Enterprise shows the link instead of commands', () => {
    assert.equal(
      postText(view(), ENTERPRISE),
      '*You have new pending request to review!*\n**User**: requester@example.com\n**Roles**: editor, dba\n**Request ID**: req-1\n\n**Status**: ⏳ PENDING\n\n' +
        '**Link**: [https://teleport.example.com:443/web/requests/req-1](https://teleport.example.com:443/web/requests/req-1)\n',
    );
  });

  it('posting with truncation: the reason is cut to 500 as upstream asserts', () => {
    const text = postText(view({ reason: `because of ${'A'.repeat(4000)}` }), OSS);
    const matches = [...text.matchAll(requestReasonRegexp)];
    assert.equal(matches.length, 1);
    assert.equal(matches[0]![1], `because of ${'A'.repeat(489)}`);
    assert.equal(matches[0]![2], ' (truncated)');
    assert.equal(field(text, 'Request ID'), 'req-1');
    assert.equal(field(text, 'User'), 'requester@example.com');
    assert.equal(field(text, 'Status'), '⏳ PENDING');
  });

  it('approval: no header line, status and resolution reason, no commands', () => {
    const text = postText(view({ resolution: 'APPROVED', resolveReason: 'okay' }), OSS);
    assert.equal(text, '\n**User**: requester@example.com\n**Roles**: editor, dba\n**Request ID**: req-1\n\n**Status**: ✅ APPROVED\n**Resolution reason**: ```\nokay```\n');
    const matches = [...text.matchAll(resolutionReasonRegexp)];
    assert.equal(matches[0]![1], 'okay');
    assert.equal(matches[0]![2], '');
    assert.equal(field(text, 'Status'), '✅ APPROVED');
  });

  it('denial with a long reason: cut to 500', () => {
    const text = postText(view({ resolution: 'DENIED', resolveReason: `not okay ${'A'.repeat(4000)}` }), ENTERPRISE);
    const matches = [...text.matchAll(resolutionReasonRegexp)];
    assert.equal(matches[0]![1], `not okay ${'A'.repeat(491)}`);
    assert.equal(matches[0]![2], ' (truncated)');
    assert.equal(field(text, 'Status'), '❌ DENIED');
    assert.match(text, /\*\*Link\*\*: \[https:\/\/teleport\.example\.com:443\/web\/requests\/req-1\]/);
  });

  it('expiry and promotion', () => {
    const expired = postText(view({ resolution: 'EXPIRED' }), OSS);
    assert.equal(field(expired, 'Status'), '⌛ EXPIRED');
    assert.doesNotMatch(expired, /Approve|Deny|Resolution reason/);
    assert.match(postText(view({ resolution: 'PROMOTED' }), OSS), /\n\*\*Status\*\*: {2}PROMOTED\n/);
    assert.equal(statusLine(''), '⏳ PENDING');
  });
});

describe('markdownEscape (upstream lib.MarkdownEscape)', () => {
  it('trims, and shows (empty) for blank text', () => {
    assert.equal(markdownEscape('  hi \n'), '```\nhi```');
    assert.equal(markdownEscape(' \n\t'), '(empty)');
    assert.match(postText(view({ reason: '   ' }), OSS), /\*\*Reason\*\*: \(empty\)/);
  });

  it('defuses backticks with a zero-width no-break space and counts them twice', () => {
    assert.equal(markdownEscape('a`b'), '```\na`\ufeffb```');
    assert.equal(markdownEscape('``````', 4), '```\n`\ufeff`\ufeff``` (truncated)');
  });

  it('cuts at the limit, measured like Go: by UTF-8 byte offset', () => {
    assert.equal(markdownEscape('abcdef', 3), '```\nabc``` (truncated)');
    assert.equal(markdownEscape('abc', 3), '```\nabc```');
    // "é" is two bytes: Go's `for i, r := range s` stops at byte offset 500, after 250 of them.
    assert.equal(markdownEscape('é'.repeat(400)), '```\n' + 'é'.repeat(250) + '``` (truncated)');
    // A character that starts before the limit is kept whole.
    assert.equal(markdownEscape('a😀b', 2), '```\na😀``` (truncated)');
  });
});

describe('review reply (upstream reviewCommentTemplate)', () => {
  const created = new Date(Date.UTC(2026, 0, 2, 15, 4, 5));

  it('approval with a reason (which ends with a full stop in the Mattermost template)', () => {
    const text = reviewReplyText({ author: 'reviewer1@example.com', proposedState: 'APPROVED', reason: 'okay', created });
    assert.equal(text, 'reviewer1@example.com reviewed the request at 02 Jan 26 15:04 UTC.\nResolution: ✅ APPROVED.\nReason: ```\nokay```.');
    // What the upstream suite checks.
    assert.ok(text.includes('reviewer1@example.com reviewed the request'));
    assert.ok(text.includes('Resolution: ✅ APPROVED'));
    assert.ok(text.includes('Reason: ```\nokay```'));
  });

  it('denial, without a reason, and with Go zero time', () => {
    assert.equal(
      reviewReplyText({ author: 'r2', proposedState: 'DENIED', reason: '', created: undefined }),
      'r2 reviewed the request at 01 Jan 01 00:00 UTC.\nResolution: ❌ DENIED.\n',
    );
    assert.match(reviewReplyText({ author: 'r', proposedState: 'DENIED', reason: 'x'.repeat(600), created }), /Reason: ```\nx{500}``` \(truncated\)\.$/);
  });
});

describe('requester outcome message (ours)', () => {
  it('approval tells how to use it (tsh on OSS, the link on Enterprise)', () => {
    assert.equal(
      requesterOutcomeText({ requestId: 'req-1', roles: ['editor'], resolution: 'APPROVED', resolveReason: 'okay' }, OSS),
      'Your access request req-1 has been approved.\n**Roles**: editor\n**Status**: ✅ APPROVED\n**Reason**: ```\nokay```\n**Use it**: `tsh login --request-id=req-1`',
    );
    assert.match(
      requesterOutcomeText({ requestId: 'req-1', roles: [], resolution: 'APPROVED', resolveReason: '' }, ENTERPRISE),
      /^Your access request req-1 has been approved\.\n\*\*Status\*\*: ✅ APPROVED\n\*\*Link\*\*: \[https:\/\/teleport\.example\.com:443\/web\/requests\/req-1\]/,
    );
  });

  it('denial, expiry and promotion', () => {
    assert.equal(
      requesterOutcomeText({ requestId: 'r', roles: ['a', 'b'], resolution: 'DENIED', resolveReason: `no ${'A'.repeat(600)}` }, OSS),
      `Your access request r has been denied.\n**Roles**: a, b\n**Status**: ❌ DENIED\n**Reason**: \`\`\`\nno ${'A'.repeat(497)}\`\`\` (truncated)`,
    );
    assert.equal(
      requesterOutcomeText({ requestId: 'r', roles: [], resolution: 'EXPIRED', resolveReason: '' }, OSS),
      'Your access request r has expired without a decision.\n**Status**: ⌛ EXPIRED',
    );
    assert.match(
      requesterOutcomeText({ requestId: 'r', roles: [], resolution: 'PROMOTED', resolveReason: '' }, OSS),
      /^Your access request r has been promoted to an Access List\./,
    );
  });
});
