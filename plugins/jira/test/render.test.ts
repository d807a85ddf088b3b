import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JIRA_REASON_LIMIT, issueDescription, issueSummary, resolutionComment, reviewComment, sameMarker, truncateReason } from '../src/render.js';

const created = new Date(Date.UTC(2026, 10, 25, 9, 5, 0));
const request = { id: 'd8b3a1c2-0000-4000-8000-000000000001', user: 'alice@example.com', roles: ['editor', 'dba'], created, requestReason: 'deploy hotfix' };

test('summary: user and roles; a summary over 254 bytes falls back to a role count', () => {
  assert.equal(issueSummary(request), 'alice@example.com requested editor, dba');
  const many = Array.from({ length: 40 }, (_, i) => `role-number-${i}`);
  assert.equal(issueSummary({ user: 'alice@example.com', roles: many }), 'alice@example.com requested access to 40 roles');
  // Exactly at the limit stays; one byte more switches (Go counts bytes).
  const user = 'u';
  const role = 'r'.repeat(254 - 'u requested '.length);
  assert.equal(issueSummary({ user, roles: [role] }).length, 254);
  assert.equal(issueSummary({ user, roles: [`${role}x`] }), 'u requested access to 1 roles');
  assert.equal(issueSummary({ user, roles: [`${role.slice(1)}é`] }), 'u requested access to 1 roles', 'é is two bytes');
});

test('description: the Go template, blank lines and all', () => {
  assert.equal(
    issueDescription(request, 'https://teleport.example.com/web/requests/d8b3a1c2-0000-4000-8000-000000000001'),
    'User *alice@example.com* requested an access on *25 Nov 26 09:05 UTC* with the following roles:\n' +
      '\n* editor\n' +
      '\n* dba\n' +
      '\n' +
      '\nReason: *deploy hotfix*\n' +
      '\nRequest ID: *d8b3a1c2-0000-4000-8000-000000000001*\n' +
      'To approve or deny the request, proceed to https://teleport.example.com/web/requests/d8b3a1c2-0000-4000-8000-000000000001',
  );
  // No reason, no link (OSS).
  assert.equal(
    issueDescription({ ...request, requestReason: '', roles: ['editor'] }, undefined),
    'User *alice@example.com* requested an access on *25 Nov 26 09:05 UTC* with the following roles:\n' +
      '\n* editor\n' +
      '\n' +
      '\nRequest ID: *d8b3a1c2-0000-4000-8000-000000000001*\n',
  );
  // No creation time on the request: now.
  assert.match(
    issueDescription({ ...request, created: undefined }, undefined, () => created),
    /on \*25 Nov 26 09:05 UTC\*/,
  );
});

test('reasons are cut at 3000 characters, never inside a character', () => {
  const long = 'A'.repeat(5000);
  assert.equal(truncateReason(long).length, JIRA_REASON_LIMIT);
  assert.equal(truncateReason('short'), 'short');
  const emoji = '😀'.repeat(3001);
  const cut = truncateReason(emoji);
  assert.equal(Array.from(cut).length, 3000);
  assert.ok(!/[\uD800-\uDBFF]$/.test(cut), 'no lone surrogate at the end');
  const description = issueDescription({ ...request, requestReason: `because of ${'A'.repeat(4000)}` }, undefined);
  assert.ok(description.includes(`Reason: *because of ${'A'.repeat(3000 - 'because of '.length)}*\n`));
});

test('review comment: the Go template', () => {
  const review = { author: 'bob', created, proposedState: 'APPROVED' as const, reason: 'looks fine' };
  assert.equal(reviewComment(review), '*bob* reviewed the request at *25 Nov 26 09:05 UTC*.\nResolution: *APPROVED*.\nReason: looks fine.');
  assert.equal(reviewComment({ ...review, proposedState: 'DENIED', reason: '' }), '*bob* reviewed the request at *25 Nov 26 09:05 UTC*.\nResolution: *DENIED*.\n');
  assert.equal(reviewComment({ ...review, reason: 'B'.repeat(3500) }).length, reviewComment({ ...review, reason: 'B'.repeat(3000) }).length);
});

test('resolution comment: the Go template (a trailing newline when there is no reason)', () => {
  assert.equal(resolutionComment('approved', 'ok by oncall'), 'Access request has been approved\nReason: ok by oncall');
  assert.equal(resolutionComment('expired', ''), 'Access request has been expired\n');
  assert.equal(resolutionComment('denied', 'C'.repeat(4000)), `Access request has been denied\nReason: ${'C'.repeat(3000)}`);
});

test('comment markers compare request, kind and review index', () => {
  const review = { requestId: 'r1', kind: 'review' as const, index: 2 };
  assert.equal(sameMarker({ requestId: 'r1', kind: 'review', index: 2 }, review), true);
  assert.equal(sameMarker({ requestId: 'r1', kind: 'review', index: 1 }, review), false);
  assert.equal(sameMarker({ requestId: 'r2', kind: 'review', index: 2 }, review), false);
  assert.equal(sameMarker({ requestId: 'r1', kind: 'resolution' }, { requestId: 'r1', kind: 'resolution' }), true);
  assert.equal(sameMarker('r1', review), false);
  assert.equal(sameMarker(undefined, review), false);
});
