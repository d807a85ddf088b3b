import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { isPluginError, parseConfig } from '@teleport-plugin/core';
import { exampleConfig, parsePagerDutyConfig } from '../src/config.js';

function parse(body: string) {
  const loaded = parseConfig(`[teleport]\naddr = "127.0.0.1:3025"\nidentity = "/var/lib/teleport/plugins/identity"\n\n${body}`, 'plugin.toml');
  return parsePagerDutyConfig(loaded.section('pagerduty'));
}

function expectConfigError(body: string, ...needles: string[]): void {
  assert.throws(
    () => parse(body),
    (err: unknown) => {
      assert.ok(isPluginError(err), `not a PluginError: ${String(err)}`);
      for (const n of needles) assert.ok(err.message.includes(n), `"${err.message}" lacks "${n}"`);
      return true;
    },
  );
}

test('defaults match the Go plugin', () => {
  const c = parse('[pagerduty]\napi_key = "k"\nuser_email = "bot@example.com"\n');
  assert.equal(c.apiKey, 'k');
  assert.equal(c.userEmail, 'bot@example.com');
  assert.equal(c.apiEndpoint, 'https://api.pagerduty.com');
  assert.deepEqual(c.annotations, { notifyService: 'pagerduty_notify_service', services: 'pagerduty_services' });
  assert.equal(c.onCallMaxEscalationLevel, undefined);
  assert.deepEqual(c.checkServices, []);
});

test('request_annotations, the upstream requestannotations alias, endpoint, level, check_services', () => {
  const c = parse(
    '[pagerduty]\napi_key = "k"\nuser_email = "bot@example.com"\napi_endpoint = "http://127.0.0.1:9999/"\n' +
      'on_call_max_escalation_level = 2\ncheck_services = ["A", "B"]\n[pagerduty.request_annotations]\nnotify_service = "notify"\nservices = "oncall"\n',
  );
  assert.equal(c.apiEndpoint, 'http://127.0.0.1:9999');
  assert.deepEqual(c.annotations, { notifyService: 'notify', services: 'oncall' });
  assert.equal(c.onCallMaxEscalationLevel, 2);
  assert.deepEqual(c.checkServices, ['A', 'B']);
  const legacy = parse('[pagerduty]\napi_key = "k"\nuser_email = "bot@example.com"\n[pagerduty.requestannotations]\nnotify_service = "n2"\n');
  assert.deepEqual(legacy.annotations, { notifyService: 'n2', services: 'pagerduty_services' });
});

test('api_key starting with / is read from that file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pd-config-'));
  try {
    const file = path.join(dir, 'key');
    fs.writeFileSync(file, 'file-key\n');
    const c = parse(`[pagerduty]\napi_key = "${file}"\nuser_email = "bot@example.com"\n`);
    assert.equal(c.apiKey, 'file-key');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('mistakes name the key and what was expected', () => {
  expectConfigError('[pagerduty]\nuser_email = "bot@example.com"\n', 'api_key');
  expectConfigError('[pagerduty]\napi_key = "k"\n', 'user_email');
  expectConfigError('[pagerduty]\napi_key = "k"\nuser_email = "bot"\n', 'user_email', 'email');
  expectConfigError('[pagerduty]\napi_key = "k"\nuser_email = "b@x.io"\napi_endpoint = "ftp://x"\n', 'api_endpoint', 'http');
  expectConfigError('[pagerduty]\napi_key = "k"\nuser_email = "b@x.io"\napi_endpoint = "not a url"\n', 'api_endpoint');
  expectConfigError('[pagerduty]\napi_key = "k"\nuser_email = "b@x.io"\non_call_max_escalation_level = 0\n', 'on_call_max_escalation_level');
  expectConfigError('[pagerduty]\napi_key = "k"\nuser_email = "b@x.io"\non_call_max_escalation_level = "x"\n', 'on_call_max_escalation_level');
  expectConfigError('[pagerduty]\napi_key = "k"\nuser_email = "b@x.io"\n[pagerduty.request_annotations]\nservices = ""\n', 'services');
});

test('the example config parses (with its secret file present) and uses only known keys', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pd-example-'));
  try {
    const keyFile = path.join(dir, 'api-key');
    fs.writeFileSync(keyFile, 'example-key\n');
    const text = exampleConfig().replace('/var/lib/teleport/plugins/pagerduty/api-key', keyFile);
    const loaded = parseConfig(`[teleport]\naddr = "127.0.0.1:3025"\nidentity = "/var/lib/teleport/plugins/identity"\n\n${text}`, 'example.toml');
    const c = parsePagerDutyConfig(loaded.section('pagerduty'));
    assert.equal(c.apiKey, 'example-key');
    assert.equal(c.userEmail, 'teleport-bot@example.com');
    assert.deepEqual(loaded.reportUnknownKeys(), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
