// Offline checks of everything under examples/ (except custom-adapter): Kubernetes manifests
// validated against the Kubernetes OpenAPI schemas (kubernetes-models), their security and
// probe settings, and every shipped plugin.toml parsed by the real core and adapter parsers with
// the files the container would see mounted.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseConfig, loadAdapterInfo, readAdapterTables, type LoadedConfig } from '@teleport-plugin/core';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

const testDir = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const repo = path.resolve(testDir, '../..');
const examples = path.join(repo, 'examples');
const k8sDir = path.join(examples, 'kubernetes');
/** Where the CLI would resolve `slack` -> @teleport-plugin/slack from. */
const adapterFrom = [path.resolve(testDir, '..')];

// Parsed YAML manifests, read at any depth by the checks below.
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- untyped YAML, by design

const MODELS: Record<string, new (data: Obj) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
};

/** The six adapters this project ships. */
const SIX = ['email', 'gitlab', 'jira', 'mattermost', 'pagerduty', 'slack'];

/** Every `table.key = value` a TOML text sets (comments and blank lines dropped), for comparing two files. */
function settings(toml: string): string[] {
  let table = '';
  const out: string[] = [];
  for (const raw of toml.split('\n')) {
    const line = raw.replace(/\s+#.*$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) table = header[1]!;
    else out.push(`${table}.${line.replace(/\s*=\s*/, ' = ')}`);
  }
  return out.sort();
}

/** Writes a placeholder for every file a TOML names under `prefix` (as a mounted Secret would). */
async function writeNamedFiles(toml: string, root: string, prefix: string, content = 'placeholder-secret-value\n'): Promise<void> {
  for (const [, rest] of toml.matchAll(new RegExp(`"${prefix}/([^"]+)"`, 'g'))) {
    const file = path.join(root, prefix, rest!);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

async function readYamlDocs(file: string): Promise<Obj[]> {
  const docs = parseAllDocuments(await readFile(file, 'utf8'));
  return docs.map((d) => {
    assert.deepEqual(d.errors, [], `${path.relative(repo, file)}: YAML errors`);
    return d.toJS() as Obj;
  });
}

/** Each given path prefix is moved under `root` (files the container would see mounted). */
function rebase(toml: string, root: string, prefixes: readonly string[]): string {
  let out = toml;
  for (const p of prefixes) out = out.split(`"${p}/`).join(`"${path.join(root, p)}/`);
  return out;
}

/** Parse like `teleport-plugin start`: core sections, then each adapter's section; no unknown keys. */
async function parseLikeStart(toml: string, file: string, plugins?: readonly string[]): Promise<LoadedConfig> {
  // The tables adapters declare as theirs ([smtp] is email's), as `teleport-plugin start` reads them.
  const cfg = parseConfig(toml, file, { env: {}, tableOwners: readAdapterTables(SIX, { from: adapterFrom }) });
  for (const name of plugins ?? cfg.pluginSections) {
    const { adapter } = await loadAdapterInfo(name, { from: adapterFrom });
    adapter.parseConfig(cfg.section(name), cfg.context);
  }
  assert.deepEqual(cfg.reportUnknownKeys(), [], `${file}: unknown keys`);
  return cfg;
}

let scratch: string;
before(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'tp-examples-'));
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('examples/kubernetes', () => {
  let byKind: Map<string, Obj[]>;
  let files: string[];

  before(async () => {
    files = (await readdir(k8sDir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
    byKind = new Map();
    for (const f of files) {
      for (const doc of await readYamlDocs(path.join(k8sDir, f))) {
        const list = byKind.get(doc.kind) ?? [];
        list.push(doc);
        byKind.set(doc.kind, list);
      }
    }
  });

  const one = (kind: string): Obj => {
    const list = byKind.get(kind) ?? [];
    assert.equal(list.length, 1, `expected exactly one ${kind}`);
    return list[0]!;
  };

  test('every manifest validates against the Kubernetes schema', () => {
    let count = 0;
    for (const [kind, docs] of byKind) {
      for (const doc of docs) {
        const Model = MODELS[`${doc.apiVersion}/${kind}`];
        assert.ok(Model, `no schema check for ${doc.apiVersion} ${kind}: add it to MODELS`);
        assert.doesNotThrow(() => new Model(doc).validate(), `${kind} ${doc.metadata?.name}`);
        assert.equal(doc.metadata.namespace ?? doc.metadata.name, 'teleport-plugins', `${kind} namespace`);
        count++;
      }
    }
    assert.equal(count, 5);
  });

  test('the schema check catches a broken manifest', () => {
    const broken = structuredClone(one('Deployment'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = '8081';
    assert.throws(() => new Deployment(broken).validate(), /containerPort/);
  });

  test('kustomization.yaml lists every manifest', async () => {
    const kustomization = parseYaml(await readFile(path.join(k8sDir, 'kustomization.yaml'), 'utf8')) as Obj;
    assert.deepEqual([...kustomization.resources].sort(), files);
  });

  test('probes hit /healthz and /readyz on the [http] port, over HTTPS when the ConfigMap has a certificate', async () => {
    const deployment = one('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    const port = container.ports.find((p: Obj) => p.name === container.livenessProbe.httpGet.port);
    assert.ok(port, 'liveness probe port names a container port');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, container.livenessProbe.httpGet.port);
    // [http.basic_auth] reads its password file while parsing: give it the files the Secret mounts.
    const toml = one('ConfigMap').data['plugin.toml'] as string;
    const root = path.join(scratch, 'probes');
    await writeNamedFiles(toml, root, '/var/lib/teleport-plugins');
    const cfg = parseConfig(rebase(toml, root, ['/var/lib/teleport-plugins']), 'configmap.yaml', { env: {} });
    assert.ok(cfg.http, 'the ConfigMap TOML has an [http] table');
    assert.equal(Number(cfg.http.listenAddr.split(':').pop()), port.containerPort);
    if (cfg.http.httpsCertFile) {
      // The server speaks TLS: the probes must too, and plain HTTP must not be allowed.
      assert.equal(container.livenessProbe.httpGet.scheme, 'HTTPS');
      assert.equal(container.readinessProbe.httpGet.scheme, 'HTTPS');
      assert.ok(!container.args.includes('--insecure-no-tls'));
    } else {
      assert.notEqual(container.livenessProbe.httpGet.scheme, 'HTTPS');
      assert.ok(container.args.includes('--insecure-no-tls'), 'no certificate: the server must be allowed to serve plain HTTP');
    }
  });

  test('the Service exposes the webhook port of the pods it selects', () => {
    const service = one('Service');
    const pod = one('Deployment').spec.template;
    for (const [k, v] of Object.entries(service.spec.selector as Record<string, string>)) assert.equal(pod.metadata.labels[k], v, `selector ${k}`);
    const names = pod.spec.containers[0].ports.map((p: Obj) => p.name);
    for (const p of service.spec.ports as Obj[]) assert.ok(names.includes(p.targetPort), `targetPort ${p.targetPort} names a container port`);
  });

  test('TELEPORT_PLUGIN_INSTANCE is the pod name (a restarted container takes over its own unfinished work)', () => {
    const container = one('Deployment').spec.template.spec.containers[0];
    const instance = container.env.find((e: Obj) => e.name === 'TELEPORT_PLUGIN_INSTANCE');
    assert.deepEqual(instance?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } });
  });

  test('runs as non-root with a read-only root filesystem, no capabilities and RuntimeDefault seccomp', () => {
    const pod = one('Deployment').spec.template.spec;
    const container = pod.containers[0];
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.ok(pod.securityContext.runAsUser > 0);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    assert.equal(pod.automountServiceAccountToken, false);
    const sc = container.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.equal(sc.capabilities.add, undefined);
    assert.equal(sc.seccompProfile.type, 'RuntimeDefault');
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
    assert.ok(container.resources.limits.memory);
    // `command` would replace the image entrypoint and lose tini as PID 1.
    assert.equal(container.command, undefined);
    const env = Object.fromEntries(container.env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.TELEPORT_PLUGIN_FAIL_FAST, 'true');
  });

  test('the Secret is mounted read-only as files only the plugin user can read', () => {
    const pod = one('Deployment').spec.template.spec;
    const secret = one('Secret');
    const volume = pod.volumes.find((v: Obj) => v.secret?.secretName === secret.metadata.name);
    assert.ok(volume, 'a volume mounts the Secret');
    const mode: number = volume.secret.defaultMode;
    assert.equal(mode & 0o007, 0, 'no access for others');
    assert.equal(mode & 0o222, 0, 'not writable');
    assert.ok(mode & 0o040, 'readable by fsGroup');
    assert.equal(pod.securityContext.fsGroup, pod.securityContext.runAsGroup);
    const mount = pod.containers[0].volumeMounts.find((m: Obj) => m.name === volume.name);
    assert.equal(mount.readOnly, true);
    assert.equal(mount.subPath, undefined, 'subPath mounts never see Secret updates (identity renewal)');
    const cm = pod.volumes.find((v: Obj) => v.configMap);
    assert.equal(cm.configMap.name, one('ConfigMap').metadata.name);
  });

  test('the ConfigMap TOML parses with the mounted Secret files and selects the env adapters', async () => {
    const pod = one('Deployment').spec.template.spec;
    const container = pod.containers[0];
    const secret = one('Secret');
    const configMap = one('ConfigMap');
    const secretMount = container.volumeMounts.find((m: Obj) => pod.volumes.some((v: Obj) => v.name === m.name && v.secret)).mountPath as string;
    const configMount = container.volumeMounts.find((m: Obj) => pod.volumes.some((v: Obj) => v.name === m.name && v.configMap)).mountPath as string;
    const configArg = container.args[container.args.indexOf('-c') + 1];
    assert.equal(path.posix.dirname(configArg), configMount);
    const toml = configMap.data[path.posix.basename(configArg)] as string;
    assert.ok(toml, `the ConfigMap has ${path.posix.basename(configArg)}`);

    const root = path.join(scratch, 'pod');
    await mkdir(path.join(root, secretMount), { recursive: true });
    for (const [key, value] of Object.entries(secret.stringData as Record<string, string>)) {
      await writeFile(path.join(root, secretMount, key), value);
    }
    const plugins = (container.env.find((e: Obj) => e.name === 'TELEPORT_PLUGINS').value as string).split(',');
    assert.deepEqual([...plugins].sort(), SIX, 'the Deployment runs all six');
    const cfg = await parseLikeStart(rebase(toml, root, [secretMount]), 'configmap.yaml', plugins);
    assert.deepEqual([...cfg.pluginSections].sort(), [...plugins].sort());
    assert.equal(cfg.teleport.identityFile, path.join(root, secretMount, 'identity'));
    assert.equal(cfg.teleport.refreshIdentity, true);
    // Every file the TOML reads is a key of the Secret, and the Secret holds nothing unused.
    const named = [...toml.matchAll(new RegExp(`"${secretMount}/([^"]+)"`, 'g'))].map((m) => m[1]!);
    assert.deepEqual([...new Set(named)].sort(), Object.keys(secret.stringData).sort());
  });

  test('the ConfigMap TOML is examples/all/plugin.toml (logging to stdout)', async () => {
    const fromFile = settings(await readFile(path.join(examples, 'all/plugin.toml'), 'utf8')).filter((l) => !l.startsWith('log.'));
    const fromConfigMap = settings(one('ConfigMap').data['plugin.toml'] as string).filter((l) => !l.startsWith('log.'));
    assert.deepEqual(fromConfigMap, fromFile);
  });

  test('a file the TOML reads but the Secret lacks is reported, naming it', async () => {
    const toml = one('ConfigMap').data['plugin.toml'] as string;
    const root = path.join(scratch, 'partial');
    await writeNamedFiles(toml, root, '/var/lib/teleport-plugins');
    await rm(path.join(root, 'var/lib/teleport-plugins/slack-token'));
    await assert.rejects(
      parseLikeStart(rebase(toml, root, ['/var/lib/teleport-plugins']), 'configmap.yaml', SIX),
      /configmap\.yaml:\d+: \[slack\] token: cannot read secret file .*slack-token/,
    );
  });
});

describe('examples: compose, plugin.toml files and roles', () => {
  test("the article's slack/config/plugin.toml runs unchanged with the slack adapter", async () => {
    const file = path.join(examples, 'slack/config/plugin.toml');
    const text = await readFile(file, 'utf8');
    assert.match(text, /^recipients = \["requests"\] # Channel to post to$/m);
    const cfg = parseConfig(text, file, { env: {} });
    assert.deepEqual(cfg.pluginSections, ['slack']);
    assert.equal(cfg.teleport.addr, 'teleport.example.com:443');
    assert.equal(cfg.teleport.identityFile, '/var/lib/teleport-plugins/access-plugin.pem');
    const { adapter } = await loadAdapterInfo('slack', { from: adapterFrom });
    const slack = adapter.parseConfig(cfg.section('slack'), cfg.context) as { roleToRecipients: Record<string, string[]> };
    // The deprecated [slack] recipients still route every role to the channel.
    assert.deepEqual(slack.roleToRecipients['*'], ['requests']);
  });

  test('multi/plugin.toml configures slack and pagerduty with no unknown keys', async () => {
    const toml = await readFile(path.join(examples, 'multi/plugin.toml'), 'utf8');
    const root = path.join(scratch, 'multi');
    await mkdir(path.join(root, 'var/lib/teleport-plugins'), { recursive: true });
    for (const f of ['slack-token', 'pagerduty-api-key']) {
      await writeFile(path.join(root, 'var/lib/teleport-plugins', f), `test-${f}\n`);
    }
    const cfg = await parseLikeStart(rebase(toml, root, ['/var/lib/teleport-plugins']), 'multi/plugin.toml');
    assert.deepEqual(cfg.pluginSections, ['slack', 'pagerduty']);
  });

  test('all/plugin.toml configures all six adapters, one [http] for both webhooks, with no unknown keys', async () => {
    const toml = await readFile(path.join(examples, 'all/plugin.toml'), 'utf8');
    const root = path.join(scratch, 'all');
    await writeNamedFiles(toml, root, '/var/lib/teleport-plugins');
    const cfg = await parseLikeStart(rebase(toml, root, ['/var/lib/teleport-plugins']), 'all/plugin.toml', SIX);
    assert.deepEqual([...cfg.pluginSections].sort(), SIX);
    assert.equal(cfg.http?.listenAddr, ':8081');
    assert.equal(cfg.http?.publicAddr, 'https://teleport-plugins.example.com');
    // The header lists every file the TOML reads, so a reader knows what to put next to it.
    const header = toml.split('\n[teleport]')[0]!;
    for (const [, file] of toml.matchAll(/"\/var\/lib\/teleport-plugins\/([^"]+)"/g)) assert.ok(header.includes(file!), `all/plugin.toml's header names ${file}`);
  });

  for (const adapter of SIX) {
    test(`go-plugins/teleport-${adapter}.toml, the Go plugin's file layout, runs the ${adapter} adapter alone`, async () => {
      const file = path.join(examples, `go-plugins/teleport-${adapter}.toml`);
      const toml = await readFile(file, 'utf8');
      const root = path.join(scratch, `go-${adapter}`);
      await writeNamedFiles(toml, root, '/var/lib/teleport');
      const rebased = rebase(toml, root, ['/var/lib/teleport']);
      // As `teleport-plugin start -c teleport-<name>.toml` without --plugin: the tables choose.
      const cfg = parseConfig(rebased, file, { env: {}, tableOwners: readAdapterTables(SIX, { from: adapterFrom }) });
      assert.deepEqual(cfg.pluginSections, [adapter]);
      await parseLikeStart(rebased, file, [adapter]);
      assert.equal(cfg.teleport.identityFile, path.join(root, `/var/lib/teleport/plugins/${adapter}/auth_id`));
    });
  }

  test('docker-compose.yml builds our image and mounts folders holding a plugin.toml', async () => {
    const compose = parseYaml(await readFile(path.join(examples, 'docker-compose.yml'), 'utf8')) as Obj;
    const adapters = (await readdir(path.join(repo, 'plugins'))).sort();
    const services = Object.entries(compose.services as Record<string, Obj>);
    assert.ok(services.length >= 1);
    for (const [name, svc] of services) {
      assert.equal(path.resolve(examples, svc.build.context, svc.build.dockerfile), path.join(repo, 'docker/Dockerfile'), name);
      for (const p of String(svc.build.args.PLUGIN).split(',')) assert.ok(p === 'all' || adapters.includes(p), `${name}: adapter ${p}`);
      const [host, target] = String(svc.volumes[0]).split(':');
      assert.equal(target, '/var/lib/teleport-plugins', name);
      await readFile(path.join(examples, host!, 'plugin.toml'), 'utf8');
    }
    // The six-adapter service publishes the [http] port of its plugin.toml (webhooks, health).
    const all = compose.services['teleport-plugins-all'] as Obj;
    assert.equal(all.build.args.PLUGIN, 'all');
    const toml = await readFile(path.join(examples, String(all.volumes[0]).split(':')[0]!, 'plugin.toml'), 'utf8');
    const port = /^listen_addr = ":(\d+)"$/m.exec(toml)?.[1];
    assert.ok(
      all.ports.some((p: string) => String(p).endsWith(`:${port}`)),
      `port ${port} published`,
    );
    assert.equal(all.environment.TELEPORT_PLUGIN_INSTANCE, all.container_name);
  });

  test('roles: least-privilege plugin roles and the article roles', async () => {
    const roles = new Map<string, Obj>();
    for (const f of await readdir(path.join(examples, 'roles'))) {
      for (const doc of await readYamlDocs(path.join(examples, 'roles', f))) {
        if (doc.kind === 'role') roles.set(doc.metadata.name, doc);
        else assert.equal(doc.kind, 'user', `${f}: unexpected kind ${doc.kind}`);
      }
    }
    for (const name of ['access-plugin', 'access-plugin-pagerduty', 'access-plugin-jira', 'access-plugin-gitlab', 'access-plugin-all', 'sres', 'prodaccess', 'access-reviewer']) {
      assert.ok(roles.has(name), `role ${name}`);
    }
    const rules = (name: string) => Object.fromEntries((roles.get(name)!.spec.allow.rules as Obj[]).map((r) => [r.resources.join(','), [...r.verbs].sort()]));
    const notify = { access_request: ['list', 'read'], access_plugin_data: ['update'], access_monitoring_rule: ['list', 'read'] };
    // Notifiers also read Access Lists (review reminders to their owners).
    assert.deepEqual(rules('access-plugin'), { ...notify, access_list: ['list', 'read'] });
    assert.equal(roles.get('access-plugin')!.spec.allow.review_requests, undefined, 'notify-only role cannot review');
    assert.deepEqual(rules('access-plugin-pagerduty'), notify);
    const review = roles.get('access-plugin-pagerduty')!.spec.allow.review_requests;
    assert.deepEqual(review.roles, ['prodaccess']);
    assert.match(review.where, /request\.system_annotations\["pagerduty_services"\]/);
    // Jira and GitLab set states (access_request update); the six-adapter role is the union.
    const withUpdate = { access_request: ['list', 'read', 'update'], access_plugin_data: ['update'], access_monitoring_rule: ['list', 'read'] };
    assert.deepEqual(rules('access-plugin-jira'), withUpdate);
    assert.deepEqual(rules('access-plugin-gitlab'), withUpdate);
    assert.equal(roles.get('access-plugin-gitlab')!.spec.allow.review_requests, undefined, 'GitLab sets states, it does not review');
    assert.deepEqual(rules('access-plugin-all'), { ...withUpdate, access_list: ['list', 'read'] });
    assert.deepEqual(roles.get('access-plugin-all')!.spec.allow.review_requests, review);
    assert.deepEqual(roles.get('sres')!.spec.allow.request.roles, ['prodaccess']);
    assert.deepEqual(roles.get('access-reviewer')!.spec.allow.review_requests.roles, ['prodaccess']);
  });
});
