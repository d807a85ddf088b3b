import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AccessReview } from '@teleport-plugin/core';
import {
  decodeEmailThreads,
  encodeEmailThreads,
  isEmail,
  isEncodableThread,
  mailMessageId,
  mailSubject,
  mailboxAddress,
  newRequestMail,
  requesterOutcomeMail,
  resolutionMail,
  reviewKind,
  reviewReplyMail,
  reviewReplyText,
  statusLine,
  textToHtml,
  threadTimestamp,
  unbracketed,
} from '../src/index.js';
import type { MailCluster, MailRequestFields } from '../src/index.js';

const ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
const FIELDS: MailRequestFields = { id: ID, user: 'alice@example.com', roles: ['editor', 'dba'], requestReason: 'because of the incident' };
const OSS: MailCluster = { clusterName: 'teleport.example.com', webLink: undefined };
const ENT: MailCluster = { clusterName: 'teleport.example.com', webLink: `https://teleport.example.com/web/requests/${ID}` };

function review(partial: Partial<AccessReview> = {}): AccessReview {
  return {
    author: 'bob@example.com',
    roles: [],
    proposedState: 'APPROVED',
    reason: 'okay',
    created: new Date(Date.UTC(2024, 4, 7, 13, 5)),
    annotations: {},
    assumeStartTime: undefined,
    ...partial,
  };
}

describe('email texts (upstream client.go, line for line)', () => {
  it('subject: <cluster> Role Request <id>', () => {
    assert.equal(mailSubject('teleport.example.com', ID), `teleport.example.com Role Request ${ID}`);
  });

  it('first mail, OSS: tsh commands while pending', () => {
    const mail = newRequestMail(FIELDS, OSS);
    assert.equal(mail.subject, `teleport.example.com Role Request ${ID}`);
    assert.equal(
      mail.text,
      [
        'You have a new Role Request:',
        '',
        `ID: ${ID}`,
        'Cluster: teleport.example.com',
        'User: alice@example.com',
        'Role(s): editor,dba',
        'Reason: because of the incident',
        `Approve: tsh request review --approve ${ID}`,
        `Deny: tsh request review --deny ${ID}`,
        '',
        'Status: ⏳ PENDING',
      ].join('\n'),
    );
    assert.equal(mail.html, undefined, 'no HTML unless asked');
  });

  it('first mail, Enterprise: the web link instead; empty fields left out', () => {
    const mail = newRequestMail({ ...FIELDS, user: '', requestReason: '' }, ENT);
    assert.equal(
      mail.text,
      ['You have a new Role Request:', '', `ID: ${ID}`, 'Cluster: teleport.example.com', 'Role(s): editor,dba', `Link: ${ENT.webLink}`, '', 'Status: ⏳ PENDING'].join('\n'),
    );
  });

  it('the reason is sent as it is (upstream does not truncate or escape mail bodies)', () => {
    const reason = `line one\nline \`two\` <b>${'A'.repeat(600)}`;
    assert.ok(newRequestMail({ ...FIELDS, requestReason: reason }, OSS).text.includes(`Reason: ${reason}\n`));
  });

  it('resolution: header, no tsh commands, status with the reason', () => {
    const approved = resolutionMail(FIELDS, OSS, { tag: 'APPROVED', reason: 'okay' });
    assert.equal(
      approved.text,
      [
        'Role Request has been resolved:',
        '',
        `ID: ${ID}`,
        'Cluster: teleport.example.com',
        'User: alice@example.com',
        'Role(s): editor,dba',
        'Reason: because of the incident',
        '',
        'Status: ✅ APPROVED (okay)',
      ].join('\n'),
    );
    assert.equal(approved.subject, `teleport.example.com Role Request ${ID}`, 'same subject as the first mail');
    assert.ok(resolutionMail(FIELDS, ENT, { tag: 'DENIED', reason: 'not okay' }).text.endsWith(`Link: ${ENT.webLink}\n\nStatus: ❌ DENIED (not okay)`));
    assert.ok(resolutionMail(FIELDS, OSS, { tag: 'EXPIRED', reason: '' }).text.endsWith('\n\nStatus: ⌛ EXPIRED'));
  });

  it('status lines', () => {
    assert.equal(statusLine(undefined), 'Status: ⏳ PENDING');
    assert.equal(statusLine({ tag: 'APPROVED', reason: '' }), 'Status: ✅ APPROVED');
    assert.equal(statusLine({ tag: 'DENIED', reason: 'no' }), 'Status: ❌ DENIED (no)');
    assert.equal(statusLine({ tag: 'EXPIRED', reason: '' }), 'Status: ⌛ EXPIRED');
    // Upstream has no emoji for PROMOTED and keeps the empty slot.
    assert.equal(statusLine({ tag: 'PROMOTED', reason: '' }), 'Status:  PROMOTED');
  });

  it('review reply: author, RFC822 time, emoji + state, reason with a full stop', () => {
    assert.equal(reviewReplyText(review()), 'bob@example.com reviewed the request at 07 May 24 13:05 UTC.\nResolution: ✅ APPROVED.\nReason: okay.');
    assert.equal(
      reviewReplyText(review({ author: 'carol', proposedState: 'DENIED', reason: 'not okay' })),
      'carol reviewed the request at 07 May 24 13:05 UTC.\nResolution: ❌ DENIED.\nReason: not okay.',
    );
    // No reason: the template leaves the last line empty.
    assert.equal(reviewReplyText(review({ reason: '' })), 'bob@example.com reviewed the request at 07 May 24 13:05 UTC.\nResolution: ✅ APPROVED.\n');
    const fixed = () => new Date(Date.UTC(2025, 0, 2, 3, 4));
    assert.match(reviewReplyText(review({ created: undefined }), fixed), /at 02 Jan 25 03:04 UTC\./);
    assert.equal(reviewReplyMail(ID, review(), OSS).subject, `teleport.example.com Role Request ${ID}`);
  });

  it('requester outcome mails (new): approved and denied with the reason, expired', () => {
    const approved = requesterOutcomeMail(FIELDS, ENT, { tag: 'APPROVED', reason: 'okay' });
    assert.ok(approved.text.startsWith('Your Role Request has been approved:\n\n'));
    assert.ok(approved.text.endsWith('Status: ✅ APPROVED (okay)'));
    assert.ok(requesterOutcomeMail(FIELDS, ENT, { tag: 'DENIED', reason: 'not now' }).text.startsWith('Your Role Request has been denied:'));
    assert.ok(requesterOutcomeMail(FIELDS, ENT, { tag: 'DENIED', reason: 'not now' }).text.endsWith('Status: ❌ DENIED (not now)'));
    const expired = requesterOutcomeMail(FIELDS, OSS, { tag: 'EXPIRED', reason: '' });
    assert.ok(expired.text.startsWith('Your Role Request has expired:'));
    assert.ok(!expired.text.includes('tsh request review'), 'no review commands for a decided request');
    assert.equal(expired.subject, `teleport.example.com Role Request ${ID}`);
  });

  it('HTML part (optional): same lines, escaped, labels bold, links clickable', () => {
    const mail = newRequestMail({ ...FIELDS, requestReason: '<script>alert("x")</script> & more' }, ENT, { html: true });
    assert.ok(mail.html);
    assert.match(mail.html, /<b>Reason:<\/b> &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; more/);
    assert.match(mail.html, new RegExp(`<b>Link:</b> <a href="https://teleport.example.com/web/requests/${ID}">`));
    assert.match(mail.html, /<b>Status:<\/b> ⏳ PENDING/);
    assert.ok(!mail.html.includes('<script>'));
    assert.match(textToHtml('a\nb'), /a<br>\nb/);
  });
});

describe('Message-IDs', () => {
  const base = { requestId: ID, recipient: 'Bob@Example.com', domain: 'example.com' } as const;

  it('are deterministic per request, recipient and kind', () => {
    const first = mailMessageId({ ...base, kind: 'first' });
    assert.match(first, new RegExp(`^teleport-${ID}-first-[0-9a-f]{16}@example\\.com$`));
    assert.equal(mailMessageId({ ...base, kind: 'first' }), first);
    assert.equal(mailMessageId({ ...base, recipient: 'bob@example.com', kind: 'first' }), first, 'recipient compared without case');
    const ids = new Set([
      first,
      mailMessageId({ ...base, kind: reviewKind(1) }),
      mailMessageId({ ...base, kind: reviewKind(2) }),
      mailMessageId({ ...base, kind: 'outcome' }),
      mailMessageId({ ...base, kind: 'requester' }),
      mailMessageId({ ...base, recipient: 'carol@example.com', kind: 'first' }),
      mailMessageId({ ...base, requestId: 'other', kind: 'first' }),
    ]);
    assert.equal(ids.size, 7);
    assert.match(mailMessageId({ ...base, kind: reviewKind(3) }), /-review-3-/);
    assert.throws(() => reviewKind(0), RangeError);
  });

  it('never contain / or , (the Go plugin data separators) whatever the inputs', () => {
    const odd = mailMessageId({ requestId: 'a/b,c', kind: 'first', recipient: 'x/y@example.com', domain: 'ex/ample.com' });
    assert.ok(!/[/,]/.test(odd), odd);
    assert.equal((odd.match(/@/g) ?? []).length, 1);
  });

  it('brackets', () => {
    assert.equal(unbracketed('<a@b>'), 'a@b');
    assert.equal(unbracketed('a@b'), 'a@b');
  });
});

describe('plugin data (Go layout)', () => {
  it('round-trips email_threads', () => {
    const threads = [
      { email: 'a@example.com', timestamp: '2024-05-07T13:05:00.000Z', messageId: 'teleport-x-first-1@example.com' },
      { email: 'b@example.com', timestamp: '2024-05-07T13:05:01.000Z', messageId: 'teleport-x-first-2@example.com' },
    ];
    const encoded = encodeEmailThreads(threads);
    assert.equal(encoded, 'a@example.com/2024-05-07T13:05:00.000Z/teleport-x-first-1@example.com,b@example.com/2024-05-07T13:05:01.000Z/teleport-x-first-2@example.com');
    assert.deepEqual(decodeEmailThreads({ email_threads: encoded }), threads);
    assert.equal(encodeEmailThreads([]), '');
  });

  it('reads what the Go plugin wrote: Go timestamps, Mailgun ids in brackets, legacy email+timestamp', () => {
    const data = {
      email: 'old@example.com',
      timestamp: '2021-01-01 10:00:00.1 +0000 UTC',
      email_threads: 'a@example.com/2024-05-07 13:05:00.123456789 +0000 UTC m=+12.000000001/<20240507130500.1.ABC@mg.example.com>,broken-entry,b@example.com/t/1J2K.3L@host',
    };
    assert.deepEqual(decodeEmailThreads(data), [
      { email: 'old@example.com', timestamp: '2021-01-01 10:00:00.1 +0000 UTC', messageId: '' },
      { email: 'a@example.com', timestamp: '2024-05-07 13:05:00.123456789 +0000 UTC m=+12.000000001', messageId: '20240507130500.1.ABC@mg.example.com' },
      { email: 'b@example.com', timestamp: 't', messageId: '1J2K.3L@host' },
    ]);
    assert.deepEqual(decodeEmailThreads({}), []);
  });

  it('knows which threads the layout cannot hold', () => {
    assert.ok(isEncodableThread({ email: 'a@example.com', timestamp: threadTimestamp(new Date(0)), messageId: 'x@y' }));
    assert.ok(!isEncodableThread({ email: 'a/b@example.com', timestamp: 't', messageId: 'x@y' }));
    assert.equal(threadTimestamp(new Date(0)), '1970-01-01T00:00:00.000Z');
  });
});

describe('addresses', () => {
  it('isEmail: bare addresses only, as upstream', () => {
    for (const ok of ['a@example.com', 'first.last+tag@sub.example.co', 'user@localhost', 'üser@exämple.de', '"quoted local"@example.com']) {
      assert.ok(isEmail(ok), ok);
    }
    for (const bad of ['', 'a', 'a@', '@b.c', 'A <a@example.com>', 'a@b c', '#channel', 'a@@b.c', 'a..b@c.d', '.a@b.c']) {
      assert.ok(!isEmail(bad), bad);
    }
  });

  it('mailboxAddress reads display-name forms', () => {
    assert.equal(mailboxAddress('Teleport <noreply@example.com>'), 'noreply@example.com');
    assert.equal(mailboxAddress('noreply@example.com'), 'noreply@example.com');
    assert.equal(mailboxAddress('Teleport'), undefined);
  });
});
