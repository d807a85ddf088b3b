import { TestPki } from '@teleport-plugin/testkit/pki';
import type { CertAndKey } from '@teleport-plugin/testkit/pki';
import { defineAdapter } from '@teleport-plugin/core';
import { makeAccessRequest, startAdapterTest } from '@teleport-plugin/core/testing';
import type { AdapterTest, AdapterTestOptions } from '@teleport-plugin/core/testing';
import type { AccessRequest, Adapter } from '@teleport-plugin/core';
import { emailAdapter, mailMessageId, setupEmail } from '../src/index.js';
import type { EmailAdapterOptions, EmailConfig, MailKind, SmtpConfig, StartTlsPolicy } from '../src/index.js';
import { FakeMailgun, startSmtpServer } from '../src/testing/index.js';
import type { ReceivedMail, SmtpServerOptions, TestSmtpServer } from '../src/testing/index.js';

/** Tiny backoffs: retries happen, tests stay fast. */
export const FAST = { attempts: 4, baseMs: 1, capMs: 5, maxRetryAfterMs: 2_000 };

export const USER = 'bot@example.com';
export const PASS = 'correct horse battery staple';
export const SENDER = 'Teleport <noreply@example.com>';

export interface TestTls {
  /** Server certificate for 127.0.0.1 / localhost, from a test CA. */
  server: CertAndKey;
  /** That CA, for the client to trust. */
  ca: string;
}

let tls: Promise<TestTls> | undefined;

/** One PKI per test file (key generation is the slow part). */
export function testTls(): Promise<TestTls> {
  tls ??= (async () => {
    const pki = await TestPki.create({ clusterName: 'mail.test' });
    const server = await pki.issueWebCert(['localhost'], ['127.0.0.1']);
    return { server, ca: pki.webCa.certPem };
  })();
  return tls;
}

export function smtpConfig(port: number, policy: StartTlsPolicy = 'mandatory', password = PASS): SmtpConfig {
  return { host: '127.0.0.1', port, username: USER, password, startTlsPolicy: policy };
}

export const SENDER_ADDRESS = 'noreply@example.com';
export const REVIEWERS = ['reviewers@example.com'];
export const DEV = ['dev-lead@example.com', 'dev-manager@example.com'];
export const ROLE_TO_RECIPIENTS = { '*': REVIEWERS, dev: DEV };
export const MG_KEY = 'key-mailgun-secret-1234';
export const MG_DOMAIN = 'mg.example.com';

/** The adapter with test tuning: tiny backoffs, the test CA, no waits before asking Mailgun again. */
export function tunedAdapter(options: EmailAdapterOptions = {}): Adapter<EmailConfig> {
  return defineAdapter<EmailConfig>({
    ...emailAdapter,
    setup: (ctx) => setupEmail(ctx, { policy: FAST, timeoutMs: 3_000, findRetryDelaysMs: [], ...options }),
  });
}

export function smtpEmailConfig(port: number, overrides: Partial<EmailConfig> & { policy?: StartTlsPolicy; password?: string } = {}): EmailConfig {
  const { policy, password, ...rest } = overrides;
  return {
    transport: 'smtp',
    smtp: smtpConfig(port, policy, password),
    mailgun: undefined,
    sender: SENDER,
    senderAddress: SENDER_ADDRESS,
    roleToRecipients: ROLE_TO_RECIPIENTS,
    html: true,
    ...rest,
  };
}

export function mailgunEmailConfig(apiBase: string, overrides: Partial<EmailConfig> = {}): EmailConfig {
  return {
    transport: 'mailgun',
    smtp: undefined,
    mailgun: { domain: MG_DOMAIN, privateKey: MG_KEY, apiBase },
    sender: SENDER,
    senderAddress: SENDER_ADDRESS,
    roleToRecipients: ROLE_TO_RECIPIENTS,
    html: false,
    ...overrides,
  };
}

/** A test SMTP server with STARTTLS (the testkit PKI's certificate) and AUTH. */
export async function startTlsSmtp(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const tls = await testTls();
  return startSmtpServer({ cert: tls.server.certPem, key: tls.server.keyPem, auth: { user: USER, pass: PASS }, ...options });
}

export interface SmtpEnv {
  server: TestSmtpServer;
  t: AdapterTest;
  close(): Promise<void>;
}

/** The email adapter in the real runtime on an in-memory Teleport, sending to a test SMTP server. */
export async function startSmtpEnv(
  options: { server?: TestSmtpServer; config?: Parameters<typeof smtpEmailConfig>[1]; adapter?: EmailAdapterOptions; test?: AdapterTestOptions } = {},
): Promise<SmtpEnv> {
  const server = options.server ?? (await startTlsSmtp());
  const tls = await testTls();
  const t = await startAdapterTest(tunedAdapter({ tls: { ca: tls.ca }, ...options.adapter }), smtpEmailConfig(server.port, options.config), options.test);
  return {
    server,
    t,
    close: async () => {
      await t.close();
      await server.close();
    },
  };
}

export interface MailgunEnv {
  mg: FakeMailgun;
  t: AdapterTest;
  close(): Promise<void>;
}

export async function startMailgunEnv(
  options: { mg?: FakeMailgun; config?: Partial<EmailConfig>; adapter?: EmailAdapterOptions; test?: AdapterTestOptions } = {},
): Promise<MailgunEnv> {
  const mg = options.mg ?? new FakeMailgun({ apiKey: MG_KEY, domains: [{ name: MG_DOMAIN }] });
  if (!mg.http.url) await mg.start();
  const t = await startAdapterTest(tunedAdapter(options.adapter), mailgunEmailConfig(mg.apiBase, options.config), options.test);
  return {
    mg,
    t,
    close: async () => {
      await t.close();
      await mg.close();
    },
  };
}

let seq = 0;
/** A request with a fresh id; alice@example.com asks for `dev` by default. */
export function newRequest(overrides: Partial<AccessRequest> = {}): AccessRequest {
  seq += 1;
  return makeAccessRequest({ id: `7c4e9d2a-0000-4000-8000-${String(seq).padStart(12, '0')}`, roles: ['dev'], requestReason: 'fix the deploy', ...overrides });
}

/** The Message-ID the adapter gives a mail, with brackets as a parser shows it. */
export function expectedId(requestId: string, kind: MailKind, recipient: string): string {
  return `<${mailMessageId({ requestId, kind, recipient, domain: 'example.com' })}>`;
}

/** Mails of one request (by the X-Teleport-Access-Request header) to one address, in arrival order. */
export function mailsOf(server: TestSmtpServer, requestId: string, to?: string): ReceivedMail[] {
  return (to === undefined ? server.mails : server.mailsTo(to)).filter((m) => m.headers['x-teleport-access-request'] === requestId);
}
