import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gitlabPluginData, gitlabSnapshot, issueMatches, issueRefData, readIssueRef } from '../src/pluginData.js';
import { makeRequest } from './helpers.js';

test("the snapshot is the Go plugin's key set, issue keys blank until the issue exists", () => {
  assert.deepEqual(gitlabSnapshot(makeRequest()), {
    project_id: '',
    issue_iid: '',
    issue_id: '',
    user: 'alice@example.com',
    roles: 'editor,auditor',
    created: String(Date.UTC(2026, 10, 25, 9, 5, 0) / 1000),
    request_reason: 'deploy hotfix',
    reviews_count: '',
    resolution: '',
    resolve_reason: '',
  });
  assert.equal(gitlabPluginData.resolutionTag?.('APPROVED'), 'approved');
});

test('issue refs round-trip, and blanks read as "no issue yet"', () => {
  const data = { ...gitlabSnapshot(makeRequest()), ...issueRefData({ projectId: 7, issueIid: 3, issueId: 5001 }) };
  assert.deepEqual(readIssueRef(data), { projectId: 7, issueIid: 3, issueId: 5001 });
  assert.equal(readIssueRef(gitlabSnapshot(makeRequest())), undefined);
  assert.equal(readIssueRef(undefined), undefined);
  assert.deepEqual(readIssueRef({ project_id: '7x', issue_iid: ' 3', issue_id: '' }), { projectId: 7, issueIid: 3, issueId: 0 }, 'read as Go Sscanf("%d")');
});

test("a webhook's issue must match project id, issue id and iid", () => {
  const data = issueRefData({ projectId: 7, issueIid: 3, issueId: 5001 });
  assert.equal(issueMatches(data, { projectId: 7, issueIid: 3, issueId: 5001 }), true);
  assert.equal(issueMatches(data, { projectId: 8, issueIid: 3, issueId: 5001 }), false);
  assert.equal(issueMatches(data, { projectId: 7, issueIid: 4, issueId: 5001 }), false);
  assert.equal(issueMatches(data, { projectId: 7, issueIid: 3, issueId: 5002 }), false);
  assert.equal(issueMatches({ project_id: '7', issue_iid: '3', issue_id: '' }, { projectId: 7, issueIid: 3, issueId: 0 }), false, 'a blank issue id never matches');
  assert.equal(issueMatches(undefined, { projectId: 7, issueIid: 3, issueId: 5001 }), false);
});
