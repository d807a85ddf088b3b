import type { DemoKit, DemoProvider, DemoService } from '@teleport-plugin/core';
import type { ReceivedMail, TestSmtpServer } from './testing/smtpServer.js';

export const DEMO_SMTP_USER = 'teleport-bot@example.com';
export const DEMO_SMTP_PASSWORD = 'demo-password';
export const DEMO_SENDER = 'Teleport <teleport@example.com>';
export const DEMO_REVIEWERS = ['reviewers@example.com', 'security@example.com'];

/**
 * `teleport-plugin demo --plugin email`: a real SMTP server in this process (smtp-server, with
 * AUTH; loopback only, so without STARTTLS) that keeps every mail it accepts. The adapter's own
 * tables ([smtp], [delivery]) are top-level, as in the Go plugin's file; its recipients go in
 * `[email.role_to_recipients]` so they never mix with a chat adapter's channels.
 */
export const emailDemo: DemoProvider = {
  async start(kit: DemoKit): Promise<DemoService> {
    // Loaded only for the demo: the server is this package's own testing export, and its
    // smtp-server/mailparser dependencies are optional peers (the CLI depends on them).
    const { startSmtpServer } = await import('./testing/smtpServer.js');
    const server = await startSmtpServer({ auth: { user: DEMO_SMTP_USER, pass: DEMO_SMTP_PASSWORD }, allowInsecureAuth: true, name: 'smtp.demo' });
    kit.logger.info('Demo SMTP server started', { host: server.host, port: server.port });
    return {
      section: { role_to_recipients: { '*': DEMO_REVIEWERS } },
      topLevel: {
        smtp: {
          host: server.host,
          port: server.port,
          username: DEMO_SMTP_USER,
          password: DEMO_SMTP_PASSWORD,
          // A loopback server without TLS: say so rather than refuse (the default is "mandatory").
          starttls_policy: 'opportunistic',
        },
        delivery: { sender: DEMO_SENDER },
      },
      describe: () => describeMails(server),
      close: () => server.close(),
    };
  },
};

/** One line per mail the demo server received, replies marked with the mail they answer. */
export function describeMails(server: TestSmtpServer): string[] {
  if (server.mails.length === 0) return [`SMTP server ${server.host}:${server.port}: no mails yet`];
  return server.mails.map((m) => {
    const to = m.envelope.rcptTo.join(', ');
    const thread = m.inReplyTo ? ` (reply in the thread of ${m.inReplyTo})` : '';
    return `mail to ${to}: "${m.subject}": ${headline(m)}${thread}`;
  });
}

function headline(mail: ReceivedMail): string {
  const lines = mail.text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const status = lines.find((l) => l.startsWith('Status:'));
  const first = lines[0] ?? '';
  return status && status !== first ? `${first} ${status}` : first;
}
