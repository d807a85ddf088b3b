import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  issueDescription,
  issueTitle,
  neutralizeQuickActions,
  reasonText,
  REASON_LIMIT,
  requestIdFromDescription,
  resolutionNote,
  reviewNote,
  TITLE_LIMIT,
  TRUNCATION_SUFFIX,
} from '../src/render.js';
import { makeRequest, makeReview, REQUEST_ID } from './helpers.js';

const LINK = `https://teleport.example.com/web/requests/${REQUEST_ID}`;

test("title is upstream's, cut at GitLab's 255 characters", () => {
  assert.equal(issueTitle(makeRequest()), 'Access request from alice@example.com');
  const long = issueTitle(makeRequest({ user: 'x'.repeat(400) }));
  assert.equal(Array.from(long).length, TITLE_LIMIT);
  assert.ok(long.endsWith('…'));
});

test('description matches the Go template, with and without link and reason', () => {
  assert.equal(
    issueDescription(makeRequest(), LINK),
    'alice@example.com requested permissions for roles **editor**, **auditor** on Teleport at **25 Nov 26 09:05 UTC**. ' +
      `To approve or deny the request, please assign a corresponding label and close the issue or proceed to ${LINK}.\n\n` +
      'Reason: **deploy hotfix**.\n\n' +
      `Request ID is \`${REQUEST_ID}\`.`,
  );
  assert.equal(
    issueDescription(makeRequest({ requestReason: '', roles: ['editor'] }), undefined),
    'alice@example.com requested permissions for roles **editor** on Teleport at **25 Nov 26 09:05 UTC**. ' +
      'To approve or deny the request, please assign a corresponding label and close the issue.\n\n\n\n' +
      `Request ID is \`${REQUEST_ID}\`.`,
  );
});

test('a request without a creation time uses now; resource requests name their resources', () => {
  const text = issueDescription(
    makeRequest({
      created: undefined,
      requestedResources: [{ clusterName: 'main', kind: 'node', name: 'db-1', subResourceName: '' }],
    }),
    undefined,
    () => new Date(Date.UTC(2027, 0, 2, 3, 4)),
  );
  assert.ok(text.includes('roles **editor**, **auditor** and resources **/main/node/db-1** on Teleport at **02 Jan 27 03:04 UTC**'), text);
});

test('review note matches the Go template', () => {
  assert.equal(reviewNote(makeReview()), '**bob@example.com** reviewed the request at **25 Nov 26 10:00 UTC**.\n\nResolution: **APPROVED**.\n\nReason: looks fine.');
  assert.equal(
    reviewNote(makeReview({ proposedState: 'DENIED', reason: '' })),
    '**bob@example.com** reviewed the request at **25 Nov 26 10:00 UTC**.\n\nResolution: **DENIED**.\n\n',
  );
});

test('resolution note matches the Go template', () => {
  assert.equal(resolutionNote('approved', 'ok by ops'), 'Access request has been approved\n\nReason: ok by ops');
  assert.equal(resolutionNote('expired', ''), 'Access request has been expired\n\n');
});

test('reasons are cut at REASON_LIMIT characters with a marker', () => {
  const long = 'A'.repeat(REASON_LIMIT + 50);
  const cut = reasonText(long);
  assert.equal(cut.length, REASON_LIMIT);
  assert.ok(cut.endsWith(TRUNCATION_SUFFIX));
  assert.equal(reasonText('short'), 'short');
  // Never splits a surrogate pair.
  const emoji = reasonText('😀'.repeat(REASON_LIMIT + 1));
  assert.equal(Array.from(emoji).length, REASON_LIMIT);
  assert.ok(!/[\uD800-\uDBFF]$/.test(emoji.slice(0, -TRUNCATION_SUFFIX.length)));
  assert.ok(issueDescription(makeRequest({ requestReason: long }), undefined).includes(TRUNCATION_SUFFIX));
});

test('text people type cannot start a quick action line', () => {
  assert.equal(neutralizeQuickActions('fine\n/label ~"Teleport: Approved"\n  /close'), 'fine\n\\/label ~"Teleport: Approved"\n  \\/close');
  assert.equal(neutralizeQuickActions('a/b and /c mid-line'), 'a/b and /c mid-line');
  const note = reviewNote(makeReview({ reason: 'ok\n/label ~"Teleport: Approved"' }));
  assert.ok(!/^\//m.test(note), note);
  const description = issueDescription(makeRequest({ requestReason: 'x\n/close' }), undefined);
  assert.ok(!/^\//m.test(description), description);
  assert.ok(!/^\//m.test(resolutionNote('denied', '/unlabel ~x')));
});

test("request id is read back from ours and from upstream's descriptions", () => {
  assert.equal(requestIdFromDescription(issueDescription(makeRequest(), LINK)), REQUEST_ID);
  // Upstream's regex is case-insensitive and tolerant of what surrounds the id.
  assert.equal(requestIdFromDescription(`REQUEST  ID IS: ${REQUEST_ID.toUpperCase()}`), REQUEST_ID);
  assert.equal(requestIdFromDescription('no id here'), undefined);
  assert.equal(requestIdFromDescription(''), undefined);
  assert.equal(requestIdFromDescription(null), undefined);
});

test('a reason quoting another request id cannot redirect the issue', () => {
  const other = '00000000-1111-2222-3333-444444444444';
  const description = issueDescription(makeRequest({ requestReason: `Request ID is \`${other}\`` }), undefined);
  assert.equal(requestIdFromDescription(description), REQUEST_ID);
});
