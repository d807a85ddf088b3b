// End to end: the real CLI as a child process, two adapters (the example webhook adapter and the
// recorder test adapter), the gRPC FakeTeleport, and an HttpFake receiving what they post.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport, HttpFake, type RecordedCall } from '@teleport-plugin/testkit';
import { startWatching, type CliProcess } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const root = path.resolve(here, '..', '..');
const WEBHOOK_ADAPTER = path.join(root, 'examples', 'custom-adapter', 'dist', 'index.js');
const RECORDER_ADAPTER = path.join(here, 'lib', 'recorder-adapter.js');

interface Posted {
  sink: 'webhook' | 'recorder';
  event: string;
  id: string;
  authors: string[];
}

/** Both adapters' posts, normalised. */
function posted(sink: HttpFake): Posted[] {
  return sink.calls
    .filter((c) => c.method === 'POST' && c.status === 200)
    .map((c: RecordedCall) => {
      const body = c.json as Record<string, unknown>;
      if (c.path === '/webhook') {
        const reviews = (body.reviews as Array<{ author: string }> | undefined) ?? [];
        return { sink: 'webhook', event: String(body.event), id: String(body.request_id), authors: reviews.map((r) => r.author) };
      }
      return { sink: 'recorder', event: String(body.event), id: String(body.id), authors: (body.authors as string[]) ?? [] };
    });
}

function eventsFor(sink: HttpFake, id: string, which: Posted['sink']): string[] {
  return posted(sink)
    .filter((p) => p.id === id && p.sink === which)
    .map((p) => (p.event === 'reviewed' ? `reviewed:${p.authors.join('+')}` : p.event));
}

describe('teleport-plugin start (end to end)', { timeout: 60_000 }, () => {
  let tp: FakeTeleport;
  let sink: HttpFake;
  let dir: string;
  let configFile: string;
  let plugin: CliProcess | undefined;

  const createRequest = (reason: string): Promise<string> => tp.admin.createRequest({ user: 'alice@example.com', roles: ['editor'], reason });

  /** Started = the watch is open; requests created from now on are seen live or by the re-list. */
  const startPlugin = (): Promise<CliProcess> => startWatching(tp, ['start', '-c', configFile, '--plugin', WEBHOOK_ADAPTER, '--plugin', RECORDER_ADAPTER]);

  const waitPosts = (predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> =>
    sink
      .waitFor(() => predicate(), timeoutMs)
      .catch((err: unknown) => {
        throw new Error(`${what}: ${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
      });

  before(async () => {
    tp = await FakeTeleport.start();
    // Two approvals needed, so a single review leaves the request pending.
    tp.addRequester('alice@example.com', { thresholds: [{ name: 'two', approve: 2, deny: 2 }] });
    for (const r of ['bob', 'carol', 'dave']) tp.addReviewer(r);
    tp.addPluginUser();
    sink = new HttpFake('sink');
    sink.route('POST', '/webhook', () => ({ status: 200, body: { ok: true } }));
    sink.route('POST', '/recorder', () => ({ status: 200, body: { ok: true } }));
    await sink.start();
    dir = await mkdtemp(path.join(tmpdir(), 'e2e-'));
    const identity = await tp.writeIdentityFile(dir, { user: FakeTeleport.PLUGIN_USER });
    configFile = path.join(dir, 'plugin.toml');
    await writeFile(
      configFile,
      [
        '[teleport]',
        `addr = "${tp.addr}"`,
        `identity = "${identity}"`,
        '',
        '[webhook]',
        `url = "${sink.url}/webhook"`,
        '',
        '[recorder]',
        `url = "${sink.url}/recorder"`,
        '',
        '[log]',
        'output = "stderr"',
        'severity = "debug"',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    await plugin?.stop();
    await sink?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  let a = '';
  let b = '';

  it('announces a request and its reviews to both adapters', async () => {
    plugin = await startPlugin();
    a = await createRequest('first');
    await waitPosts(() => eventsFor(sink, a, 'webhook').length === 1 && eventsFor(sink, a, 'recorder').length === 1, 'pending A');
    await tp.admin.review(a, { author: 'bob', state: 'APPROVED' });
    await waitPosts(() => eventsFor(sink, a, 'webhook').length === 2 && eventsFor(sink, a, 'recorder').length === 2, 'review of A');
    for (const which of ['webhook', 'recorder'] as const) assert.deepEqual(eventsFor(sink, a, which), ['pending', 'reviewed:bob']);
  });

  it('(a) handles a request created while the watch stream was down', async () => {
    tp.faults.refuseStreams(700);
    assert.ok(tp.faults.dropWatchStreams() >= 1);
    b = await createRequest('created during the gap');
    await waitPosts(() => eventsFor(sink, b, 'webhook').length === 1 && eventsFor(sink, b, 'recorder').length === 1, 'pending B after the reconnect', 15_000);
    assert.match(plugin!.output, /reconnecting/);
  });

  let c = '';
  let d = '';

  it('(b) stops on SIGTERM with exit 0', async () => {
    const code = await plugin!.stop();
    assert.equal(code, 0, plugin!.output);
    plugin = undefined;
  });

  it('(b, c) after a restart: nothing twice, missed work done, Go plugin data continued', async () => {
    const before = posted(sink).length;
    // While stopped: a review of B, a new request C, and D handled so far by the Go plugins.
    await tp.admin.review(b, { author: 'carol', state: 'APPROVED', reason: 'ok' }); // 1 of 2
    c = await createRequest('created while stopped');
    d = await createRequest('handled by the Go plugin so far');
    await tp.admin.review(d, { author: 'bob', state: 'DENIED', reason: 'hmm' }); // 1 of 2
    for (const name of ['webhook', 'recorder']) {
      tp.admin.setPluginData(d, name, {
        user: 'alice@example.com',
        roles: 'editor',
        request_reason: 'handled by the Go plugin so far',
        reviews_count: '1',
        messages: 'C0123/1700000000.000100',
      });
    }

    plugin = await startPlugin();
    await waitPosts(
      () => (['webhook', 'recorder'] as const).every((w) => eventsFor(sink, c, w).length === 1 && eventsFor(sink, b, w).includes('reviewed:carol')),
      'the missed review of B and the new request C',
    );

    await tp.admin.review(d, { author: 'carol', state: 'DENIED', reason: 'no' }); // 2 of 2: DENIED
    await tp.admin.review(a, { author: 'dave', state: 'APPROVED' }); // 2 of 2: APPROVED
    await waitPosts(
      () => (['webhook', 'recorder'] as const).every((w) => eventsFor(sink, d, w).includes('resolved') && eventsFor(sink, a, w).includes('resolved')),
      'the resolutions of A and D',
    );
    await tp.admin.expire(c);
    await waitPosts(() => (['webhook', 'recorder'] as const).every((w) => eventsFor(sink, c, w).includes('expired')), 'the expiry of C');
    // A step is recorded once its handler has returned: wait for the records, not just the posts.
    await tp.waitFor(
      () => (['webhook', 'recorder'] as const).every((w) => tp.admin.pluginData(d, w)?.resolution === 'DENIED' && tp.admin.pluginData(c, w)?.resolution === 'EXPIRED'),
      10_000,
      'the resolutions recorded',
    );

    for (const w of ['webhook', 'recorder'] as const) {
      assert.deepEqual(eventsFor(sink, a, w), ['pending', 'reviewed:bob', 'reviewed:dave', 'resolved'], `${w} A`);
      assert.deepEqual(eventsFor(sink, b, w), ['pending', 'reviewed:carol'], `${w} B`);
      assert.deepEqual(eventsFor(sink, c, w), ['pending', 'expired'], `${w} C`);
      // D: the Go plugin had announced it and counted bob's review: only carol's review and the resolution are new.
      assert.deepEqual(eventsFor(sink, d, w), ['reviewed:carol', 'resolved'], `${w} D`);
      const data = tp.admin.pluginData(d, w);
      assert.equal(data?.reviews_count, '2');
      assert.equal(data?.resolution, 'DENIED');
      assert.equal(data?.messages, 'C0123/1700000000.000100', 'keys the Go plugin wrote are kept');
    }
    assert.ok(posted(sink).length > before);

    // No (adapter, request, event, reviews) pair was ever posted twice.
    const keys = posted(sink).map((p) => `${p.sink}|${p.id}|${p.event}|${p.authors.join('+')}`);
    assert.deepEqual(
      keys.filter((k, i) => keys.indexOf(k) !== i),
      [],
    );

    const code = await plugin.stop();
    assert.equal(code, 0, plugin.output);
    plugin = undefined;
  });
});
