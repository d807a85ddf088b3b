// End to end, the Go email plugin's drop-in: `teleport-plugin start -c teleport-email.toml` as a
// real child process, with the TOML as upstream documents it ([smtp], [delivery],
// [role_to_recipients]; no [email] table, no --plugin flag), against the gRPC FakeTeleport and a
// real SMTP server (STARTTLS with a certificate of the testkit's PKI, trusted through
// NODE_EXTRA_CA_CERTS, and AUTH). Every assertion reads the mails as the server received them.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FakeTeleport } from '@teleport-plugin/testkit';
import { TestPki } from '@teleport-plugin/testkit/pki';
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from '@teleport-plugin/email/testing';
import { CliProcess, startWatching } from './lib/cli-process.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // test/dist
const testDir = path.resolve(here, '..');

const SMTP_USER = 'teleport-bot@example.com';
const SMTP_PASSWORD = 'e2e-smtp-password-4711';
const REQUESTER = 'alice@example.com';
const DEV = ['dev-manager@example.com', 'dev-lead@example.com'];

/** The upstream example, with this test's addresses filled in. */
function goEmailToml(o: { addr: string; identity: string; port: number; passwordFile: string }): string {
  return [
    '[teleport]',
    `addr = "${o.addr}"`,
    `identity = "${o.identity}"`,
    '',
    '[smtp]',
    'host = "127.0.0.1"',
    `port = ${o.port}`,
    `username = "${SMTP_USER}"`,
    'password = ""',
    `password_file = "${o.passwordFile}"`,
    'starttls_policy = "mandatory"',
    '',
    '[delivery]',
    'sender = "noreply@example.com" # From: email address',
    '',
    '[role_to_recipients]',
    '"*" = "eng@example.com"',
    `"dev" = ["${DEV[0]}", "${DEV[1]}"]`,
    '',
    '[log]',
    'output = "stderr"',
    'severity = "DEBUG"',
    '',
  ].join('\n');
}

describe("email: the Go plugin's TOML through the CLI (end to end)", { timeout: 90_000 }, () => {
  let tp: FakeTeleport;
  let smtp: TestSmtpServer;
  let dir: string;
  let plugin: CliProcess | undefined;
  let env: NodeJS.ProcessEnv;
  let identity: string;
  let passwordFile: string;

  async function waitFor<T>(predicate: () => T, what: string, timeoutMs = 20_000): Promise<NonNullable<T>> {
    try {
      return (await tp.waitFor(predicate, timeoutMs, what)) as NonNullable<T>;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- plugin output ---\n${plugin?.output ?? ''}`);
    }
  }

  const ofRequest = (id: string, to: string): ReceivedMail[] => smtp.mailsTo(to).filter((m) => m.headers['x-teleport-access-request'] === id);

  before(async () => {
    tp = await FakeTeleport.start();
    // Two approvals needed: the first review leaves the request pending.
    tp.addRequester(REQUESTER, { requestRoles: ['dev'], thresholds: [{ name: 'two', filter: '', approve: 2, deny: 1 }] as never });
    tp.addReviewer('bob@example.com', { reviewRoles: ['dev'] });
    tp.addReviewer('carol@example.com', { reviewRoles: ['dev'] });
    tp.addPluginUser();

    dir = await mkdtemp(path.join(tmpdir(), 'e2e-email-'));
    const pki = await TestPki.create({ clusterName: 'mail.e2e' });
    const cert = await pki.issueWebCert(['localhost'], ['127.0.0.1']);
    const caFile = path.join(dir, 'smtp-ca.pem');
    await writeFile(caFile, pki.webCa.certPem);
    smtp = await startSmtpServer({ cert: cert.certPem, key: cert.keyPem, auth: { user: SMTP_USER, pass: SMTP_PASSWORD } });

    identity = await tp.writeIdentityFile(dir, { user: FakeTeleport.PLUGIN_USER });
    passwordFile = path.join(dir, 'smtp_password');
    await writeFile(passwordFile, `${SMTP_PASSWORD}\n`, { mode: 0o600 });
    const configFile = path.join(dir, 'teleport-email.toml');
    await writeFile(configFile, goEmailToml({ addr: tp.addr, identity, port: smtp.port, passwordFile }));

    // The SMTP server's private CA, as the README tells operators to trust one.
    env = { NODE_EXTRA_CA_CERTS: caFile, TELEPORT_PLUGIN_FAIL_FAST: '' };
    // No --plugin: [smtp] names the email adapter, as the Go plugin's file does.
    plugin = await startWatching(tp, ['start', '-c', configFile], { cwd: testDir, env });
  });

  after(async () => {
    await plugin?.stop();
    await smtp?.close();
    await tp?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a request announced, reviewed and approved: one thread per recipient, the requester told', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['dev'], reason: 'deploy the hotfix' });
    await waitFor(() => DEV.every((to) => ofRequest(id, to).length === 1), 'the first mail to each dev recipient');
    assert.equal(smtp.mailsTo('eng@example.com').length, 0, '"*" only for roles without an entry');
    for (const to of DEV) {
      const [first] = ofRequest(id, to);
      assert.equal(first!.subject, `${tp.clusterName} Role Request ${id}`);
      assert.match(
        first!.text,
        new RegExp(`^You have a new Role Request:\\n\\nID: ${id}\\nCluster: ${tp.clusterName}\\nUser: ${REQUESTER}\\nRole\\(s\\): dev\\nReason: deploy the hotfix\\n`),
      );
      assert.ok(first!.secure, 'STARTTLS under starttls_policy "mandatory"');
      assert.equal(first!.user, SMTP_USER);
    }

    await tp.admin.review(id, { author: 'bob@example.com', state: 'APPROVED', reason: 'lgtm' });
    await waitFor(() => DEV.every((to) => ofRequest(id, to).length === 2), 'the review in each thread');
    await tp.admin.review(id, { author: 'carol@example.com', state: 'APPROVED', reason: 'go ahead' });
    await waitFor(() => tp.admin.getRequest(id)?.state === 'APPROVED', 'the request approved');
    await waitFor(() => DEV.every((to) => ofRequest(id, to).length === 4) && ofRequest(id, REQUESTER).length === 1, 'the outcome in each thread and to the requester');

    for (const to of DEV) {
      const [first, ...replies] = ofRequest(id, to);
      assert.match(first!.messageId ?? '', /^<teleport-.+-first-[0-9a-f]{16}@example\.com>$/);
      for (const reply of replies) {
        assert.equal(reply.inReplyTo, first!.messageId, `In-Reply-To in ${to}'s thread`);
        assert.deepEqual(reply.references, [first!.messageId]);
        assert.equal(reply.subject, first!.subject);
      }
      assert.match(replies[0]!.text, /^bob@example\.com reviewed the request at .+\.\nResolution: ✅ APPROVED\.\nReason: lgtm\./);
      assert.match(replies[1]!.text, /^carol@example\.com reviewed the request at .+\.\nResolution: ✅ APPROVED\.\nReason: go ahead\./);
      assert.match(replies[2]!.text, /^Role Request has been resolved:\n/);
      assert.match(replies[2]!.text.trim(), /\nStatus: ✅ APPROVED/);
    }
    const [notice] = ofRequest(id, REQUESTER);
    assert.match(notice!.text, /^Your Role Request has been approved:\n/);

    // Plugin data in the Go plugin's layout, so the Go plugin could take over these threads.
    const data = await waitFor(() => {
      const d = tp.admin.pluginData(id, 'email');
      return d?.['resolution'] === 'APPROVED' ? d : undefined;
    }, 'the resolution recorded');
    const threads = (data['email_threads'] ?? '').split(',').map((e) => e.split('/'));
    assert.deepEqual(threads.map((t) => t[0]).sort(), [...DEV].sort());
    for (const [email, , messageId] of threads) assert.equal(`<${messageId}>`, ofRequest(id, email!)[0]!.messageId);
    assert.equal(data['user'], REQUESTER);
    assert.equal(data['roles'], 'dev');
  });

  it('expiry: an "expired" mail in each thread and to the requester', async () => {
    const id = await tp.admin.createRequest({ user: REQUESTER, roles: ['dev'], reason: 'look at logs' });
    await waitFor(() => DEV.every((to) => ofRequest(id, to).length === 1), 'the first mail to each dev recipient');
    await waitFor(() => (tp.admin.pluginData(id, 'email')?.['email_threads'] ?? '').split(',').length === 2, 'both threads recorded');
    await tp.admin.expire(id);
    await waitFor(() => DEV.every((to) => ofRequest(id, to).length === 2) && ofRequest(id, REQUESTER).length === 1, 'the expiry mails');
    for (const to of DEV) {
      const [first, outcome] = ofRequest(id, to);
      assert.equal(outcome!.inReplyTo, first!.messageId);
      assert.match(outcome!.text.trim(), /Reason: look at logs\n[\s\S]*Status: ⌛ EXPIRED$/);
    }
    assert.match(ofRequest(id, REQUESTER)[0]!.text, /^Your Role Request has expired:\n/);
  });

  it('never logs the SMTP password', () => {
    assert.ok(plugin!.output.length > 0);
    assert.ok(!plugin!.output.includes(SMTP_PASSWORD));
    assert.ok(!plugin!.output.includes(Buffer.from(SMTP_PASSWORD).toString('base64')));
  });

  it('a wrong password: `check` and `start` each fail in one line naming the keys to fix', async () => {
    const wrongFile = path.join(dir, 'wrong_password');
    await writeFile(wrongFile, 'not-the-password\n', { mode: 0o600 });
    const configFile = path.join(dir, 'teleport-email-wrong.toml');
    await writeFile(configFile, goEmailToml({ addr: tp.addr, identity, port: smtp.port, passwordFile: wrongFile }));
    const loginLine =
      /SMTP login: 127\.0\.0\.1:\d+ refused the login for user "teleport-bot@example\.com" \(535 [^)]*\): check smtp\.username and smtp\.password \(or smtp\.password_file\)/;

    const check = new CliProcess(['check', '-c', configFile], { cwd: testDir, env });
    assert.equal(await check.exited, 1, check.output);
    const failed = check.output.split('\n').filter((l) => /\bFAIL\b/.test(l));
    assert.equal(failed.length, 1, check.output);
    assert.match(failed[0]!, /^email: setup\s+FAIL\s+/);
    assert.match(failed[0]!, loginLine);

    const start = new CliProcess(['start', '-c', configFile], { cwd: testDir, env });
    assert.equal(await start.exited, 1, start.output);
    const errors = start.output.split('\n').filter((l) => l.startsWith('teleport-plugin: error:'));
    assert.equal(errors.length, 1, start.output);
    assert.match(errors[0]!, /^teleport-plugin: error: adapter "email" failed to start: /);
    assert.match(errors[0]!, loginLine);
    assert.ok(!start.output.includes('not-the-password'));
    assert.ok(!/\n\s+at /.test(start.output), 'no stack trace');
  });
});
