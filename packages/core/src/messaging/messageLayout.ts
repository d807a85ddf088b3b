import type { PluginData } from '../teleport/types.js';

/** Where one posted message lives: a channel (or mailbox) and the message's id in it. */
export interface MessageRef {
  channel: string;
  id: string;
  /** Anything else a layout keeps with it (email: the time the thread was started). */
  extra?: string;
}

/**
 * How an adapter's plugin data lists its posted messages. The default is the Go chat plugins'
 * `messages` key (`<channel>/<id>` joined by `,`), reading the older single-message keys too, so
 * messages a Go plugin posted are updated and replied to, never posted again.
 */
export interface MessageLayout {
  refs(data: PluginData | undefined): MessageRef[];
  withRef(data: PluginData, ref: MessageRef): PluginData;
  /** A ref as a string (an effect's result) and back. */
  encode(ref: MessageRef): string;
  decode(value: string): MessageRef | undefined;
}

export const MESSAGES_KEY = 'messages';

function splitRef(part: string): MessageRef | undefined {
  const slash = part.indexOf('/');
  if (slash <= 0 || slash === part.length - 1) return undefined;
  return { channel: part.slice(0, slash), id: part.slice(slash + 1) };
}

/** `messages`, plus legacy `channel_id` with `timestamp` (Slack) or `postID` (Mattermost). */
export const goMessagesLayout: MessageLayout = {
  refs(data) {
    if (!data) return [];
    const refs: MessageRef[] = [];
    for (const part of (data[MESSAGES_KEY] ?? '').split(',')) {
      const ref = splitRef(part);
      if (ref) refs.push(ref);
    }
    if (refs.length === 0 && data.channel_id) {
      const id = data.timestamp || data.postID || data.post_id;
      if (id) refs.push({ channel: data.channel_id, id });
    }
    return refs;
  },
  withRef(data, ref) {
    const refs = goMessagesLayout.refs(data);
    if (!refs.some((r) => r.channel === ref.channel && r.id === ref.id)) refs.push(ref);
    return { ...data, [MESSAGES_KEY]: refs.map((r) => `${r.channel}/${r.id}`).join(',') };
  },
  encode: (ref) => `${ref.channel}/${ref.id}`,
  decode: (value) => splitRef(value),
};
