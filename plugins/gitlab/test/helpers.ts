import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessRequest, AccessReview } from '@teleport-plugin/core';
import { makeAccessRequest } from '@teleport-plugin/core/testing';

export const REQUEST_ID = '3f1c2b7a-9d4e-4c21-8a5b-0e6f7d8c9b10';

/** A request as the core hands it to adapters (core's fixture with the values these texts show). */
export function makeRequest(partial: Partial<AccessRequest> = {}): AccessRequest {
  return makeAccessRequest({
    id: REQUEST_ID,
    roles: ['editor', 'auditor'],
    created: new Date(Date.UTC(2026, 10, 25, 9, 5, 0)),
    requestReason: 'deploy hotfix',
    requestKind: 'UNDEFINED',
    ...partial,
  });
}

export function makeReview(partial: Partial<AccessReview> = {}): AccessReview {
  return {
    author: 'bob@example.com',
    roles: ['reviewer'],
    proposedState: 'APPROVED',
    reason: 'looks fine',
    created: new Date(Date.UTC(2026, 10, 25, 10, 0, 0)),
    annotations: {},
    assumeStartTime: undefined,
    ...partial,
  };
}

/** What a webhook receiver got. */
export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A plain HTTP server standing in for the plugin's webhook endpoint; answers `status`. */
export class HookReceiver {
  readonly received: Received[] = [];
  status = 204;
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(this.status).end();
    });
  });
  url = '';

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nobody listens on right now (the plugin's webhook server in runtime tests). */
/** A loopback port nobody listens on right now (core's). */
export { freeLoopbackPort as freePort } from '@teleport-plugin/core';
