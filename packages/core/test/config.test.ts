import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCaptureLogger, isPluginError, loadConfig, parseConfig, parseDuration, redactString, selectPlugins, type LoadedConfig } from '../src/index.js';

// Tests run from dist/test; the fixtures stay in the source tree.
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const fixture = (name: string): string => path.join(FIXTURES, name);

const TELEPORT = '[teleport]\naddr = "localhost:3025"\nidentity = "/id"\n';

function parse(text: string, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  return parseConfig(text, 'plugin.toml', { env, cwd: '/srv/plugin' });
}

function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isPluginError(err, 'CONFIG'), `expected a CONFIG PluginError, got ${String(err)}`);
    assert.equal(err.userFacing, true);
    return err.message;
  }
  assert.fail('expected an error');
}

describe('example configs load unchanged', () => {
  test('the seed article plugin.toml', async () => {
    const cfg = await loadConfig(fixture('seed-slack.toml'), { env: {} });
    assert.equal(cfg.teleport.addr, 'teleport.example.com:443');
    assert.equal(cfg.teleport.identityFile, '/var/lib/teleport-plugins/access-plugin.pem');
    assert.equal(cfg.teleport.refreshIdentity, false);
    assert.equal(cfg.teleport.refreshIdentityIntervalMs, 60_000);
    assert.deepEqual(cfg.log, { output: 'stderr', severity: 'info', format: 'text' });
    assert.equal(cfg.http, undefined);
    assert.deepEqual(cfg.pluginSections, ['slack']);
    // What the slack adapter reads of it: the deprecated recipients still work, with a warning.
    const slack = cfg.section('slack');
    assert.equal(slack.secret('token', { required: true }), '<token-id>');
    assert.deepEqual(slack.stringList('recipients', { deprecated: 'use role_to_recipients' }), ['requests']);
    assert.deepEqual(cfg.reportUnknownKeys(), []);
    assert.match(cfg.warnings.join('\n'), /seed-slack\.toml:7: \[slack\] recipients: is deprecated: use role_to_recipients/);
  });

  test('slack (TLS trio, role_to_recipients, [review])', async () => {
    const cfg = await loadConfig(fixture('slack.toml'), { env: {}, tableOwners: { review: 'slack' } });
    assert.equal(cfg.teleport.identityFile, undefined);
    assert.equal(cfg.teleport.clientKey, '/var/lib/teleport/plugins/slack/auth.key');
    assert.equal(cfg.teleport.clientCrt, '/var/lib/teleport/plugins/slack/auth.crt');
    assert.equal(cfg.teleport.rootCas, '/var/lib/teleport/plugins/slack/auth.cas');
    assert.deepEqual(cfg.pluginSections, ['slack']);
    const slack = cfg.section('slack');
    assert.equal(slack.string('api_url', { aliases: ['apiurl'] }), 'https://slack.com/api/');
    assert.deepEqual(cfg.context.roleToRecipients(slack), {
      '*': ['admin-slack-channel'],
      dev: ['dev-slack-channel', 'admin@example.com'],
    });
    const review = cfg.context.root().section('review');
    assert.equal(review.bool('enabled', false), true);
    assert.equal(review.string('slack_user_id_trait'), 'slack_user_id');
  });

  test('slack as the Helm chart renders it', async () => {
    const cfg = await loadConfig(fixture('slack-helm.toml'), { env: {} });
    assert.equal(cfg.teleport.refreshIdentity, true);
    assert.equal(cfg.log.output, 'stdout');
    assert.deepEqual(cfg.pluginSections, ['slack']);
  });

  test('mattermost (deprecated auth_server)', async () => {
    const logger = createCaptureLogger();
    const cfg = await loadConfig(fixture('mattermost.toml'), { env: {}, logger });
    assert.equal(cfg.teleport.addr, 'example.com:3025');
    assert.equal(cfg.log.severity, 'debug');
    assert.deepEqual(cfg.pluginSections, ['mattermost']);
    assert.match(logger.entries.map((e) => e.message).join('\n'), /mattermost\.toml:2: \[teleport\] auth_server: is deprecated: use addr/);
  });

  test('jira ([http] with TLS files and basic auth, log to a file)', async () => {
    const cfg = await loadConfig(fixture('jira.toml'), { env: {} });
    assert.equal(cfg.teleport.refreshIdentityIntervalMs, 150_000);
    assert.deepEqual(cfg.http, {
      listenAddr: ':8081',
      publicAddr: 'https://example.com',
      httpsKeyFile: '/var/lib/teleport/plugins/jira/server.key',
      httpsCertFile: '/var/lib/teleport/plugins/jira/server.crt',
      basicAuth: { user: 'jira', password: 'jira-webhook-password' },
    });
    assert.deepEqual(cfg.log, { output: '/var/lib/teleport/jira.log', severity: 'warn', format: 'text' });
    assert.deepEqual(cfg.pluginSections, ['jira']);
    assert.equal(redactString('password is jira-webhook-password'), 'password is [redacted]');
  });

  test('pagerduty (untagged requestannotations table)', async () => {
    const cfg = await loadConfig(fixture('pagerduty.toml'), { env: {} });
    assert.deepEqual(cfg.pluginSections, ['pagerduty']);
    const annotations = cfg.section('pagerduty').section('requestannotations', { aliases: ['request_annotations'] });
    assert.equal(annotations.string('notify_service'), 'pagerduty_notify_service');
    assert.equal(annotations.string('services'), 'pagerduty_services');
  });

  test('email ([mailgun]/[smtp]/[delivery] imply the email plugin, as the adapter declares them)', async () => {
    const owners = { smtp: 'email', mailgun: 'email', delivery: 'email' };
    const cfg = await loadConfig(fixture('email.toml'), { env: {}, tableOwners: owners });
    assert.deepEqual(cfg.pluginSections, ['email']);
    // The core itself knows no adapter's tables.
    const bare = await loadConfig(fixture('email.toml'), { env: {} });
    assert.ok(bare.pluginSections.includes('smtp'));
    assert.equal(cfg.log.severity, 'error');
    const smtp = cfg.context.root().section('smtp');
    assert.equal(smtp.integer('port', { default: 587, min: 1, max: 65535 }), 587);
    assert.equal(smtp.oneOf('starttls_policy', ['mandatory', 'opportunistic', 'disabled'] as const, 'mandatory'), 'mandatory');
  });

  test('gitlab (credentials in public_addr, [db], empty log output)', async () => {
    const cfg = await loadConfig(fixture('gitlab.toml'), { env: {}, tableOwners: { db: 'gitlab' } });
    assert.deepEqual(cfg.pluginSections, ['gitlab']);
    assert.equal(cfg.http?.publicAddr, 'https://example.com');
    assert.deepEqual(cfg.http?.basicAuth, { user: 'gitlab-hook', password: 's3cret' });
    assert.deepEqual(cfg.log, { output: 'stdout', severity: 'trace', format: 'text' });
  });

  test('one file for several adapters', async () => {
    const cfg = await loadConfig(fixture('multi.toml'), { env: { SLACK_TOKEN: 'xoxb-from-env-123' } });
    assert.deepEqual(cfg.pluginSections, ['slack', 'pagerduty', 'jira']);
    assert.deepEqual(cfg.log, { output: 'stdout', severity: 'info', format: 'json' });
    assert.equal(cfg.http?.listenAddr, ':8443');
    assert.equal(cfg.http?.verifyClientCert, undefined);
    const slack = cfg.section('slack');
    assert.equal(slack.secret('token', { required: true }), 'xoxb-from-env-123');
    assert.equal(redactString('token xoxb-from-env-123 leaked'), 'token [redacted] leaked');
    // The plugin's own table wins; others fall back to the top-level map.
    assert.deepEqual(cfg.context.roleToRecipients(slack), {
      '*': ['slack-access-requests'],
      'db-admin': ['dba-team', 'oncall@example.com'],
    });
    assert.deepEqual(cfg.context.roleToRecipients(cfg.section('pagerduty')), { '*': ['access-requests'] });
    assert.deepEqual(selectPlugins([], cfg, {}), ['slack', 'pagerduty', 'jira']);
  });
});

describe('errors name the file, the line, the key and what was expected', () => {
  test('TOML syntax errors carry line and column', () => {
    const message = configErrorOf(() => parse('[teleport]\naddr = "x:1"\nidentity = \n'));
    assert.match(message, /^plugin\.toml:3:\d+: invalid TOML: /);
    assert.ok(!message.includes('\n'), 'one line');
  });

  test('wrong type', () => {
    const cfg = parse(`${TELEPORT}\n[slack]\n# the bot token\ntoken = 5\n`);
    const message = configErrorOf(() => cfg.section('slack').requireString('token', { description: 'the bot token, xoxb-...' }));
    assert.equal(message, 'plugin.toml:7: [slack] token: expected a string (the bot token, xoxb-...), got a number');
  });

  test('missing required key points at the table, or says the table is missing', () => {
    const cfg = parse(`${TELEPORT}\n[slack]\napiurl = "x"\n`);
    assert.equal(
      configErrorOf(() => cfg.section('slack').secret('token', { required: true, description: 'the bot token, xoxb-...' })),
      'plugin.toml:5: [slack] token: required (or token_file): the bot token, xoxb-...',
    );
    assert.match(
      configErrorOf(() => cfg.section('pagerduty').requireString('api_key')),
      /^plugin\.toml: \[pagerduty\] api_key: required.*the file has no \[pagerduty\] section$/,
    );
  });

  test('adapter errors through section.error()', () => {
    const cfg = parse(`${TELEPORT}[jira]\nurl = "http://jira.example.com"\nproject = 3\n`);
    const jira = cfg.section('jira');
    assert.equal(jira.error('url', 'a URL starting with https://').message, 'plugin.toml:5: [jira] url: expected a URL starting with https://, got "http://jira.example.com"');
    assert.equal(jira.error('project', 'must name a project key').message, 'plugin.toml:6: [jira] project: must name a project key, got a number');
    assert.equal(jira.error('username', 'is required').message, 'plugin.toml:4: [jira] username: is required');
  });

  test('values of other types', () => {
    const cfg = parse(`${TELEPORT}[x]\nflag = "yes"\nn = 1.5\nport = 70000\nwait = "soon"\nlist = [1, 2]\nmode = "maybe"\nsub = 3\n`);
    const x = cfg.section('x');
    assert.match(
      configErrorOf(() => x.bool('flag', false)),
      /:5: \[x\] flag: expected true or false, got "yes"$/,
    );
    assert.match(
      configErrorOf(() => x.integer('n')),
      /:6: \[x\] n: expected an integer, got a decimal number$/,
    );
    assert.match(
      configErrorOf(() => x.integer('port', { min: 1, max: 65535 })),
      /:7: \[x\] port: expected an integer between 1 and 65535, got 70000$/,
    );
    assert.match(
      configErrorOf(() => x.duration('wait', 1000)),
      /:8: \[x\] wait: expected a duration such as "30s".*got "soon"$/,
    );
    assert.match(
      configErrorOf(() => x.stringList('list')),
      /:9: \[x\] list: expected a string or an array of strings, got an array$/,
    );
    assert.match(
      configErrorOf(() => x.oneOf('mode', ['on', 'off'] as const, 'on')),
      /:10: \[x\] mode: expected one of "on" or "off", got "maybe"$/,
    );
    assert.match(
      configErrorOf(() => x.section('sub')),
      /:11: \[x\] sub: expected a table, got a number$/,
    );
  });

  test('an alias and its key with different values', () => {
    const cfg = parse(`${TELEPORT}[slack]\napi_url = "a"\napiurl = "b"\n`);
    assert.match(
      configErrorOf(() => cfg.section('slack').string('api_url', { aliases: ['apiurl'] })),
      /:6: \[slack\] apiurl: conflicts with api_url/,
    );
  });

  test('unknown keys are reported with the nearest valid key and their line', () => {
    const cfg = parse(`${TELEPORT}\n[log]\nseverty = "debug"\n\n[slack]\ntokn = "xoxb-1"\napi_url = "u"\n\n[slak]\ntoken = "x"\n\n[jira]\nurl = "u"\n`);
    const slack = cfg.section('slack');
    slack.secret('token');
    slack.string('api_url');
    const warnings = cfg.reportUnknownKeys();
    assert.deepEqual(warnings, [
      'plugin.toml:6: unknown key log.severty (did you mean log.severity?)',
      'plugin.toml:9: unknown key slack.tokn (did you mean slack.token?)',
      'plugin.toml:12: unknown table slak (did you mean slack?)',
    ]);
    // [jira] belongs to an adapter that is not running: not an unknown key, just unused.
    assert.deepEqual(cfg.unusedSections(), ['slak', 'jira']);
  });

  test('warnings wait for a logger, then go to it', () => {
    const cfg = parse(`[teleport]\nauth_server = "a:1"\nidentity = "/id"\n`);
    const logger = createCaptureLogger();
    cfg.useLogger(logger);
    assert.deepEqual(
      logger.entries.map((e) => [e.level, e.message]),
      [['warn', 'plugin.toml:2: [teleport] auth_server: is deprecated: use addr']],
    );
  });

  test("adapters' context logger queues until a logger is attached", () => {
    const cfg = parse(`${TELEPORT}[slack]\n`);
    cfg.context.logger.info('parsed slack', { channels: 2 });
    const logger = createCaptureLogger();
    cfg.useLogger(logger);
    cfg.context.logger.child({ adapter: 'slack' }).debug('later');
    assert.deepEqual(
      logger.entries.map((e) => [e.level, e.message, e.fields]),
      [
        ['info', 'parsed slack', { channels: 2 }],
        ['debug', 'later', { adapter: 'slack' }],
      ],
    );
  });

  test('a file that is not UTF-8 names the line and byte offset of the first bad byte', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-config-'));
    const expectError = async (file: string, message: string): Promise<void> => {
      await assert.rejects(loadConfig(file, { env: {} }), (err: unknown) => {
        assert.ok(isPluginError(err, 'CONFIG'), String(err));
        assert.equal(err.userFacing, true);
        assert.equal(err.message, message);
        return true;
      });
    };
    try {
      // A raw 0xFF inside a string value on line 7 (before the fix: read as U+FFFD, and the
      // failure was blamed on api_url by whoever parsed it).
      const head = Buffer.from(`${TELEPORT}\n[slack]\ntoken = "xoxb-1"\napi_url = "https://slack.example.com/`);
      const bad = path.join(dir, 'bad-byte.toml');
      await fs.writeFile(bad, Buffer.concat([head, Buffer.from([0xff]), Buffer.from('"\n')]));
      await expectError(bad, `${bad}:7: not valid UTF-8 (byte 0xFF at byte offset ${head.length}); save the file as UTF-8`);

      // Latin-1 "café" in a comment: the offset is the start of the broken sequence.
      const latin1 = path.join(dir, 'latin1.toml');
      await fs.writeFile(latin1, Buffer.concat([Buffer.from('# caf'), Buffer.from([0xe9]), Buffer.from(`\n${TELEPORT}`)]));
      await expectError(latin1, `${latin1}:1: not valid UTF-8 (byte 0xE9 at byte offset 5); save the file as UTF-8`);

      // Notepad's "Unicode" is UTF-16: say so instead of pointing at byte 0.
      const utf16 = path.join(dir, 'utf16.toml');
      await fs.writeFile(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(TELEPORT, 'utf16le')]));
      await expectError(utf16, `${utf16}:1: not valid UTF-8 (the file is UTF-16: it starts with a UTF-16 byte-order mark); save the file as UTF-8`);

      // Valid UTF-8, with a byte-order mark and characters beyond ASCII, still loads.
      const good = path.join(dir, 'good.toml');
      await fs.writeFile(good, `\uFEFF# café ☕ 𝄞\n${TELEPORT}[x]\nname = "Zoë"\n`);
      const cfg = await loadConfig(good, { env: {} });
      assert.equal(cfg.section('x').string('name'), 'Zoë');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a missing file', async () => {
    await assert.rejects(loadConfig('/nonexistent/teleport-plugin.toml'), (err: unknown) => {
      assert.ok(isPluginError(err, 'CONFIG'));
      assert.equal(err.message, 'cannot read config file /nonexistent/teleport-plugin.toml: no such file (pass the path with -c/--config)');
      return true;
    });
  });
});

describe('[teleport]', () => {
  test('defaults', () => {
    const cfg = parse('[teleport]\nidentity = "id.pem"\n');
    assert.equal(cfg.teleport.addr, 'localhost:3025');
    assert.equal(cfg.teleport.identityFile, '/srv/plugin/id.pem', 'relative paths resolve against the working directory');
  });

  test('auth_server and addr must agree', () => {
    assert.equal(parse('[teleport]\naddr = "a:1"\nauth_server = "a:1"\nidentity = "/i"\n').teleport.addr, 'a:1');
    assert.match(
      configErrorOf(() => parse('[teleport]\naddr = "a:1"\nauth_server = "b:2"\nidentity = "/i"\n')),
      /^plugin\.toml:3: \[teleport\] auth_server: conflicts with addr \("a:1"\)/,
    );
  });

  test('an address with a scheme', () => {
    assert.match(
      configErrorOf(() => parse('[teleport]\naddr = "https://t.example.com"\nidentity = "/i"\n')),
      /:2: \[teleport\] addr: expected host:port without a scheme/,
    );
  });

  test('a port out of range or not a number is a config error at load time', () => {
    for (const addr of ['auth.example.com:70000', 'auth.example.com:0', 'auth.example.com:-5', 'auth.example.com:abc', 'auth.example.com:', '[::1]:65536']) {
      assert.equal(
        configErrorOf(() => parse(`[teleport]\naddr = "${addr}"\nidentity = "/i"\n`)),
        `plugin.toml:2: [teleport] addr: expected host:port with a port between 1 and 65535, got ${JSON.stringify(addr)}`,
      );
    }
    // The deprecated alias is checked the same way, under the name the file uses.
    assert.equal(
      configErrorOf(() => parse('[teleport]\nidentity = "/i"\nauth_server = "auth.example.com:99999"\n')),
      'plugin.toml:3: [teleport] auth_server: expected host:port with a port between 1 and 65535, got "auth.example.com:99999"',
    );
    assert.equal(
      configErrorOf(() => parse('[teleport]\naddr = ":3025"\nidentity = "/i"\n')),
      'plugin.toml:2: [teleport] addr: expected host:port with a host name before the port, got ":3025"',
    );
    // Without a port the dialer uses auth's 3025, as before; bracketed and bare IPv6 still load.
    for (const addr of ['auth.example.com', 'auth.example.com:1', 'auth.example.com:65535', '[::1]:3025', '::1', '[::1]']) {
      assert.equal(parse(`[teleport]\naddr = "${addr}"\nidentity = "/i"\n`).teleport.addr, addr);
    }
  });

  test('credentials: identity xor the trio', () => {
    assert.equal(
      configErrorOf(() => parse('[teleport]\naddr = "a:1"\n')),
      'plugin.toml:1: [teleport]: no credentials configured: set identity = "/path/to/identity" (from "tctl auth sign --format=file" or tbot), or client_key, client_crt and root_cas',
    );
    assert.match(
      configErrorOf(() => parse('x = 1\n')),
      /^plugin\.toml: \[teleport\]: no credentials configured/,
    );
    assert.equal(
      configErrorOf(() => parse('[teleport]\nclient_crt = "/c"\n')),
      'plugin.toml:2: [teleport] client_crt: client_key, client_crt and root_cas must be set together: client_crt is set but client_key and root_cas are missing',
    );
    assert.match(
      configErrorOf(() => parse('[teleport]\nclient_key = "/k"\nclient_crt = "/c"\n')),
      /client_key and client_crt are set but root_cas is missing$/,
    );
    assert.match(
      configErrorOf(() => parse('[teleport]\nidentity = "/i"\nclient_crt = "/c"\n')),
      /^plugin\.toml:3: \[teleport\] client_crt: cannot be combined with identity/,
    );
  });

  test('refresh_identity needs identity; interval is a duration', () => {
    assert.match(
      configErrorOf(() => parse('[teleport]\nclient_key = "/k"\nclient_crt = "/c"\nroot_cas = "/r"\nrefresh_identity = true\n')),
      /:5: \[teleport\] refresh_identity: requires identity/,
    );
    const cfg = parse('[teleport]\nidentity = "/i"\nrefresh_identity = true\nrefresh_identity_interval = "10s"\n');
    assert.equal(cfg.teleport.refreshIdentity, true);
    assert.equal(cfg.teleport.refreshIdentityIntervalMs, 10_000);
  });
});

describe('[log] and [http]', () => {
  test('output and severity spellings', () => {
    const cases: Array<[string, string]> = [
      ['stderr', 'stderr'],
      ['error', 'stderr'],
      ['2', 'stderr'],
      ['stdout', 'stdout'],
      ['out', 'stdout'],
      ['1', 'stdout'],
      ['', 'stdout'],
      ['/var/log/tp.log', '/var/log/tp.log'],
    ];
    for (const [given, want] of cases) assert.equal(parse(`${TELEPORT}[log]\noutput = "${given}"\n`).log.output, want, given);
    const sev: Array<[string, string]> = [
      ['INFO', 'info'],
      ['err', 'error'],
      ['Error', 'error'],
      ['DEBUG', 'debug'],
      ['warn', 'warn'],
      ['WARNING', 'warn'],
      ['Trace', 'trace'],
    ];
    for (const [given, want] of sev) assert.equal(parse(`${TELEPORT}[log]\nseverity = "${given}"\n`).log.severity, want, given);
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[log]\nseverity = "loud"\n`)),
      /:5: \[log\] severity: expected one of "info", "error", "warn", "debug" or "trace" \(any case\), got "loud"/,
    );
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[log]\nformat = "xml"\n`)),
      /:5: \[log\] format: expected one of "text" or "json", got "xml"/,
    );
  });

  test('https key and cert: both or neither; basic auth rules', () => {
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[http]\nhttps_cert_file = "/c"\n`)),
      /:5: \[http\] https_cert_file: requires https_key_file too/,
    );
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[http.basic_auth]\npassword = "p4ssw0rd"\n`)),
      /:5: \[http\.basic_auth\] password: requires user/,
    );
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[http]\npublic_addr = "https://u:p@h"\nbasic_auth = { user = "x", password = "yyyy" }\n`)),
      /:6: \[http\.basic_auth\] user: cannot be combined with credentials in http\.public_addr/,
    );
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[http]\npublic_addr = "ftp://h"\n`)),
      /:5: \[http\] public_addr: expected an http or https URL/,
    );
    assert.deepEqual(parse(`${TELEPORT}[http]\n`).http, { listenAddr: ':8081' });
  });

  test('client certificates: tls.verify_client_cert with tls.client_ca_file', () => {
    const cfg = parse(`${TELEPORT}[http]\nhttps_key_file = "/k"\nhttps_cert_file = "/c"\n[http.tls]\nverify_client_cert = true\nclient_ca_file = "/etc/tls/clients.pem"\n`);
    assert.equal(cfg.http?.verifyClientCert, true);
    assert.equal(cfg.http?.clientCaFile, '/etc/tls/clients.pem');
    assert.deepEqual(cfg.reportUnknownKeys(), []);
    assert.match(
      configErrorOf(() => parse(`${TELEPORT}[http]\ntls = { client_ca_file = "/ca.pem" }\n`)),
      /^plugin\.toml:5: \[http\.tls\] client_ca_file: requires verify_client_cert = true/,
    );
  });
});

describe('secrets', () => {
  test('from a file (value starting with "/", or <key>_file), trimmed and redacted', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-config-'));
    try {
      const file = path.join(dir, 'token');
      await fs.writeFile(file, '  xoxb-file-secret-1\n');
      const cfg = parse(`${TELEPORT}[slack]\ntoken = "${file}"\n[pagerduty]\napi_key_file = "${file}"\n`);
      assert.equal(cfg.section('slack').secret('token'), 'xoxb-file-secret-1');
      assert.equal(cfg.section('pagerduty').secret('api_key'), 'xoxb-file-secret-1');
      assert.equal(redactString('sent xoxb-file-secret-1'), 'sent [redacted]');
      assert.deepEqual(cfg.reportUnknownKeys(), []);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('unreadable files and unset variables name the key', () => {
    const cfg = parse(`${TELEPORT}[slack]\ntoken = "/nonexistent/slack-token"\n[x]\nkey = "env:NOPE_NOT_SET"\n[y]\npassword = "p"\npassword_file = "/p"\n`);
    assert.equal(
      configErrorOf(() => cfg.section('slack').secret('token')),
      'plugin.toml:5: [slack] token: cannot read secret file /nonexistent/slack-token: no such file',
    );
    assert.equal(
      configErrorOf(() => cfg.section('x').secret('key')),
      'plugin.toml:7: [x] key: environment variable NOPE_NOT_SET is not set',
    );
    assert.match(
      configErrorOf(() => cfg.section('y').secret('password')),
      /:10: \[y\] password_file: cannot be combined with password/,
    );
  });

  test('a secret is never echoed in a type error', () => {
    const cfg = parse(`${TELEPORT}[x]\ntoken = ["s3cr3t-value"]\n`);
    const message = configErrorOf(() => cfg.section('x').secret('token'));
    assert.ok(!message.includes('s3cr3t'), message);
  });
});

describe('helpers', () => {
  test('selectPlugins: --plugin, then TELEPORT_PLUGINS, then the file', () => {
    const cfg = { pluginSections: ['slack', 'jira'], file: 'plugin.toml' };
    assert.deepEqual(selectPlugins(['pagerduty', 'slack', 'pagerduty'], cfg, { TELEPORT_PLUGINS: 'x' }), ['pagerduty', 'slack']);
    assert.deepEqual(selectPlugins([], cfg, { TELEPORT_PLUGINS: ' slack , email ,' }), ['slack', 'email']);
    assert.deepEqual(selectPlugins([], cfg, {}), ['slack', 'jira']);
    assert.throws(() => selectPlugins([], { pluginSections: [], file: 'plugin.toml' }, {}), /no plugin selected: pass --plugin NAME.*\[slack\] to plugin\.toml/);
  });

  test('Go durations', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('10'), undefined);
    assert.equal(parseDuration('-1s'), undefined);
  });

  test('positions survive inline tables, multi-line strings and arrays', () => {
    const text = [
      TELEPORT.trimEnd(),
      '[a]',
      'text = """',
      'token = not a key',
      '"""',
      'list = [',
      '  "x", # comment',
      '  "y",',
      ']',
      'inline = { k = 1, "quoted key" = 2 }',
      'bad = 5',
      '[a.sub]',
      'deep.er = true',
    ].join('\n');
    const cfg = parse(text);
    const a = cfg.section('a');
    assert.match(a.error('bad', 'a string').message, /^plugin\.toml:13: /);
    assert.match(a.section('inline').error('k', 'x').message, /^plugin\.toml:12: \[a\.inline\] k/);
    assert.match(a.section('sub').section('deep').error('er', 'x').message, /^plugin\.toml:15: \[a\.sub\.deep\] er/);
    assert.match(a.error('token', 'x').message, /^plugin\.toml:4: \[a\] token/, 'a key that is not there points at its table');
  });
});
