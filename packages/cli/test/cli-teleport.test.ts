import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { runCli, startCli, writeFixtureAdapter } from './helpers.js';

let dir: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-cli-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('teleport-plugin against a fake Teleport', () => {
  let tp: FakeTeleport;
  let identity: string;

  before(async () => {
    tp = await FakeTeleport.start({ clusterName: 'cli.example.com' });
    tp.addRequester('alice', { requestRoles: ['editor'] });
    identity = await tp.writeIdentityFile(dir, { user: FakeTeleport.PLUGIN_USER });
  });
  after(async () => {
    await tp.close();
  });

  const writeConfig = async (name: string, adapterName: string, extra = ''): Promise<string> => {
    const file = path.join(dir, name);
    await fs.writeFile(file, `[teleport]\naddr = "${tp.addr}"\nidentity = "${identity}"\n\n[log]\nseverity = "info"\n\n[${adapterName}]\ngreeting = "hello"\n${extra}`);
    return file;
  };

  test('check: all OK -> exit 0 and a table', async () => {
    const adapter = await writeFixtureAdapter(dir, 'checked');
    const file = await writeConfig('check-ok.toml', 'checked', 'greting = "typo"\n');
    const r = await runCli(['check', '-c', file, '--plugin', adapter]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^CHECK\s+RESULT\s+DETAIL$/m);
    assert.match(r.stdout, /^config\s+OK\s+.*check-ok\.toml: checked$/m);
    assert.match(r.stdout, /^teleport\s+OK\s+cluster "cli\.example\.com", Teleport 18\.0\.0 at 127\.0\.0\.1:\d+$/m);
    assert.match(r.stdout, /^checked: greeting\s+OK\s+hello from cluster cli\.example\.com$/m);
    assert.match(r.stdout, /^checked: service\s+OK\s+token accepted$/m);
    assert.match(r.stdout, /^config\s+WARN\s+.*check-ok\.toml:10: unknown key checked\.greting \(did you mean checked\.greeting\?\)$/m);
    assert.match(r.stdout, /All checks passed \(1 warning\)\./);
    assert.equal(r.stderr, '');
  });

  test('check: a failing adapter check -> exit 1 with the reason', async () => {
    const adapter = await writeFixtureAdapter(dir, 'refused');
    const file = await writeConfig('check-fail.toml', 'refused', 'fail_check = true\n');
    const r = await runCli(['check', '-c', file, '--plugin', adapter]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^refused: service\s+FAIL\s+service refused the token$/m);
    assert.match(r.stdout, /1 check failed\./);
  });

  test('check: Teleport unreachable -> FAIL row', async () => {
    const adapter = await writeFixtureAdapter(dir, 'lonely');
    const file = path.join(dir, 'check-unreachable.toml');
    await fs.writeFile(file, `[teleport]\naddr = "127.0.0.1:1"\nidentity = "${identity}"\n\n[lonely]\ngreeting = "hi"\n`);
    const r = await runCli(['check', '-c', file, '--plugin', adapter], { timeoutMs: 25_000 });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^teleport\s+FAIL\s+127\.0\.0\.1:1: /m);
  });

  test('start --insecure-no-tls --debug: probes and metrics over plain HTTP, secrets redacted, SIGINT exits 0', async () => {
    const adapter = await writeFixtureAdapter(dir, 'prober');
    const secret = 'xoxb-cli-secret-4242';
    const file = await writeConfig('http.toml', 'prober', 'token = "env:PROBER_TOKEN"\n\n[http]\nlisten_addr = "127.0.0.1:0"\n');
    const cli = startCli(['start', '-c', file, '--plugin', adapter, '--insecure-no-tls', '--debug'], { env: { PROBER_TOKEN: secret } });
    try {
      await cli.waitForOutput(/HTTP server listening .*url=http:\/\/127\.0\.0\.1:\d+/);
      await cli.waitForOutput(/Plugin is ready/);
      const url = /url=(http:\/\/127\.0\.0\.1:\d+)/.exec(cli.output())?.[1];
      assert.ok(url, cli.output());
      const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'], reason: 'probe' });
      await cli.waitForOutput(new RegExp(`fixture saw request adapter=prober requestId=${id}`));

      const health = await fetch(`${url}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const ready = await fetch(`${url}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), {
        ready: true,
        teleport: { connected: true },
        watch: { initialised: true },
        adapters: { prober: { healthy: true } },
      });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^teleport_plugin_events_total\{kind="init"\} 1$/m);
      // Seen live (put) or by the re-list after INIT (list), depending on who was first.
      assert.match(metrics, /^teleport_plugin_events_total\{kind="(put|list)"\} [1-9]/m);
      assert.match(metrics, /^teleport_plugin_handler_duration_seconds_count\{adapter="prober",handler="onPending"\} 1$/m);
      for (const name of ['handler_failures_total', 'handler_retries_total', 'watch_reconnects_total', 'plugin_data_conflicts_total']) {
        assert.match(metrics, new RegExp(`^# TYPE teleport_plugin_${name} counter$`, 'm'), name);
      }
    } finally {
      cli.child.kill('SIGINT');
    }
    const r = await cli.result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /WARN serving plain HTTP \(--insecure-no-tls\)/);
    assert.match(r.stderr, /Shutting down gracefully signal=SIGINT/);
    assert.match(r.stderr, /INFO Successfully shut down$/m);
    assert.match(r.stderr, /DEBUG fixture using credential \[redacted\]/, 'the careless debug line was logged, redacted');
    assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), 'the secret never reaches the output');
  });

  test('TELEPORT_PLUGIN_FAIL_FAST=true: a lost watch stream exits 1 with one clear line', async () => {
    const adapter = await writeFixtureAdapter(dir, 'fragile');
    const file = await writeConfig('failfast.toml', 'fragile');
    const cli = startCli(['start', '-c', file, '--plugin', adapter], { env: { TELEPORT_PLUGIN_FAIL_FAST: 'true' } });
    await cli.waitForOutput(/Plugin is ready/);
    await tp.waitFor(() => tp.openWatchCount > 0, 10_000, 'the plugin to watch');
    assert.ok(tp.faults.dropWatchStreams() >= 1);
    const r = await cli.result;
    assert.equal(r.code, 1, r.stderr);
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    assert.match(last, /^teleport-plugin: error: lost the Teleport watch stream and fail-fast is on: /);
    assert.ok(!/reconnecting/.test(r.stderr), 'fail-fast never reconnects');
  });

  test('start: serves requests, warns about unknown keys, stops cleanly on SIGTERM', async () => {
    const adapter = await writeFixtureAdapter(dir, 'runner');
    const events = path.join(dir, 'runner-events.txt');
    const file = await writeConfig('start.toml', 'runner', `events_file = "${events}"\ngreting = "typo"\n`);
    const cli = startCli(['start', '-c', file, '--plugin', adapter]);
    await cli.waitForOutput(/Plugin is ready/);
    const id = await tp.admin.createRequest({ user: 'alice', roles: ['editor'], reason: 'cli test' });
    await cli.waitForOutput(new RegExp(`fixture saw request adapter=runner requestId=${id}`));
    cli.child.kill('SIGTERM');
    const r = await cli.result;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /start\.toml:11: unknown key runner\.greting \(did you mean runner\.greeting\?\)/);
    assert.match(r.stderr, /INFO Successfully shut down$/m);
    assert.match(await fs.readFile(events, 'utf8'), new RegExp(`^pending ${id}$`, 'm'));
  });
});
