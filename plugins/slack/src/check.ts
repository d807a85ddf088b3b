import { errorMessage, isEmail, type CheckItem } from '@teleport-plugin/core';
import { slackErrorCode, type AuthInfo, type SlackClient } from './client.js';
import type { SlackConfig } from './config.js';

/**
 * Scopes every install needs: im:write because requesters and email recipients get DMs; the read
 * and history scopes because, after a crash or a lost answer, a message is found again in its
 * channel (by its metadata) instead of being posted twice.
 */
export const REQUIRED_SCOPES = ['chat:write', 'users:read', 'users:read.email', 'im:write', 'channels:read', 'groups:read', 'channels:history', 'groups:history', 'im:history'];

/** Why Slack rejected the token, in plain words (start-up and `check`). */
export function tokenProblem(err: unknown): string {
  const code = slackErrorCode(err);
  if (code === 'invalid_auth' || code === 'not_authed')
    return `the token is not valid (${code}); copy the Bot User OAuth Token (xoxb-…) from your Slack app's OAuth & Permissions page`;
  if (code === 'token_revoked' || code === 'token_expired' || code === 'account_inactive') return `the token no longer works (${code}); reinstall the app and use the new token`;
  return errorMessage(err);
}

/** The REQUIRED_SCOPES the token lacks (none when Slack did not report its scopes). */
export function missingScopes(scopes: string[] | undefined): string[] {
  if (!scopes) return [];
  return REQUIRED_SCOPES.filter((s) => !scopes.includes(s));
}

/** `teleport-plugin check`: token, scopes, and that every configured channel exists and has the bot. */
export async function checkSlack(client: SlackClient, config: SlackConfig, signal: AbortSignal): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  let auth: AuthInfo;
  try {
    auth = await client.authTest(signal);
    items.push({ name: 'slack token', ok: true, detail: `valid for workspace "${auth.team}" (bot user ${auth.userId})` });
  } catch (err) {
    items.push({ name: 'slack token', ok: false, detail: `Slack rejected the token: ${tokenProblem(err)}` });
    return items;
  }

  if (!auth.scopes) {
    items.push({ name: 'slack scopes', ok: true, detail: "Slack did not report the token's scopes; not verified" });
  } else {
    const missing = missingScopes(auth.scopes);
    items.push(
      missing.length === 0
        ? { name: 'slack scopes', ok: true, detail: `has ${REQUIRED_SCOPES.join(', ')}` }
        : { name: 'slack scopes', ok: false, detail: `missing ${missing.join(', ')}: add them under OAuth & Permissions in your Slack app and reinstall it` },
    );
  }

  const channels = [
    ...new Set(
      Object.values(config.roleToRecipients)
        .flat()
        .filter((r) => !isEmail(r)),
    ),
  ];
  if (channels.length > 0) {
    let known: Awaited<ReturnType<SlackClient['listConversations']>> | undefined;
    try {
      known = await client.listConversations(signal);
    } catch (err) {
      const code = slackErrorCode(err);
      items.push({
        name: 'slack channels',
        ok: false,
        detail: code === 'missing_scope' ? 'cannot list channels without the channels:read scope; channels not verified' : `cannot list channels: ${errorMessage(err)}`,
      });
    }
    if (known) {
      const unknown: string[] = [];
      const notMember: string[] = [];
      for (const recipient of channels) {
        const name = recipient.replace(/^#/, '');
        let channel = known.find((c) => c.id === name || c.name === name);
        // Private channels and DMs by id are not always listed: ask for the id directly.
        if (!channel && /^[CGDU][A-Z0-9]+$/.test(name)) {
          if (name.startsWith('U')) continue;
          channel = await client.conversationInfo(name, signal).catch(() => undefined);
        }
        if (!channel) unknown.push(recipient);
        else if (!channel.isMember) notMember.push(recipient);
      }
      if (unknown.length > 0) items.push({ name: 'slack channels', ok: false, detail: `unknown channel(s) in role_to_recipients: ${unknown.join(', ')}` });
      if (notMember.length > 0) {
        items.push({ name: 'slack channel membership', ok: false, detail: `the bot is not in: ${notMember.join(', ')}; invite it with /invite @<bot> in each` });
      }
      if (unknown.length === 0 && notMember.length === 0) items.push({ name: 'slack channels', ok: true, detail: `found ${channels.join(', ')}` });
    }
  }

  if (config.review.enabled) {
    items.push({
      name: 'slack reviews',
      ok: true,
      detail: config.review.appToken ? 'approve/deny buttons over Socket Mode' : 'approve/deny buttons over HTTP at /slack/interactivity',
    });
  }
  return items;
}
