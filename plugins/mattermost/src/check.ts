import { errorMessage, type CheckItem } from '@teleport-plugin/core';
import type { MattermostClient, MmUser } from './client.js';
import type { MattermostConfig } from './config.js';
import { parseRecipient } from './recipient.js';
import { resolveRecipient } from './resolveRecipient.js';

/**
 * `teleport-plugin check`: the token works (`users/me`), every configured `team/channel` exists
 * and has the bot as a member (so it can post there), and every configured email is a
 * Mattermost user. Nothing is posted or created.
 */
export async function checkMattermost(client: MattermostClient, config: MattermostConfig, signal?: AbortSignal): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  let me: MmUser;
  try {
    me = await client.me(signal);
  } catch (err) {
    items.push({ name: 'mattermost token', ok: false, detail: errorMessage(err) });
    return items;
  }
  items.push({
    name: 'mattermost token',
    ok: true,
    detail: `valid for ${me.isBot ? 'bot' : 'user'} @${me.username} on ${client.url}${me.isBot ? '' : ' (a personal access token; a bot account is recommended)'}`,
  });

  const recipients = [...new Set(Object.values(config.roleToRecipients).flat())];
  for (const raw of config.invalidRecipients) {
    items.push({ name: `mattermost recipient ${raw}`, ok: false, detail: parseRecipientProblem(raw) });
  }
  if (recipients.length === 0 && config.invalidRecipients.length === 0) {
    items.push({ name: 'mattermost recipients', ok: true, detail: 'none configured: only suggested reviewers (by email) are told about requests' });
  }
  for (const raw of recipients) items.push(await checkRecipient(client, raw, me, signal));
  return items;
}

async function checkRecipient(client: MattermostClient, raw: string, me: MmUser, signal: AbortSignal | undefined): Promise<CheckItem> {
  const name = `mattermost recipient ${raw}`;
  const spec = parseRecipient(raw);
  try {
    if (spec.kind === 'email') {
      const user = await client.userByEmail(spec.email, signal);
      return user
        ? { name, ok: true, detail: `user @${user.username}; posts go to a direct message from @${me.username}` }
        : { name, ok: false, detail: `no Mattermost user has the email ${spec.email}` };
    }
    const resolved = await resolveRecipient(client, spec, signal);
    if (!resolved.ok) return { name, ok: false, detail: resolved.problem };
    if (!(await client.isChannelMember(resolved.channelId, me.id, signal))) {
      return {
        name,
        ok: false,
        detail: `the bot is not a member of this channel, so it cannot post there: add it (type /invite @${me.username} in the channel)`,
      };
    }
    return { name, ok: true, detail: 'channel found; the bot is a member and can post' };
  } catch (err) {
    return { name, ok: false, detail: errorMessage(err) };
  }
}

function parseRecipientProblem(raw: string): string {
  const spec = parseRecipient(raw);
  return spec.kind === 'invalid' ? `${spec.problem}; it is skipped` : 'not checked';
}
