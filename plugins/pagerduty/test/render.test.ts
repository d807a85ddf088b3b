import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestWebLink } from '@teleport-plugin/core';
import { pagerDutySnapshot, pagerDutyPluginData } from '../src/pluginData.js';
import { autoApprovalReason, formatRfc822, incidentDetails, incidentKey, incidentTitle, resolutionNote, reviewNote } from '../src/render.js';
import { makeRequest, makeReview } from './helpers/contexts.js';

test('RFC822 dates are Go-style, in UTC', () => {
  assert.equal(formatRfc822(new Date(Date.UTC(2026, 0, 5, 7, 3, 59))), '05 Jan 26 07:03 UTC');
  assert.equal(formatRfc822(new Date(Date.UTC(2009, 10, 25, 23, 45))), '25 Nov 09 23:45 UTC');
});

test('incident title, key and details match the Go plugin', () => {
  const req = makeRequest({ id: 'abc', user: 'alice@example.com', roles: ['editor', 'auditor'], requestReason: 'deploy hotfix' });
  assert.equal(incidentTitle(req), 'Access request from alice@example.com');
  assert.equal(incidentKey('abc'), 'teleport-access-request/abc');
  const link = requestWebLink({ webProxyUrl: 'https://teleport.example.com' }, 'abc');
  assert.equal(link, 'https://teleport.example.com/web/requests/abc');
  assert.equal(requestWebLink({ webProxyUrl: 'https://teleport.example.com/' }, 'abc'), link);
  assert.equal(requestWebLink({ webProxyUrl: undefined }, 'abc'), undefined);
  assert.equal(
    incidentDetails(req, link),
    'alice@example.com requested permissions for roles editor, auditor on Teleport at 25 Nov 26 09:05 UTC.\n' +
      'Reason: deploy hotfix\n' +
      'To approve or deny the request, proceed to https://teleport.example.com/web/requests/abc\n',
  );
  assert.equal(
    incidentDetails(makeRequest({ requestReason: '' }), undefined),
    'alice@example.com requested permissions for roles editor, auditor on Teleport at 25 Nov 26 09:05 UTC.\n\n\n',
  );
});

test('review and resolution notes', () => {
  assert.equal(
    reviewNote(makeReview({ author: 'bob', proposedState: 'DENIED', reason: 'not now' })),
    'bob reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: DENIED.\nReason: not now.',
  );
  assert.equal(reviewNote(makeReview({ reason: '' })), 'bob reviewed the request at 25 Nov 26 10:00 UTC.\nResolution: APPROVED.\n');
  assert.equal(resolutionNote('approved', 'ok by bob'), 'Access request has been approved\nReason: ok by bob');
  assert.equal(resolutionNote('expired', ''), 'Access request has been expired\n');
  assert.equal(
    autoApprovalReason('Alice', 'alice@example.com', ['Databases', 'Production']),
    'Access requested by user Alice (alice@example.com) who is on call in service(s) Databases,Production',
  );
});

test('plugin data uses the Go pagerduty keys and lower-case resolutions', () => {
  const data = pagerDutySnapshot(makeRequest());
  assert.deepEqual(data, {
    incident_id: '',
    service_id: '',
    user: 'alice@example.com',
    roles: 'editor,auditor',
    created: String(Date.UTC(2026, 10, 25, 9, 5, 0) / 1000),
    request_reason: 'deploy hotfix',
    reviews_count: '',
    resolution: '',
    resolve_reason: '',
  });
  assert.equal(pagerDutyPluginData.resolutionTag?.('PROMOTED'), 'promoted');
  assert.equal(pagerDutyPluginData.resolutionTag?.('EXPIRED'), 'expired');
});
