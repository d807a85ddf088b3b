import { escapeBlock, escapeInline, formatWaiting, goRfc822, type AccessReview, type FollowUpNote, type RequestMessage } from '@teleport-plugin/core';

/**
 * Rune limit for every free-text reason we show (request, resolution, review). Upstream's newer
 * message.go uses 400; the Slack/Mattermost suites and older releases use 500. We keep 500
 * everywhere so swapping from those releases renders identical messages.
 */
export const REASON_LIMIT = 500;
/** Inline fields (roles, logins, resources). */
export const INLINE_LIMIT = 200;
/** Slack rejects section text longer than this. */
export const SECTION_TEXT_LIMIT = 3000;

export type Block = Record<string, unknown>;

export { escapeBlock, escapeInline };

function field(name: string, value: string, extra?: [string, string]): string {
  let line = `*${name}*: ${value}`;
  if (extra) line += ` *${extra[0]}*: ${extra[1]}`;
  return `${line}\n`;
}

/** The `*Name*: value` lines of a request message. */
export function messageFields(message: RequestMessage): string {
  let out = field('ID', message.id) + field('Cluster', message.clusterName);
  if (message.user) out += field('User', message.user);
  if (message.loginsByRole) {
    for (const role of Object.keys(message.loginsByRole).sort()) {
      const logins = message.loginsByRole[role] ?? [];
      const loginText = logins.length > 0 ? logins.join(', ') : '-';
      out += field('Role', escapeInline(role, INLINE_LIMIT), ['Login(s)', escapeInline(loginText, INLINE_LIMIT)]);
    }
  } else {
    out += field('Role(s)', escapeInline([...message.roles].sort().join(','), INLINE_LIMIT));
  }
  if (message.resources.length > 0) out += field('Resource(s)', escapeInline([...message.resources].sort().join(','), INLINE_LIMIT));
  if (message.reason) out += field('Reason', escapeBlock(message.reason, REASON_LIMIT));
  if (message.link) {
    out += field('Link', message.link);
  } else if (message.status === 'PENDING') {
    out += field('Approve', `\`tsh request review --approve ${message.id}\``);
    out += field('Deny', `\`tsh request review --deny ${message.id}\``);
  }
  return out;
}

const STATUS_EMOJI: Record<string, string> = { PENDING: '⏳', APPROVED: '✅', DENIED: '❌', EXPIRED: '⌛' };

/** The context line under a message: `*Status*: ⏳ PENDING` (+ resolution reason). */
export function statusText(message: Pick<RequestMessage, 'status' | 'resolveReason'>): string {
  // PROMOTED has no emoji upstream, which leaves two spaces; kept for identical rendering.
  let text = `*Status*: ${STATUS_EMOJI[message.status] ?? ''} ${message.status}`;
  if (message.resolveReason) text += `\n*Resolution reason*: ${escapeBlock(message.resolveReason, REASON_LIMIT)}`;
  return text;
}

/** Ours, shown once there are reviews (upstream shows them only as thread replies): who said what so far. */
export function reviewsText(reviews: readonly AccessReview[]): string | undefined {
  if (reviews.length === 0) return undefined;
  const parts = reviews.map((r) => `${r.proposedState === 'APPROVED' ? '✅' : r.proposedState === 'DENIED' ? '❌' : ''} ${r.author}`.trim());
  return `*Reviews*: ${parts.join(', ')}`;
}

export function titleText(message: Pick<RequestMessage, 'longTerm' | 'resources'>): string {
  if (message.longTerm) return 'You have a new Resource Request (long-term access):';
  return message.resources.length > 0 ? 'You have a new Resource Request:' : 'You have a new Role Request:';
}

/** Slack's section limit counts UTF-16 units; never cut a surrogate pair in half. */
export function capSection(text: string): string {
  const suffix = ' (truncated)';
  if (text.length <= SECTION_TEXT_LIMIT) return text;
  let end = SECTION_TEXT_LIMIT - suffix.length;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end) + suffix;
}

export const REVIEW_BLOCK_ID = 'review_block';
export const APPROVE_ACTION_ID = 'approve_button';
export const DENY_ACTION_ID = 'deny_button';

/** The full Block Kit message; chat.update re-sends all of it. Buttons only while pending. */
export function messageBlocks(message: RequestMessage, options: { withButtons: boolean }): Block[] {
  const context = [{ type: 'mrkdwn', text: statusText(message) }];
  const reviews = reviewsText(message.reviews);
  if (reviews && message.status === 'PENDING') context.push({ type: 'mrkdwn', text: reviews });
  const blocks: Block[] = [
    { type: 'section', text: { type: 'mrkdwn', text: titleText(message) } },
    { type: 'section', text: { type: 'mrkdwn', text: capSection(messageFields(message)) } },
    { type: 'context', elements: context },
  ];
  if (options.withButtons && message.status === 'PENDING') {
    blocks.push({
      type: 'actions',
      block_id: REVIEW_BLOCK_ID,
      elements: [
        { type: 'button', action_id: APPROVE_ACTION_ID, style: 'primary', text: { type: 'plain_text', text: 'Approve' }, value: message.id },
        { type: 'button', action_id: DENY_ACTION_ID, style: 'danger', text: { type: 'plain_text', text: 'Deny' }, value: message.id },
      ],
    });
  }
  return blocks;
}

/** Plain-text fallback Slack shows in notifications. */
export function messageFallbackText(message: Pick<RequestMessage, 'id' | 'user' | 'longTerm' | 'resources'>): string {
  return `${titleText(message)} ${message.id} by ${message.user}`;
}

/** Go's time.RFC822 in UTC; core's, kept under this name for the render namespace export. */
export { goRfc822 as rfc822 };

/** The thread reply for one review. */
export function reviewReply(review: AccessReview): string {
  const emoji = review.proposedState === 'APPROVED' ? '✅' : review.proposedState === 'DENIED' ? '❌' : '';
  const when = goRfc822(review.created ?? new Date(0));
  let text = `${review.author} reviewed the request at ${when}.\nResolution: ${emoji} ${review.proposedState}.\n`;
  if (review.reason) text += `Reason: ${escapeBlock(review.reason, REASON_LIMIT)}`;
  return text;
}

/** A reminder or an escalation note, as a reply in the request's thread. */
export function followUpReply(note: FollowUpNote): string {
  const waiting = formatWaiting(note.pendingForMs);
  if (note.kind === 'reminder') return `⏰ Reminder (${note.index} of ${note.of}): this request is still waiting for a review (pending for ${waiting}).`;
  return `📣 Escalated: this request has been pending for ${waiting}; also asking ${note.recipients.map((r) => escapeInline(r, 200)).join(', ')}.`;
}

/** The DM to the requester when the request reaches a final state. */
export function requesterUpdateText(requestId: string, tag: string): string {
  return `Request with ID "${requestId}" has been updated: *${tag}*`;
}
