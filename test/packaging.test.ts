// What a user gets from npm: packs the publishable packages the way a release does (`pnpm pack`
// rewrites workspace:* to versions and runs prepack), checks the tarballs' contents and
// manifests, installs core + cli + testkit + slack into an empty folder with plain npm, and runs
// the installed `teleport-plugin`; then all six adapters into another, whose `teleport-plugin
// demo` runs the six-adapter story from the installed packages alone. Also runs the image's HEALTHCHECK script in that layout (the
// image's /app is the same kind of flat npm install), and the image's VERSION=x.y.z path
// (docker/assemble.sh installing "published" packages) against a local fake npm registry that
// serves the same tarballs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FakeNpmRegistry, type RegistryPackage } from './lib/fake-npm-registry.js';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PNPM = ['--yes', 'pnpm@12.21.0'];
const PACKAGES: Record<string, string> = {
  '@teleport-plugin/core': 'packages/core',
  '@teleport-plugin/cli': 'packages/cli',
  '@teleport-plugin/testkit': 'packages/testkit',
  '@teleport-plugin/slack': 'plugins/slack',
  '@teleport-plugin/mattermost': 'plugins/mattermost',
  '@teleport-plugin/email': 'plugins/email',
  '@teleport-plugin/jira': 'plugins/jira',
  '@teleport-plugin/gitlab': 'plugins/gitlab',
  '@teleport-plugin/pagerduty': 'plugins/pagerduty',
};
const INSTALLED = ['@teleport-plugin/core', '@teleport-plugin/cli', '@teleport-plugin/testkit', '@teleport-plugin/slack'];
const SIX = ['slack', 'mattermost', 'email', 'jira', 'gitlab', 'pagerduty'];
const INSTALLED_ALL = ['@teleport-plugin/core', '@teleport-plugin/cli', '@teleport-plugin/testkit', ...SIX.map((a) => `@teleport-plugin/${a}`)];

type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
interface Packed {
  tarball: string;
  files: string[];
  manifest: Manifest;
}

let scratch: string;
let app: string;
const packed = new Map<string, Packed>();

/** `npm install` of the tarballs, as a user would; offline when npm's cache already has everything. */
async function npmInstall(dir: string, specs: string[]): Promise<void> {
  await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=dev', '--loglevel=error', ...specs], {
    cwd: dir,
    timeout: 150_000,
    maxBuffer: 16 * 1024 * 1024,
  });
}

before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'tp-packaging-'));
  const out = path.join(scratch, 'tarballs');
  await mkdir(out);
  const filters = Object.keys(PACKAGES).flatMap((name) => ['--filter', name]);
  // pm-on-fail=ignore: pnpm 12 would otherwise try to resolve its own packageManager pin first.
  await run('npx', [...PNPM, ...filters, 'pack', '--config.pm-on-fail=ignore', '--pack-destination', out], {
    cwd: repo,
    timeout: 120_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  for (const name of Object.keys(PACKAGES)) {
    const tarball = path.join(out, `${name.slice(1).replace('/', '-')}-${await version(name)}.tgz`);
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    const { stdout: json } = await run('tar', ['-xzOf', tarball, 'package/package.json']);
    packed.set(name, { tarball, files, manifest: JSON.parse(json) as Manifest });
  }

  app = path.join(scratch, 'app');
  await mkdir(app);
  await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'probe', private: true, type: 'module' }));
  await npmInstall(
    app,
    INSTALLED.map((n) => packed.get(n)!.tarball),
  );
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function version(name: string): Promise<string> {
  const manifest = JSON.parse(await readFile(path.join(repo, PACKAGES[name]!, 'package.json'), 'utf8')) as Manifest;
  return manifest.version as string;
}

/** Every file an `exports` / `bin` entry points at. */
function entryTargets(manifest: Manifest): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') out.push(v);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(manifest.exports);
  walk(manifest.bin);
  return out.map((p) => p.replace(/^\.\//, ''));
}

describe('npm packages', () => {
  test('tarballs hold built code, README and (core) the proto files; no sources, tests or configs', () => {
    for (const [name, { files }] of packed) {
      assert.ok(files.includes('package.json') && files.includes('README.md'), `${name}: package.json and README.md`);
      assert.ok(
        files.some((f) => f.startsWith('dist/src/') && f.endsWith('.js')),
        `${name}: dist/src/*.js`,
      );
      const stray = files.filter((f) => /^(src|test|dist\/test)\//.test(f) || /tsconfig|\.tsbuildinfo$/.test(f) || (f.endsWith('.ts') && !f.endsWith('.d.ts')));
      assert.deepEqual(stray, [], `${name}: files that should not be published`);
    }
    const core = packed.get('@teleport-plugin/core')!.files;
    assert.ok(
      core.some((f) => /^proto\/.*\.proto$/.test(f)),
      'core ships proto/',
    );
    // The prepack copy is removed again: left behind, it would shadow the repository's proto/.
    assert.equal(existsSync(path.join(repo, 'packages/core/proto')), false, 'packages/core/proto left behind after pack');
  });

  test('manifests: versions instead of workspace:*, exports with types, engines, license, public access', () => {
    for (const [name, { manifest, files }] of packed) {
      assert.equal(manifest.name, name);
      assert.doesNotMatch(JSON.stringify(manifest), /workspace:/, `${name}: workspace: protocol left in`);
      assert.equal(manifest.license, 'Apache-2.0', name);
      assert.match(manifest.engines?.node ?? '', />=\s*20\.11/, `${name}: engines.node`);
      assert.equal(manifest.publishConfig?.access, 'public', name);
      assert.equal(manifest.type, 'module', name);
      assert.ok(manifest.description, `${name}: description`);
      const root = manifest.exports?.['.'];
      assert.ok(root?.types && root?.default, `${name}: exports["."] has types and default`);
      for (const target of entryTargets(manifest)) {
        assert.ok(files.includes(target), `${name}: ${target} (from exports/bin) is in the tarball`);
      }
    }
    const cli = packed.get('@teleport-plugin/cli')!.manifest;
    assert.ok(cli.bin?.['teleport-plugin'], 'cli: bin teleport-plugin');
  });

  test('the installed teleport-plugin lists the installed adapter', async () => {
    const bin = path.join(app, 'node_modules/.bin/teleport-plugin');
    const expected = `@teleport-plugin/slack v${await version('@teleport-plugin/slack')} (adapter "slack")`;
    const byFlag = await run(bin, ['version', '--plugin', 'slack'], { cwd: app, timeout: 30_000 });
    assert.match(byFlag.stdout, /^teleport-plugin v\d+\.\d+\.\d+/);
    assert.ok(byFlag.stdout.includes(expected), byFlag.stdout);
    const byEnv = await run(bin, ['version'], { cwd: app, timeout: 30_000, env: { ...process.env, TELEPORT_PLUGINS: 'slack' } });
    assert.ok(byEnv.stdout.includes(expected), byEnv.stdout);
    // pagerduty is not installed here: naming it must fail with a hint, not crash.
    await assert.rejects(run(bin, ['version', '--plugin', 'pagerduty'], { cwd: app, timeout: 30_000 }), (err: Error & { stdout?: string }) => {
      assert.match(err.stdout ?? '', /pagerduty/);
      return true;
    });
  });

  test('the installed command runs Node with a 4 MB young generation, unless NODE_OPTIONS chooses one', async () => {
    const bin = path.join(app, 'node_modules/.bin/teleport-plugin');
    const probe = path.join(app, 'print-node-args.cjs');
    await writeFile(probe, "process.stderr.write('NODE ARGS ' + JSON.stringify(process.execArgv) + '\\n');\n");
    const args = async (nodeOptions: string): Promise<string[]> => {
      const { stderr } = await run(bin, ['version'], { cwd: app, timeout: 30_000, env: { ...process.env, NODE_OPTIONS: nodeOptions } });
      return JSON.parse(/NODE ARGS (.*)/.exec(stderr)?.[1] ?? 'null') as string[];
    };
    assert.deepEqual(await args(`--require=${probe}`), ['--max-semi-space-size=4']);
    assert.deepEqual(await args(`--require=${probe} --max-semi-space-size=16`), [], 'the one in NODE_OPTIONS wins');
  });

  test('every export of the installed packages imports, and core finds its own proto files', async () => {
    await importsEveryExport(app, INSTALLED);
  });
});

/** Imports every export of `names` from `dir`'s node_modules; core must find its proto files. */
async function importsEveryExport(dir: string, names: readonly string[]): Promise<void> {
  {
    const specifiers = names.flatMap((name) =>
      Object.keys(packed.get(name)!.manifest.exports as Record<string, unknown>)
        .filter((k) => !k.endsWith('.json'))
        .map((k) => (k === '.' ? name : `${name}/${k.slice(2)}`)),
    );
    const script = `
      for (const s of ${JSON.stringify(specifiers)}) await import(s);
      const { loadTeleportProto } = await import('@teleport-plugin/core/internal/proto');
      const { grpcObject } = loadTeleportProto();
      if (!grpcObject) throw new Error('no grpc object');
      console.log('ok', ${JSON.stringify(specifiers.length)});`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, timeout: 30_000 });
    assert.equal(stdout.trim(), `ok ${specifiers.length}`);
  }
}

describe('all six adapters installed from their tarballs', () => {
  let appAll: string;

  before(async () => {
    appAll = path.join(scratch, 'app-all');
    await mkdir(appAll);
    await writeFile(path.join(appAll, 'package.json'), JSON.stringify({ name: 'probe-all', private: true, type: 'module' }));
    await npmInstall(
      appAll,
      INSTALLED_ALL.map((n) => packed.get(n)!.tarball),
    );
  });

  test('teleport-plugin version lists the six adapters, and every export of every package imports', async () => {
    const bin = path.join(appAll, 'node_modules/.bin/teleport-plugin');
    const { stdout } = await run(bin, ['version'], { cwd: appAll, timeout: 30_000, env: { ...process.env, TELEPORT_PLUGINS: SIX.join(',') } });
    for (const a of SIX) assert.ok(stdout.includes(`@teleport-plugin/${a} v${await version(`@teleport-plugin/${a}`)} (adapter "${a}")`), stdout);
    await importsEveryExport(appAll, INSTALLED_ALL);
  });

  test('teleport-plugin demo runs the six-adapter story from the installed packages', async () => {
    const bin = path.join(appAll, 'node_modules/.bin/teleport-plugin');
    const env = { ...process.env };
    delete env['TELEPORT_PLUGINS'];
    const { stdout, stderr } = await run(bin, ['demo'], { cwd: appAll, timeout: 60_000, env, maxBuffer: 16 * 1024 * 1024 });
    assert.match(stdout, /6 adapters: slack, mattermost, email, jira, gitlab, pagerduty/);
    assert.match(stdout, /-> Dana \(Jira\) moves ACCESS-1 to Approved in Jira/);
    assert.match(stdout, /-> Erin \(GitLab\) adds the label "Teleport: Denied"/);
    assert.doesNotMatch(stdout, /skipping|did not (record|announce)/);
    assert.match(stdout, /Successfully shut down/);
    assert.equal(stderr, '');
  });
});

describe('image HEALTHCHECK script (docker/healthcheck.mjs)', () => {
  let script: string;
  let server: http.Server;
  let status = 200;

  before(async () => {
    script = path.join(app, 'healthcheck.mjs');
    await copyFile(path.join(repo, 'docker/healthcheck.mjs'), script);
    server = http.createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? status : 404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function check(toml: string | undefined): Promise<{ code: number; output: string }> {
    const file = path.join(app, `plugin-${Math.random().toString(36).slice(2)}.toml`);
    if (toml !== undefined) await writeFile(file, toml);
    try {
      const { stdout } = await run(process.execPath, [script], {
        cwd: app,
        timeout: 15_000,
        env: { ...process.env, TELEPORT_PLUGIN_CONFIG: file },
      });
      return { code: 0, output: stdout };
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      return { code: e.code ?? -1, output: e.stderr ?? '' };
    }
  }
  const port = () => (server.address() as AddressInfo).port;

  test('passes without a config or without [http]', async () => {
    assert.equal((await check(undefined)).code, 0);
    const res = await check('[teleport]\naddr = "teleport.example.com:443"\n[slack]\ntoken = "x"\n');
    assert.equal(res.code, 0);
    assert.match(res.output, /no \[http\]/);
  });

  test('probes /healthz on [http] listen_addr', async () => {
    status = 200;
    assert.equal((await check(`[http]\nlisten_addr = "127.0.0.1:${port()}"\n`)).code, 0);
    assert.equal((await check(`[http]\nlisten_addr = ":${port()}"\n`)).code, 0, 'an empty host means localhost');
    status = 503;
    const failing = await check(`[http]\nlisten_addr = "127.0.0.1:${port()}"\n`);
    assert.equal(failing.code, 1);
    assert.match(failing.output, /503/);
  });

  test('fails when nothing listens on the configured port', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    assert.equal((await check(`[http]\nlisten_addr = "127.0.0.1:${freePort}"\n`)).code, 1);
  });
});

describe('docker/assemble.sh with VERSION (published packages from a fake npm registry)', () => {
  let registry: FakeNpmRegistry;
  let context: string;
  let adapters: string[];

  before(async () => {
    registry = await FakeNpmRegistry.start(
      '@teleport-plugin',
      [...packed.values()].map(({ tarball, manifest }) => ({ tarball, manifest: manifest as RegistryPackage['manifest'] })),
    );
    // `latest` is a newer version whose tarball cannot be fetched: assemble.sh must pin VERSION.
    for (const name of packed.keys()) registry.addUnavailableVersion(name, '9.9.9');
    // The build context cut down to what the VERSION path may read: the script and the adapters'
    // package.json files. Anything else it touched (sources, dist, node_modules) would be missing.
    context = path.join(scratch, 'context');
    await mkdir(path.join(context, 'docker'), { recursive: true });
    await copyFile(path.join(repo, 'docker/assemble.sh'), path.join(context, 'docker/assemble.sh'));
    adapters = [];
    for (const entry of await readdir(path.join(repo, 'plugins'), { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      try {
        await mkdir(path.join(context, 'plugins', entry.name), { recursive: true });
        await copyFile(path.join(repo, 'plugins', entry.name, 'package.json'), path.join(context, 'plugins', entry.name, 'package.json'));
        adapters.push(entry.name);
      } catch {
        // a folder without package.json is not an adapter for assemble.sh either
      }
    }
  });
  after(async () => {
    if (registry) await registry.close();
  });

  async function assemble(appDir: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
    // Only the @teleport-plugin scope goes to the fake; third-party dependencies come from the
    // registry (and CA settings) configured on this machine, as in a real image build. Set in the
    // project .npmrc of APP_DIR (npm runs there): `npm_config_@teleport-plugin:registry` is not a
    // valid shell variable name, and dash (/bin/sh here and in the node image) drops it from the
    // environment before npm starts.
    await mkdir(appDir, { recursive: true });
    await writeFile(path.join(appDir, '.npmrc'), `@teleport-plugin:registry=${registry.url}\n`);
    try {
      const { stdout, stderr } = await run('sh', ['docker/assemble.sh'], {
        cwd: context,
        timeout: 90_000,
        maxBuffer: 16 * 1024 * 1024,
        env: { ...process.env, npm_config_update_notifier: 'false', APP_DIR: appDir, ...env },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
    }
  }

  test('VERSION=0.1.0 PLUGIN=slack installs cli and slack 0.1.0 from the registry into APP_DIR', async () => {
    const target = path.join(scratch, 'image-app');
    const res = await assemble(target, { VERSION: '0.1.0', PLUGIN: 'slack' });
    assert.equal(res.code, 0, `assemble.sh failed:\n${res.stdout}\n${res.stderr}`);
    assert.match(res.stdout, /assemble\.sh: adapters: slack$/m);

    for (const name of ['@teleport-plugin/cli', '@teleport-plugin/slack', '@teleport-plugin/core', '@teleport-plugin/testkit']) {
      assert.ok(registry.packumentRequests(name).length > 0, `${name}: packument fetched from the fake registry`);
      const installed = JSON.parse(await readFile(path.join(target, 'node_modules', name, 'package.json'), 'utf8')) as Manifest;
      // npm takes the tarball from its cache when the integrity we announced is there already
      // (the install above put it there), so tarball requests are not asserted; the installed
      // manifest being the packed one shows the content is ours.
      assert.deepEqual(installed, packed.get(name)!.manifest, name);
    }
    assert.deepEqual(
      registry.requests.filter((r) => r.kind === 'other'),
      [],
      'no request for the unavailable 9.9.9 or anything else',
    );
    assert.equal(registry.packumentRequests('@teleport-plugin/pagerduty').length, 0, 'only the requested adapter');
    assert.equal(await readFile(path.join(target, 'plugins'), 'utf8'), 'slack\n');

    const { stdout } = await run(path.join(target, 'node_modules/.bin/teleport-plugin'), ['version'], {
      cwd: target,
      timeout: 30_000,
      env: { ...process.env, TELEPORT_PLUGINS: 'slack' },
    });
    assert.match(stdout, /^teleport-plugin v0\.1\.0/);
    assert.ok(stdout.includes('@teleport-plugin/slack v0.1.0 (adapter "slack")'), stdout);
  });

  test('VERSION=0.1.0 PLUGIN=all installs the six adapters, without TypeScript sources or source maps', async () => {
    const target = path.join(scratch, 'image-app-all');
    const res = await assemble(target, { VERSION: '0.1.0', PLUGIN: 'all' });
    assert.equal(res.code, 0, `assemble.sh failed:\n${res.stdout}\n${res.stderr}`);
    assert.deepEqual((await readFile(path.join(target, 'plugins'), 'utf8')).trim().split('\n').sort(), [...adapters].sort());
    for (const a of SIX) assert.ok(registry.packumentRequests(`@teleport-plugin/${a}`).length > 0, `${a} fetched from the registry`);
    assert.match(res.stdout, /assemble\.sh: node_modules \d+ MB -> \d+ MB without types, sources and maps/);
    // What the image leaves out is really gone (and nothing needed it: version loads every adapter).
    const { stdout: left } = await run('find', [path.join(target, 'node_modules'), '-type', 'f', '(', '-name', '*.map', '-o', '-name', '*.ts', ')']);
    assert.equal(left.trim(), '', 'source maps or TypeScript files left in node_modules');
    for (const a of SIX) assert.ok(res.stdout.includes(`@teleport-plugin/${a} v0.1.0 (adapter "${a}")`), res.stdout);
  });

  test('an unknown PLUGIN fails with the list of adapters, before installing anything', async () => {
    const target = path.join(scratch, 'image-app-unknown');
    const seen = registry.requests.length;
    const res = await assemble(target, { VERSION: '0.1.0', PLUGIN: 'slack,nosuch' });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /^assemble\.sh: unknown adapter 'nosuch' in PLUGIN=slack,nosuch; expected a comma-separated list of: (.+) \(or all\)$/m);
    const listed = /expected a comma-separated list of: (.+) \(or all\)/.exec(res.stderr)?.[1]?.split(' ');
    assert.deepEqual(listed?.sort(), [...adapters].sort());
    assert.equal(registry.requests.length, seen, 'no registry traffic');
    assert.deepEqual(await readdir(target), ['.npmrc'], 'APP_DIR left untouched');
  });
});
