import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GitlabClient } from '../src/client.js';
import { issueDescription, issueTitle, reviewNote } from '../src/render.js';
import { readIssueHook } from '../src/webhook.js';
import { FakeGitLab, type FakeGlProject } from '../src/testing/index.js';
import { HookReceiver, makeRequest, makeReview, REQUEST_ID } from './helpers.js';

const POLICY = { attempts: 3, baseMs: 1, capMs: 5, maxRetryAfterMs: 5_000 };
const SECRET = 'hook-secret';

let gl: FakeGitLab;
let receiver: HookReceiver;
let project: FakeGlProject;

before(async () => {
  gl = new FakeGitLab();
  receiver = new HookReceiver();
  await Promise.all([gl.start(), receiver.start()]);
});
after(async () => {
  await gl.close();
  await receiver.close();
});
beforeEach(() => {
  gl.http.clearFaults();
  receiver.received.length = 0;
  receiver.status = 204;
  project = gl.addProject(`ops/fake-${gl.projects.length + 1}`);
});

function api(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('private-token', init.token ?? gl.token);
  return fetch(`${gl.url}/api/v4${path}`, { ...init, headers });
}

function client(): GitlabClient {
  return new GitlabClient({ url: gl.url, token: gl.token, policy: POLICY });
}

async function openIssue(): Promise<number> {
  const request = makeRequest();
  const issue = await client().createIssue(project.id, { title: issueTitle(request), description: issueDescription(request, undefined), labels: ['Teleport: Pending'] });
  return issue.iid;
}

describe('API behaviour', () => {
  test("no or a wrong PRIVATE-TOKEN: 401 with GitLab's body", async () => {
    for (const token of [null, 'nope']) {
      const res = await api(`/projects/${project.id}`, { token });
      assert.equal(res.status, 401);
      assert.deepEqual(await res.json(), { message: '401 Unauthorized' });
    }
    const bearer = await api('/user', { token: null, headers: { authorization: `Bearer ${gl.token}` } });
    assert.equal(bearer.status, 200, 'OAuth-style Bearer works too');
  });

  test('projects by id and by URL-encoded path; unknown ones are 404 Project Not Found', async () => {
    assert.equal(((await (await api(`/projects/${encodeURIComponent(project.pathWithNamespace)}`)).json()) as { id: number }).id, project.id);
    const res = await api('/projects/999999');
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { message: '404 Project Not Found' });
  });

  test("offset pagination with GitLab's headers", async () => {
    for (let i = 0; i < 5; i += 1) gl.addLabel(project, `l${i}`);
    const res = await api(`/projects/${project.id}/labels?per_page=2&page=2`);
    assert.equal(res.headers.get('x-page'), '2');
    assert.equal(res.headers.get('x-per-page'), '2');
    assert.equal(res.headers.get('x-total'), '5');
    assert.equal(res.headers.get('x-total-pages'), '3');
    assert.equal(res.headers.get('x-next-page'), '3');
    assert.equal(res.headers.get('x-prev-page'), '1');
    assert.match(res.headers.get('link') ?? '', /[?&]page=3\b[^>]*>; rel="next"/);
    assert.deepEqual(
      ((await res.json()) as Array<{ name: string }>).map((l) => l.name),
      ['l2', 'l3'],
    );
  });

  test('issue search: `search` with `in`, and state filters', async () => {
    const iid = await openIssue();
    const hit = (await (await api(`/projects/${project.id}/issues?search=${REQUEST_ID}&in=description`)).json()) as Array<{ iid: number }>;
    assert.deepEqual(
      hit.map((i) => i.iid),
      [iid],
    );
    assert.deepEqual(await (await api(`/projects/${project.id}/issues?search=${REQUEST_ID}&in=title`)).json(), []);
    assert.deepEqual(await (await api(`/projects/${project.id}/issues?state=closed`)).json(), []);
  });

  test('creating an issue with a new label creates the project label, as GitLab does', async () => {
    await openIssue();
    assert.deepEqual(
      project.labels.map((l) => l.name),
      ['Teleport: Pending'],
    );
  });

  test('quick actions in notes run; our rendered reasons cannot trigger them', async () => {
    const iid = await openIssue();
    const issue = gl.issue(project, iid)!;
    await client().createNote(project.id, iid, 'thanks\n/label ~"Teleport: Denied"');
    assert.ok(issue.labels.includes('Teleport: Denied'), 'the fake honours quick actions, as GitLab');
    assert.equal(gl.notesOf(issue).at(-1)?.body, 'thanks', 'and strips them from the note');
    issue.labels = ['Teleport: Pending'];
    const note = reviewNote(makeReview({ reason: 'sure\n/label ~"Teleport: Approved"\n/close' }));
    await client().createNote(project.id, iid, note);
    assert.deepEqual(issue.labels, ['Teleport: Pending']);
    assert.equal(issue.state, 'opened');
    assert.equal(gl.notesOf(issue).at(-1)?.body, note);
  });

  test('fault injection: GitLab-style 429, 5xx, dropped connections, each for `times` calls', async () => {
    gl.rateLimit({ times: 2, retryAfterS: 3, path: '/api/v4/user' });
    for (let i = 0; i < 2; i += 1) {
      const res = await api('/user');
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '3');
      assert.ok(Number(res.headers.get('ratelimit-reset')) > Date.now() / 1000);
      assert.equal(await res.text(), 'Retry later\n');
    }
    assert.equal((await api('/user')).status, 200);
    gl.fail({ path: '/api/v4/user', status: 503 });
    assert.equal((await api('/user')).status, 503);
    gl.fail({ path: '/api/v4/user', drop: true });
    await assert.rejects(api('/user'));
    assert.equal((await api('/user')).status, 200);
    assert.deepEqual(
      gl.http
        .callsTo('GET', '/api/v4/user')
        .slice(-6)
        .map((c) => [c.status, c.injected]),
      [
        [429, true],
        [429, true],
        [200, false],
        [503, true],
        [0, true],
        [200, false],
      ],
    );
  });
});

describe('Issue Hooks', () => {
  test("addLabelAs sends a realistic Issue Hook, with the hook's token and URL credentials, that reads as a decision", async () => {
    const iid = await openIssue();
    const hookUrl = `${receiver.url.replace('http://', 'http://gitlab-hook:pw@')}/gitlab/webhook`;
    gl.addHook(project, { url: hookUrl, token: SECRET });
    gl.addHook(project, { url: `${receiver.url}/push-only`, token: 'other', issuesEvents: false });
    const carol = gl.addUser({ username: 'carol', name: 'Carol Reviewer', email: 'carol@example.com' });

    const deliveries = await gl.addLabelAs(carol, project, iid, 'Teleport: Approved');
    assert.equal(deliveries.length, 1, 'only hooks with issue events');
    assert.equal(deliveries[0]!.status, 204);
    assert.deepEqual(gl.issue(project, iid)!.labels, ['Teleport: Pending', 'Teleport: Approved']);

    const got = receiver.received.at(-1)!;
    assert.equal(got.path, '/gitlab/webhook');
    assert.equal(got.headers['x-gitlab-event'], 'Issue Hook');
    assert.equal(got.headers['x-gitlab-token'], SECRET);
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['authorization'], `Basic ${Buffer.from('gitlab-hook:pw').toString('base64')}`);
    const body = JSON.parse(got.body) as Record<string, unknown>;
    assert.equal(body['object_kind'], 'issue');
    assert.equal((body['object_attributes'] as { action: string }).action, 'update');

    const reading = readIssueHook({ headers: got.headers, rawBody: Buffer.from(got.body) }, { secret: SECRET });
    assert.equal(reading.kind, 'decision');
    if (reading.kind !== 'decision') return;
    assert.deepEqual(
      { ...reading.decision, user: undefined },
      {
        decision: 'approved',
        label: 'Teleport: Approved',
        projectId: project.id,
        issueId: gl.issue(project, iid)!.id,
        issueIid: iid,
        requestId: REQUEST_ID,
        user: undefined,
        delegator: 'gitlab:carol@example.com',
      },
    );
  });

  test('with redacted emails the delegator falls back to the username', async () => {
    const redacting = new FakeGitLab({ redactHookEmails: true });
    await redacting.start();
    try {
      const p = redacting.addProject('ops/redacted');
      const request = makeRequest();
      const issue = redacting.addIssue(p, { title: issueTitle(request), description: issueDescription(request, undefined), labels: ['Teleport: Pending'] });
      redacting.addHook(p, { url: `${receiver.url}/gitlab/webhook`, token: SECRET });
      await redacting.addLabelAs('dave', p, issue.iid, 'Teleport: Denied');
      const got = receiver.received.at(-1)!;
      const reading = readIssueHook({ headers: got.headers, rawBody: Buffer.from(got.body) }, { secret: SECRET });
      assert.equal(reading.kind === 'decision' && reading.decision.delegator, 'gitlab:dave');
      assert.equal(reading.kind === 'decision' && reading.decision.decision, 'denied');
    } finally {
      await redacting.close();
    }
  });

  test('changes through the API send hooks too; closing with the outcome label is not a decision', async () => {
    const iid = await openIssue();
    gl.addHook(project, { url: `${receiver.url}/gitlab/webhook`, token: SECRET });
    await client().updateIssue(project.id, iid, { stateEvent: 'close', removeLabels: ['Teleport: Pending'], addLabels: ['Teleport: Approved'] });
    await gl.settled();
    const got = receiver.received.at(-1)!;
    const body = JSON.parse(got.body) as { object_attributes: { action: string; state: string }; user: { username: string } };
    assert.equal(body.object_attributes.action, 'close');
    assert.equal(body.user.username, 'teleport-bot');
    assert.equal(readIssueHook({ headers: got.headers, rawBody: Buffer.from(got.body) }, { secret: SECRET }).kind, 'ignored');
  });

  test('sendIssueHook crafts bad calls: wrong token, wrong type, other events, raw bodies', async () => {
    const iid = await openIssue();
    gl.addHook(project, { url: `${receiver.url}/gitlab/webhook`, token: SECRET });
    const payload = gl.issueHookPayload(project, gl.issue(project, iid)!, gl.bot, 'update', []);
    const read = () => {
      const got = receiver.received.at(-1)!;
      return readIssueHook({ headers: got.headers, rawBody: Buffer.from(got.body) }, { secret: SECRET });
    };
    await gl.sendIssueHook({ project, payload, token: 'wrong' });
    assert.deepEqual(read(), { kind: 'rejected', status: 401, reason: 'missing or wrong X-Gitlab-Token' });
    await gl.sendIssueHook({ project, payload, contentType: 'text/plain' });
    assert.equal(read().kind === 'rejected' && (read() as { status: number }).status, 400);
    await gl.sendIssueHook({ project, payload, event: 'Push Hook' });
    assert.equal(read().kind, 'ignored');
    await gl.sendIssueHook({ url: `${receiver.url}/gitlab/webhook`, token: SECRET, rawBody: '{oops' });
    assert.equal(read().kind === 'rejected' && (read() as { status: number }).status, 400);
    receiver.status = 401;
    const [delivery] = await gl.sendIssueHook({ project, payload, token: 'wrong' });
    assert.equal(delivery?.status, 401);
    assert.ok(gl.deliveries.some((d) => d.status === 401));
  });

  test('a hook URL nobody answers is recorded as a failed delivery', async () => {
    const iid = await openIssue();
    gl.addHook(project, { url: 'http://127.0.0.1:9/gitlab/webhook', token: SECRET });
    const [delivery] = await gl.addLabelAs('erin', project, iid, 'Teleport: Approved');
    assert.equal(delivery?.status, 0);
    assert.ok(delivery?.error);
  });
});
