/** The Go jira/gitlab plugins' listen address. */
export const DEFAULT_LISTEN_ADDR = ':8081';

/** `[http]` of the config: the one shared HTTP(S) server for webhooks, health and metrics. */
export interface HttpServerConfig {
  /** host:port or :port. Default DEFAULT_LISTEN_ADDR. */
  listenAddr: string;
  /** The address reviewers' services reach us at (webhook URLs), e.g. `https://plugins.example.com`. */
  publicAddr?: string;
  /** PEM files; both or neither. Required unless `--insecure-no-tls`. */
  httpsCertFile?: string;
  httpsKeyFile?: string;
  basicAuth?: { user: string; password: string };
  /** Require and verify client certificates. */
  verifyClientCert?: boolean;
  /** PEM bundle of CAs trusted for client certificates (default: Node's bundled roots). */
  clientCaFile?: string;
  /** Largest accepted request body (default 1 MiB). */
  maxBodyBytes?: number;
}
