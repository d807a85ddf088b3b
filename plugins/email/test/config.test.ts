import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, isPluginError, parseConfig, readAdapterTables } from '@teleport-plugin/core';
import { EMAIL_TABLES, MAILGUN_EU_API_BASE, MAILGUN_US_API_BASE, exampleConfig, parseEmailConfig } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
// dist/test -> the repository's core fixtures (the Go-style file every adapter is tested against).
const FIXTURE = join(here, '..', '..', '..', '..', 'packages', 'core', 'test', 'fixtures', 'email.toml');

let dir: string;
let identity: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'email-config-'));
  identity = join(dir, 'identity');
  await writeFile(identity, 'placeholder');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TELEPORT = (): string => `[teleport]\naddr = "localhost:3025"\nidentity = ${JSON.stringify(identity)}\n\n`;
const SMTP = '[smtp]\nhost = "smtp.example.com"\nusername = "bot@example.com"\npassword = "pw-123456"\n';
const RTR = '[role_to_recipients]\n"*" = "reviewers@example.com"\n';

function load(body: string, file = 'teleport-email.toml') {
  const logger = createCaptureLogger();
  const loaded = parseConfig(TELEPORT() + body, file, { cwd: dir, logger, env: {} });
  const config = parseEmailConfig(loaded.section('email'), loaded.context);
  return { loaded, config, warnings: loaded.warnings };
}

function configError(body: string): string {
  try {
    load(body);
  } catch (err) {
    assert.ok(isPluginError(err, 'CONFIG'), `expected a CONFIG error, got ${String(err)}`);
    assert.ok(err.userFacing);
    return err.message;
  }
  assert.fail('expected a config error');
}

describe('email config', () => {
  it('declares the top-level tables it reads, in package.json too (so the core never names the adapter)', async () => {
    assert.deepEqual([...EMAIL_TABLES], ['smtp', 'mailgun', 'delivery']);
    const pkg = JSON.parse(await readFile(join(here, '..', '..', 'package.json'), 'utf8')) as { teleportPlugin?: { tables?: unknown } };
    assert.deepEqual(pkg.teleportPlugin?.tables, [...EMAIL_TABLES]);
    // What the CLI does: read the declaration without importing the adapter; [smtp] then names it.
    assert.deepEqual(readAdapterTables(['email'], { from: [here] }), { smtp: 'email', mailgun: 'email', delivery: 'email' });
    const loaded = parseConfig(`${TELEPORT()}${SMTP}${RTR}`, 'teleport-email.toml', { cwd: dir, env: {}, tableOwners: { smtp: 'email', mailgun: 'email', delivery: 'email' } });
    assert.deepEqual(loaded.pluginSections, ['email']);
    assert.equal(loaded.section('email').present, false, 'the Go file has no [email] table');
  });

  it('reads [smtp] with upstream defaults: port 587, starttls_policy mandatory', () => {
    const { config, loaded } = load(`${SMTP}[delivery]\nsender = "noreply@example.com"\n${RTR}`);
    assert.equal(config.transport, 'smtp');
    assert.deepEqual(config.smtp, { host: 'smtp.example.com', port: 587, username: 'bot@example.com', password: 'pw-123456', startTlsPolicy: 'mandatory' });
    assert.equal(config.mailgun, undefined);
    assert.equal(config.sender, 'noreply@example.com');
    assert.equal(config.senderAddress, 'noreply@example.com');
    assert.deepEqual(config.roleToRecipients, { '*': ['reviewers@example.com'] });
    assert.equal(config.html, false);
    assert.deepEqual(loaded.reportUnknownKeys(), []);
    // The core knows nothing of these tables: the adapter's reads count them as known.
    assert.ok(!loaded.unusedSections().includes('smtp'));
    assert.ok(!loaded.unusedSections().includes('delivery'));
  });

  it('port 0 means the default port, as upstream', () => {
    const { config } = load(`${SMTP}port = 0\n${RTR}`);
    assert.equal(config.smtp?.port, 587);
  });

  for (const policy of ['mandatory', 'opportunistic', 'disabled'] as const) {
    it(`accepts starttls_policy = "${policy}"`, () => {
      const { config } = load(`${SMTP}starttls_policy = "${policy}"\n${RTR}`);
      assert.equal(config.smtp?.startTlsPolicy, policy);
    });
  }

  it('an empty starttls_policy is the default (mandatory), as upstream', () => {
    const { config } = load(`${SMTP}starttls_policy = ""\n${RTR}`);
    assert.equal(config.smtp?.startTlsPolicy, 'mandatory');
  });

  it('any other starttls_policy is an error listing the three', () => {
    const message = configError(`${SMTP}starttls_policy = "always"\n${RTR}`);
    assert.match(message, /teleport-email\.toml:\d+: \[smtp\] starttls_policy: expected one of "mandatory", "opportunistic" or "disabled", got "always"/);
  });

  it('warns that "disabled" sends the password unencrypted', () => {
    const { warnings } = load(`${SMTP}starttls_policy = "disabled"\n${RTR}`);
    assert.ok(
      warnings.some((w) => /starttls_policy: "disabled": the password and every mail cross the network unencrypted/.test(w)),
      warnings.join('\n'),
    );
  });

  it("reads the password from password_file (and the Go example's empty password next to it)", async () => {
    const file = join(dir, 'smtp_password');
    await writeFile(file, 'from-file-pw\n');
    const { config } = load(`[smtp]\nhost = "smtp.example.com"\nusername = "u"\npassword = ""\npassword_file = ${JSON.stringify(file)}\n${RTR}`);
    assert.equal(config.smtp?.password, 'from-file-pw');
  });

  it('names each missing [smtp] key', () => {
    assert.match(configError(`[smtp]\nusername = "u"\npassword = "p"\n${RTR}`), /\[smtp\] host: required/);
    assert.match(configError(`[smtp]\nhost = "h"\npassword = "p"\n${RTR}`), /\[smtp\] username: required/);
    assert.match(configError(`[smtp]\nhost = "h"\nusername = "u"\n${RTR}`), /\[smtp\] password: required \(or password_file\)/);
  });

  it('a password_file that cannot be read names the key and the file', () => {
    const message = configError(`[smtp]\nhost = "h"\nusername = "u"\npassword_file = "/nonexistent/smtp_password"\n${RTR}`);
    assert.match(message, /\[smtp\] password_file: cannot read secret file \/nonexistent\/smtp_password: no such file/);
  });

  it('rejects a port outside 0..65535', () => {
    assert.match(configError(`${SMTP}port = 70000\n${RTR}`), /\[smtp\] port: expected an integer between 0 and 65535, got 70000/);
  });

  it('reads [mailgun] with the US endpoint by default', () => {
    const { config } = load(`[mailgun]\ndomain = "mg.example.com"\nprivate_key = "key-abcdef"\n[delivery]\nsender = "noreply@mg.example.com"\n${RTR}`);
    assert.equal(config.transport, 'mailgun');
    assert.deepEqual(config.mailgun, { domain: 'mg.example.com', privateKey: 'key-abcdef', apiBase: MAILGUN_US_API_BASE });
  });

  it('mailgun.api_base picks the EU region (with or without /v3)', () => {
    const eu = load(`[mailgun]\ndomain = "mg.example.eu"\nprivate_key = "key-abcdef"\napi_base = "${MAILGUN_EU_API_BASE}"\n${RTR}`);
    assert.equal(eu.config.mailgun?.apiBase, 'https://api.eu.mailgun.net/v3');
    const hostOnly = load(`[mailgun]\ndomain = "mg.example.eu"\nprivate_key = "key-abcdef"\napi_base = "https://api.eu.mailgun.net/"\n${RTR}`);
    assert.equal(hostOnly.config.mailgun?.apiBase, 'https://api.eu.mailgun.net/v3');
  });

  it('rejects an api_base that is not an http(s) URL', () => {
    assert.match(
      configError(`[mailgun]\ndomain = "d"\nprivate_key = "key-abcdef"\napi_base = "api.eu.mailgun.net"\n${RTR}`),
      /\[mailgun\] api_base: expected a URL such as https:\/\/api\.mailgun\.net\/v3 \(or https:\/\/api\.eu\.mailgun\.net\/v3 for EU-region domains\)/,
    );
    assert.match(configError(`[mailgun]\ndomain = "d"\nprivate_key = "key-abcdef"\napi_base = "ftp://x/v3"\n${RTR}`), /\[mailgun\] api_base: expected an http\(s\) base URL/);
  });

  it('names each missing [mailgun] key', () => {
    assert.match(configError(`[mailgun]\nprivate_key = "key-abcdef"\n${RTR}`), /\[mailgun\] domain: required/);
    assert.match(configError(`[mailgun]\ndomain = "d"\n${RTR}`), /\[mailgun\] private_key: required \(or private_key_file\)/);
  });

  it('reads private_key_file', async () => {
    const file = join(dir, 'mailgun_key');
    await writeFile(file, 'key-from-file\n');
    const { config } = load(`[mailgun]\ndomain = "d.example.com"\nprivate_key_file = ${JSON.stringify(file)}\n${RTR}`);
    assert.equal(config.mailgun?.privateKey, 'key-from-file');
  });

  it('needs [smtp] or [mailgun]', () => {
    assert.match(configError(`[delivery]\nsender = "a@example.com"\n${RTR}`), /smtp: required: a \[smtp\] table .* or a \[mailgun\] table .*; the file has neither/);
  });

  it('with both [smtp] and [mailgun], SMTP wins with a warning (both are still validated)', () => {
    const { config, warnings } = load(`[mailgun]\ndomain = "mg.example.com"\nprivate_key = "key-abcdef"\n${SMTP}${RTR}`);
    assert.equal(config.transport, 'smtp');
    assert.ok(config.mailgun, 'mailgun parsed too');
    assert.ok(
      warnings.some((w) => /\[mailgun\] domain: ignored: \[smtp\] is also configured and takes precedence/.test(w)),
      warnings.join('\n'),
    );
    assert.match(configError(`[mailgun]\ndomain = "mg.example.com"\n${SMTP}${RTR}`), /\[mailgun\] private_key: required/);
  });

  it('delivery.recipients (deprecated) becomes role_to_recipients["*"] with a warning', () => {
    const { config, warnings } = load(`${SMTP}[delivery]\nsender = "a@example.com"\nrecipients = ["all@example.com", "ops@example.com"]\n`);
    assert.deepEqual(config.roleToRecipients, { '*': ['all@example.com', 'ops@example.com'] });
    assert.ok(
      warnings.some((w) => /\[delivery\] recipients: is deprecated: use role_to_recipients\["\*"\] instead/.test(w)),
      warnings.join('\n'),
    );
  });

  it('an empty delivery.recipients next to role_to_recipients is fine (the Helm chart writes that)', () => {
    const { config } = load(`${SMTP}[delivery]\nsender = ""\nrecipients = []\n${RTR}`);
    assert.deepEqual(config.roleToRecipients, { '*': ['reviewers@example.com'] });
  });

  it('delivery.recipients and role_to_recipients together are an error, as upstream', () => {
    const message = configError(`${SMTP}[delivery]\nrecipients = ["all@example.com"]\n${RTR}`);
    assert.match(message, /\[delivery\] recipients: conflicts with role_to_recipients: provide either delivery.recipients or role_to_recipients, not both/);
  });

  it('role_to_recipients is required, with a "*"', () => {
    assert.match(
      configError(SMTP),
      /\[role_to_recipients\] \*: missing required value role_to_recipients: add a \[role_to_recipients\] table with "\*" = \["reviewers@example\.com"\]$/,
    );
    assert.match(configError(`${SMTP}[role_to_recipients]\n"dev" = "dev@example.com"\n`), /\[role_to_recipients\] \*: missing required value role_to_recipients\["\*"\]/);
    assert.match(configError(`${SMTP}[role_to_recipients]\n"*" = []\n`), /missing required value role_to_recipients\["\*"\]/);
  });

  it('every recipient must be an email address: the error names it', () => {
    const message = configError(`${SMTP}[role_to_recipients]\n"*" = "ok@example.com"\n"dev" = ["dev@example.com", "#dev-channel"]\n`);
    assert.match(
      message,
      /teleport-email\.toml:\d+: \[role_to_recipients\] dev: must list email addresses only, got "#dev-channel": invalid email address in role_to_recipients\.dev$/,
    );
    assert.match(
      configError(`${SMTP}[delivery]\nrecipients = ["not an address"]\n`),
      /\[delivery\] recipients: must list email addresses only, got "not an address": invalid email address in delivery\.recipients$/,
    );
  });

  it('[email.role_to_recipients] is honoured too', () => {
    const { config } = load(`${SMTP}[email.role_to_recipients]\n"*" = "own@example.com"\n`);
    assert.deepEqual(config.roleToRecipients, { '*': ['own@example.com'] });
  });

  it('sender: a display name is fine; an invalid one is an error', () => {
    const { config } = load(`${SMTP}[delivery]\nsender = "Teleport <noreply@example.com>"\n${RTR}`);
    assert.equal(config.sender, 'Teleport <noreply@example.com>');
    assert.equal(config.senderAddress, 'noreply@example.com');
    assert.match(configError(`${SMTP}[delivery]\nsender = "noreply"\n${RTR}`), /\[delivery\] sender: expected an email address such as "noreply@example.com"/);
  });

  it('an empty sender (upstream loads it, then every send fails) falls back with a warning', () => {
    const smtp = load(`${SMTP}[delivery]\nsender = ""\n${RTR}`);
    assert.equal(smtp.config.senderAddress, 'bot@example.com');
    assert.ok(smtp.warnings.some((w) => /\[delivery\] sender: is empty: mails are sent from bot@example.com/.test(w)));
    const mg = load(`[mailgun]\ndomain = "mg.example.com"\nprivate_key = "key-abcdef"\n${RTR}`);
    assert.equal(mg.config.senderAddress, 'noreply@mg.example.com');
  });

  it('the Go-style fixture fails as upstream does: delivery.recipients next to role_to_recipients', async () => {
    const text = await readFile(FIXTURE, 'utf8');
    const loaded = parseConfig(text, 'email.toml', { env: {} });
    assert.throws(
      () => parseEmailConfig(loaded.section('email'), loaded.context),
      (err: unknown) => isPluginError(err, 'CONFIG') && /email\.toml:\d+: \[delivery\] recipients: conflicts with role_to_recipients/.test(err.message),
    );
  });

  it('the Go-style fixture without delivery.recipients loads unchanged otherwise (SMTP wins over Mailgun)', async () => {
    const passwordFile = join(dir, 'fixture_smtp_password');
    await writeFile(passwordFile, 'fixture-password\n');
    const text = (await readFile(FIXTURE, 'utf8'))
      .replace(/^recipients = .*$/m, '')
      .replace('/var/lib/teleport/plugins/email/smtp_password', passwordFile)
      .replace('/var/lib/teleport/plugins/email/auth_id', identity);
    const loaded = parseConfig(text, 'email.toml', { env: {} });
    const config = parseEmailConfig(loaded.section('email'), loaded.context);
    assert.equal(config.transport, 'smtp');
    assert.deepEqual(config.smtp, { host: 'smtp.gmail.com', port: 587, username: 'username@gmail.com', password: 'fixture-password', startTlsPolicy: 'mandatory' });
    assert.equal(config.mailgun?.domain, 'sandboxbd81caddef744a69be0e5b544ab0c3bd.mailgun.org');
    assert.equal(config.sender, 'noreply@example.com');
    assert.deepEqual(config.roleToRecipients, { '*': ['eng@example.com'], dev: ['dev-manager@example.com', 'dev-lead@example.com'] });
    assert.deepEqual(loaded.reportUnknownKeys(), []);
    assert.ok(loaded.warnings.some((w) => /ignored: \[smtp\] is also configured/.test(w)));
  });

  it('the example config loads', async () => {
    const passwordFile = join(dir, 'example_password');
    await writeFile(passwordFile, 'example-pw');
    const text = exampleConfig().replace('/var/lib/teleport/plugins/email/smtp_password', passwordFile);
    const { config, loaded } = load(text);
    assert.equal(config.transport, 'smtp');
    assert.deepEqual(loaded.reportUnknownKeys(), []);
  });

  it('secrets are registered for redaction', () => {
    const logger = createCaptureLogger();
    const loaded = parseConfig(`${TELEPORT()}${SMTP.replace('pw-123456', 'secret-smtp-pw')}${RTR}`, 'x.toml', { cwd: dir, env: {}, logger });
    parseEmailConfig(loaded.section('email'), loaded.context);
    logger.info('oops', { detail: 'login with secret-smtp-pw failed' });
    assert.ok(!JSON.stringify(logger.entries).includes('secret-smtp-pw'), JSON.stringify(logger.entries));
  });
});
