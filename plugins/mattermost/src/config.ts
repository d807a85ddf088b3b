import type { ConfigContext, ConfigSection } from '@teleport-plugin/core';
import { parseRecipient, urlNameHint } from './recipient.js';

export interface MattermostConfig {
  /** Server base URL, without a trailing slash (`/api/v4` is added per call). */
  url: string;
  /** The bot account's access token, sent as `Authorization: BEARER <token>`. */
  token: string;
  /**
   * role -> recipients (emails and `team/channel`s); `*` is the fallback for roles without an
   * entry and may be absent (then only suggested reviewers are told). Values that are neither
   * form are left out (see invalidRecipients).
   */
  roleToRecipients: Record<string, string[]>;
  /** Configured values that are neither an email nor `team/channel` (warned about once, here). */
  invalidRecipients: string[];
  /** DM the requester when the request is decided or expires (ours; upstream never does). */
  notifyRequester: boolean;
}

/**
 * `[mattermost]` and `[role_to_recipients]` (or `[mattermost.role_to_recipients]`), as the Go
 * plugin reads them: `url`, `token` (a value starting with `/` is a file; also `env:NAME` and
 * `token_file`), and `recipients`, which, when non-empty, replaces the whole role map with
 * `{"*": recipients}`. Unlike Slack there is no required `"*"` entry.
 */
export function parseMattermostConfig(section: ConfigSection, ctx: ConfigContext): MattermostConfig {
  const url = parseUrl(section);
  const token = section.secret('token', { required: true, description: "the bot account's access token (or a /path to a file holding it)" });
  if (!token) throw section.error('token', "the bot account's access token (or a /path to a file holding it)");

  const recipients = (section.stringList('recipients') ?? []).map((r) => r.trim()).filter((r) => r !== '');
  const roleMap = ctx.roleToRecipients(section);
  const roleTable = roleMapTable(section, ctx);

  let raw: Record<string, string[]>;
  let warnAt: (role: string, message: string) => void;
  if (recipients.length > 0) {
    if (roleMap && Object.values(roleMap).some((list) => list.length > 0)) {
      section.warn('recipients', 'replaces the whole [role_to_recipients] table (as the Go plugin does); the role map is ignored');
    }
    raw = { '*': recipients };
    warnAt = (_role, message) => section.warn('recipients', message);
  } else {
    raw = roleMap ?? {};
    warnAt = (role, message) => roleTable.warn(role, message);
  }

  const roleToRecipients: Record<string, string[]> = {};
  const invalidRecipients: string[] = [];
  for (const [role, list] of Object.entries(raw)) {
    const kept: string[] = [];
    for (const value of list.map((r) => r.trim()).filter((r) => r !== '')) {
      const spec = parseRecipient(value);
      if (spec.kind === 'invalid') {
        warnAt(role, `${spec.problem}; it is skipped (the other recipients still get their posts)`);
        if (!invalidRecipients.includes(spec.raw)) invalidRecipients.push(spec.raw);
        continue;
      }
      if (spec.kind === 'channel') {
        const hint = urlNameHint(spec);
        if (hint) warnAt(role, hint);
      }
      if (!kept.includes(spec.raw)) kept.push(spec.raw);
    }
    roleToRecipients[role] = kept;
  }

  return { url, token, roleToRecipients, invalidRecipients, notifyRequester: section.bool('notify_requester', true) };
}

function parseUrl(section: ConfigSection): string {
  const value = section.requireString('url', { description: 'the Mattermost server URL, e.g. https://mattermost.example.com' }).trim();
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw section.error('url', 'an http:// or https:// URL of the Mattermost server, e.g. https://mattermost.example.com');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw section.error('url', 'an http:// or https:// URL of the Mattermost server, e.g. https://mattermost.example.com');
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw section.error('url', 'the server base URL without credentials, query or fragment');
  }
  const base = parsed.toString().replace(/\/+$/, '');
  if (/\/api\/v4$/i.test(base)) {
    throw section.error('url', 'the server base URL without /api/v4 (the plugin adds it), e.g. https://mattermost.example.com');
  }
  return base;
}

/** Where the role map came from, so a warning names the right table. */
function roleMapTable(section: ConfigSection, ctx: ConfigContext): ConfigSection {
  const own = section.section('role_to_recipients');
  return own.present ? own : ctx.root().section('role_to_recipients');
}

/** `teleport-plugin configure --plugin mattermost`. */
export function exampleConfig(): string {
  return `# Mattermost adapter for teleport-plugin (same keys as the Go teleport-mattermost plugin).
# Posts each access request to channels and direct messages, replies in the thread with every
# review, updates the posts when the request is decided or expires, and tells the requester.
[mattermost]
# Server base URL (the plugin adds /api/v4).
url = "https://mattermost.example.com"
# Bot account access token (System Console > Integrations > Bot Accounts). A value starting
# with "/" is read from that file; "env:NAME" reads an environment variable.
token = "/var/lib/teleport/plugins/mattermost/token"
# Who is told about every request. Each value is either a user's email (a direct message from
# the bot; Mattermost must show email addresses to the bot: System Console > Site Configuration
# > Users and Teams > Show Email Address, or make the bot a system admin) or "team/channel"
# written with the URL names from the channel's link. Add the bot to each team and channel.
# When set, this replaces [role_to_recipients] (as in the Go plugin).
# recipients = ["my-team/access-requests", "first.last@example.com"]
# Direct-message the requester when their request is approved, denied or expires (the Go
# plugin never does). Their Teleport username must be their Mattermost email.
# notify_requester = true

# Or route by requested role ("*" is the fallback and is optional here). Suggested reviewers
# that are emails are always told as well.
[role_to_recipients]
"*" = ["my-team/access-requests"]
# "dba" = ["my-team/dba-oncall", "lead@example.com"]
`;
}
