import type * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Identity } from './identity.js';
import { secureConnect } from './dial.js';

/**
 * Channel credentials that run OUR TLS handshake (dial.ts) on the TCP socket grpc-js opened.
 *
 * Why: grpc-js's SSL credentials hard-code ALPN `['h2']`, and a TLS-routing proxy needs
 * `teleport-auth@...` first. Two ways around it were weighed:
 * - a byte bridge (grpc-js speaks plaintext to a private Unix socket; each accepted connection
 *   is piped into a fresh TLS dial): only public API, but an extra hop, a temp directory, and
 *   grpc-js would believe the channel is insecure;
 * - this hook: `ChannelCredentials._createSecureConnector` is declared (abstract) in grpc-js's
 *   public .d.ts since 1.12 and is what every built-in credential implements; the connector
 *   receives the raw socket and returns the TLS socket. It keeps one hop, keepalive and
 *   reconnects as grpc-js does them, and lets every new connection read the CURRENT identity
 *   (refresh_identity) and report its exact TLS error.
 * The hook is underscore-named, so it could move in a future grpc-js; `assertConnectorHook`
 * fails loudly at start-up if it does, and the client tests exercise it on every run.
 */
export class TeleportChannelCredentials extends grpc.ChannelCredentials {
  constructor(
    private readonly currentIdentity: () => Identity,
    private readonly handshakeTimeoutMs: number,
    private readonly onDial: (outcome: { ok: true; identity: Identity } | { ok: false; error: unknown; identity: Identity }) => void,
  ) {
    super();
  }

  override _isSecure(): boolean {
    return true;
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(_target: unknown, _options: unknown, callCredentials?: grpc.CallCredentials): SecureConnectorLike {
    const callCreds = callCredentials ?? grpc.credentials.createEmpty();
    return {
      connect: async (socket: net.Socket) => {
        const identity = this.currentIdentity();
        try {
          const tlsSocket = await secureConnect(identity, { socket }, this.handshakeTimeoutMs);
          // Under TLS 1.3 a refused client certificate arrives as an alert after this point;
          // remember it so the next UNAVAILABLE can say why.
          tlsSocket.on('error', (error: NodeJS.ErrnoException) => {
            if (typeof error.code === 'string' && error.code.startsWith('ERR_SSL_')) this.onDial({ ok: false, error, identity });
          });
          this.onDial({ ok: true, identity });
          return { socket: tlsSocket, secure: true };
        } catch (error) {
          this.onDial({ ok: false, error, identity });
          throw error;
        }
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => callCreds,
      destroy: () => undefined,
    };
  }
}

interface SecureConnectorLike {
  connect(socket: net.Socket): Promise<{ socket: net.Socket; secure: boolean }>;
  waitForReady(): Promise<void>;
  getCallCredentials(): grpc.CallCredentials;
  destroy(): void;
}

/** Fails with a clear message if the installed grpc-js no longer uses secure connectors. */
export function assertConnectorHook(): void {
  const probe = grpc.credentials.createInsecure() as unknown as { _createSecureConnector?: unknown };
  if (typeof probe._createSecureConnector !== 'function') {
    throw new Error(
      'the installed @grpc/grpc-js does not provide ChannelCredentials._createSecureConnector (expected in 1.12-1.14); ' +
        'teleport-plugin needs it to offer the teleport-auth ALPN protocol',
    );
  }
}
