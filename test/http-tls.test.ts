import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCaptureLogger, startHttpServer, type ReadinessReport, type RuntimeHttpServer } from '@teleport-plugin/core';
import { TestPki } from '@teleport-plugin/testkit';

interface Answer {
  status: number;
  body: string;
}

function get(url: string, options: https.RequestOptions): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const readiness = (): ReadinessReport => ({ ready: true, teleport: { connected: true }, watch: { initialised: true }, adapters: {} });

describe('HTTPS server', () => {
  let pki: TestPki;
  let dir: string;
  let files: { cert: string; key: string; clientCa: string };
  const servers: RuntimeHttpServer[] = [];

  before(async () => {
    pki = await TestPki.create();
    dir = await mkdtemp(path.join(tmpdir(), 'https-test-'));
    const web = await pki.issueWebCert(['localhost'], ['127.0.0.1']);
    files = { cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem'), clientCa: path.join(dir, 'client-ca.pem') };
    await writeFile(files.cert, web.certPem);
    await writeFile(files.key, web.keyPem);
    await writeFile(files.clientCa, pki.userCa.certPem);
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate', async () => {
    const server = await startHttpServer({
      config: { listenAddr: '127.0.0.1:0', httpsCertFile: files.cert, httpsKeyFile: files.key },
      logger: createCaptureLogger(),
      routes: [],
      readiness,
    });
    servers.push(server);
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const res = await get(`${server.url}/healthz`, { ca: pki.webCa.certPem });
    assert.equal(res.status, 200);
    await assert.rejects(get(`${server.url}/healthz`, {}), /self-signed|unable to verify|certificate/i);
  });

  it('requires a valid client certificate when verify_client_cert is on', async () => {
    const server = await startHttpServer({
      config: { listenAddr: '127.0.0.1:0', httpsCertFile: files.cert, httpsKeyFile: files.key, verifyClientCert: true, clientCaFile: files.clientCa },
      logger: createCaptureLogger(),
      routes: [],
      readiness,
    });
    servers.push(server);
    const client = await pki.issueUser({ user: 'jira-webhook' });
    const ok = await get(`${server.url}/readyz`, { ca: pki.webCa.certPem, cert: client.tlsCertPem, key: client.privateKeyPem });
    assert.equal(ok.status, 200);
    await assert.rejects(get(`${server.url}/readyz`, { ca: pki.webCa.certPem }));
  });
});
