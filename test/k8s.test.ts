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
import { parseConfig, loadAdapterInfo, type LoadedConfig } from '@teleport-plugin/core';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Secret } from 'kubernetes-models/v1';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

const testDir = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const repo = path.resolve(testDir, '../..');
const examples = path.join(repo, 'examples');
const k8sDir = path.join(examples, 'kubernetes');
/** Where the CLI would resolve `slack` -> @teleport-plugin/slack from. */
const adapterFrom = [path.resolve(testDir, '..')];

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Namespace': Namespace,
};

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
  const cfg = parseConfig(toml, file, { env: {} });
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
    assert.equal(count, 4);
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

  test('probes hit /healthz and /readyz on the [http] port', () => {
    const deployment = one('Deployment');
    const container = deployment.spec.template.spec.containers[0];
    const port = container.ports.find((p: Obj) => p.name === container.livenessProbe.httpGet.port);
    assert.ok(port, 'liveness probe port names a container port');
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, container.livenessProbe.httpGet.port);
    const cfg = parseConfig(one('ConfigMap').data['plugin.toml'], 'configmap.yaml', { env: {} });
    assert.ok(cfg.http, 'the ConfigMap TOML has an [http] table');
    assert.equal(Number(cfg.http.listenAddr.split(':').pop()), port.containerPort);
    // No certificate is configured, so the server must be allowed to serve plain HTTP.
    assert.equal(cfg.http.httpsCertFile, undefined);
    assert.ok(container.args.includes('--insecure-no-tls'));
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
    const secretMount = container.volumeMounts.find((m: Obj) =>
      pod.volumes.some((v: Obj) => v.name === m.name && v.secret),
    ).mountPath as string;
    const configMount = container.volumeMounts.find((m: Obj) =>
      pod.volumes.some((v: Obj) => v.name === m.name && v.configMap),
    ).mountPath as string;
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
    const cfg = await parseLikeStart(rebase(toml, root, [secretMount]), 'configmap.yaml', plugins);
    assert.deepEqual(cfg.pluginSections, plugins);
    assert.equal(cfg.teleport.identityFile, path.join(root, secretMount, 'identity'));
    assert.equal(cfg.teleport.refreshIdentity, true);
  });

  test('a secret file missing from the Secret is reported', async () => {
    const toml = one('ConfigMap').data['plugin.toml'] as string;
    const empty = path.join(scratch, 'empty');
    await mkdir(path.join(empty, 'var/lib/teleport-plugins'), { recursive: true });
    await assert.rejects(
      parseLikeStart(rebase(toml, empty, ['/var/lib/teleport-plugins']), 'configmap.yaml', ['slack']),
      /slack-token|token/,
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

  test('docker-compose.yml builds our image and mounts folders holding a plugin.toml', async () => {
    const compose = parseYaml(await readFile(path.join(examples, 'docker-compose.yml'), 'utf8')) as Obj;
    const adapters = (await readdir(path.join(repo, 'plugins'))).sort();
    const services = Object.entries(compose.services as Record<string, Obj>);
    assert.ok(services.length >= 1);
    for (const [name, svc] of services) {
      assert.equal(path.resolve(examples, svc.build.context, svc.build.dockerfile), path.join(repo, 'docker/Dockerfile'), name);
      for (const p of String(svc.build.args.PLUGIN).split(',')) assert.ok(adapters.includes(p), `${name}: adapter ${p}`);
      const [host, target] = String(svc.volumes[0]).split(':');
      assert.equal(target, '/var/lib/teleport-plugins', name);
      await readFile(path.join(examples, host!, 'plugin.toml'), 'utf8');
    }
  });

  test('roles: least-privilege plugin roles and the article roles', async () => {
    const roles = new Map<string, Obj>();
    for (const f of await readdir(path.join(examples, 'roles'))) {
      for (const doc of await readYamlDocs(path.join(examples, 'roles', f))) {
        if (doc.kind === 'role') roles.set(doc.metadata.name, doc);
        else assert.equal(doc.kind, 'user', `${f}: unexpected kind ${doc.kind}`);
      }
    }
    for (const name of ['access-plugin', 'access-plugin-pagerduty', 'sres', 'prodaccess', 'access-reviewer']) {
      assert.ok(roles.has(name), `role ${name}`);
    }
    const rules = (name: string) =>
      Object.fromEntries((roles.get(name)!.spec.allow.rules as Obj[]).map((r) => [r.resources.join(','), [...r.verbs].sort()]));
    assert.deepEqual(rules('access-plugin'), { access_request: ['list', 'read'], access_plugin_data: ['update'] });
    assert.equal(roles.get('access-plugin')!.spec.allow.review_requests, undefined, 'notify-only role cannot review');
    assert.deepEqual(rules('access-plugin-pagerduty'), rules('access-plugin'));
    const review = roles.get('access-plugin-pagerduty')!.spec.allow.review_requests;
    assert.deepEqual(review.roles, ['prodaccess']);
    assert.match(review.where, /request\.system_annotations\["pagerduty_services"\]/);
    assert.deepEqual(roles.get('sres')!.spec.allow.request.roles, ['prodaccess']);
    assert.deepEqual(roles.get('access-reviewer')!.spec.allow.review_requests.roles, ['prodaccess']);
  });
});
