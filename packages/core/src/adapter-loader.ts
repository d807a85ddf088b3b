import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Adapter } from './adapter.js';
import { PluginError, errorMessage } from './errors.js';

export interface LoadAdapterOptions {
  /**
   * Directories to resolve packages from, in order. Default: the working directory, then this
   * package's own location (so adapters installed next to a global CLI are found).
   */
  from?: string[];
}

/** An adapter with where it came from (for `version` and messages). */
export interface LoadedAdapter {
  adapter: Adapter<unknown>;
  /** What the user asked for (`slack`, `@acme/tp-adapter`, `./my-adapter.js`). */
  spec: string;
  /** The npm package name, when it was loaded as a package (or the file's package). */
  packageName: string | undefined;
  /** package.json version of the adapter's package, if found. */
  version: string | undefined;
  /** The file that was imported. */
  entry: string;
}

/** Import an adapter by bare name (`slack` = `@teleport-plugin/slack`), package name, or path. */
export async function loadAdapter(spec: string, options: LoadAdapterOptions = {}): Promise<Adapter<unknown>> {
  return (await loadAdapterInfo(spec, options)).adapter;
}

/**
 * The top-level config tables adapters declare in their package.json
 * (`"teleportPlugin": { "tables": ["smtp", "mailgun", "delivery"] }`), without importing them:
 * table -> adapter name. Adapters that are not installed are skipped.
 */
export function readAdapterTables(names: readonly string[], options: LoadAdapterOptions = {}): Record<string, string> {
  const from = options.from ?? [process.cwd(), path.dirname(fileURLToPath(import.meta.url))];
  const owners: Record<string, string> = {};
  for (const name of names) {
    for (const candidate of [`@teleport-plugin/${name}`, name]) {
      const dir = packageDir(candidate, from);
      if (dir === undefined) continue;
      const tables = readPackageJson(dir)?.teleportPlugin?.tables;
      if (Array.isArray(tables)) for (const t of tables) if (typeof t === 'string') owners[t] ??= name;
      break;
    }
  }
  return owners;
}

export async function loadAdapterInfo(spec: string, options: LoadAdapterOptions = {}): Promise<LoadedAdapter> {
  const from = options.from ?? [process.cwd(), path.dirname(fileURLToPath(import.meta.url))];
  // A package name has at most one slash, after an @scope; anything else with a slash
  // (`examples/custom-adapter`) can only be a path.
  const isPath = spec.startsWith('.') || path.isAbsolute(spec) || /\.(c|m)?js$/.test(spec) || (spec.includes('/') && !spec.startsWith('@'));
  let entry: string;
  let packageName: string | undefined;
  if (isPath) {
    entry = resolvePath(spec, from[0] ?? process.cwd());
    packageName = undefined;
  } else {
    // `slack` means @teleport-plugin/slack; an unscoped third-party package also works by name.
    const bare = /^[a-z0-9][a-z0-9._-]*$/.test(spec);
    const candidates = bare ? [`@teleport-plugin/${spec}`, spec] : [spec];
    let resolved: string | undefined;
    for (const candidate of candidates) {
      resolved = resolvePackage(candidate, from);
      if (resolved !== undefined) {
        packageName = candidate;
        break;
      }
    }
    if (resolved === undefined) {
      const install = candidates[0] ?? spec;
      throw new PluginError('ADAPTER_NOT_FOUND', `adapter "${spec}" not found: install it with "npm install ${install}"`, {
        userFacing: true,
        details: { spec, packageName: install, searched: from },
      });
    }
    entry = resolved;
  }

  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (err) {
    throw new PluginError('ADAPTER_INVALID', `adapter "${spec}" failed to load (${entry}): ${errorMessage(err)}`, {
      userFacing: true,
      cause: err,
    });
  }
  const adapter = validate(spec, unwrapDefault(mod));
  const pkg = findPackageJson(entry);
  return {
    adapter,
    spec,
    packageName: packageName ?? pkg?.name,
    version: adapter.version ?? pkg?.version,
    entry,
  };
}

function resolvePath(spec: string, base: string): string {
  const abs = path.resolve(base, spec);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new PluginError('ADAPTER_NOT_FOUND', `adapter "${spec}" not found: no such file or directory ${abs}`, {
      userFacing: true,
    });
  }
  if (!stat.isDirectory()) return abs;
  const entry = packageEntry(abs);
  if (entry === undefined) {
    throw new PluginError('ADAPTER_NOT_FOUND', `adapter "${spec}" not found: ${abs} has no package.json entry point or index.js`, {
      userFacing: true,
    });
  }
  return entry;
}

/**
 * Node's own lookup first (NODE_PATH, symlinked workspaces); then a node_modules walk that also
 * understands ESM-only packages (an exports map with only `import`, which require.resolve rejects).
 */
function resolvePackage(name: string, from: string[]): string | undefined {
  for (const dir of from) {
    try {
      return createRequire(path.join(dir, '__teleport_plugin_resolve__.js')).resolve(name);
    } catch {
      // fall through to the manual walk for this base
    }
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      const candidate = path.join(d, 'node_modules', ...name.split('/'));
      if (fs.existsSync(path.join(candidate, 'package.json'))) {
        const entry = packageEntry(candidate);
        if (entry !== undefined) return entry;
      }
      if (path.dirname(d) === d) break;
    }
  }
  return undefined;
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  teleportPlugin?: { tables?: unknown };
}

/** The directory of an installed package (its package.json), found the way resolvePackage finds it. */
function packageDir(name: string, from: string[]): string | undefined {
  for (const dir of from) {
    try {
      return path.dirname(createRequire(path.join(dir, '__teleport_plugin_resolve__.js')).resolve(`${name}/package.json`));
    } catch {
      // packages without "./package.json" in their exports map: walk node_modules
    }
    for (let d = path.resolve(dir); ; d = path.dirname(d)) {
      const candidate = path.join(d, 'node_modules', ...name.split('/'));
      if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
      if (path.dirname(d) === d) break;
    }
  }
  return undefined;
}

function readPackageJson(dir: string): PackageJson | undefined {
  return readJson(path.join(dir, 'package.json'));
}

function packageEntry(dir: string): string | undefined {
  const pkg = readJson(path.join(dir, 'package.json'));
  const target = pkg === undefined ? undefined : (exportTarget(pkg.exports) ?? pkg.main);
  for (const candidate of [target, 'index.js', 'index.mjs']) {
    if (candidate === undefined) continue;
    const file = path.resolve(dir, candidate);
    if (fs.existsSync(file) && fs.statSync(file).isFile()) return file;
  }
  return undefined;
}

function exportTarget(exports: unknown): string | undefined {
  if (typeof exports === 'string') return exports;
  if (typeof exports !== 'object' || exports === null) return undefined;
  const map = exports as Record<string, unknown>;
  const root = '.' in map ? map['.'] : map;
  if (typeof root === 'string') return root;
  if (typeof root !== 'object' || root === null) return undefined;
  for (const cond of ['import', 'node', 'default']) {
    const t = exportTarget((root as Record<string, unknown>)[cond]);
    if (t !== undefined) return t;
  }
  return undefined;
}

function findPackageJson(file: string): PackageJson | undefined {
  for (let d = path.dirname(file); ; d = path.dirname(d)) {
    const pkg = readJson(path.join(d, 'package.json'));
    if (pkg?.name !== undefined) return pkg;
    if (path.dirname(d) === d) return undefined;
  }
}

function readJson(file: string): PackageJson | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

function unwrapDefault(mod: Record<string, unknown>): unknown {
  let value: unknown = mod['default'] ?? mod['adapter'];
  // A CommonJS adapter compiled with esModuleInterop arrives as { default: { default: adapter } }.
  if (typeof value === 'object' && value !== null && !('name' in value) && 'default' in value) {
    value = (value as { default: unknown }).default;
  }
  return value;
}

function validate(spec: string, value: unknown): Adapter<unknown> {
  const invalid = (what: string): PluginError => new PluginError('ADAPTER_INVALID', `adapter "${spec}" is not a teleport-plugin adapter: ${what}`, { userFacing: true });
  if (typeof value !== 'object' || value === null) {
    throw invalid('its default export must be an adapter object (see defineAdapter in @teleport-plugin/core)');
  }
  const a = value as Record<string, unknown>;
  const missing: string[] = [];
  if (typeof a['name'] !== 'string' || a['name'] === '') missing.push('name (a non-empty string)');
  if (typeof a['parseConfig'] !== 'function') missing.push('parseConfig()');
  if (typeof a['setup'] !== 'function') missing.push('setup()');
  if (missing.length > 0) throw invalid(`its default export has no ${missing.join(', ')}`);
  return value as Adapter<unknown>;
}
