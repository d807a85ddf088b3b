import type { ConfigContext, ConfigSection } from '@teleport-plugin/core';

export const ADAPTER_NAME = 'gitlab';
export const DEFAULT_GITLAB_URL = 'https://gitlab.com';
/** The route this adapter serves, below `/<adapter>` on the shared HTTP server. */
export const WEBHOOK_ROUTE_PATH = '/webhook';
/** Where the Go plugin served it (its own server, at the root): `<public_addr>/webhook`. */
export const UPSTREAM_WEBHOOK_PATH = '/webhook';

/**
 * Top-level tables this adapter reads besides `[gitlab]`: upstream's `[db]` (its bbolt file),
 * accepted so Go config files load unchanged, and ignored.
 */
export const GITLAB_TABLES = ['db'] as const;

export const DB_DEPRECATION = 'deprecated: all state lives in Teleport plugin data; [db] is ignored';

export interface GitlabConfig {
  /** Instance base URL without a trailing slash or `/api/v4` (`https://gitlab.example.com`). */
  url: string;
  /** Personal, project or group access token, sent as `PRIVATE-TOKEN`. */
  token: string;
  /** Numeric id (as a string of digits) or full path (`group/subgroup/project`). */
  projectId: string;
  /** Registered as the hook's token; GitLab sends it back in `X-Gitlab-Token`. */
  webhookSecret: string;
  /**
   * What GitLab calls: `[http] public_addr` + `/gitlab/webhook`, with the `user:pass@` of
   * public_addr kept (upstream registered it that way: it is how GitLab passes the shared
   * server's basic auth).
   */
  webhookUrl: string;
  /** `webhookUrl` with any password replaced, for logs and `check`. */
  webhookUrlRedacted: string;
  /**
   * Where the Go plugin registered its hook (`<public_addr>/webhook`): a hook found there is
   * re-pointed to webhookUrl instead of leaving it to fail.
   */
  upstreamWebhookUrl: string;
}

/**
 * `[gitlab]`, plus `[http] public_addr` (the webhook URL) and the deprecated `[db]`. Keys and
 * defaults match the Go plugin (teleport-plugins access/gitlab/config.go, 2022).
 */
export function parseGitlabConfig(section: ConfigSection, ctx: ConfigContext): GitlabConfig {
  const root = ctx.root();
  const db = root.section('db');
  if (db.present) {
    // Read it so it is not reported as unknown; nothing uses it.
    db.string('path');
    db.warn('path', DB_DEPRECATION);
  }

  const url = parseInstanceUrl(section);

  const token = section.secret('token', { required: true, description: 'a GitLab access token with the api scope, or a /path to a file holding it' });
  if (!token) throw section.error('token', 'a GitLab access token with the api scope, or a /path to a file holding it');

  const projectId = parseProjectId(section);

  const webhookSecret = section.secret('webhook_secret', {
    required: true,
    description: 'a passphrase GitLab sends back with every webhook call (X-Gitlab-Token)',
  });
  if (!webhookSecret) throw section.error('webhook_secret', 'a passphrase GitLab sends back with every webhook call (X-Gitlab-Token)');

  const { webhookUrl, webhookUrlRedacted, upstreamWebhookUrl } = parseWebhookUrl(ctx);
  return { url, token, projectId, webhookSecret, webhookUrl, webhookUrlRedacted, upstreamWebhookUrl };
}

function parseInstanceUrl(section: ConfigSection): string {
  // Upstream's example config ships `url = ""` for gitlab.com.
  const raw = (section.string('url', { description: 'the GitLab instance URL' }) ?? '').trim();
  if (raw === '') return DEFAULT_GITLAB_URL;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw section.error('url', `an http(s) URL such as "https://gitlab.example.com" (empty for ${DEFAULT_GITLAB_URL})`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw section.error('url', `an http(s) URL such as "https://gitlab.example.com" (empty for ${DEFAULT_GITLAB_URL})`);
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw section.error('url', 'the instance base URL without credentials, query or fragment (the token goes in gitlab.token)');
  }
  let base = parsed.toString().replace(/\/+$/, '');
  // The client appends /api/v4 itself; a URL copied from API docs would double it.
  if (/\/api\/v4$/i.test(base)) {
    base = base.replace(/\/api\/v4$/i, '');
    section.warn('url', `should be the instance URL without /api/v4; using ${base}`);
  }
  return base;
}

function parseProjectId(section: ConfigSection): string {
  const expected = 'a project id (1812345 or "1812345") or full path ("group/project")';
  let value: string | undefined;
  try {
    value = section.string('project_id');
  } catch {
    // A TOML integer: the Go plugin read it as a string, but `project_id = 1812345` is an easy
    // mistake to forgive.
    let n: number | undefined;
    try {
      n = section.integer('project_id', { min: 1 });
    } catch {
      throw section.error('project_id', expected);
    }
    value = n === undefined ? undefined : String(n);
  }
  const id = (value ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (id === '') throw section.error('project_id', `required: ${expected}`);
  if (/^\d+$/.test(id)) {
    if (/^0+$/.test(id)) throw section.error('project_id', expected);
    return id;
  }
  if (/^https?:\/\//i.test(id)) {
    throw section.error('project_id', 'the project\'s path after the host ("group/project" for https://gitlab.com/group/project), not its URL');
  }
  if (!/^[\w.-]+(\/[\w.-]+)+$/.test(id)) throw section.error('project_id', expected);
  return id;
}

/**
 * The hook URLs from the parsed `[http]` (core's reading of it: scheme defaulted to https, the
 * credentials of `public_addr` moved to basic auth). Credentials written in public_addr go back
 * into the hook URL, as upstream registered it, so GitLab keeps sending them; those of an
 * `[http.basic_auth]` table are not handed to GitLab (the webhook route authenticates GitLab by
 * its token, so it needs no basic auth).
 */
function parseWebhookUrl(ctx: ConfigContext): { webhookUrl: string; webhookUrlRedacted: string; upstreamWebhookUrl: string } {
  const httpSection = ctx.root().section('http');
  const http = ctx.http();
  const publicAddr = http?.publicAddr;
  if (publicAddr === undefined || publicAddr === '') {
    throw httpSection.error(
      'public_addr',
      'required: the address GitLab reaches this plugin at (e.g. "https://teleport-plugins.example.com"); the webhook is <public_addr>/gitlab/webhook',
    );
  }
  const url = new URL(publicAddr);
  if (url.search || url.hash) throw httpSection.error('public_addr', 'a base URL without a query or fragment');
  const auth = http?.basicAuth;
  if (auth && !httpSection.section('basic_auth').present) {
    url.username = encodeURIComponent(auth.user);
    url.password = encodeURIComponent(auth.password);
  }
  const base = url.pathname.replace(/\/+$/, '');
  url.pathname = `${base}${UPSTREAM_WEBHOOK_PATH}`;
  const upstreamWebhookUrl = url.toString();
  url.pathname = `${base}/${ADAPTER_NAME}${WEBHOOK_ROUTE_PATH}`;
  const webhookUrl = url.toString();
  if (url.password) url.password = 'REDACTED';
  return { webhookUrl, webhookUrlRedacted: url.toString(), upstreamWebhookUrl };
}

/**
 * `teleport-plugin configure --plugin gitlab`: the `[gitlab]` and `[http]` tables, commented.
 * A Go teleport-gitlab file (with its `[db]` table) loads unchanged too.
 */
export function exampleConfig(): string {
  return `# GitLab adapter for teleport-plugin (same keys as the Go teleport-gitlab plugin).
# Opens an issue for each access request (label "Teleport: Pending"), adds reviews as notes, and
# closes it with the outcome's label when the request is decided or expires. A reviewer approves
# or denies by adding the "Teleport: Approved" or "Teleport: Denied" label to the issue.
# The token needs the api scope and the Maintainer role in the project (to manage its webhook);
# the plugin's Teleport role needs access_request [list, read, update] (it sets decided states).
[gitlab]
# Instance URL; leave empty for https://gitlab.com.
url = ""
# Personal, project or group access token (scope: api). A value starting with "/" is read from
# that file.
token = "/var/lib/teleport/plugins/gitlab/token"
# Numeric project ID ("Settings > General") or full path ("group/project").
project_id = "1812345"
# Registered as the webhook's secret token; GitLab sends it back with every call.
webhook_secret = "your webhook passphrase"

[http]
# The address GitLab reaches this plugin at. The webhook is registered as
# <public_addr>/gitlab/webhook (the Go plugin used <public_addr>/webhook).
public_addr = "https://teleport-plugins.example.com"
listen_addr = ":8081"
https_key_file = "/var/lib/teleport/plugins/gitlab/server.key"
https_cert_file = "/var/lib/teleport/plugins/gitlab/server.crt"
`;
}
