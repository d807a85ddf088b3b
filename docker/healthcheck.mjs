// HEALTHCHECK of the teleport-plugin image: GET /healthz on the [http] listener of plugin.toml.
//
// Decision: with no [http] table there is no listener to probe, so the check passes. The process
// is then its own liveness signal: it exits on fatal errors (and with TELEPORT_PLUGIN_FAIL_FAST on
// a lost Teleport connection), which stops the container and lets the restart policy act.
//
// Overrides (environment):
//   TELEPORT_PLUGIN_CONFIG           config file to read (default /var/lib/teleport-plugins/plugin.toml)
//   TELEPORT_PLUGIN_HEALTHCHECK_URL  probe this URL instead (e.g. http://127.0.0.1:8081/healthz),
//                                    or `off` to always pass
import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const TIMEOUT_MS = 4000;
const configFile = process.env.TELEPORT_PLUGIN_CONFIG || '/var/lib/teleport-plugins/plugin.toml';

function done(code, message) {
  (code === 0 ? process.stdout : process.stderr).write(`healthcheck: ${message}\n`);
  process.exit(code);
}

/** Where to reach a listener bound to `listen_addr` from inside the container. */
function probeHost(host) {
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return host.startsWith('[') ? host : host.includes(':') ? `[${host}]` : host;
}

async function targetFromConfig() {
  let text;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch {
    done(0, `no ${configFile}; nothing to probe`);
  }
  const { parse } = await import('smol-toml');
  let httpTable;
  try {
    httpTable = parse(text).http;
  } catch (err) {
    // The plugin reports config errors itself, with file and line, and exits.
    done(0, `${configFile} does not parse (${err.message.split('\n')[0]}); nothing to probe`);
  }
  if (typeof httpTable !== 'object' || httpTable === null) done(0, 'no [http] configured; nothing to probe');
  const listen = typeof httpTable.listen_addr === 'string' ? httpTable.listen_addr : ':8081';
  const colon = listen.lastIndexOf(':');
  const port = Number(listen.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port)) done(1, `cannot read a port from http.listen_addr = "${listen}"`);
  const tls = typeof httpTable.https_cert_file === 'string' && httpTable.https_cert_file !== '';
  const url = new URL(`${tls ? 'https' : 'http'}://${probeHost(listen.slice(0, colon))}:${port}/healthz`);
  // /healthz is exempt from [http] basic_auth, so no credentials are needed here.
  return url;
}

const override = process.env.TELEPORT_PLUGIN_HEALTHCHECK_URL;
if (override === 'off') done(0, 'disabled by TELEPORT_PLUGIN_HEALTHCHECK_URL=off');
const url = override ? new URL(override) : await targetFromConfig();

const client = url.protocol === 'https:' ? https : http;
// The certificate names the public address, not 127.0.0.1; this is a local liveness probe.
const req = client.get(url, { timeout: TIMEOUT_MS, rejectUnauthorized: false }, (res) => {
  res.resume();
  if (res.statusCode === 200) done(0, `${url} -> 200`);
  else done(1, `${url} -> HTTP ${res.statusCode}`);
});
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on('error', (err) => done(1, `${url}: ${err.message}`));
