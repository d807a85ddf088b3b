import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

// Through the package's own exports map, as a user's `import` resolves it (Node self-reference).
const MAIN = '@teleport-plugin/email';
const TESTING = '@teleport-plugin/email/testing';

describe('package exports', () => {
  it('"." exposes config, client and texts, and no default adapter yet', async () => {
    const mod = (await import(MAIN)) as Record<string, unknown>;
    for (const name of ['parseEmailConfig', 'exampleConfig', 'EMAIL_TABLES', 'createMailer', 'SmtpMailer', 'MailgunMailer', 'mailMessageId', 'newRequestMail', 'reviewReplyText', 'resolutionMail', 'requesterOutcomeMail', 'decodeEmailThreads', 'encodeEmailThreads']) {
      assert.ok(name in mod, name);
    }
    assert.equal(mod['default'], undefined);
  });

  it('"./testing" exposes the SMTP server and the fake Mailgun', async () => {
    const mod = (await import(TESTING)) as Record<string, unknown>;
    assert.equal(typeof mod['startSmtpServer'], 'function');
    assert.equal(typeof mod['FakeMailgun'], 'function');
  });
});
