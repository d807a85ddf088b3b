import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FakeJira, type FakeJiraWebhookTarget } from '../src/testing/index.js';
import { parseWebhook, signBody, verifyWebhookAuth, type WebhookEvent, type WebhookSecrets } from '../src/webhook.js';

const AUTH = `Basic ${Buffer.from('jira-bot@example.com:jira-api-token').toString('base64')}`;

/** The parts of Jira's JSON answers these tests read (each absent when the answer has none). */
interface JiraAnswer {
  id?: string;
  key?: string;
  errorMessages?: string[];
  errors?: Record<string, string>;
  issues?: unknown[];
  transitions?: Array<{ to: { name: string } }>;
}

async function api(jira: FakeJira, method: string, path: string, body?: unknown, auth = AUTH): Promise<{ status: number; json: JiraAnswer | undefined; headers: Headers }> {
  const res = await fetch(`${jira.url}${path}`, {
    method,
    headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as JiraAnswer) : undefined, headers: res.headers };
}

/**
 * A webhook receiver built from the pure parts (verifyWebhookAuth + parseWebhook), answering as
 * the adapter will: 401 on bad credentials, the parse status on bad bodies, 200 otherwise.
 */
class Receiver {
  readonly events: WebhookEvent[] = [];
  url = '';
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const rawBody = Buffer.concat(chunks);
      const auth = verifyWebhookAuth({ headers: req.headers, query: url.searchParams, rawBody }, this.secrets);
      if (!auth.ok) return void res.writeHead(401).end(auth.reason);
      const event = parseWebhook(rawBody);
      this.events.push(event);
      res.writeHead(event.kind === 'invalid' ? event.status : 200).end();
    });
  });
  constructor(private readonly secrets: WebhookSecrets) {}
  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jira/`;
  }
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('fake Jira', () => {
  const jira = new FakeJira({ indexedProperties: [] });
  before(() => jira.start());
  after(() => jira.close());

  test('rejects missing or wrong credentials as Jira does', async () => {
    for (const auth of ['', 'Bearer x', `Basic ${Buffer.from('jira-bot@example.com:nope').toString('base64')}`]) {
      const res = await api(jira, 'GET', '/rest/api/2/myself', undefined, auth);
      assert.equal(res.status, 401);
      assert.deepEqual(res.json, { errorMessages: ['Client must be authenticated to access this resource.'], errors: {} });
    }
  });

  test('validates issue creation like Jira: project, issue type, summary length', async () => {
    const bad = await api(jira, 'POST', '/rest/api/2/issue', { fields: { project: { key: 'NOPE' }, issuetype: { name: 'Epic' }, summary: 'x'.repeat(255) } });
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json?.errors, { project: 'valid project is required', issuetype: 'valid issue type is required', summary: 'Summary must be less than 255 characters.' });
    const ok = await api(jira, 'POST', '/rest/api/2/issue', {
      fields: { project: { key: 'REQ' }, issuetype: { name: 'task' }, summary: 's' },
      properties: [{ key: 'teleportAccessRequestId', value: 'req-1' }],
    });
    assert.equal(ok.status, 201);
    assert.equal(jira.issue(ok.json?.key ?? '')?.properties['teleportAccessRequestId'], 'req-1');
  });

  test('JQL on an entity property fails unless an app indexed it (as on a real site)', async () => {
    const jql = encodeURIComponent('project = "REQ" AND issue.property[teleportAccessRequestId].value = "req-1"');
    const res = await api(jira, 'GET', `/rest/api/2/search/jql?jql=${jql}`);
    assert.equal(res.status, 400);
    assert.match(res.json?.errorMessages?.[0] ?? '', /issue\.property\[teleportAccessRequestId\]\.value' does not exist/);
    jira.indexedProperties.push('teleportAccessRequestId');
    const indexed = await api(jira, 'GET', `/rest/api/2/search/jql?jql=${jql}`);
    assert.equal(indexed.status, 200);
    assert.equal(indexed.json?.issues?.length, 1);
    jira.indexedProperties.length = 0;
    assert.equal((await api(jira, 'GET', `/rest/api/2/search?jql=${jql}`)).status, 410, 'Cloud removed /search');
  });

  test('transitions follow the workflow; an invalid one is refused', async () => {
    const created = await api(jira, 'POST', '/rest/api/2/issue', { fields: { project: { key: 'REQ' }, issuetype: { name: 'Task' }, summary: 't' } });
    const bad = await api(jira, 'POST', `/rest/api/2/issue/${created.json?.id}/transitions`, { transition: { id: '999' } });
    assert.equal(bad.status, 400);
    assert.match(bad.json?.errorMessages?.[0] ?? '', /Transition id '999' is not valid/);
    const listed = await api(jira, 'GET', `/rest/api/2/issue/${created.json?.id}/transitions`);
    assert.deepEqual(
      listed.json?.transitions?.map((t) => t.to.name),
      ['Approved', 'Denied', 'Expired'],
    );
    const moved = await api(jira, 'POST', `/rest/api/2/issue/${created.json?.id}/transitions`, { transition: { id: '31' } });
    assert.equal(moved.status, 204);
    assert.equal(jira.issue(created.json?.id ?? '')?.status, 'Denied');
  });

  test('injected faults: 429 with Retry-After, then the real answer', async () => {
    jira.fail({ method: 'GET', path: '/rest/api/2/myself', status: 429, headers: { 'retry-after': '7' } });
    const limited = await api(jira, 'GET', '/rest/api/2/myself');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal((await api(jira, 'GET', '/rest/api/2/myself')).status, 200);
    const calls = jira.http.callsTo('GET', '/rest/api/2/myself').slice(-2);
    assert.deepEqual(
      calls.map((c) => [c.status, c.injected]),
      [
        [429, true],
        [200, false],
      ],
    );
  });
});

describe('fake Jira webhooks, received through verifyWebhookAuth and parseWebhook', () => {
  const jira = new FakeJira();
  const signed = new Receiver({ secret: 'a-long-webhook-secret' });
  const tokened = new Receiver({ token: '0123456789abcdefXYZ' });
  before(async () => {
    await Promise.all([jira.start(), signed.start(), tokened.start()]);
  });
  after(async () => {
    await Promise.all([jira.close(), signed.close(), tokened.close()]);
  });

  async function pendingIssue(): Promise<string> {
    const res = await api(jira, 'POST', '/rest/api/2/issue', { fields: { project: { key: 'REQ' }, issuetype: { name: 'Task' }, summary: 'w' } });
    return res.json?.id ?? '';
  }

  test('a transition in Jira sends a signed jira:issue_updated with the status change', async () => {
    const target: FakeJiraWebhookTarget = { url: signed.url, secret: 'a-long-webhook-secret' };
    jira.addWebhook(target);
    const id = await pendingIssue();
    const rita = jira.addUser('rita@example.com', { displayName: 'Rita' });
    const [delivery] = await jira.transitionAs(rita, id, 'Approved', { comment: 'Reason: fine' });
    jira.webhooks.length = 0;
    assert.equal(delivery?.status, 200);
    assert.match(delivery!.headers['x-hub-signature']!, /^sha256=[0-9a-f]{64}$/);
    const event = signed.events.at(-1)!;
    assert.equal(event.kind, 'status-change');
    if (event.kind !== 'status-change') return;
    assert.equal(event.issueId, id);
    assert.equal(event.status, 'approved');
    assert.equal(event.fromStatus, 'Pending');
    assert.equal(event.user?.accountId, rita.accountId);
    assert.equal(event.user?.emailAddress, 'rita@example.com');
    assert.equal(jira.issue(id)!.changelog.at(-1)!.author, rita);

    // A redelivery is byte for byte the same, marked as a retry.
    const again = await jira.redeliver(delivery!, target);
    assert.equal(again.body, delivery!.body);
    assert.equal(again.headers['x-atlassian-webhook-identifier'], delivery!.headers['x-atlassian-webhook-identifier']);
    assert.equal(again.headers['x-atlassian-webhook-retry'], '1');
    assert.equal(again.status, 200);
  });

  test('a wrong secret or a missing signature gets 401 and is not parsed', async () => {
    const id = await pendingIssue();
    const issue = jira.issue(id)!;
    const payload = jira.issueUpdatedPayload(issue, undefined, jira.bot);
    const before = signed.events.length;
    assert.equal((await jira.sendWebhook({ url: signed.url, secret: 'the-wrong-secret' }, payload)).status, 401);
    assert.equal((await jira.sendWebhook({ url: signed.url }, payload)).status, 401);
    assert.equal(signed.events.length, before);
  });

  test('URL tokens: right token accepted, wrong token 401', async () => {
    const id = await pendingIssue();
    const bob = jira.addUser('bob@example.com', { hideEmail: true });
    jira.addWebhook({ url: tokened.url, token: '0123456789abcdefXYZ' });
    const [ok] = await jira.transitionAs(bob, id, 'Denied');
    jira.webhooks.length = 0;
    assert.equal(ok?.status, 200);
    assert.match(ok!.url, /\?token=0123456789abcdefXYZ$/);
    const event = tokened.events.at(-1)!;
    assert.equal(event.kind === 'status-change' && event.status, 'denied');
    assert.equal(event.kind === 'status-change' && event.user?.emailAddress, undefined, 'hidden email (Cloud privacy)');
    const wrong = await jira.sendWebhook({ url: tokened.url, token: '0123456789abcdefXYZ-' }, { webhookEvent: 'jira:issue_updated' });
    assert.equal(wrong.status, 401);
  });

  test('other events are acknowledged and ignored', async () => {
    const id = await pendingIssue();
    const payload = jira.issueUpdatedPayload(jira.issue(id)!, undefined, jira.bot, 'issue_commented');
    const res = await jira.sendWebhook({ url: signed.url, secret: 'a-long-webhook-secret' }, payload);
    assert.equal(res.status, 200);
    assert.equal(signed.events.at(-1)!.kind, 'ignore');
    const junk = await fetch(signed.url, { method: 'POST', body: '{not json', headers: { 'x-hub-signature': signBody('a-long-webhook-secret', '{not json') } });
    assert.equal(junk.status, 400);
  });
});
