// A minimal npm registry on 127.0.0.1 that serves packuments and tarballs for one scope, so that
// "install the published packages" can be tested before anything is published. npm is pointed at
// it for that scope only (`npm_config_@scope:registry`); everything else still comes from the
// registry configured on the machine, so any request outside the scope is recorded and answered 404.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export interface RegistryPackage {
  /** A tarball as `npm pack` / `pnpm pack` writes it. */
  tarball: string;
  /** Its package/package.json. */
  manifest: { name: string; version: string; [key: string]: unknown };
}

export interface RegistryRequest {
  method: string;
  url: string;
  kind: 'packument' | 'tarball' | 'other';
  /** Package name (packument) or tarball file name. */
  target?: string;
}

export class FakeNpmRegistry {
  readonly requests: RegistryRequest[] = [];
  private readonly packuments = new Map<string, Record<string, unknown>>();
  private readonly files = new Map<string, string>();

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  /** Serves `packages` (all in `scope`, e.g. `@teleport-plugin`); the newest version of each name is `latest`. */
  static async start(scope: string, packages: RegistryPackage[]): Promise<FakeNpmRegistry> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const registry = new FakeNpmRegistry(server, url);
    for (const pkg of packages) {
      if (!pkg.manifest.name.startsWith(`${scope}/`)) throw new Error(`${pkg.manifest.name} is outside ${scope}`);
      await registry.add(pkg);
    }
    server.on('request', (req, res) => registry.handle(req, res));
    return registry;
  }

  private async add({ tarball, manifest }: RegistryPackage): Promise<void> {
    const bytes = await readFile(tarball);
    const file = path.basename(tarball);
    this.files.set(file, tarball);
    const packument = this.packuments.get(manifest.name) ?? { _id: manifest.name, name: manifest.name, 'dist-tags': {}, versions: {} };
    (packument['versions'] as Record<string, unknown>)[manifest.version] = {
      ...manifest,
      _id: `${manifest.name}@${manifest.version}`,
      dist: {
        tarball: `${this.url}tarballs/${encodeURIComponent(file)}`,
        integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
        shasum: createHash('sha1').update(bytes).digest('hex'),
      },
    };
    const tags = packument['dist-tags'] as Record<string, string>;
    if (!tags['latest'] || compareVersions(manifest.version, tags['latest']) > 0) tags['latest'] = manifest.version;
    this.packuments.set(manifest.name, packument);
  }

  /**
   * Lists `version` of `name` as its newest release (dist-tag `latest` too) with a tarball that
   * answers 404: a client that installs it instead of an exact version it was told fails.
   */
  addUnavailableVersion(name: string, version: string): void {
    const packument = this.packuments.get(name);
    if (!packument) throw new Error(`${name} is not served`);
    const versions = packument['versions'] as Record<string, Record<string, unknown>>;
    const base = Object.values(versions)[0] ?? {};
    const file = `${name.slice(1).replace('/', '-')}-${version}.tgz`;
    versions[version] = {
      ...base,
      version,
      _id: `${name}@${version}`,
      dist: { tarball: `${this.url}tarballs/${encodeURIComponent(file)}`, shasum: '0'.repeat(40) },
    };
    (packument['dist-tags'] as Record<string, string>)['latest'] = version;
  }

  /** Requests for a package's packument (whichever URL form npm used). */
  packumentRequests(name: string): RegistryRequest[] {
    return this.requests.filter((r) => r.kind === 'packument' && r.target === name);
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = req.url ?? '/';
    const method = req.method ?? 'GET';
    const record = (kind: RegistryRequest['kind'], target?: string): void => {
      this.requests.push(target === undefined ? { method, url, kind } : { method, url, kind, target });
    };
    let pathname: string;
    try {
      // npm asks for `/@scope%2fname`; other clients send `/@scope/name`: both decode to the name.
      pathname = decodeURIComponent(new URL(url, this.url).pathname);
    } catch {
      record('other');
      res.writeHead(400).end();
      return;
    }
    const name = pathname.slice(1);
    const packument = method === 'GET' || method === 'HEAD' ? this.packuments.get(name) : undefined;
    if (packument) {
      record('packument', name);
      res.writeHead(200, { 'content-type': 'application/json' }).end(method === 'HEAD' ? undefined : JSON.stringify(packument));
      return;
    }
    const file = pathname.startsWith('/tarballs/') ? this.files.get(pathname.slice('/tarballs/'.length)) : undefined;
    if (file && method === 'GET') {
      record('tarball', path.basename(file));
      void readFile(file).then(
        (bytes) => res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length }).end(bytes),
        () => res.writeHead(500).end(),
      );
      return;
    }
    record('other');
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Not found' }));
  }

  async close(): Promise<void> {
    // npm keeps sockets alive; they must not hold the test process open.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Orders plain x.y.z versions (pre-release tags sort before their release). */
function compareVersions(a: string, b: string): number {
  const parse = (v: string): [number[], string] => {
    const [core = '', pre = ''] = v.split('-', 2);
    return [core.split('.').map(Number), pre];
  };
  const [ca, pa] = parse(a);
  const [cb, pb] = parse(b);
  for (let i = 0; i < 3; i++) {
    const d = (ca[i] ?? 0) - (cb[i] ?? 0);
    if (d !== 0) return d;
  }
  if (pa === pb) return 0;
  if (!pa) return 1;
  if (!pb) return -1;
  return pa < pb ? -1 : 1;
}
