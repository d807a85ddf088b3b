import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// Through the package's own exports map, as a user's `import` resolves it (Node self-reference).
const MAIN = '@teleport-plugin/email';
const TESTING = '@teleport-plugin/email/testing';

describe('package exports', () => {
  it('"." exposes the adapter as its default export, with config, client and texts', async () => {
    const mod = (await import(MAIN)) as Record<string, unknown>;
    for (const name of [
      'parseEmailConfig',
      'exampleConfig',
      'EMAIL_TABLES',
      'createMailer',
      'SmtpMailer',
      'MailgunMailer',
      'mailMessageId',
      'newRequestMail',
      'reviewReplyText',
      'resolutionMail',
      'requesterOutcomeMail',
      'decodeEmailThreads',
      'encodeEmailThreads',
    ]) {
      assert.ok(name in mod, name);
    }
    const adapter = mod['default'] as { name?: unknown; setup?: unknown; parseConfig?: unknown; demo?: unknown; pluginData?: unknown };
    assert.equal(adapter.name, 'email');
    assert.equal(typeof adapter.setup, 'function');
    assert.equal(typeof adapter.parseConfig, 'function');
    assert.ok(adapter.demo && adapter.pluginData);
  });

  it('"./testing" exposes the SMTP server and the fake Mailgun', async () => {
    const mod = (await import(TESTING)) as Record<string, unknown>;
    assert.equal(typeof mod['startSmtpServer'], 'function');
    assert.equal(typeof mod['FakeMailgun'], 'function');
  });
});
