// End to end: `teleport-plugin start --plugin mattermost` as a real child process, with a Go
// teleport-mattermost TOML file as upstream documents it (token in a file, `recipients`, a
// `[role_to_recipients]` table it replaces), against the gRPC FakeTeleport and the real-HTTP fake
// Mattermost. A request is posted, reviewed in the thread, denied, and the requester told; a
// second one expires. `teleport-plugin check` answers for the same file.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { FakeMattermost, type FakeMmPost, type FakeMmUser } from '@teleport-plugin/mattermost/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');

const PLUGIN_USER = FakeTeleport.PLUGIN_USER;
const REQUESTER = 'alice@example.com';
const REVIEWER = 'bob@example.com';

describe('mattermost end to end (teleport-plugin start with a Go plugin TOML)', { timeout: 60_000 }, () => {
  let tp: FakeTeleport;
  let mm: FakeMattermost;
  let alice: FakeMmUser;
  let bob: FakeMmUser;
  let generalId: string;
  let dir: string;
  let configFile: string;
  let plugin: CliProcess | undefined;

  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  const rootsFor = (id: string): FakeMmPost[] => mm.postsFor(id).filter((p) => p.rootId === '' && p.props['teleport_kind'] === 'request');
  const status = (post: FakeMmPost): string | undefined => /^\*\*Status\*\*: (.+)$/m.exec(post.message)?.[1];
  const dmOf = (user: FakeMmUser): string => mm.directChannelFor(mm.bot, user).id;

  before(async () => {
    tp = await FakeTeleport.start();
    // Two approvals needed: one review leaves the request pending, so its reply and re-render show.
    tp.addRequester(REQUESTER, { thresholds: [{ name: 'two', filter: '', approve: 2, deny: 1 }] as never });
    tp.addReviewer(REVIEWER);
    tp.addPluginUser(PLUGIN_USER);

    mm = new FakeMattermost({ token: 'mm-e2e-token' });
    generalId = mm.addChannel({ team: 'my-team', name: 'general' }).id;
    alice = mm.addUser({ email: REQUESTER });
    bob = mm.addUser({ email: REVIEWER });
    await mm.start();

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-mattermost-'));
    const identity = await tp.writeIdentityFile(dir, { user: PLUGIN_USER });
    // As the Helm chart mounts it: a token value starting with "/" is a file.
    const tokenFile = path.join(dir, 'mattermost-token');
    await writeFile(tokenFile, `${mm.token}\n`, { mode: 0o600 });
    configFile = path.join(dir, 'teleport-mattermost.toml');
    await writeFile(
      configFile,
      [
        '# example mattermost configuration TOML file',
        '[teleport]',
        `auth_server = "${tp.addr}"`,
        `identity = "${identity}"`,
        '',
        '[mattermost]',
        `url = "${mm.url}" # Mattermost Server URL`,
        `token = "${tokenFile}" # Mattermost Bot OAuth token`,
        `recipients = ["my-team/general", "${REVIEWER}"] # optional`,
        '',
        '[role_to_recipients]',
        '"*" = ["my-team/ignored"]',
        '',
        '[log]',
        'output = "stderr" # Logger output. Could be "stdout", "stderr" or "/var/lib/teleport/mattermost.log"',
        'severity = "DEBUG" # Logger severity. Could be "INFO", "ERROR", "DEBUG" or "WARN".',
        '',
      ].join('\n'),
    );
    plugin = await startWatching(tp, ['start', '-c', configFile, '--plugin', 'mattermost'], { cwd: testDir, env: { TELEPORT_PLUGIN_FAIL_FAST: '' } });
  });

  after(async () => {
    await plugin?.stop();
    await mm?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('announces to the channel and the reviewer, replies with the review, re-renders, ends DENIED and tells the requester', async () => {
    // `recipients` replaced the role map, and the config says so.
    assert.match(plugin!.output, /recipients: replaces the whole \[role_to_recipients\] table/);
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'prod hotfix' });
    const roots = await waitFor(() => {
      const r = rootsFor(id);
      return r.length === 2 ? r : undefined;
    }, 'one post in my-team/general and one in the reviewer DM');
    assert.deepEqual(new Set(roots.map((p) => p.channelId)), new Set([generalId, dmOf(bob)]));
    for (const root of roots) {
      assert.match(root.message, /^\*You have new pending request to review!\*\n\*\*User\*\*: alice@example\.com\n\*\*Roles\*\*: editor\n/);
      assert.equal(status(root), '⏳ PENDING');
      assert.match(root.message, new RegExp(`\\*\\*Approve\\*\\*: \`tsh request review --approve ${id}\``));
    }
    const messages = await waitFor(() => {
      const m = tp.admin.pluginData(id, 'mattermost')?.['messages'];
      return m?.split(',').length === 2 ? m : undefined;
    }, 'both posts recorded in plugin data');
    assert.deepEqual(new Set(messages.split(',')), new Set(roots.map((p) => `${p.channelId}/${p.id}`)));

    await tp.admin.review(id, { author: REVIEWER, state: 'APPROVED', reason: 'looks fine' });
    await waitFor(() => roots.every((r) => mm.replies(r.id).length === 1 && mm.updates.some((u) => u.postId === r.id)), 'the review in every thread, then a re-render');
    for (const root of roots) {
      const [reply] = mm.replies(root.id);
      assert.match(reply!.message, /^bob@example\.com reviewed the request at .+ UTC\.\nResolution: ✅ APPROVED\.\nReason: ```\nlooks fine```\.$/);
      assert.equal(status(mm.post(root.id)!), '⏳ PENDING');
    }

    await tp.admin.deny(id, { reason: 'not during the freeze' });
    await waitFor(() => roots.every((r) => status(mm.post(r.id)!) === '❌ DENIED'), 'every post DENIED');
    for (const root of roots) assert.match(mm.post(root.id)!.message, /\*\*Resolution reason\*\*: ```\nnot during the freeze```/);
    const notice = await waitFor(() => mm.rootPosts(dmOf(alice)).find((p) => p.props['teleport_request_id'] === id), 'the requester DM');
    assert.match(notice.message, new RegExp(`^Your access request ${id} has been denied\\.`));

    const data = await waitFor(() => {
      const d = tp.admin.pluginData(id, 'mattermost');
      return d?.['resolution'] ? d : undefined;
    }, 'resolution in plugin data');
    // The Go plugin's layout and spelling, under the plugin name "mattermost".
    assert.equal(data['resolution'], 'DENIED');
    assert.equal(data['resolve_reason'], 'not during the freeze');
    assert.equal(data['user'], REQUESTER);
    assert.equal(data['roles'], 'editor');
    assert.equal(data['request_reason'], 'prod hotfix');
    assert.equal(data['reviews_count'], '1');
    assert.equal(rootsFor(id).length, 2, 'nothing posted twice');
  });

  it('an expired request: every post shows ⌛ EXPIRED and the requester is told', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'a look at the logs' });
    await waitFor(() => rootsFor(id).length === 2 && tp.admin.pluginData(id, 'mattermost')?.['messages']?.split(',').length === 2, 'two posts recorded');
    await tp.admin.expire(id);
    await waitFor(() => rootsFor(id).every((p) => status(p) === '⌛ EXPIRED'), 'every post EXPIRED');
    const notice = await waitFor(() => mm.rootPosts(dmOf(alice)).find((p) => p.props['teleport_request_id'] === id), 'the requester DM');
    assert.match(notice.message, new RegExp(`^Your access request ${id} has expired without a decision\\.`));
    await waitFor(() => tp.admin.pluginData(id, 'mattermost')?.['resolution'] === 'EXPIRED', 'EXPIRED in plugin data');

    const code = await plugin!.stop();
    plugin = undefined;
    assert.equal(code, 0);
  });

  it('`teleport-plugin check --plugin mattermost` answers for the same file: token, channel, email; and a bad channel', async () => {
    const postsBefore = mm.apiCalls('POST', '/posts').length;
    let check = new CliProcess(['check', '-c', configFile, '--plugin', 'mattermost'], { cwd: testDir });
    assert.equal(await check.exited, 0, check.output);
    assert.match(check.output, /mattermost token\s+OK\s+valid for bot @teleport/);
    assert.match(check.output, /mattermost recipient my-team\/general\s+OK\s+channel found; the bot is a member and can post/);
    assert.match(check.output, /mattermost recipient bob@example\.com\s+OK/);

    mm.addChannel({ team: 'my-team', name: 'no-bot', botMember: false });
    const broken = path.join(dir, 'broken.toml');
    await writeFile(broken, (await readFile(configFile, 'utf8')).replace('"my-team/general"', '"my-team/no-bot", "my-team/missing"'));
    check = new CliProcess(['check', '-c', broken, '--plugin', 'mattermost'], { cwd: testDir });
    assert.equal(await check.exited, 1, check.output);
    assert.match(
      check.output,
      /mattermost recipient my-team\/no-bot\s+FAIL\s+the bot is not a member of this channel, so it cannot post there: add it \(type \/invite @teleport in the channel\)/,
    );
    assert.match(check.output, /mattermost recipient my-team\/missing\s+FAIL\s+team "my-team" has no channel "missing"/);
    assert.equal(mm.apiCalls('POST', '/posts').length, postsBefore, 'check posts nothing');
  });
});
