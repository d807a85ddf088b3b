import type { ConfigContext, ConfigSection } from '@teleport-plugin/core';

export const DEFAULT_ISSUE_TYPE = 'Task';

/** How the webhook proves a call comes from Jira (several may be configured at once). */
export interface WebhookAuthConfig {
  /**
   * `jira.webhook_secret`: the secret of a Jira admin webhook. Jira signs every delivery with it:
   * `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.
   */
  secret: string | undefined;
  /**
   * `jira.webhook_token`: a token the Jira webhook URL carries as `?token=<value>`, for sites
   * that cannot sign (older Jira Server/Data Center).
   */
  token: string | undefined;
  /**
   * `[http] basic_auth` (or credentials in `http.public_addr`). Without a secret or token the
   * shared server checks it; with one, the webhook checks it itself and accepts either proof.
   */
  basicAuth: { user: string; password: string } | undefined;
  /** `[http.tls] verify_client_cert = true`: only callers with a trusted client certificate get through. */
  clientCert: boolean;
  /**
   * `jira.allow_unauthenticated_webhook = true`: the operator accepts that anyone who can reach
   * the webhook may approve or deny requests. `check` warns about it.
   */
  allowUnauthenticated: boolean;
}

export interface JiraConfig {
  /** Base URL without a trailing slash, e.g. `https://example.atlassian.net`. */
  url: string;
  username: string;
  /** API token (Cloud) or password (Server/Data Center). */
  apiToken: string;
  /** Project key. The Go plugin does not validate it at load time; its health check fails without it. */
  project: string;
  issueType: string;
  webhook: WebhookAuthConfig;
}

/**
 * Reads `[jira]` with the Go plugin's keys (`url`, `username`, `api_token`, `project`,
 * `issue_type`) plus the webhook authentication keys this runtime adds. A Go file loads unchanged
 * as long as its webhook is authenticated somehow (the Go fixture uses `[http] basic_auth`).
 */
export function parseJiraConfig(section: ConfigSection, ctx: ConfigContext): JiraConfig {
  const rawUrl = section.requireString('url', { description: 'the Jira site URL, https://<site>.atlassian.net' }).trim();
  let parsed: URL;
  try {
    parsed = new URL(rawUrl);
  } catch {
    throw section.error('url', 'a URL starting with https:// (e.g. "https://example.atlassian.net")');
  }
  // Upstream refuses anything but https: the API token travels in every request. Plain http is
  // accepted only for this machine (a local fake in demos and tests), where nothing travels.
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && isLoopback(parsed.hostname))) {
    throw section.error('url', 'a URL starting with https:// (the API token is sent with every call)');
  }
  if (parsed.search || parsed.hash) throw section.error('url', 'a base URL without a query or fragment');
  if (parsed.username || parsed.password) throw section.error('url', 'a URL without credentials (use username and api_token)');

  const username = section.requireString('username', { description: 'the Jira user the plugin acts as (an email address on Jira Cloud)' }).trim();
  const apiToken = section.secret('api_token', { required: true, description: 'a Jira API token (Cloud) or password (Server)' });
  if (!apiToken) throw section.error('api_token', 'a Jira API token (Cloud) or password (Server), inline, a /path, env:NAME or api_token_file');

  // Not validated by upstream at load time; `check` and start-up report a missing project.
  const project = (section.string('project', { description: 'the key of the Jira project issues are created in' }) ?? '').trim();
  const issueType = (section.string('issue_type', { default: DEFAULT_ISSUE_TYPE }) ?? DEFAULT_ISSUE_TYPE).trim() || DEFAULT_ISSUE_TYPE;

  const webhook = parseWebhookAuth(section, ctx);
  return { url: parsed.toString().replace(/\/+$/, ''), username, apiToken, project, issueType, webhook };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function parseWebhookAuth(section: ConfigSection, ctx: ConfigContext): WebhookAuthConfig {
  const secret = section.secret('webhook_secret', { description: 'the secret of the Jira admin webhook (signs X-Hub-Signature)' });
  const token = section.secret('webhook_token', { description: 'a token the webhook URL carries as ?token=...' });
  if (token !== undefined && !/^[A-Za-z0-9._~-]{16,}$/.test(token)) {
    // It travels in a URL: characters that need escaping would be mangled by some Jira versions,
    // and a short token can be guessed.
    throw section.error('webhook_token', 'at least 16 characters from A-Z a-z 0-9 . _ ~ - (it is part of the webhook URL)');
  }
  if (secret !== undefined && secret.length < 8) {
    throw section.error('webhook_secret', 'the secret set on the Jira webhook (at least 8 characters)');
  }
  const allowUnauthenticated = section.bool('allow_unauthenticated_webhook', false);
  const { basicAuth, clientCert } = httpAuthentication(ctx);

  if (!secret && !token && !basicAuth && !clientCert && !allowUnauthenticated) {
    throw section.error(
      'webhook_secret',
      'requires webhook authentication: anyone who can reach the webhook could approve requests. ' +
        'Set jira.webhook_secret (the secret of the Jira webhook, checked against X-Hub-Signature), ' +
        'jira.webhook_token (a token in the webhook URL, ?token=...), or [http.basic_auth] user and password; ' +
        'or, to accept unauthenticated calls on purpose, jira.allow_unauthenticated_webhook = true',
    );
  }
  if (allowUnauthenticated && !secret && !token && !basicAuth && !clientCert) {
    // Config warnings are logged at start and shown as WARN rows by `teleport-plugin check`.
    section.warn('allow_unauthenticated_webhook', 'the Jira webhook accepts calls without credentials: anyone who can reach it can approve or deny access requests');
  }
  return { secret, token, basicAuth, clientCert, allowUnauthenticated };
}

/** What `[http]` already enforces for every caller (core has parsed and validated the table). */
function httpAuthentication(ctx: ConfigContext): { basicAuth: { user: string; password: string } | undefined; clientCert: boolean } {
  const http = ctx.http();
  return { basicAuth: http?.basicAuth, clientCert: http?.verifyClientCert === true };
}

/** One line for `check`: how the webhook is protected, and a warning when it is not. */
export function describeWebhookAuth(webhook: WebhookAuthConfig): { ok: boolean; detail: string } {
  const ways: string[] = [];
  if (webhook.secret) ways.push('signed deliveries (jira.webhook_secret, X-Hub-Signature)');
  if (webhook.token) ways.push('a token in the webhook URL (jira.webhook_token)');
  if (webhook.basicAuth) ways.push('[http] basic auth');
  if (webhook.clientCert) ways.push('client certificates ([http.tls] verify_client_cert)');
  if (ways.length > 0) return { ok: true, detail: `webhook calls must prove ${ways.join(' or ')}` };
  return {
    ok: false,
    detail:
      'the webhook accepts unauthenticated calls (jira.allow_unauthenticated_webhook = true): anyone who can reach it can approve or deny access requests; set jira.webhook_secret, jira.webhook_token or [http.basic_auth]',
  };
}

/** `teleport-plugin configure --plugin jira`: the `[jira]` table, commented. */
export function exampleConfig(): string {
  return `# Jira adapter for teleport-plugin (same keys as the Go teleport-jira plugin, plus webhook
# authentication). Opens an issue for each access request, comments on reviews, and moves the
# issue to Approved / Denied / Expired when the request is decided or expires. Moving the issue
# to Approved or Denied in Jira approves or denies the request (through the webhook below).
[jira]
# Jira site. For Jira Cloud: "https://<your-site>.atlassian.net". Must be https.
url = "https://example.atlassian.net"
# The user the plugin acts as (an email address on Jira Cloud).
username = "jira-bot@example.com"
# API token (Jira Cloud) or password (Jira Server). A value starting with "/" is read from that
# file; "env:NAME" reads an environment variable; api_token_file = "/path" works too.
api_token = "/var/lib/teleport/plugins/jira/api-token"
# Project key. The issue type's workflow needs the statuses Pending, Approved, Denied, Expired.
project = "MYPROJ"
# Issue type (default "Task").
issue_type = "Task"

# The Jira admin webhook (Issue updated events) points at https://<public_addr>/jira/ (the Go
# plugin's https://<public_addr>/ works too). It must be authenticated; use at least one of:
# - the secret of the Jira admin webhook (System > WebHooks > Secret): Jira signs each delivery
#   with it (X-Hub-Signature: sha256=...). Same value forms as api_token.
webhook_secret = "/var/lib/teleport/plugins/jira/webhook-secret"
# - a token in the webhook URL (https://<public_addr>/jira/?token=<token>), for Jira versions
#   that cannot sign: 16+ characters from A-Z a-z 0-9 . _ ~ -
# webhook_token = "env:JIRA_WEBHOOK_TOKEN"
# - or [http.basic_auth] user and password below.
# Only if the webhook is protected some other way (a private network): accept calls that carry
# no credentials at all. \`teleport-plugin check\` warns while this is on.
# allow_unauthenticated_webhook = false

[http]
# Where Jira reaches this server.
public_addr = "teleport-jira.example.com"
listen_addr = ":8081"
https_key_file = "/var/lib/teleport/plugins/jira/server.key"
https_cert_file = "/var/lib/teleport/plugins/jira/server.crt"
# [http.basic_auth]
# user = "jira"
# password = "/var/lib/teleport/plugins/jira/webhook-password"
`;
}
