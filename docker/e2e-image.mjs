// End-to-end checks of a built image: its default command (`start -c /var/lib/teleport-plugins/plugin.toml`,
// as uid 1000 under tini) against fakes on this host (the container uses host networking), with
// the configuration mounted read-only at /var/lib/teleport-plugins as the examples describe.
//   node docker/e2e-image.mjs IMAGE        (run by docker/test-image.sh; needs a built workspace)
//
// 1. slack (when the image has it): the article's examples/slack/config/plugin.toml (only `addr`
//    and the Slack API URL changed): the request is posted to #requests, the approval recorded.
// 2. all six (when the image has them): examples/all/plugin.toml with only addresses changed and
//    the webhooks served in plain HTTP on loopback (https_* dropped, --insecure-no-tls), every file
//    it names mounted beside it; Jira over HTTPS and SMTP with STARTTLS, their CA handed to the
//    container through NODE_EXTRA_CA_CERTS. Each adapter announces each request once; a Jira move
//    approves one and a GitLab label denies another, and every adapter records both outcomes.
// Each ends with SIGTERM (podman stop) and checks the clean exit through tini.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const image = process.argv[2];
if (!image) throw new Error('usage: node docker/e2e-image.mjs IMAGE');
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(repo, p));
const { FakeTeleport, TestPki } = await dist('packages/testkit/dist/src/index.js');
const run = promisify(execFile);

async function waitFor(what, predicate, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await predicate();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Replaces `from` (which must be there) with `to`: the example changed shape if it is not. */
function swap(text, from, to, file) {
  if (!text.includes(from)) throw new Error(`${file} changed shape: no ${JSON.stringify(from)}`);
  return text.split(from).join(to);
}

/** Runs the image's default command with `dir` mounted; resolves the container handle. */
function startContainer(name, dir, { env = {}, args = [] } = {}) {
  const envArgs = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const child = spawn('podman', ['run', '--rm', '--name', name, '--network', 'host', '--no-healthcheck', ...envArgs, '-v', `${dir}:/var/lib/teleport-plugins:ro`, image, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle = { child, output: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  for (const stream of [child.stdout, child.stderr])
    stream.on('data', (d) => {
      handle.output += d;
      process.stdout.write(`  | ${d}`);
    });
  return handle;
}

async function stopContainer(name, handle) {
  await run('podman', ['stop', '--time', '20', name]);
  const code = await handle.exited;
  console.log(`exit code after SIGTERM: ${code}`);
  if (code !== 0) throw new Error(`expected exit code 0 after podman stop, got ${code}`);
  if (!handle.output.includes('Successfully shut down')) throw new Error('no "Successfully shut down" in the output');
}

/** The container user (uid 1000) must be able to read the mounted files. */
async function readable(dir, files) {
  await chmod(dir, 0o755);
  for (const f of files) await chmod(path.join(dir, f), 0o644);
}

// ---- 1. the article's Slack setup ------------------------------------------------------------------
async function articleSlack() {
  const { FakeSlack } = await dist('plugins/slack/dist/src/testing/index.js');
  const tp = await FakeTeleport.start();
  const slack = new FakeSlack({ token: '<token-id>' }); // the article's token, unchanged
  const dir = await mkdtemp(path.join(tmpdir(), 'tp-image-e2e-'));
  const name = `tp-e2e-slack-${process.pid}`;
  let container;
  try {
    tp.addPluginUser('access-plugin');
    tp.addRequester('alice@example.com', { requestRoles: ['prodaccess'] });
    slack.addChannel({ id: 'C0REQUESTS', name: 'requests' });
    slack.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
    await slack.start();

    const file = 'examples/slack/config/plugin.toml';
    let toml = await readFile(path.join(repo, file), 'utf8');
    toml = swap(toml, 'addr = "teleport.example.com:443"', `addr = "${tp.addr}"`, file);
    toml = swap(toml, '[slack]\n', `[slack]\napi_url = "${slack.apiUrl}"\n`, file);
    await writeFile(path.join(dir, 'plugin.toml'), toml);
    await rename(await tp.writeIdentityFile(dir, { user: 'access-plugin' }), path.join(dir, 'access-plugin.pem'));
    await readable(dir, ['plugin.toml', 'access-plugin.pem']);

    // The article's config has only [slack]; an image built for several adapters starts all of its
    // PLUGIN list by default, so name the one this setup configures (as the README says to).
    container = startContainer(name, dir, { env: { TELEPORT_PLUGINS: 'slack' } });
    const id = await tp.admin.createRequest({ user: 'alice@example.com', roles: ['prodaccess'], reason: 'article e2e' });
    const message = await waitFor('the request in #requests', () =>
      slack.messages.find((m) => m.channel === 'C0REQUESTS' && m.threadTs === undefined && JSON.stringify(m).includes(id)),
    );
    console.log(`posted to #requests: ts=${message.ts}`);
    await tp.admin.approve(id, { reason: 'looks fine' });
    await waitFor('plugin data with the resolution', () => tp.admin.pluginData(id, 'slack')?.resolution);
    console.log('plugin data:', JSON.stringify(tp.admin.pluginData(id, 'slack')));
    await stopContainer(name, container);
    container = undefined;
    console.log('article Slack e2e OK');
  } finally {
    if (container) await run('podman', ['rm', '--force', name]).catch(() => {});
    await slack.close();
    await tp.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---- 2. all six, examples/all/plugin.toml ---------------------------------------------------------
async function allSix() {
  const { FakeSlack, blocksText } = await dist('plugins/slack/dist/src/testing/index.js');
  const { FakeMattermost } = await dist('plugins/mattermost/dist/src/testing/index.js');
  const { startSmtpServer } = await dist('plugins/email/dist/src/testing/index.js');
  const { FakeJira } = await dist('plugins/jira/dist/src/testing/index.js');
  const { FakeGitLab } = await dist('plugins/gitlab/dist/src/testing/index.js');
  const { FakePagerDuty } = await dist('plugins/pagerduty/dist/src/testing/index.js');

  const dir = await mkdtemp(path.join(tmpdir(), 'tp-image-e2e-all-'));
  const name = `tp-e2e-all-${process.pid}`;
  const requester = 'alice@example.com';
  const reviewers = ['security@example.com'];
  const secrets = {
    'http-password': 'metrics-password',
    'slack-token': 'xoxb-image-e2e',
    'mattermost-token': 'mm-image-e2e',
    'smtp-password': 'smtp-image-e2e',
    'jira-api-token': 'jira-image-e2e',
    'jira-webhook-secret': 'jira-webhook-image-e2e',
    'gitlab-token': 'glpat-image-e2e',
    'gitlab-webhook-secret': 'gitlab webhook image e2e',
    'pagerduty-api-key': 'pd-image-e2e',
  };
  const closers = [];
  let container;
  try {
    const tp = await FakeTeleport.start();
    closers.push(() => tp.close());
    tp.addPluginUser('access-plugin-all', { canSetState: true });
    tp.addRequester(requester, { requestRoles: ['prodaccess'], requestAnnotations: { pagerduty_notify_service: ['Access Requests'] } });

    const pki = await TestPki.create({ clusterName: 'image.e2e' });
    const web = await pki.issueWebCert(['localhost'], ['127.0.0.1']);

    const slack = new FakeSlack({ token: secrets['slack-token'] });
    slack.addChannel({ id: 'C0ACCESS', name: 'access-requests' });
    await slack.start();
    closers.push(() => slack.close());
    const mm = new FakeMattermost({ token: secrets['mattermost-token'] });
    const mmChannel = mm.addChannel({ team: 'ops', name: 'access-requests' }).id;
    await mm.start();
    closers.push(() => mm.close());
    const smtp = await startSmtpServer({ cert: web.certPem, key: web.keyPem, auth: { user: 'teleport-bot@example.com', pass: secrets['smtp-password'] } });
    closers.push(() => smtp.close());
    const jira = new FakeJira({ username: 'jira-bot@example.com', apiToken: secrets['jira-api-token'], projectKey: 'ACCESS', tls: { cert: web.certPem, key: web.keyPem } });
    await jira.start();
    closers.push(() => jira.close());
    const jiraReviewer = jira.addUser('jira-reviewer@example.com', { displayName: 'Jira Reviewer' });
    const gl = new FakeGitLab({ token: secrets['gitlab-token'] });
    await gl.start();
    closers.push(() => gl.close());
    const project = gl.addProject('ops/access-requests');
    const pd = new FakePagerDuty({ apiKey: secrets['pagerduty-api-key'] });
    await pd.start();
    closers.push(() => pd.close());
    pd.addUser('teleport-bot@example.com', 'Teleport Bot');
    pd.addService('Access Requests');

    const port = await freePort();
    jira.addWebhook({ url: `http://127.0.0.1:${port}/jira/`, secret: secrets['jira-webhook-secret'] });

    const file = 'examples/all/plugin.toml';
    let toml = await readFile(path.join(repo, file), 'utf8');
    toml = swap(toml, 'addr = "teleport.example.com:443"', `addr = "${tp.addr}"`, file);
    toml = swap(toml, 'public_addr = "https://teleport-plugins.example.com"', `public_addr = "http://127.0.0.1:${port}"`, file);
    toml = swap(toml, 'listen_addr = ":8081"', `listen_addr = "127.0.0.1:${port}"`, file);
    toml = swap(toml, 'https_cert_file = "/var/lib/teleport-plugins/tls.crt"\n', '', file);
    toml = swap(toml, 'https_key_file = "/var/lib/teleport-plugins/tls.key"\n', '', file);
    toml = swap(toml, '[slack]\n', `[slack]\napi_url = "${slack.apiUrl}"\n`, file);
    toml = swap(toml, 'url = "https://mattermost.example.com"', `url = "${mm.url}"`, file);
    toml = swap(toml, 'host = "smtp.example.com"\nport = 587', `host = "127.0.0.1"\nport = ${smtp.port}`, file);
    toml = swap(toml, 'url = "https://example.atlassian.net"', `url = "${jira.url}"`, file);
    toml = swap(toml, 'url = "https://gitlab.example.com"', `url = "${gl.url}"`, file);
    toml = swap(toml, '[pagerduty]\n', `[pagerduty]\napi_endpoint = "${pd.url}"\n`, file);
    await writeFile(path.join(dir, 'plugin.toml'), toml);
    await rename(await tp.writeIdentityFile(dir, { user: 'access-plugin-all' }), path.join(dir, 'identity'));
    for (const [f, value] of Object.entries(secrets)) await writeFile(path.join(dir, f), `${value}\n`);
    await writeFile(path.join(dir, 'ca.pem'), pki.webCa.certPem);
    await readable(dir, ['plugin.toml', 'identity', 'ca.pem', ...Object.keys(secrets)]);

    const watches = tp.calls.filter((c) => c.method === 'WatchEvents').length;
    container = startContainer(name, dir, {
      env: { NODE_EXTRA_CA_CERTS: '/var/lib/teleport-plugins/ca.pem', TELEPORT_PLUGIN_INSTANCE: name },
      args: ['start', '-c', '/var/lib/teleport-plugins/plugin.toml', '--insecure-no-tls'],
    });
    await waitFor('the plugin to watch Teleport', () => tp.calls.filter((c) => c.method === 'WatchEvents').length > watches && tp.openWatchCount > 0);
    if (tp.openWatchCount !== 1) throw new Error(`expected one watch stream for six adapters, got ${tp.openWatchCount}`);

    const adapters = ['slack', 'mattermost', 'email', 'jira', 'gitlab', 'pagerduty'];
    const counts = (id) => ({
      slack: slack.rootMessages('C0ACCESS').filter((m) => blocksText(m.blocks).includes(id)).length,
      mattermost: mm.postsFor(id).filter((p) => p.rootId === '' && p.channelId === mmChannel && p.props.teleport_kind === 'request').length,
      email: smtp.mailsTo(reviewers[0]).filter((m) => m.headers['x-teleport-access-request'] === id && !m.inReplyTo).length,
      jira: jira.issuesForRequest(id).length,
      gitlab: project.issues.filter((i) => i.description.includes(id)).length,
      pagerduty: pd.incidents.filter((i) => i.incidentKey === `teleport-access-request/${id}`).length,
    });
    const announced = (id) => adapters.every((a) => tp.admin.pluginData(id, a)?.announced === 'ok');
    const resolution = (id) => adapters.map((a) => (tp.admin.pluginData(id, a)?.resolution ?? '').toLowerCase());

    const approved = await tp.admin.createRequest({ user: requester, roles: ['prodaccess'], reason: 'image e2e: approve in Jira' });
    const denied = await tp.admin.createRequest({ user: requester, roles: ['prodaccess'], reason: 'image e2e: deny with a label' });
    await waitFor('every adapter to announce both requests', () => announced(approved) && announced(denied));
    for (const id of [approved, denied]) {
      const c = counts(id);
      console.log(`announced ${id}: ${JSON.stringify(c)}`);
      if (!adapters.every((a) => c[a] === 1)) throw new Error(`each adapter must announce ${id} exactly once: ${JSON.stringify(c)}`);
    }

    const [issue] = jira.issuesForRequest(approved);
    const [jiraDelivery] = await jira.transitionAs(jiraReviewer, issue.id, 'Approved', { comment: 'ok\nReason: approved in Jira' });
    console.log(`Jira webhook answered ${jiraDelivery?.status}`);
    const glIssue = project.issues.find((i) => i.description.includes(denied));
    await waitFor('the GitLab issue recorded', () => tp.admin.pluginData(denied, 'gitlab')?.issue_iid === String(glIssue.iid));
    const [glDelivery] = await gl.addLabelAs('dave', project, glIssue.iid, 'Teleport: Denied');
    console.log(`GitLab webhook answered ${glDelivery?.status}`);
    await waitFor('every adapter to record both outcomes', () => resolution(approved).every((r) => r === 'approved') && resolution(denied).every((r) => r === 'denied'));
    console.log(`outcomes recorded: approved by ${adapters.join(', ')}; denied by ${adapters.join(', ')}`);
    for (const id of [approved, denied]) {
      const c = counts(id);
      if (!adapters.every((a) => c[a] === 1)) throw new Error(`something was announced twice for ${id}: ${JSON.stringify(c)}`);
    }

    await stopContainer(name, container);
    container = undefined;
    console.log('six-adapter e2e OK');
  } finally {
    if (container) await run('podman', ['rm', '--force', name]).catch(() => {});
    for (const close of closers.reverse()) await close().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

const { stdout } = await run('podman', ['run', '--rm', '--network', 'none', '--no-healthcheck', '--entrypoint', 'cat', image, '/app/plugins']);
const installed = stdout.split('\n').filter(Boolean);
console.log(`adapters in ${image}: ${installed.join(', ')}`);
if (installed.includes('slack')) await articleSlack();
if (['slack', 'mattermost', 'email', 'jira', 'gitlab', 'pagerduty'].every((a) => installed.includes(a))) await allSix();
else console.log('skipping the six-adapter e2e: the image does not have all six adapters');
