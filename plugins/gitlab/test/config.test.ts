import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { isPluginError, parseConfig, redactString } from '@teleport-plugin/core';
import { DB_DEPRECATION, DEFAULT_GITLAB_URL, GITLAB_TABLES, exampleConfig, parseGitlabConfig } from '../src/config.js';

const HEADER = '[teleport]\naddr = "127.0.0.1:3025"\nidentity = "/var/lib/teleport/plugins/identity"\n\n';
const HTTP = '[http]\npublic_addr = "https://plugins.example.com"\n';
const FIXTURE = fileURLToPath(new URL('../../../../packages/core/test/fixtures/gitlab.toml', import.meta.url));

function load(body: string, file = 'plugin.toml') {
  const loaded = parseConfig(HEADER + body, file);
  const config = parseGitlabConfig(loaded.section('gitlab'), loaded.context);
  return { config, loaded };
}

function parse(body: string) {
  return load(body).config;
}

/** Each needle must appear in the error message, which must also name the file. */
function expectConfigError(body: string, ...needles: string[]): void {
  assert.throws(
    () => parse(body),
    (err: unknown) => {
      assert.ok(isPluginError(err, 'CONFIG'), `not a CONFIG PluginError: ${String(err)}`);
      assert.equal(err.userFacing, true);
      assert.ok(err.message.startsWith('plugin.toml:'), `"${err.message}" does not name the file and line`);
      for (const n of needles) assert.ok(err.message.includes(n), `"${err.message}" lacks "${n}"`);
      return true;
    },
  );
}

test('the Go fixture (with [db]) loads unchanged; [db] is read, ignored, and warned about', () => {
  const text = fs.readFileSync(FIXTURE, 'utf8');
  const loaded = parseConfig(text, 'gitlab.toml');
  const c = parseGitlabConfig(loaded.section('gitlab'), loaded.context);
  assert.equal(c.url, DEFAULT_GITLAB_URL, 'url = "" means gitlab.com, as upstream');
  assert.equal(c.token, 'token');
  assert.equal(c.projectId, '1812345');
  assert.equal(c.webhookSecret, 'your webhook passphrase');
  // public_addr carries basic auth: GitLab must send it, so the hook URL keeps it (as upstream).
  assert.equal(c.webhookUrl, 'https://gitlab-hook:s3cret@example.com/gitlab/webhook');
  assert.equal(c.webhookUrlRedacted, 'https://gitlab-hook:REDACTED@example.com/gitlab/webhook');
  assert.equal(c.upstreamWebhookUrl, 'https://gitlab-hook:s3cret@example.com/webhook');
  assert.deepEqual(loaded.reportUnknownKeys(), [], 'every key of the Go file is read');
  const warning = loaded.warnings.find((w) => w.includes('[db]'));
  assert.ok(warning, `no [db] warning in ${JSON.stringify(loaded.warnings)}`);
  assert.match(warning, /^gitlab\.toml:\d+: \[db\] path: /);
  assert.ok(warning.endsWith(DB_DEPRECATION));
  assert.deepEqual(GITLAB_TABLES, ['db']);
});

test('without [db] there is no warning; secrets are redacted from logs', () => {
  const { config, loaded } = load(`[gitlab]\ntoken = "glpat-secret-123"\nproject_id = "group/project"\nwebhook_secret = "hook-pass"\n${HTTP}`);
  assert.equal(loaded.warnings.length, 0);
  assert.equal(config.projectId, 'group/project');
  assert.equal(config.webhookUrl, 'https://plugins.example.com/gitlab/webhook');
  assert.equal(config.upstreamWebhookUrl, 'https://plugins.example.com/webhook');
  assert.ok(!redactString('token glpat-secret-123 and hook-pass').includes('glpat-secret-123'));
  assert.ok(!redactString('hook-pass').includes('hook-pass'));
});

test('url: self-managed, trailing slash and /api/v4 trimmed (with a warning), relative root kept', () => {
  assert.equal(parse(`[gitlab]\nurl = "https://gitlab.example.com/"\ntoken = "t"\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`).url, 'https://gitlab.example.com');
  assert.equal(parse(`[gitlab]\nurl = "http://10.0.0.5:8080/gitlab"\ntoken = "t"\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`).url, 'http://10.0.0.5:8080/gitlab');
  const { config, loaded } = load(`[gitlab]\nurl = "https://gitlab.example.com/api/v4/"\ntoken = "t"\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`);
  assert.equal(config.url, 'https://gitlab.example.com');
  assert.ok(
    loaded.warnings.some((w) => w.includes('[gitlab] url') && w.includes('without /api/v4')),
    JSON.stringify(loaded.warnings),
  );
  assert.equal(parse(`[gitlab]\ntoken = "t"\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`).url, DEFAULT_GITLAB_URL);
});

test('project_id: a string of digits, a TOML integer, or a path (slashes trimmed)', () => {
  assert.equal(parse(`[gitlab]\ntoken = "t"\nproject_id = 1812345\nwebhook_secret = "s"\n${HTTP}`).projectId, '1812345');
  assert.equal(parse(`[gitlab]\ntoken = "t"\nproject_id = "/ops/sub.group/access-requests/"\nwebhook_secret = "s"\n${HTTP}`).projectId, 'ops/sub.group/access-requests');
});

test('public_addr: no scheme means https; a path prefix is kept; the webhook goes under /gitlab', () => {
  const c = parse(`[gitlab]\ntoken = "t"\nproject_id = "7"\nwebhook_secret = "s"\n[http]\npublic_addr = "proxy.example.com:8443/teleport/"\n`);
  assert.equal(c.webhookUrl, 'https://proxy.example.com:8443/teleport/gitlab/webhook');
  assert.equal(c.upstreamWebhookUrl, 'https://proxy.example.com:8443/teleport/webhook');
});

test('secrets from files (upstream "/path") and the <key>_file form', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-config-'));
  try {
    const tokenFile = path.join(dir, 'token');
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(tokenFile, 'glpat-from-file\n');
    fs.writeFileSync(secretFile, 'hook-from-file\n');
    const c = parse(`[gitlab]\ntoken = "${tokenFile}"\nproject_id = "7"\nwebhook_secret_file = "${secretFile}"\n${HTTP}`);
    assert.equal(c.token, 'glpat-from-file');
    assert.equal(c.webhookSecret, 'hook-from-file');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mistakes name the file, the line, the key and what was expected', () => {
  const ok = 'token = "t"\nproject_id = "7"\nwebhook_secret = "s"\n';
  expectConfigError(`[gitlab]\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] token', 'required', 'api scope');
  expectConfigError(`[gitlab]\ntoken = "t"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] project_id', 'required', 'group/project');
  expectConfigError(`[gitlab]\ntoken = "t"\nproject_id = "7"\n${HTTP}`, '[gitlab] webhook_secret', 'required', 'X-Gitlab-Token');
  expectConfigError(`[gitlab]\n${ok}`, '[http] public_addr', 'required', '/gitlab/webhook');
  expectConfigError(`[gitlab]\n${ok}[http]\nlisten_addr = ":8081"\n`, '[http] public_addr', 'required');
  expectConfigError(`[gitlab]\nurl = "ftp://gitlab.example.com"\n${ok}${HTTP}`, '[gitlab] url', 'http(s) URL', 'got "ftp://gitlab.example.com"');
  expectConfigError(`[gitlab]\nurl = "not a url"\n${ok}${HTTP}`, '[gitlab] url', 'http(s) URL');
  expectConfigError(`[gitlab]\nurl = "https://bot:pw@gitlab.example.com"\n${ok}${HTTP}`, '[gitlab] url', 'without credentials');
  expectConfigError(`[gitlab]\ntoken = "t"\nproject_id = "https://gitlab.com/group/project"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] project_id', 'not its URL');
  expectConfigError(`[gitlab]\ntoken = "t"\nproject_id = "no spaces allowed"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] project_id', 'full path');
  expectConfigError(`[gitlab]\ntoken = "t"\nproject_id = "0"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] project_id');
  expectConfigError(`[gitlab]\ntoken = "t"\nproject_id = true\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] project_id', 'got a boolean');
  expectConfigError(`[gitlab]\ntoken = "t"\nproject_id = -4\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] project_id');
  expectConfigError(`[gitlab]\ntoken = 42\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] token', 'expected a string');
  expectConfigError(`[gitlab]\ntoken = "/nonexistent/gitlab-token"\nproject_id = "7"\nwebhook_secret = "s"\n${HTTP}`, '[gitlab] token', 'cannot read secret file', 'no such file');
});

test('line numbers point at the offending key', () => {
  assert.throws(
    () => parse(`[gitlab]\ntoken = "t"\nproject_id = "bad id"\nwebhook_secret = "s"\n${HTTP}`),
    (err: unknown) => isPluginError(err) && /^plugin\.toml:7: \[gitlab\] project_id:/.test(err.message),
  );
});

test('the example config parses (with its token file present) and uses only known keys', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-example-'));
  try {
    const tokenFile = path.join(dir, 'token');
    fs.writeFileSync(tokenFile, 'glpat-example\n');
    const text = exampleConfig().replace('/var/lib/teleport/plugins/gitlab/token', tokenFile);
    const loaded = parseConfig(HEADER + text, 'example.toml');
    const c = parseGitlabConfig(loaded.section('gitlab'), loaded.context);
    assert.equal(c.token, 'glpat-example');
    assert.equal(c.projectId, '1812345');
    assert.equal(c.webhookUrl, 'https://teleport-plugins.example.com/gitlab/webhook');
    assert.deepEqual(loaded.reportUnknownKeys(), []);
    assert.equal(loaded.warnings.length, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('[http.basic_auth] protects the server but is not handed to GitLab: the hook authenticates by its token', () => {
  const c = parse(
    `[gitlab]\ntoken = "t"\nproject_id = "7"\nwebhook_secret = "s"\n[http]\npublic_addr = "https://plugins.example.com"\n[http.basic_auth]\nuser = "ops"\npassword = "pw"\n`,
  );
  assert.equal(c.webhookUrl, 'https://plugins.example.com/gitlab/webhook');
});

test('package.json declares the top-level tables the adapter reads ([db])', () => {
  const pkg = JSON.parse(fs.readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { teleportPlugin?: { tables?: string[] } };
  assert.deepEqual(pkg.teleportPlugin?.tables, [...GITLAB_TABLES]);
});
