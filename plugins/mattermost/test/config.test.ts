import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isPluginError, parseConfig } from '@teleport-plugin/core';
import { exampleConfig, parseMattermostConfig } from '../src/config.js';
import { parseRecipient, urlNameHint } from '../src/recipient.js';

let dir: string;
let identity: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mattermost-config-'));
  identity = join(dir, 'identity');
  await writeFile(identity, 'placeholder');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function loadText(text: string, env: NodeJS.ProcessEnv = {}) {
  const loaded = parseConfig(text, 'teleport-mattermost.toml', { cwd: dir, env });
  return { loaded, config: parseMattermostConfig(loaded.section('mattermost'), loaded.context) };
}

function load(body: string, env: NodeJS.ProcessEnv = {}) {
  return loadText(`[teleport]\naddr = "localhost:3025"\nidentity = ${JSON.stringify(identity)}\n\n${body}`, env);
}

function configError(body: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    load(body, env);
  } catch (err) {
    assert.ok(isPluginError(err, 'CONFIG'), `expected a CONFIG error, got ${String(err)}`);
    assert.equal(err.userFacing, true);
    return err.message;
  }
  assert.fail('expected a config error');
}

const BASE = '[mattermost]\nurl = "https://mm.example.com"\ntoken = "tok"\n';

describe('mattermost config', () => {
  it('loads the Go plugin fixture unchanged: recipients replace the role map, with a warning', async () => {
    const fixture = new URL('../../../../packages/core/test/fixtures/mattermost.toml', import.meta.url);
    const { loaded, config } = loadText(await readFile(fixture, 'utf8'));
    assert.equal(config.url, 'https://mattermost.example.com');
    assert.equal(config.token, 'api-token');
    assert.deepEqual(config.roleToRecipients, { '*': ['my-team/general', 'alice@example.com'] });
    assert.deepEqual(config.invalidRecipients, []);
    assert.equal(config.notifyRequester, true);
    assert.ok(
      loaded.warnings.some((w) => /teleport-mattermost\.toml:8: \[mattermost\] recipients: replaces the whole \[role_to_recipients\] table/.test(w)),
      loaded.warnings.join('\n'),
    );
    assert.deepEqual(loaded.reportUnknownKeys(), []);
  });

  it('the Helm chart layout: recipients only, token from a mounted file', async () => {
    const file = join(dir, 'mattermostToken');
    await writeFile(file, 'from-file\n');
    const { loaded, config } = load(`[mattermost]\nurl = "https://mm.example.com/"\ntoken = ${JSON.stringify(file)}\nrecipients = ["team/ch"]\n`);
    assert.equal(config.token, 'from-file');
    assert.equal(config.url, 'https://mm.example.com');
    assert.deepEqual(config.roleToRecipients, { '*': ['team/ch'] });
    assert.deepEqual(loaded.warnings, []);
  });

  it('uses role_to_recipients as it is when recipients is absent or empty; "*" is not required', () => {
    const { config } = load(`${BASE}recipients = []\n[role_to_recipients]\ndev = ["team/dev", "lead@example.com"]\nops = "ops@example.com"\n`);
    assert.deepEqual(config.roleToRecipients, { dev: ['team/dev', 'lead@example.com'], ops: ['ops@example.com'] });
  });

  it('reads [mattermost.role_to_recipients] before the top-level table', () => {
    const { config } = load(`${BASE}[mattermost.role_to_recipients]\n"*" = "team/own"\n[role_to_recipients]\n"*" = "team/top"\n`);
    assert.deepEqual(config.roleToRecipients, { '*': ['team/own'] });
  });

  it('no recipients at all is allowed (suggested reviewers only)', () => {
    const { config } = load(BASE);
    assert.deepEqual(config.roleToRecipients, {});
  });

  it('reads the token from env:NAME and from token_file; a subpath URL is kept', async () => {
    const fromEnv = load('[mattermost]\nurl = "http://127.0.0.1:8065/chat"\ntoken = "env:MM_TEST_TOKEN"\n', { MM_TEST_TOKEN: 'env-token' });
    assert.equal(fromEnv.config.token, 'env-token');
    assert.equal(fromEnv.config.url, 'http://127.0.0.1:8065/chat');
    const file = join(dir, 'token-file');
    await writeFile(file, 'file-token');
    const fromFile = load(`[mattermost]\nurl = "https://mm.example.com"\ntoken_file = ${JSON.stringify(file)}\n`);
    assert.equal(fromFile.config.token, 'file-token');
  });

  it('notify_requester can be turned off', () => {
    assert.equal(load(`${BASE}notify_requester = false\n`).config.notifyRequester, false);
  });

  it('a value that is neither an email nor team/channel is skipped with a warning naming it; the others are kept', () => {
    const { loaded, config } = load(`${BASE}[role_to_recipients]\n"*" = ["fallback", "team/ch", "a/b/c", "team/"]\ndev = ["x@example.com"]\n`);
    assert.deepEqual(config.roleToRecipients, { '*': ['team/ch'], dev: ['x@example.com'] });
    assert.deepEqual(config.invalidRecipients, ['fallback', 'a/b/c', 'team/']);
    const text = loaded.warnings.join('\n');
    assert.match(
      text,
      /\[role_to_recipients\] \*: "fallback" is neither a user's email nor a channel written as "team\/channel"; it is skipped \(the other recipients still get their posts\)/,
    );
    assert.match(text, /"a\/b\/c" is neither/);
    assert.match(text, /"team\/" is neither/);
  });

  it('warns when team/channel looks like display names', () => {
    const { loaded, config } = load(`${BASE}recipients = ["My Team/Town Square"]\n`);
    assert.deepEqual(config.roleToRecipients, { '*': ['My Team/Town Square'] });
    assert.match(loaded.warnings.join('\n'), /\[mattermost\] recipients: "My Team\/Town Square" does not look like URL names/);
  });

  it('names the key and what was expected for each mistake', () => {
    assert.match(configError('[mattermost]\ntoken = "t"\n'), /teleport-mattermost\.toml:\d+: \[mattermost\] url: required: the Mattermost server URL/);
    assert.match(configError('[mattermost]\nurl = "https://mm.example.com"\n'), /\[mattermost\] token: required \(or token_file\): the bot account's access token/);
    assert.match(
      configError('[mattermost]\nurl = "ftp://mm.example.com"\ntoken = "t"\n'),
      /:\d+: \[mattermost\] url: expected an http:\/\/ or https:\/\/ URL of the Mattermost server.*got "ftp:\/\/mm\.example\.com"/,
    );
    assert.match(configError('[mattermost]\nurl = "not a url"\ntoken = "t"\n'), /\[mattermost\] url: expected an http:\/\/ or https:\/\/ URL/);
    assert.match(
      configError('[mattermost]\nurl = "https://mm.example.com/api/v4/"\ntoken = "t"\n'),
      /\[mattermost\] url: expected the server base URL without \/api\/v4 \(the plugin adds it\)/,
    );
    assert.match(
      configError('[mattermost]\nurl = "https://mm.example.com/?x=1"\ntoken = "t"\n'),
      /\[mattermost\] url: expected the server base URL without credentials, query or fragment/,
    );
    assert.match(configError('[mattermost]\nurl = 42\ntoken = "t"\n'), /\[mattermost\] url: expected a string .*got a number/);
    assert.match(configError('[mattermost]\nurl = "https://mm.example.com"\ntoken = 7\n'), /\[mattermost\] token: expected a string/);
    assert.match(configError(`${BASE}recipients = 5\n`), /\[mattermost\] recipients: expected a string or an array of strings, got a number/);
    assert.match(configError(`${BASE}notify_requester = "yes"\n`), /\[mattermost\] notify_requester: expected true or false/);
    assert.match(configError(`${BASE}[role_to_recipients]\n"*" = 3\n`), /\[role_to_recipients\] \*: expected a string or an array of strings/);
    assert.match(
      configError('[mattermost]\nurl = "https://mm.example.com"\ntoken = "/nonexistent/mm-token"\n'),
      /\[mattermost\] token: cannot read secret file \/nonexistent\/mm-token: no such file/,
    );
    assert.match(configError('[mattermost]\nurl = "https://mm.example.com"\ntoken = "env:MM_UNSET_VAR"\n'), /\[mattermost\] token: environment variable MM_UNSET_VAR is not set/);
  });

  it('reports misspelt keys with the nearest valid one', () => {
    const { loaded } = load(`${BASE}recipents = ["team/ch"]\n`);
    assert.deepEqual(loaded.reportUnknownKeys(), ['teleport-mattermost.toml:8: unknown key mattermost.recipents (did you mean mattermost.recipients?)']);
  });

  it('the example config parses, with no unknown keys and no warnings', async () => {
    const file = join(dir, 'example-token');
    await writeFile(file, 'example');
    const text = `[teleport]\naddr = "localhost:3025"\nidentity = ${JSON.stringify(identity)}\n\n${exampleConfig().replace('/var/lib/teleport/plugins/mattermost/token', file)}`;
    const { loaded, config } = loadText(text);
    assert.equal(config.token, 'example');
    assert.deepEqual(config.roleToRecipients, { '*': ['my-team/access-requests'] });
    assert.deepEqual(loaded.reportUnknownKeys(), []);
    assert.deepEqual(loaded.warnings, []);
  });
});

describe('recipient forms', () => {
  it('tells emails, team/channel and anything else apart', () => {
    assert.deepEqual(parseRecipient(' first.last@example.com '), { kind: 'email', raw: 'first.last@example.com', email: 'first.last@example.com' });
    assert.deepEqual(parseRecipient('my-team/town-square'), { kind: 'channel', raw: 'my-team/town-square', team: 'my-team', channel: 'town-square' });
    for (const bad of ['fallback', 'a/b/c', '/x', 'x/', 'Alice <a@example.com>', '']) {
      assert.equal(parseRecipient(bad).kind, 'invalid', bad);
    }
    assert.equal(urlNameHint({ kind: 'channel', raw: 'team/ch.1_x-y', team: 'team', channel: 'ch.1_x-y' }), undefined);
  });
});
