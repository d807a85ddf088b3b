// Two Slack workspaces in one process: `[instances] slack-partners = "slack"` runs the Slack
// adapter a second time under its own name (its table, its plugin data, its messages), as the
// real CLI child process against the gRPC FakeTeleport and two real-HTTP fake Slacks.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { FakeSlack } from '@teleport-plugin/slack/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const testDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REQUESTER = 'alice@example.com';

describe('[instances]: the same adapter twice in one process', { timeout: 60_000 }, () => {
  let tp: FakeTeleport;
  let main: FakeSlack;
  let partners: FakeSlack;
  let dir: string;
  let identity: string;
  let plugin: CliProcess | undefined;

  const configText = (instances: string[]): string =>
    [
      '[teleport]',
      `addr = "${tp.addr}"`,
      `identity = "${identity}"`,
      '[slack]',
      `token = "${main.token}"`,
      `api_url = "${main.apiUrl}"`,
      '[role_to_recipients]',
      '"*" = ["access-requests"]',
      ...instances,
      '[slack-partners]',
      `token = "${partners.token}"`,
      `api_url = "${partners.apiUrl}"`,
      '[slack-partners.role_to_recipients]',
      '"*" = ["partner-access"]',
      '',
    ].join('\n');

  async function configFile(name: string, instances: string[]): Promise<string> {
    const file = path.join(dir, name);
    await writeFile(file, configText(instances));
    return file;
  }

  before(async () => {
    tp = await FakeTeleport.start();
    tp.addRequester(REQUESTER);
    tp.addReviewer('bob@example.com');
    tp.addPluginUser(FakeTeleport.PLUGIN_USER);
    main = new FakeSlack({ token: 'xoxb-main' });
    main.addChannel({ id: 'C0ACCESS01', name: 'access-requests' });
    partners = new FakeSlack({ token: 'xoxb-partners' });
    partners.addChannel({ id: 'C0PARTNER1', name: 'partner-access' });
    await main.start();
    await partners.start();
    dir = await mkdtemp(path.join(tmpdir(), 'instances-'));
    identity = await tp.writeIdentityFile(dir, { user: FakeTeleport.PLUGIN_USER });
  });

  after(async () => {
    await plugin?.stop();
    await main?.close();
    await partners?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('announces and resolves in both workspaces, each with its own plugin data; the tables choose the adapters', async () => {
    const file = await configFile('two.toml', ['[instances]', 'slack-partners = "slack"']);
    plugin = await startWatching(tp, ['start', '-c', file], { cwd: testDir, env: { TELEPORT_PLUGIN_FAIL_FAST: '' } });
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['editor'], reason: 'partner incident' });
    await tp.waitFor(
      () => tp.admin.pluginData(id, 'slack')?.['announced'] === 'ok' && tp.admin.pluginData(id, 'slack-partners')?.['announced'] === 'ok',
      15_000,
      'a message in each workspace',
    );
    assert.equal(main.rootMessages('C0ACCESS01').length, 1);
    assert.equal(partners.rootMessages('C0PARTNER1').length, 1);
    const mainData = tp.admin.pluginData(id, 'slack');
    const partnerData = tp.admin.pluginData(id, 'slack-partners');
    assert.match(mainData?.['messages'] ?? '', /^C0ACCESS01\//, "slack's own messages");
    assert.match(partnerData?.['messages'] ?? '', /^C0PARTNER1\//, "slack-partners' own messages");

    await tp.admin.approve(id, { reason: 'ok' });
    await tp.waitFor(
      () => tp.admin.pluginData(id, 'slack')?.['resolution'] === 'APPROVED' && tp.admin.pluginData(id, 'slack-partners')?.['resolution'] === 'APPROVED',
      15_000,
      'both resolved',
    );
    assert.equal(main.rootMessages('C0ACCESS01')[0]!.updates >= 1 && partners.rootMessages('C0PARTNER1')[0]!.updates >= 1, true, 'both messages show the outcome');
    assert.equal(await plugin.stop(), 0, plugin.output);
    plugin = undefined;

    const check = new CliProcess(['check', '-c', file], { cwd: testDir });
    assert.equal(await check.exited, 0, check.output);
    assert.match(check.output, /slack-partners: setup\s+OK/);
    assert.match(check.output, /config\s+OK\s+.*: slack, slack-partners/);
  });

  it('an [instances] entry that cannot work stops the start with one line naming it', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['[instances]', 'slack-partners = "no-such-adapter"'], /\[instances\] slack-partners = "no-such-adapter": /],
      [['[instances]', 'slack-partners = 42'], /\[instances\] slack-partners: expected a string \(the adapter this instance runs/],
      [['[instances]', 'slack = "mattermost"', 'slack-partners = "slack"'], /\[instances\] slack.*not an adapter's own name/],
      [['[instances]', '"Bad Name" = "slack"', 'slack-partners = "slack"'], /\[instances\] Bad Name.*lower-case letters/],
    ];
    for (const [instances, expected] of cases) {
      const file = await configFile('bad.toml', instances);
      const cli = new CliProcess(['start', '-c', file], { cwd: testDir });
      assert.equal(await cli.exited, 1, cli.output);
      assert.match(cli.output, expected);
      assert.doesNotMatch(cli.output, /\n\s+at /, 'no stack trace for a config mistake');
    }
  });
});
