import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '@teleport-plugin/core';
import { runCli, writeFixtureAdapter } from './helpers.js';

let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-cli-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** No line of a stack trace. */
function assertNoStack(text: string): void {
  assert.ok(!/^\s+at /m.test(text), `unexpected stack trace:\n${text}`);
}

describe('teleport-plugin (no Teleport needed)', () => {
  test('version prints the CLI, core and selected adapters', async () => {
    const adapter = await writeFixtureAdapter(dir, 'versioned');
    const r = await runCli(['version', '--plugin', adapter]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^teleport-plugin v\d+\.\d+\.\d+ \(node v\d+/);
    assert.match(lines[1] ?? '', /^@teleport-plugin\/core v\d+\.\d+\.\d+$/);
    assert.match(lines[2] ?? '', /v9\.9\.9 \(adapter "versioned"\)$/);
  });

  test('unknown command: exit 1, one line', async () => {
    const r = await runCli(['frobnicate']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'teleport-plugin: error: unknown command "frobnicate": expected start, check, configure, version, demo or explain (see teleport-plugin help)\n');
  });

  test('unknown flag: exit 1, one line naming it', async () => {
    const r = await runCli(['start', '--frob']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^teleport-plugin: error: start: Unknown option '--frob'/);
  });

  test('configure prints a config that loads', async () => {
    const adapter = await writeFixtureAdapter(dir, 'greeter');
    const r = await runCli(['configure', '--plugin', adapter]);
    assert.equal(r.code, 0, r.stderr);
    const cfg = parseConfig(r.stdout, 'generated.toml', { env: {} });
    assert.deepEqual(cfg.pluginSections, ['greeter']);
    assert.equal(cfg.teleport.addr, 'teleport.example.com:443');
    assert.equal(cfg.section('greeter').string('greeting'), 'hello');
  });

  test('configure without an example, or without --plugin', async () => {
    const adapter = await writeFixtureAdapter(dir, 'plain', { withExample: false });
    const r = await runCli(['configure', '--plugin', adapter]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'teleport-plugin: error: adapter "plain" provides no example configuration\n');
    const none = await runCli(['configure']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^teleport-plugin: error: configure: pass --plugin NAME/);
  });

  test('a bad config: exit 1, one line naming file, line and key, no stack', async () => {
    const adapter = await writeFixtureAdapter(dir, 'typo');
    const file = path.join(dir, 'bad.toml');
    await fs.writeFile(file, '[teleport]\naddr = "localhost:3025"\nidentity = "/nonexistent/identity"\n\n[typo]\ngreeting = 42\n');
    const r = await runCli(['start', '-c', file, '--plugin', adapter]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `teleport-plugin: error: ${file}:6: [typo] greeting: expected a string (a word to log), got a number\n`);
    assertNoStack(r.stderr);

    const teleportErr = path.join(dir, 'bad-teleport.toml');
    await fs.writeFile(teleportErr, '[teleport]\naddr = "localhost:3025"\nclient_key = "/k"\n');
    const t = await runCli(['start', '-c', teleportErr]);
    assert.equal(t.code, 1);
    assert.match(
      t.stderr,
      /^teleport-plugin: error: .*bad-teleport\.toml:3: \[teleport\] client_key: client_key, client_crt and root_cas must be set together: client_key is set but client_crt and root_cas are missing\n$/,
    );
  });

  test('teleport.addr with a port out of range: exit 1, one line naming file, line and key, no stack', async () => {
    const file = path.join(dir, 'bad-port.toml');
    // The identity does not exist: failing on the port proves the address is checked while loading.
    await fs.writeFile(file, '[teleport]\naddr = "teleport.example.com:70000"\nidentity = "/nonexistent/identity"\n');
    const r = await runCli(['start', '-c', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `teleport-plugin: error: ${file}:2: [teleport] addr: expected host:port with a port between 1 and 65535, got "teleport.example.com:70000"\n`);
    assertNoStack(r.stderr);
  });

  test('syntax errors and a missing file', async () => {
    const file = path.join(dir, 'syntax.toml');
    await fs.writeFile(file, '[teleport]\naddr = "x:1\n');
    const r = await runCli(['start', '--config', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^teleport-plugin: error: .*syntax\.toml:2:\d+: invalid TOML: .*\n$/);
    const missing = await runCli(['start', '-c', path.join(dir, 'nope.toml')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^teleport-plugin: error: cannot read config file .*nope\.toml: no such file \(pass the path with -c\/--config\)\n$/);
  });

  test('[http] without a certificate: exit 1 naming file, line and key, before connecting', async () => {
    const adapter = await writeFixtureAdapter(dir, 'hooked');
    const file = path.join(dir, 'http-no-tls.toml');
    // The identity does not exist: reaching the http check first proves it runs before connecting.
    await fs.writeFile(file, `[teleport]\naddr = "127.0.0.1:1"\nidentity = "/nonexistent/identity"\n\n[http]\nlisten_addr = "127.0.0.1:0"\n\n[hooked]\ngreeting = "hi"\n`);
    const r = await runCli(['start', '-c', file, '--plugin', adapter]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `teleport-plugin: error: ${file}:5: [http] https_cert_file: required (with https_key_file) to serve HTTPS; to serve plain HTTP instead, start with --insecure-no-tls\n`,
    );
    const checked = await runCli(['check', '-c', file, '--plugin', adapter], { timeoutMs: 25_000 });
    assert.equal(checked.code, 1);
    assert.match(checked.stdout, /^config\s+FAIL\s+.*http-no-tls\.toml:5: \[http\] https_cert_file: required/m);
  });

  test('a missing adapter says how to install it', async () => {
    const file = path.join(dir, 'ok.toml');
    await fs.writeFile(file, '[teleport]\nidentity = "/nonexistent/identity"\n\n[notinstalled]\nx = 1\n');
    const r = await runCli(['start', '-c', file]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'teleport-plugin: error: adapter "notinstalled" not found: install it with "npm install @teleport-plugin/notinstalled"\n');
    // TELEPORT_PLUGINS wins over the file's sections, and --plugin over TELEPORT_PLUGINS.
    const fromEnv = await runCli(['start', '-c', file], { env: { TELEPORT_PLUGINS: 'fromenv,other' } });
    assert.equal(fromEnv.stderr, 'teleport-plugin: error: adapter "fromenv" not found: install it with "npm install @teleport-plugin/fromenv"\n');
    const fromFlag = await runCli(['start', '-c', file, '--plugin', '@acme/fromflag'], { env: { TELEPORT_PLUGINS: 'fromenv' } });
    assert.equal(fromFlag.stderr, 'teleport-plugin: error: adapter "@acme/fromflag" not found: install it with "npm install @acme/fromflag"\n');
  });

  test('an unusable identity file fails start-up with one line', async () => {
    const adapter = await writeFixtureAdapter(dir, 'idcheck');
    const file = path.join(dir, 'noid.toml');
    await fs.writeFile(file, `[teleport]\naddr = "127.0.0.1:1"\nidentity = "${path.join(dir, 'missing-identity')}"\n\n[idcheck]\ngreeting = "hi"\n`);
    const r = await runCli(['start', '-c', file, '--plugin', adapter]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^teleport-plugin: error: .*missing-identity/);
    assertNoStack(r.stderr);

    const debug = await runCli(['start', '-c', file, '--plugin', adapter, '--debug']);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /^teleport-plugin: error: .*missing-identity.*\n/m);
    assert.match(debug.stderr, /^\s+at /m, 'with --debug the stack is shown');
  });
});
