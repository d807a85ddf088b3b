import type { Resolution } from '@teleport-plugin/core';

/**
 * Every post the plugin makes carries, in its props, which request it is about and which effect
 * it is, so that after a crash or an answer lost on the way back the post can be found again
 * (findPost) instead of being made twice. Props are returned with every post Mattermost serves
 * and are not shown to users.
 */
export const REQUEST_ID_PROP = 'teleport_request_id';
export const KIND_PROP = 'teleport_kind';

/**
 * - `request`: the request's root post in one channel;
 * - `review:<n>`: the reply for the request's n-th review (0-based, in Teleport's order);
 * - `requester-notice:<TAG>`: the direct message telling the requester the outcome;
 * - `reminder:<n>`, `escalation`: follow-up replies in the request's thread (`[reminders]`);
 * - `access-list-reminder`: an Access List review reminder to an owner (the request id is the reminder's id).
 */
export type PostKind = 'request' | `review:${number}` | `requester-notice:${Resolution}` | `reminder:${number}` | 'escalation' | 'access-list-reminder';

/** Which effect a post is. */
export interface PostEffect {
  requestId: string;
  kind: PostKind;
}

const KIND = /^(request|review:(0|[1-9]\d*)|requester-notice:(APPROVED|DENIED|PROMOTED|EXPIRED)|reminder:[1-9]\d*|escalation|access-list-reminder)$/;

export function isPostKind(value: unknown): value is PostKind {
  return typeof value === 'string' && KIND.test(value);
}

/** The props a post for this effect is created with. */
export function effectProps(effect: PostEffect): Record<string, string> {
  if (effect.requestId.trim() === '') throw new TypeError('a post must name the access request it is about');
  if (!isPostKind(effect.kind)) throw new TypeError(`not a post kind: ${String(effect.kind)}`);
  return { [REQUEST_ID_PROP]: effect.requestId, [KIND_PROP]: effect.kind };
}

/** The effect recorded in a post's props, if it is one of ours. */
export function postEffect(props: Record<string, unknown> | null | undefined): PostEffect | undefined {
  const requestId = props?.[REQUEST_ID_PROP];
  const kind = props?.[KIND_PROP];
  if (typeof requestId !== 'string' || requestId === '' || !isPostKind(kind)) return undefined;
  return { requestId, kind };
}
