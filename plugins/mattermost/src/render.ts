import { goRfc822, requestWebLink, type AccessReview, type Resolution } from '@teleport-plugin/core';

/**
 * Upstream truncates every reason (request, resolution, review) to 500: Mattermost posts are
 * limited to 4000 or 16383 characters depending on the server, so a generous but safe cut.
 */
export const REASON_LIMIT = 500;

/** The first line of a pending post. */
export const PENDING_HEADER = '*You have new pending request to review!*';

const STATUS_EMOJI: Readonly<Record<string, string>> = { PENDING: '⏳', APPROVED: '✅', DENIED: '❌', EXPIRED: '⌛' };

/** What a post shows: from the live request, or after expiry from plugin data alone. */
export interface PostView {
  id: string;
  user: string;
  /** In request order, as upstream prints them (not sorted). */
  roles: readonly string[];
  reason: string;
  /** '' while pending. */
  resolution: Resolution | '';
  resolveReason: string;
}

export interface PostRenderOptions {
  /** Enterprise web UI base: a link instead of `tsh` commands. */
  webProxyUrl: string | undefined;
}

/**
 * A reason as upstream's `lib.MarkdownEscape` writes it: trimmed, `(empty)` when blank, inside a
 * ```` ``` ```` block, each backtick followed by a zero-width no-break space so it cannot close the
 * block (and counted twice), cut with `` ``` (truncated)``.
 *
 * The limit is compared with the UTF-8 byte offset of each character, not a character count:
 * the Go loop is `for i, r := range text { if i >= n ... }`, whose `i` is a byte index. Text in
 * ASCII is cut at 500 characters either way; other scripts are cut earlier, exactly as the Go
 * plugin cuts them, so a swapped deployment renders the same posts.
 */
export function markdownEscape(text: string, limit: number = REASON_LIMIT): string {
  const trimmed = text.trim();
  if (trimmed === '') return '(empty)';
  let out = '```\n';
  let budget = limit;
  let offset = 0;
  for (const char of trimmed) {
    if (offset >= budget) return `${out}\`\`\` (truncated)`;
    out += char;
    if (char === '`') {
      out += '\ufeff';
      budget -= 1;
    }
    offset += Buffer.byteLength(char, 'utf8');
  }
  return `${out}\`\`\``;
}

/** `⏳ PENDING`, `✅ APPROVED`...; PROMOTED has no emoji upstream, which leaves two spaces. */
export function statusLine(resolution: Resolution | ''): string {
  const status = resolution === '' ? 'PENDING' : resolution;
  return `${STATUS_EMOJI[status] ?? ''} ${status}`;
}

/**
 * The request post, character for character as upstream's `postTextTemplate` renders it
 * (including the empty lines left by absent optional fields, and no first line once resolved).
 */
export function postText(view: PostView, options: PostRenderOptions): string {
  const pending = view.resolution === '';
  const link = requestWebLink({ webProxyUrl: options.webProxyUrl }, view.id);
  let text = pending ? PENDING_HEADER : '';
  text += `\n**User**: ${view.user}`;
  text += `\n**Roles**: ${view.roles.join(', ')}`;
  text += `\n**Request ID**: ${view.id}`;
  text += `\n${view.reason ? `**Reason**: ${markdownEscape(view.reason)}` : ''}`;
  text += `\n**Status**: ${statusLine(view.resolution)}`;
  text += `\n${view.resolveReason ? `**Resolution reason**: ${markdownEscape(view.resolveReason)}` : ''}`;
  text += '\n';
  if (link) {
    text += `**Link**: [${link}](${link})\n`;
  } else if (pending) {
    text += `**Approve**: \`tsh request review --approve ${view.id}\`\n**Deny**: \`tsh request review --deny ${view.id}\``;
  }
  return text;
}

/** Go's zero time, which a review without a creation time prints as. */
const GO_ZERO_TIME = new Date('0001-01-01T00:00:00Z');

/**
 * The thread reply for one review, as upstream's `reviewCommentTemplate`: unlike Slack's, the
 * Mattermost template ends the reason with a full stop.
 */
export function reviewReplyText(review: Pick<AccessReview, 'author' | 'proposedState' | 'reason' | 'created'>): string {
  const emoji = review.proposedState === 'APPROVED' ? '✅' : review.proposedState === 'DENIED' ? '❌' : '';
  let text = `${review.author} reviewed the request at ${goRfc822(review.created ?? GO_ZERO_TIME)}.\n`;
  text += `Resolution: ${emoji} ${review.proposedState}.\n`;
  if (review.reason) text += `Reason: ${markdownEscape(review.reason)}.`;
  return text;
}

export interface RequesterOutcome {
  requestId: string;
  roles: readonly string[];
  resolution: Resolution;
  resolveReason: string;
}

const OUTCOME_WORDS: Readonly<Record<Resolution, string>> = {
  APPROVED: 'has been approved',
  DENIED: 'has been denied',
  EXPIRED: 'has expired without a decision',
  PROMOTED: 'has been promoted to an Access List',
};

/**
 * The direct message telling the requester how their request ended. Upstream's Mattermost
 * plugin never tells the requester; this is ours (users asked for it).
 */
export function requesterOutcomeText(outcome: RequesterOutcome, options: PostRenderOptions): string {
  const { requestId, resolution } = outcome;
  let text = `Your access request ${requestId} ${OUTCOME_WORDS[resolution]}.`;
  if (outcome.roles.length > 0) text += `\n**Roles**: ${outcome.roles.join(', ')}`;
  text += `\n**Status**: ${statusLine(resolution)}`;
  if (outcome.resolveReason) text += `\n**Reason**: ${markdownEscape(outcome.resolveReason)}`;
  if (resolution === 'APPROVED') {
    const link = requestWebLink({ webProxyUrl: options.webProxyUrl }, requestId);
    text += link ? `\n**Link**: [${link}](${link})` : `\n**Use it**: \`tsh login --request-id=${requestId}\``;
  }
  return text;
}
