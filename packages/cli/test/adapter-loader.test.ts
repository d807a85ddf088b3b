import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { isPluginError, loadAdapter, loadAdapterInfo } from '@teleport-plugin/core';

let dir: string;

const ADAPTER_SOURCE = (name: string): string => `export default { name: ${JSON.stringify(name)}, parseConfig: () => ({}), setup: async () => ({}) };\n`;

async function writePackage(root: string, pkgName: string, pkg: Record<string, unknown>, files: Record<string, string>): Promise<void> {
  const pkgDir = path.join(root, 'node_modules', ...pkgName.split('/'));
  await fs.mkdir(pkgDir, { recursive: true });
  await fs.writeFile(path.join(pkgDir, 'package.json'), JSON.stringify({ name: pkgName, type: 'module', ...pkg }));
  for (const [file, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(pkgDir, file)), { recursive: true });
    await fs.writeFile(path.join(pkgDir, file), text);
  }
}

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-loader-'));
  // ESM-only (exports with `import` only): require.resolve cannot find it, the node_modules walk must.
  await writePackage(
    dir,
    '@teleport-plugin/esmonly',
    { version: '1.2.3', exports: { '.': { import: './dist/index.js' } } },
    {
      'dist/index.js': ADAPTER_SOURCE('esmonly'),
    },
  );
  await writePackage(dir, '@acme/tp-adapter', { version: '0.0.1', main: 'main.js' }, { 'main.js': ADAPTER_SOURCE('acme') });
  await writePackage(dir, 'tp-unscoped', { version: '2.0.0', exports: './index.js' }, { 'index.js': ADAPTER_SOURCE('unscoped') });
  await writePackage(
    dir,
    '@teleport-plugin/broken',
    { version: '1.0.0', main: 'index.js' },
    {
      'index.js': "import 'this-dependency-is-not-installed';\nexport default {};\n",
    },
  );
  await writePackage(
    dir,
    '@teleport-plugin/halfdone',
    { version: '1.0.0', main: 'index.js' },
    {
      'index.js': "export default { name: 'halfdone', parseConfig() {} };\n",
    },
  );
  await fs.mkdir(path.join(dir, 'local-adapter'), { recursive: true });
  await fs.writeFile(path.join(dir, 'local-adapter', 'package.json'), JSON.stringify({ name: 'local-adapter', version: '3.1.4', type: 'module', main: 'entry.js' }));
  await fs.writeFile(path.join(dir, 'local-adapter', 'entry.js'), ADAPTER_SOURCE('local'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('a bare name loads @teleport-plugin/<name>, ESM-only packages included', async () => {
  const info = await loadAdapterInfo('esmonly', { from: [dir] });
  assert.equal(info.adapter.name, 'esmonly');
  assert.equal(info.packageName, '@teleport-plugin/esmonly');
  assert.equal(info.version, '1.2.3');
});

test('scoped and unscoped third-party package names', async () => {
  assert.equal((await loadAdapter('@acme/tp-adapter', { from: [dir] })).name, 'acme');
  const unscoped = await loadAdapterInfo('tp-unscoped', { from: [dir] });
  assert.equal(unscoped.adapter.name, 'unscoped');
  assert.equal(unscoped.packageName, 'tp-unscoped');
});

test('paths: a directory with package.json, or a file', async () => {
  const fromDir = await loadAdapterInfo('./local-adapter', { from: [dir] });
  assert.equal(fromDir.adapter.name, 'local');
  assert.equal(fromDir.version, '3.1.4');
  // A relative path without "./" is still a path when it has a slash (no package name can).
  assert.equal((await loadAdapterInfo('node_modules/tp-unscoped', { from: [dir] })).adapter.name, 'unscoped');
  const file = path.join(dir, 'local-adapter', 'entry.js');
  assert.equal((await loadAdapter(file)).name, 'local');
});

test('resolution tries each base in order', async () => {
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'tp-loader-empty-'));
  try {
    assert.equal((await loadAdapter('esmonly', { from: [empty, dir] })).name, 'esmonly');
  } finally {
    await fs.rm(empty, { recursive: true, force: true });
  }
});

test('a missing adapter says how to install it', async () => {
  await assert.rejects(loadAdapter('nosuch', { from: [dir] }), (err: unknown) => {
    assert.ok(isPluginError(err, 'ADAPTER_NOT_FOUND'));
    assert.equal(err.userFacing, true);
    assert.equal(err.message, 'adapter "nosuch" not found: install it with "npm install @teleport-plugin/nosuch"');
    return true;
  });
  await assert.rejects(loadAdapter('@acme/other', { from: [dir] }), /adapter "@acme\/other" not found: install it with "npm install @acme\/other"/);
  await assert.rejects(loadAdapter('./nope.js', { from: [dir] }), (err: unknown) => isPluginError(err, 'ADAPTER_NOT_FOUND') && /no such file/.test(err.message));
});

test('an invalid default export names what is missing; a failing import says so', async () => {
  await assert.rejects(loadAdapter('halfdone', { from: [dir] }), (err: unknown) => {
    assert.ok(isPluginError(err, 'ADAPTER_INVALID'));
    assert.equal(err.message, 'adapter "halfdone" is not a teleport-plugin adapter: its default export has no setup()');
    return true;
  });
  await assert.rejects(loadAdapter('broken', { from: [dir] }), (err: unknown) => {
    assert.ok(isPluginError(err, 'ADAPTER_INVALID'));
    assert.match(err.message, /^adapter "broken" failed to load \(.*\): .*this-dependency-is-not-installed/);
    return true;
  });
});
