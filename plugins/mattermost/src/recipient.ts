import { isEmail } from '@teleport-plugin/core';

/**
 * A recipient as written in `[mattermost] recipients` or `[role_to_recipients]` (or a suggested
 * reviewer): an email becomes the direct-message channel between the bot and that user, and
 * `team/channel` is a channel found by the team's and the channel's URL names. Upstream rejects
 * anything else when it resolves recipients; we say so when the config is read too.
 */
export type RecipientSpec =
  { kind: 'email'; raw: string; email: string } | { kind: 'channel'; raw: string; team: string; channel: string } | { kind: 'invalid'; raw: string; problem: string };

export { isEmail };

/** Team and channel URL names: lower case letters, digits, `-`, `_` and `.`. */
const URL_NAME = /^[a-z0-9][a-z0-9._-]*$/;

export function parseRecipient(value: string): RecipientSpec {
  const raw = value.trim();
  if (isEmail(raw)) return { kind: 'email', raw, email: raw };
  const parts = raw.split('/');
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') {
    return { kind: 'channel', raw, team: parts[0]!, channel: parts[1]! };
  }
  return {
    kind: 'invalid',
    raw,
    problem: `"${raw}" is neither a user's email nor a channel written as "team/channel"`,
  };
}

/**
 * Why a `team/channel` may not be found although it looks right: Mattermost looks both up by
 * their URL names (`town-square`), not their display names (`Town Square`). Undefined when the
 * names look like URL names.
 */
export function urlNameHint(spec: Extract<RecipientSpec, { kind: 'channel' }>): string | undefined {
  if (URL_NAME.test(spec.team) && URL_NAME.test(spec.channel)) return undefined;
  return `"${spec.raw}" does not look like URL names: Mattermost finds teams and channels by the names in their links (e.g. "my-team/town-square"), not their display names`;
}
