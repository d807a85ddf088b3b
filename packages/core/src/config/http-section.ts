import { DEFAULT_LISTEN_ADDR, type HttpServerConfig } from '../http/types.js';
import { registerSecret } from '../log/redaction.js';
import type { ConfigSection } from './section.js';
import type { TomlSection } from './toml-section.js';

/** `[http]` (lib.HTTPConfig of the Go jira/gitlab plugins, shared spec §3.4). */
export function parseHttpSection(s: TomlSection): HttpServerConfig {
  const listenAddr = s.string('listen_addr', { default: DEFAULT_LISTEN_ADDR, description: 'host:port or :port to listen on' }) || DEFAULT_LISTEN_ADDR;
  const out: HttpServerConfig = { listenAddr };

  const publicAddr = s.string('public_addr', { description: 'the URL services reach this server at' })?.trim();
  let urlAuth: { user: string; password: string } | undefined;
  if (publicAddr !== undefined && publicAddr !== '') {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(publicAddr) ? publicAddr : `https://${publicAddr}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw s.error('public_addr', 'a URL such as "https://plugins.example.com"');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw s.errorAt('public_addr', `expected an http or https URL, got scheme ${JSON.stringify(url.protocol.slice(0, -1))}`);
    }
    if (url.username !== '' || url.password !== '') {
      // gitlab: `https://user:pass@host` doubles as basic auth for the webhook.
      urlAuth = { user: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      registerSecret(urlAuth.password);
      url.username = '';
      url.password = '';
    }
    out.publicAddr = url.toString().replace(/\/$/, '');
  }

  const keyFile = s.string('https_key_file', { description: 'a PEM private key file' });
  const certFile = s.string('https_cert_file', { description: 'a PEM certificate file' });
  if ((keyFile === undefined || keyFile === '') !== (certFile === undefined || certFile === '')) {
    const [setKey, missingKey] = keyFile ? ['https_key_file', 'https_cert_file'] : ['https_cert_file', 'https_key_file'];
    throw s.errorAt(setKey, `requires ${missingKey} too: set both or neither`);
  }
  if (keyFile && certFile) {
    out.httpsKeyFile = keyFile;
    out.httpsCertFile = certFile;
  }

  const basic = s.child('basic_auth');
  const user = basic.string('user');
  const password = basic.secret('password');
  if (password !== undefined && (user === undefined || user === '')) {
    throw basic.errorAt('password', 'requires user to be set too');
  }
  if (user !== undefined && user !== '') {
    if (urlAuth !== undefined) {
      throw basic.errorAt('user', 'cannot be combined with credentials in http.public_addr: use one or the other');
    }
    out.basicAuth = { user, password: password ?? '' };
  } else if (urlAuth !== undefined) {
    out.basicAuth = urlAuth;
  }

  const tls = s.child('tls');
  const verify = tls.bool('verify_client_cert', false);
  const clientCaFile = tls.string('client_ca_file', { description: 'a PEM bundle of the CAs that sign client certificates' });
  if (verify) out.verifyClientCert = true;
  if (clientCaFile !== undefined && clientCaFile !== '') {
    // A CA bundle that is never consulted would look like protection while giving none.
    if (!verify) throw tls.errorAt('client_ca_file', 'requires verify_client_cert = true (it is only used to verify client certificates)');
    out.clientCaFile = clientCaFile;
  }
  return out;
}

/**
 * `[http]` without a certificate may only serve plain HTTP when the operator says so with
 * `--insecure-no-tls` (as upstream). Checked before connecting to Teleport, so the mistake is one
 * clear config line instead of a failure after the adapters have started.
 */
export function checkHttpTls(config: { readonly http: HttpServerConfig | undefined; section(name: string): ConfigSection }, insecureNoTls: boolean): void {
  if (config.http === undefined || insecureNoTls || config.http.httpsCertFile) return;
  throw config.section('http').error('https_cert_file', 'required (with https_key_file) to serve HTTPS; to serve plain HTTP instead, start with --insecure-no-tls');
}
