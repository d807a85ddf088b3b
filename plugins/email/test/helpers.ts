import { TestPki } from '@teleport-plugin/testkit/pki';
import type { CertAndKey } from '@teleport-plugin/testkit/pki';
import type { SmtpConfig, StartTlsPolicy } from '../src/index.js';

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
