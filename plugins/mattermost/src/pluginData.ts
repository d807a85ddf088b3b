import type { PluginData } from '@teleport-plugin/core';

/** Plugin data name the Go plugin uses (its namespace in Teleport), so a swap keeps its posts. */
export const PLUGIN_DATA_NAME = 'mattermost';
/** `channelID/postID` pairs joined by `,`. */
export const MESSAGES_KEY = 'messages';
/** Written by Go releases before `messages` existed (one post per request); read, never written. */
export const LEGACY_CHANNEL_KEY = 'channel_id';
export const LEGACY_POST_KEY = 'postID';

/** One root post of a request. */
export interface PostRef {
  channelId: string;
  postId: string;
}

/**
 * The request's root posts, as the Go plugin's DecodePluginData reads them: the legacy pair
 * first, then `messages` (entries that are not exactly `channel/post` are skipped). Duplicates
 * are dropped so a post is never updated twice.
 */
export function decodePostRefs(data: PluginData | undefined): PostRef[] {
  const out: PostRef[] = [];
  const add = (channelId: string, postId: string): void => {
    if (!out.some((r) => r.channelId === channelId && r.postId === postId)) out.push({ channelId, postId });
  };
  const legacyChannel = data?.[LEGACY_CHANNEL_KEY] ?? '';
  const legacyPost = data?.[LEGACY_POST_KEY] ?? '';
  if (legacyChannel !== '' && legacyPost !== '') add(legacyChannel, legacyPost);
  for (const entry of (data?.[MESSAGES_KEY] ?? '').split(',')) {
    if (entry === '') continue;
    const parts = entry.split('/');
    if (parts.length === 2) add(parts[0]!, parts[1]!);
  }
  return out;
}

/** The `messages` value for these posts. */
export function encodePostRefs(refs: readonly PostRef[]): string {
  return refs.map((r) => `${r.channelId}/${r.postId}`).join(',');
}

/**
 * `data` with `messages` set to these posts. The legacy keys are dropped, as the Go plugin's
 * EncodePluginData drops them: their post is carried over into `messages` by decodePostRefs.
 */
export function withPostRefs(data: PluginData | undefined, refs: readonly PostRef[]): PluginData {
  const out: PluginData = { ...(data ?? {}) };
  delete out[LEGACY_CHANNEL_KEY];
  delete out[LEGACY_POST_KEY];
  out[MESSAGES_KEY] = encodePostRefs(refs);
  return out;
}
