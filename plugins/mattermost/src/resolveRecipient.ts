import { isPluginError } from '@teleport-plugin/core';
import type { MattermostClient } from './client.js';
import { parseRecipient, urlNameHint, type RecipientSpec } from './recipient.js';

export type ResolvedRecipient =
  | { ok: true; raw: string; kind: 'direct' | 'channel'; channelId: string }
  /** Will not work until someone fixes it (config, Mattermost membership): skip, and say why. */
  | { ok: false; raw: string; problem: string };

/**
 * The channel a recipient's posts go to: an email's direct-message channel with the bot, or a
 * `team/channel`. A recipient that cannot work (no such user, team or channel; the bot outside
 * the team) comes back with a problem in plain words, so the others still get their posts;
 * failures worth retrying (429, 5xx, network) are thrown.
 */
export async function resolveRecipient(client: MattermostClient, recipient: string | RecipientSpec, signal?: AbortSignal): Promise<ResolvedRecipient> {
  const spec = typeof recipient === 'string' ? parseRecipient(recipient) : recipient;
  const { raw } = spec;
  try {
    if (spec.kind === 'invalid') return { ok: false, raw, problem: spec.problem };
    if (spec.kind === 'email') {
      const user = await client.userByEmail(spec.email, signal);
      if (!user) return { ok: false, raw, problem: `no Mattermost user has the email ${spec.email}` };
      const botId = await client.botUserId(signal);
      return { ok: true, raw, kind: 'direct', channelId: await client.directChannel(botId, user.id, signal) };
    }
    const channel = await client.channelByTeamAndName(spec.team, spec.channel, signal);
    if (channel) return { ok: true, raw, kind: 'channel', channelId: channel.id };
    const hint = urlNameHint(spec);
    const team = await client.teamByName(spec.team, signal);
    const problem = team
      ? `team "${spec.team}" has no channel "${spec.channel}" the bot can see: check the name in the channel's link, and add the bot to the channel if it is private`
      : `there is no Mattermost team "${spec.team}": check the name in the team's link`;
    return { ok: false, raw, problem: hint ? `${problem} (${hint})` : problem };
  } catch (err) {
    if (isPermanent(err)) return { ok: false, raw, problem: err.message };
    throw err;
  }
}

/** A refusal only a person can fix: 403 and 404, in plain words already. */
function isPermanent(err: unknown): err is Error {
  if (!isPluginError(err) || !err.service || err.service.retryable) return false;
  return err.service.status === 403 || err.service.status === 404;
}
