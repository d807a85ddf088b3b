import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { loadAdapter, loadConfig, parseRoutingConfig, readInstances } from '@teleport-plugin/core';
import { tableOwners } from '../src/adapters.js';
import { mergeExampleConfigs, splitTables } from '../src/commands/mergeExamples.js';
import { ROOT, runCli } from './helpers.js';

const SIX = ['slack', 'mattermost', 'jira', 'pagerduty', 'email', 'gitlab'];

/** Every top-level table header in a TOML text, in order. */
const headers = (text: string): string[] => [...text.matchAll(/^\[([^\]]+)\]/gm)].map((m) => m[1]!);

test('configure with all six adapters prints one [http] and one [role_to_recipients], and the file loads for every adapter', async () => {
  const r = await runCli(['configure', ...SIX.flatMap((p) => ['--plugin', p])]);
  assert.equal(r.code, 0, r.stderr);
  const text = r.stdout;
  const tables = headers(text);
  for (const t of new Set(tables)) assert.equal(tables.filter((x) => x === t).length, 1, `[${t}] printed more than once`);
  assert.ok(tables.includes('http') && tables.includes('role_to_recipients'));
  // The shared tables say who shares them; adapters with other recipients keep their own table.
  assert.match(text, /^# Shared by jira and gitlab: one HTTP server for all of them/m);
  assert.match(text, /^# Shared by slack, mattermost and email: who is told about each request.*\n# .*mattermost and email have their own table below/m);
  assert.deepEqual(
    tables.filter((t) => t.endsWith('role_to_recipients')),
    ['role_to_recipients', 'mattermost.role_to_recipients', 'email.role_to_recipients'],
  );
  // Both webhook adapters' explanations of public_addr stay, above the one value.
  assert.match(text, /# Where Jira reaches this server\.\n# The address GitLab reaches this plugin at\..*\n.*\npublic_addr = /);

  // The printed file, with its secret files present, passes every adapter's parser: no duplicate
  // table (a TOML error), no unknown key, every recipient valid for its service.
  const dir = await mkdtemp(path.join(tmpdir(), 'tp-configure-'));
  try {
    const root = path.join(dir, 'root');
    // The routing examples at the end, uncommented, are part of the file that must load.
    const footer = text.indexOf('# ---- Beyond the Go plugins');
    assert.ok(footer > 0, 'the routing examples close the file');
    const uncommented = text.slice(0, footer) + text.slice(footer).replace(/^# (\[|[a-z_-]+ = )/gm, '$1');
    assert.match(uncommented, /^\[reminders\]\nevery = "30m"$/m);
    const rebased = uncommented.split('"/var/lib/teleport/').join(`"${root}/var/lib/teleport/`);
    for (const [, file] of rebased.matchAll(/"([^"]*\/var\/lib\/teleport\/[^"]+)"/g)) {
      await mkdir(path.dirname(file!), { recursive: true });
      await writeFile(file!, 'secret-value\n');
    }
    const file = path.join(dir, 'six.toml');
    await writeFile(file, rebased);
    const cfg = await loadConfig(file, { env: {}, tableOwners: tableOwners() });
    assert.deepEqual([...cfg.pluginSections].sort(), [...SIX].sort());
    const parsed: Record<string, { roleToRecipients?: Record<string, string[]> }> = {};
    for (const name of SIX) {
      const adapter = await loadAdapter(name, { from: [ROOT] });
      parsed[name] = adapter.parseConfig(cfg.section(name), cfg.context) as never;
    }
    const routing = parseRoutingConfig(cfg, SIX);
    assert.deepEqual(routing.dedupe, ['slack', 'email']);
    assert.equal(routing.automaticReview?.integration, 'oncall');
    assert.deepEqual(routing.accessListReminders, { enabled: true, adapters: ['slack', 'email'] });
    assert.deepEqual([...readInstances(cfg, SIX)], [['slack-partners', 'slack']]);
    assert.deepEqual(cfg.reportUnknownKeys(), []);
    assert.deepEqual(parsed['slack']?.roleToRecipients?.['*'], ['access-requests']);
    assert.deepEqual(parsed['mattermost']?.roleToRecipients?.['*'], ['my-team/access-requests']);
    assert.deepEqual(parsed['email']?.roleToRecipients?.['*'], ['security@example.com']);
    assert.equal(cfg.http?.listenAddr, ':8081');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('configure with one adapter prints its example unchanged', async () => {
  const r = await runCli(['configure', '--plugin', 'jira']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /Shared by/);
  assert.equal(headers(r.stdout).filter((t) => t === 'http').length, 1);
});

test('mergeExampleConfigs: identical recipient tables collapse, other shared tables merge key by key', () => {
  const merged = mergeExampleConfigs([
    { adapter: 'a', text: '[a]\nx = 1\n\n[role_to_recipients]\n"*" = ["team"]\n\n# the server\n[http]\n# where\nlisten_addr = ":8081"\n' },
    { adapter: 'b', text: '[b]\ny = 2\n\n[role_to_recipients]\n"*" = ["team"] # same\n\n[http]\n# b needs this\npublic_addr = "https://b.example.com"\nlisten_addr = ":9999"\n' },
  ]);
  assert.deepEqual(headers(merged), ['a', 'role_to_recipients', 'http', 'b']);
  assert.match(merged, /# Shared by a and b: who is told about each request, by requested role \("\*" for\n# the rest\)\.\n\[role_to_recipients\]/);
  assert.match(merged, /# the server\n\[http\]\n# where\nlisten_addr = ":8081"\n# b needs this\npublic_addr = "https:\/\/b\.example\.com"\n/);
  assert.doesNotMatch(merged, /9999/, 'the first value of a key set twice wins');
});

test('splitTables: the comment paragraph right above a header belongs to that table', () => {
  const chunks = splitTables('# intro\n\n[a]\nk = 1\n\n# about b\n# more\n[b]\n# inside\nv = 2\n');
  assert.deepEqual(
    chunks.map((c) => [c.table, c.lines]),
    [
      [undefined, ['# intro', '']],
      ['a', ['[a]', 'k = 1', '']],
      ['b', ['# about b', '# more', '[b]', '# inside', 'v = 2']],
    ],
  );
});
