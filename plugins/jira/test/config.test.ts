import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isPluginError, parseConfig } from '@teleport-plugin/core';
import { describeWebhookAuth, exampleConfig, parseJiraConfig } from '../src/config.js';

const TELEPORT = '[teleport]\naddr = "127.0.0.1:3025"\nidentity = "/var/lib/teleport/plugins/identity"\n\n';
const BASE = '[jira]\nurl = "https://example.atlassian.net"\nusername = "bot@example.com"\napi_token = "tok"\nproject = "REQ"\n';
const SECRET = 'webhook_secret = "a-long-webhook-secret"\n';

function load(body: string, env: NodeJS.ProcessEnv = {}) {
  return parseConfig(`${TELEPORT}${body}`, 'plugin.toml', { env });
}

function parse(body: string, env: NodeJS.ProcessEnv = {}) {
  const loaded = load(body, env);
  return parseJiraConfig(loaded.section('jira'), loaded.context);
}

function expectConfigError(body: string, ...needles: string[]): void {
  assert.throws(
    () => parse(body),
    (err: unknown) => {
      assert.ok(isPluginError(err, 'CONFIG'), `not a CONFIG PluginError: ${String(err)}`);
      assert.ok(err.message.startsWith('plugin.toml:'), `"${err.message}" does not name the file`);
      for (const n of needles) assert.ok(err.message.includes(n), `"${err.message}" lacks "${n}"`);
      return true;
    },
  );
}

test('the Go fixture loads unchanged (its webhook is protected by [http] basic_auth)', () => {
  const fixture = fileURLToPath(new URL('../../../../packages/core/test/fixtures/jira.toml', import.meta.url));
  const loaded = parseConfig(fs.readFileSync(fixture, 'utf8'), fixture, { env: {} });
  const c = parseJiraConfig(loaded.section('jira'), loaded.context);
  assert.equal(c.url, 'https://example.atlassian.net');
  assert.equal(c.username, 'bot@example.com');
  assert.equal(c.apiToken, 'token');
  assert.equal(c.project, 'REQUESTS');
  assert.equal(c.issueType, 'Task');
  assert.deepEqual(c.webhook, {
    secret: undefined,
    token: undefined,
    basicAuth: { user: 'jira', password: 'jira-webhook-password' },
    clientCert: false,
    allowUnauthenticated: false,
  });
  assert.deepEqual(loaded.reportUnknownKeys(), []);
  assert.deepEqual(loaded.warnings, []);
});

test('defaults as the Go plugin: issue_type Task, project not required at load time', () => {
  const c = parse('[jira]\nurl = "https://jira.example.com/jira/"\nusername = "jira-bot"\napi_token = "pw"\n' + SECRET);
  assert.equal(c.url, 'https://jira.example.com/jira', 'context path kept, trailing slash dropped');
  assert.equal(c.issueType, 'Task');
  assert.equal(c.project, '');
  assert.equal(c.webhook.secret, 'a-long-webhook-secret');
});

test('api_token and webhook secrets: inline, /path, env:NAME and <key>_file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jira-config-'));
  try {
    const tokenFile = path.join(dir, 'token');
    const secretFile = path.join(dir, 'secret');
    fs.writeFileSync(tokenFile, 'file-token\n');
    fs.writeFileSync(secretFile, 'file-webhook-secret\n');
    const fromPath = parse(`[jira]\nurl = "https://x.atlassian.net"\nusername = "u"\napi_token = "${tokenFile}"\nwebhook_secret = "${secretFile}"\n`);
    assert.equal(fromPath.apiToken, 'file-token');
    assert.equal(fromPath.webhook.secret, 'file-webhook-secret');

    const fromEnv = parse('[jira]\nurl = "https://x.atlassian.net"\nusername = "u"\napi_token = "env:JIRA_TOKEN"\nwebhook_token = "env:JIRA_HOOK"\n', {
      JIRA_TOKEN: 'env-token',
      JIRA_HOOK: 'Url-Safe_token.0123456789~',
    });
    assert.equal(fromEnv.apiToken, 'env-token');
    assert.equal(fromEnv.webhook.token, 'Url-Safe_token.0123456789~');

    const fromFileKey = parse(`[jira]\nurl = "https://x.atlassian.net"\nusername = "u"\napi_token_file = "${tokenFile}"\nwebhook_secret_file = "${secretFile}"\n`);
    assert.equal(fromFileKey.apiToken, 'file-token');
    assert.equal(fromFileKey.webhook.secret, 'file-webhook-secret');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('webhook authentication: any one way is enough', () => {
  const viaToken = parse(`${BASE}webhook_token = "0123456789abcdefXYZ"\n`);
  assert.equal(viaToken.webhook.token, '0123456789abcdefXYZ');

  const viaUrlCredentials = parse(`${BASE}[http]\npublic_addr = "https://jira:pw@plugins.example.com"\n`);
  assert.deepEqual(viaUrlCredentials.webhook.basicAuth, { user: 'jira', password: 'pw' });

  const viaClientCert = parse(`${BASE}[http]\nhttps_key_file = "/k"\nhttps_cert_file = "/c"\n[http.tls]\nverify_client_cert = true\n`);
  assert.equal(viaClientCert.webhook.clientCert, true);
  assert.equal(describeWebhookAuth(viaClientCert.webhook).ok, true);

  const both = parse(`${BASE}${SECRET}[http.basic_auth]\nuser = "jira"\npassword = "pw"\n`);
  assert.deepEqual(both.webhook.basicAuth, { user: 'jira', password: 'pw' });
  assert.equal(both.webhook.secret, 'a-long-webhook-secret');
  assert.match(describeWebhookAuth(both.webhook).detail, /X-Hub-Signature.*basic auth/);
});

test('the explicit opt-out loads with a warning, and check reports it', () => {
  const loaded = load(`${BASE}allow_unauthenticated_webhook = true\n`);
  const c = parseJiraConfig(loaded.section('jira'), loaded.context);
  assert.equal(c.webhook.allowUnauthenticated, true);
  assert.equal(loaded.warnings.length, 1);
  assert.match(loaded.warnings[0]!, /^plugin\.toml:\d+: \[jira\] allow_unauthenticated_webhook: .*without credentials/);
  const described = describeWebhookAuth(c.webhook);
  assert.equal(described.ok, false);
  assert.match(described.detail, /anyone who can reach it/);

  // With real authentication configured too, the opt-out changes nothing and says nothing.
  const quiet = load(`${BASE}${SECRET}allow_unauthenticated_webhook = true\n`);
  parseJiraConfig(quiet.section('jira'), quiet.context);
  assert.deepEqual(quiet.warnings, []);
});

test('no webhook authentication at all is refused, naming every way to fix it', () => {
  expectConfigError(BASE, '[jira] webhook_secret', 'requires webhook authentication', 'jira.webhook_token', 'basic_auth', 'allow_unauthenticated_webhook = true');
  // The Go example config has no basic auth: it needs one new line to load.
  expectConfigError(`${BASE}[http]\npublic_addr = "example.com"\n`, 'requires webhook authentication');
  expectConfigError(`${BASE}allow_unauthenticated_webhook = false\n`, 'requires webhook authentication');
});

test('mistakes name the key and what was expected', () => {
  expectConfigError(`[jira]\nusername = "u"\napi_token = "t"\n${SECRET}`, '[jira] url');
  expectConfigError(`[jira]\nurl = "http://x.atlassian.net"\nusername = "u"\napi_token = "t"\n${SECRET}`, '[jira] url', 'https://', 'got "http://x.atlassian.net"');
  // Plain http only for this machine (demos, local fakes): nothing travels over a network there.
  for (const local of ['http://127.0.0.1:8080', 'http://localhost:8080/jira', 'http://[::1]:8080']) {
    assert.equal(parse(`[jira]\nurl = "${local}"\nusername = "u"\napi_token = "t"\n${SECRET}`).url, local.replace(/\/$/, ''));
  }
  expectConfigError(`[jira]\nurl = "http://10.0.0.1"\nusername = "u"\napi_token = "t"\n${SECRET}`, '[jira] url', 'https://');
  expectConfigError(`[jira]\nurl = "not a url"\nusername = "u"\napi_token = "t"\n${SECRET}`, '[jira] url', 'https://');
  expectConfigError(`[jira]\nurl = "https://x.atlassian.net/?a=b"\nusername = "u"\napi_token = "t"\n${SECRET}`, '[jira] url', 'without a query');
  expectConfigError(`[jira]\nurl = "https://u:p@x.atlassian.net"\nusername = "u"\napi_token = "t"\n${SECRET}`, '[jira] url', 'without credentials');
  expectConfigError(`[jira]\nurl = "https://x.atlassian.net"\napi_token = "t"\n${SECRET}`, '[jira] username');
  expectConfigError(`[jira]\nurl = "https://x.atlassian.net"\nusername = "u"\n${SECRET}`, '[jira] api_token', 'api_token_file');
  expectConfigError(`[jira]\nurl = "https://x.atlassian.net"\nusername = "u"\napi_token = "env:NOPE_NOT_SET"\n${SECRET}`, 'NOPE_NOT_SET');
  expectConfigError(`${BASE}webhook_token = "short"\n`, '[jira] webhook_token', 'at least 16 characters');
  expectConfigError(`${BASE}webhook_token = "has spaces in it, far too many"\n`, '[jira] webhook_token');
  expectConfigError(`${BASE}webhook_secret = "tiny"\n`, '[jira] webhook_secret', 'at least 8 characters');
  expectConfigError(`${BASE}allow_unauthenticated_webhook = "yes"\n`, '[jira] allow_unauthenticated_webhook', 'true or false');
  expectConfigError(`${BASE}${SECRET}issue_type = 3\n`, '[jira] issue_type', 'a string');
});

test('the example config parses (secret files present) and uses only known keys', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jira-example-'));
  try {
    const tokenFile = path.join(dir, 'api-token');
    const secretFile = path.join(dir, 'webhook-secret');
    fs.writeFileSync(tokenFile, 'example-token\n');
    fs.writeFileSync(secretFile, 'example-webhook-secret\n');
    const text = exampleConfig().replace('/var/lib/teleport/plugins/jira/api-token', tokenFile).replace('/var/lib/teleport/plugins/jira/webhook-secret', secretFile);
    const loaded = parseConfig(`${TELEPORT}${text}`, 'example.toml', { env: {} });
    const c = parseJiraConfig(loaded.section('jira'), loaded.context);
    assert.equal(c.apiToken, 'example-token');
    assert.equal(c.webhook.secret, 'example-webhook-secret');
    assert.equal(c.project, 'MYPROJ');
    assert.equal(loaded.http?.listenAddr, ':8081');
    assert.deepEqual(loaded.reportUnknownKeys(), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
