import { accessRequestSnapshot } from '@teleport-plugin/core';
import type { AccessRequest, MessageLayout, MessageRef, PluginData, PluginDataLayout } from '@teleport-plugin/core';
import { unbracketed } from './messageId.js';

/** Plugin data key holding the threads, in the Go plugin's layout. */
export const EMAIL_THREADS_KEY = 'email_threads';
/** Keys of the Go plugin's first layout (one thread, no Message-ID); read, never written. */
export const LEGACY_EMAIL_KEY = 'email';
export const LEGACY_TIMESTAMP_KEY = 'timestamp';

/** One recipient's thread: the first mail's Message-ID is what replies refer to. */
export interface EmailThread {
  email: string;
  /** When the first mail was sent; opaque (the Go plugin wrote Go's time.Time.String()). */
  timestamp: string;
  /** Without angle brackets; empty for legacy data, which cannot be replied to in thread. */
  messageId: string;
}

/**
 * `email_threads` = `email/timestamp/messageID` joined by `,` (what the Go plugin writes), plus
 * the legacy `email` + `timestamp` pair. Entries that do not split into three parts are skipped,
 * as upstream does.
 */
export function decodeEmailThreads(data: Readonly<Record<string, string>>): EmailThread[] {
  const threads: EmailThread[] = [];
  const email = data[LEGACY_EMAIL_KEY] ?? '';
  const timestamp = data[LEGACY_TIMESTAMP_KEY] ?? '';
  if (email !== '' && timestamp !== '') threads.push({ email, timestamp, messageId: '' });
  const encoded = data[EMAIL_THREADS_KEY] ?? '';
  if (encoded !== '') {
    for (const entry of encoded.split(',')) {
      const parts = entry.split('/');
      if (parts.length !== 3) continue;
      threads.push({ email: parts[0]!, timestamp: parts[1]!, messageId: unbracketed(parts[2]!) });
    }
  }
  return threads;
}

/** The `email_threads` value for these threads ('' for none, as upstream). */
export function encodeEmailThreads(threads: readonly EmailThread[]): string {
  return threads.map((t) => `${t.email}/${t.timestamp}/${t.messageId}`).join(',');
}

/**
 * Whether a thread survives the Go layout: an address or timestamp containing `/` or `,` would
 * be split apart by the Go decoder (and by ours), so it must not be stored that way.
 */
export function isEncodableThread(thread: EmailThread): boolean {
  return ![thread.email, thread.timestamp, thread.messageId].some((part) => /[/,]/.test(part));
}

/** The timestamp written for a new thread: RFC 3339 UTC (no `/` or `,`). */
export function threadTimestamp(now: Date = new Date()): string {
  return now.toISOString();
}

/**
 * The messaging kit's view of `email_threads`: one ref per thread, `{channel: address, id:
 * first Message-ID, extra: timestamp}`, so replies and outcome mails go to the threads a Go
 * plugin started as well as ours. A ref's string form is the Go entry (`email/timestamp/id`).
 */
export const emailThreadsLayout: MessageLayout = {
  refs(data) {
    if (!data) return [];
    return decodeEmailThreads(data).map((t) => ({ channel: t.email, id: t.messageId, extra: t.timestamp }));
  },
  withRef(data, ref) {
    const thread = threadOf(ref);
    if (!isEncodableThread(thread)) return data;
    // Only the `email_threads` entries: a legacy `email`/`timestamp` pair stays where it is
    // (copying it over would list that thread twice).
    const threads = decodeEmailThreads({ [EMAIL_THREADS_KEY]: data[EMAIL_THREADS_KEY] ?? '' });
    if (threads.some((t) => t.email === thread.email && t.messageId === thread.messageId)) return data;
    return { ...data, [EMAIL_THREADS_KEY]: encodeEmailThreads([...threads, thread]) };
  },
  encode: (ref) => encodeEmailThreads([threadOf(ref)]),
  decode(value) {
    const [thread] = decodeEmailThreads({ [EMAIL_THREADS_KEY]: value });
    return thread && thread.email !== '' ? { channel: thread.email, id: thread.messageId, extra: thread.timestamp } : undefined;
  },
};

function threadOf(ref: MessageRef): EmailThread {
  return { email: ref.channel, timestamp: ref.extra ?? '', messageId: ref.id };
}

/**
 * What the Go email plugin writes when it first sees a request (`user`, `roles`,
 * `request_reason`, `reviews_count`, `resolution`, `resolve_reason`, `email_threads`), on top of
 * core's common snapshot (its extra keys are ignored by the Go plugin). `resolution` is spelled
 * `APPROVED`/`DENIED`/`EXPIRED`, the default.
 */
export const emailPluginData: PluginDataLayout = {
  snapshot: (request: AccessRequest): PluginData => ({ ...accessRequestSnapshot(request), [EMAIL_THREADS_KEY]: '' }),
};
