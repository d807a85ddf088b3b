import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accessRequestSnapshot, decodeAccessRequestData } from '../src/ledger/accessRequestSnapshot.js';
import { formatReviewsCount, goJson, lowerResolutionTag, parseReviewsCount, upperResolutionTag } from '../src/ledger/fields.js';
import { ticketSnapshot } from '../src/ledger/ticketSnapshot.js';
import { makeRequest } from './dispatcher-memory-teleport.js';

describe('accessRequestSnapshot (common Go layout)', () => {
  it('records a long-term request (our own key) and nothing extra for short-term ones', () => {
    const long = accessRequestSnapshot(
      makeRequest('r-long', { requestKind: 'LONG_TERM', roles: ['access'], requestedResources: [{ clusterName: 'c', kind: 'node', name: 'db', subResourceName: '' }] }),
    );
    assert.equal(long.request_kind, 'LONG_TERM');
    assert.equal(decodeAccessRequestData(long).longTerm, true);
    const short = accessRequestSnapshot(makeRequest('r-short', { requestKind: 'SHORT_TERM' }));
    assert.equal('request_kind' in short, false);
    assert.equal(decodeAccessRequestData(short).longTerm, false);
  });

  it('always emits the fixed key set, empty values included', () => {
    const data = accessRequestSnapshot(makeRequest('r1', { roles: ['editor', 'dba'], requestReason: 'deploy' }));
    assert.deepEqual(data, {
      user: 'alice@example.com',
      roles: 'editor,dba',
      resources: '',
      request_reason: 'deploy',
      reviews_count: '',
      resolution: '',
      resolve_reason: '',
    });
  });

  it('encodes resources, max_duration, annotations and reviewers as the Go plugins do', () => {
    const data = accessRequestSnapshot(
      makeRequest('r1', {
        requestedResources: [
          { clusterName: 'c1', kind: 'node', name: 'web-1', subResourceName: '' },
          { clusterName: 'c1', kind: 'kube_cluster', name: 'k8s', subResourceName: 'ns/pod' },
        ],
        maxDuration: new Date('2026-03-04T05:06:07.890Z'),
        systemAnnotations: { pagerduty_services: ['db', 'web'], a: ['<x>&'] },
        suggestedReviewers: ['bob@example.com'],
      }),
    );
    assert.equal(data.resources, '["/c1/node/web-1","/c1/kube_cluster/k8s/ns/pod"]');
    assert.equal(data.max_duration, '2026-03-04T05:06:07Z');
    assert.equal(data.system_annotations, '{"a":["\\u003cx\\u003e\\u0026"],"pagerduty_services":["db","web"]}');
    assert.equal(data.suggested_reviewers, '["bob@example.com"]');
    const decoded = decodeAccessRequestData(data);
    assert.deepEqual(decoded.resources, ['/c1/node/web-1', '/c1/kube_cluster/k8s/ns/pod']);
    assert.deepEqual(decoded.systemAnnotations, { a: ['<x>&'], pagerduty_services: ['db', 'web'] });
    assert.equal(decoded.maxDuration?.toISOString(), '2026-03-04T05:06:07.000Z');
  });

  it('decodes what a Go plugin wrote, including reviews_count and resolution', () => {
    const decoded = decodeAccessRequestData({ user: 'u', roles: 'a,b', reviews_count: '3', resolution: 'DENIED', resolve_reason: 'no', messages: 'C/1' });
    assert.deepEqual(decoded.roles, ['a', 'b']);
    assert.equal(decoded.reviewsCount, 3);
    assert.equal(decoded.resolution, 'DENIED');
    assert.deepEqual(decoded.resources, []);
  });
});

describe('ticketSnapshot (pagerduty/jira layout)', () => {
  it('emits user, roles, created (unix seconds) and the review/resolution keys', () => {
    const data = ticketSnapshot(makeRequest('r1', { created: new Date('2026-01-02T03:04:05.999Z') }));
    assert.deepEqual(data, {
      user: 'alice@example.com',
      roles: 'editor',
      created: String(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000),
      request_reason: 'please',
      reviews_count: '',
      resolution: '',
      resolve_reason: '',
    });
  });
});

describe('plugin data fields', () => {
  it('reviews_count is "" for zero and tolerant when read', () => {
    assert.equal(formatReviewsCount(0), '');
    assert.equal(formatReviewsCount(2), '2');
    assert.equal(parseReviewsCount(''), 0);
    assert.equal(parseReviewsCount(undefined), 0);
    assert.equal(parseReviewsCount('12'), 12);
    assert.equal(parseReviewsCount('x'), 0);
  });

  it('resolution tags: upper by default, lower for ticket plugins', () => {
    assert.equal(upperResolutionTag('EXPIRED'), 'EXPIRED');
    assert.equal(lowerResolutionTag('APPROVED'), 'approved');
  });

  it('goJson sorts map keys like encoding/json', () => {
    assert.equal(goJson({ b: 1, a: { d: 2, c: 3 } }), '{"a":{"c":3,"d":2},"b":1}');
  });
});
