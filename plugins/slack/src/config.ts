import type { ConfigContext, ConfigSection } from '@teleport-plugin/core';

export const DEFAULT_API_URL = 'https://slack.com/api/';

export interface SlackReviewConfig {
  enabled: boolean;
  /** App-level token (`xapp-…`): Socket Mode. */
  appToken: string | undefined;
  /** HTTP interactivity on the shared server (`/slack/interactivity`). */
  signingSecret: string | undefined;
  slackUserIdTrait: string | undefined;
  allowEmailUsernameMatch: boolean;
}

export interface SlackConfig {
  token: string;
  /** Always ends with `/` (the SDK appends method names). */
  apiUrl: string;
  /** role -> recipients; always has a non-empty `*`. */
  roleToRecipients: Record<string, string[]>;
  review: SlackReviewConfig;
}

/** `[slack]`, `[slack.review]` and `[role_to_recipients]` (or `[slack.role_to_recipients]`). */
export function parseSlackConfig(section: ConfigSection, ctx: ConfigContext): SlackConfig {
  const token = section.secret('token', { required: true });
  if (!token) throw section.error('token', 'a Slack bot token (xoxb-…), or a /path to a file holding it');

  let apiUrl = section.string('api_url', { aliases: ['apiurl'], default: DEFAULT_API_URL }) ?? DEFAULT_API_URL;
  try {
    const parsed = new URL(apiUrl);
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new Error('scheme');
  } catch {
    throw section.error('api_url', `an http(s) URL such as ${DEFAULT_API_URL}`);
  }
  if (!apiUrl.endsWith('/')) apiUrl += '/';

  // Deprecated upstream in favour of role_to_recipients["*"]; still honoured when no map is given.
  const legacyRecipients = section.stringList('recipients', { deprecated: 'use role_to_recipients["*"]' });
  let roleToRecipients = ctx.roleToRecipients(section);
  if (!roleToRecipients && legacyRecipients && legacyRecipients.length > 0) {
    roleToRecipients = { '*': legacyRecipients };
  }
  const fallback = roleToRecipients?.['*']?.filter((r) => r.trim() !== '');
  if (!roleToRecipients || !fallback || fallback.length === 0) {
    throw section.error('role_to_recipients', 'a [role_to_recipients] table with a non-empty "*" entry (the default channels or emails), e.g. "*" = ["access-requests"]');
  }
  const cleaned: Record<string, string[]> = {};
  for (const [role, list] of Object.entries(roleToRecipients)) {
    cleaned[role] = list.map((r) => r.trim()).filter((r) => r !== '');
  }

  // `[slack.review]`, or the Go plugin's top-level `[review]` (declared in package.json).
  const ownReview = section.section('review');
  const review = ownReview.present ? ownReview : ctx.root().section('review');
  return { token, apiUrl, roleToRecipients: cleaned, review: parseReview(review) };
}

function parseReview(review: ConfigSection): SlackReviewConfig {
  const enabled = review.bool('enabled', false);
  const appToken = review.secret('app_token');
  const signingSecret = review.secret('signing_secret');
  const slackUserIdTrait = review.string('slack_user_id_trait');
  const allowEmailUsernameMatch = review.bool('allow_email_username_match', false);
  if (enabled) {
    if (!appToken && !signingSecret) {
      throw review.error('app_token', 'an app-level token (xapp-…, Socket Mode) or a signing_secret (HTTP interactivity) when enabled = true');
    }
    if (!slackUserIdTrait && !allowEmailUsernameMatch) {
      throw review.error('slack_user_id_trait', "the Teleport user trait that holds each reviewer's Slack user id (or allow_email_username_match = true) when enabled = true");
    }
  }
  return { enabled, appToken, signingSecret, slackUserIdTrait, allowEmailUsernameMatch };
}

/** `teleport-plugin configure --plugin slack`. */
export function exampleConfig(): string {
  return `# Slack adapter for teleport-plugin (same keys as the Go teleport-slack plugin).
[slack]
# Bot User OAuth token (xoxb-...). A value starting with "/" is read from that file.
# Scopes: chat:write, users:read, users:read.email, im:write (DMs), and channels:read, groups:read,
# channels:history, groups:history, im:history (to find a message again instead of posting it twice).
token = "/var/lib/teleport/plugins/slack/bot-token"
# Slack Web API base URL (tests point it at a fake).
# api_url = "https://slack.com/api/"

[role_to_recipients]
# Channel names or ids, and reviewer emails (DMs). "*" is required: the default for roles
# without an entry. Invite the bot to every channel (/invite @your-bot).
"*" = ["access-requests"]
# "dev" = ["dev-access", "lead@example.com"]

# Approve and deny from Slack. Off by default: such reviews bypass Teleport's own login and MFA.
# The plugin's Teleport role needs review_requests.submit_for_users (preset access-plugin-with-review).
[slack.review]
enabled = false
# Socket Mode: an app-level token (xapp-..., scope connections:write). No public endpoint needed.
# app_token = "/var/lib/teleport/plugins/slack/app-token"
# Or HTTP interactivity: Slack posts to https://<public addr>/slack/interactivity, signed with this
# secret (v0 signature, 5-minute replay window). Served by the shared [http] server (listen_addr,
# default :8081; https_cert_file/https_key_file, or --insecure-no-tls behind a TLS proxy).
# signing_secret = "/var/lib/teleport/plugins/slack/signing-secret"
# The Teleport user trait holding each reviewer's Slack user id (recommended). The reviewer is
# the one Teleport user whose trait holds it, found by listing users: the plugin's role also
# needs user: [list, read] (without it, the Slack email must be the Teleport username).
# slack_user_id_trait = "slack_user_id"
# Accept a Slack email equal to the Teleport username instead (less secure).
# allow_email_username_match = false
`;
}
