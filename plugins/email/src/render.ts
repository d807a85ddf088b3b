import { goRfc822, reminderSubject, reminderText } from '@teleport-plugin/core';
import type { AccessListReminder, AccessReview, RequestState } from '@teleport-plugin/core';

/*
 * Texts of the email plugin. Subject, bodies and the review reply are the Go plugin's, line for
 * line, so threads read the same after a swap. The requester's outcome mail and the HTML part are
 * new. Upstream sends reasons as they are (no truncation; Teleport bounds their length), and so
 * do we: a mail has no message size limit worth the name.
 */

/** What a mail says about the request: available from the live request or from plugin data. */
export interface MailRequestFields {
  id: string;
  user: string;
  roles: readonly string[];
  requestReason: string;
}

export interface MailCluster {
  clusterName: string;
  /** `https://<proxy>/web/requests/<id>` (Enterprise), else undefined: `tsh` commands are shown. */
  webLink: string | undefined;
}

/** The decision, or undefined while the request is pending. */
export interface MailResolution {
  tag: 'APPROVED' | 'DENIED' | 'EXPIRED' | 'PROMOTED';
  reason: string;
}

/** A rendered mail: plain text always, HTML when asked for. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string | undefined;
}

export const NEW_REQUEST_HEADER = 'You have a new Role Request';
export const RESOLVED_HEADER = 'Role Request has been resolved';

const STATUS_EMOJI: Record<string, string> = { PENDING: '⏳', APPROVED: '✅', DENIED: '❌', EXPIRED: '⌛' };

/** `<cluster> Role Request <id>`: every mail of a thread has the same subject. */
export function mailSubject(clusterName: string, requestId: string): string {
  return `${clusterName} Role Request ${requestId}`;
}

/**
 * Upstream's body: header, ID, Cluster, User, Role(s), Reason, then a link (Enterprise) or the
 * `tsh` commands (OSS, pending only), a blank line and the status with the resolve reason.
 */
export function requestBody(header: string, fields: MailRequestFields, cluster: MailCluster, resolution?: MailResolution): string {
  const lines: string[] = [`${header}:`, ''];
  lines.push(`ID: ${fields.id}`);
  lines.push(`Cluster: ${cluster.clusterName}`);
  if (fields.user !== '') lines.push(`User: ${fields.user}`);
  if (fields.roles.length > 0) lines.push(`Role(s): ${fields.roles.join(',')}`);
  if (fields.requestReason !== '') lines.push(`Reason: ${fields.requestReason}`);
  if (cluster.webLink !== undefined) {
    lines.push(`Link: ${cluster.webLink}`);
  } else if (resolution === undefined) {
    lines.push(`Approve: tsh request review --approve ${fields.id}`);
    lines.push(`Deny: tsh request review --deny ${fields.id}`);
  }
  lines.push('', statusLine(resolution));
  return lines.join('\n');
}

/** `Status: ⏳ PENDING`, `Status: ✅ APPROVED (reason)`, `Status: ⌛ EXPIRED`. */
export function statusLine(resolution: MailResolution | undefined): string {
  const status = resolution?.tag ?? 'PENDING';
  // Upstream has no emoji for PROMOTED and prints the empty one (two spaces).
  let line = `Status: ${STATUS_EMOJI[status] ?? ''} ${status}`;
  if (resolution && resolution.reason !== '') line += ` (${resolution.reason})`;
  return line;
}

/** The first mail of each thread. */
export function newRequestMail(fields: MailRequestFields, cluster: MailCluster, options: { html?: boolean; resolution?: MailResolution | undefined } = {}): RenderedMail {
  // Decided before it was announced (an automatic review): the mail shows the outcome, no tsh commands.
  const text = requestBody(NEW_REQUEST_HEADER, fields, cluster, options.resolution);
  return mail(cluster.clusterName, fields.id, text, options.html);
}

/** A reminder or an escalation note in the thread (`[reminders]`). */
export function followUpMail(clusterName: string, requestId: string, text: string, html?: boolean): RenderedMail {
  return mail(clusterName, requestId, text, html);
}

/** The reply for one review: `<author> reviewed the request at <RFC822>.` + resolution + reason. */
export function reviewReplyText(review: AccessReview, now: () => Date = () => new Date()): string {
  const state = review.proposedState;
  const emoji = state === 'APPROVED' ? '✅' : state === 'DENIED' ? '❌' : '';
  return (
    `${review.author} reviewed the request at ${goRfc822(review.created ?? now())}.\n` +
    `Resolution: ${emoji} ${state}.\n` +
    (review.reason !== '' ? `Reason: ${review.reason}.` : '')
  );
}

export function reviewReplyMail(requestId: string, review: AccessReview, cluster: MailCluster, options: { html?: boolean; now?: () => Date } = {}): RenderedMail {
  return mail(cluster.clusterName, requestId, reviewReplyText(review, options.now), options.html);
}

/** The reply that closes each thread: approved, denied (with the reason) or expired. */
export function resolutionMail(fields: MailRequestFields, cluster: MailCluster, resolution: MailResolution, options: { html?: boolean } = {}): RenderedMail {
  return mail(cluster.clusterName, fields.id, requestBody(RESOLVED_HEADER, fields, cluster, resolution), options.html);
}

/**
 * The requester's own mail about the outcome (new: upstream tells only reviewers). Same fields,
 * a header that speaks to the requester.
 */
export function requesterOutcomeMail(fields: MailRequestFields, cluster: MailCluster, resolution: MailResolution, options: { html?: boolean } = {}): RenderedMail {
  return mail(cluster.clusterName, fields.id, requestBody(requesterHeader(resolution.tag), fields, cluster, resolution), options.html);
}

export function requesterHeader(tag: MailResolution['tag']): string {
  switch (tag) {
    case 'APPROVED':
      return 'Your Role Request has been approved';
    case 'DENIED':
      return 'Your Role Request has been denied';
    case 'EXPIRED':
      return 'Your Role Request has expired';
    case 'PROMOTED':
      return 'Your Role Request has been promoted to an Access List';
  }
}

/** A resolution tag for a terminal request state (expiry is the request's deletion). */
export function resolutionTag(state: RequestState): MailResolution['tag'] | undefined {
  return state === 'APPROVED' || state === 'DENIED' || state === 'PROMOTED' ? state : undefined;
}

/**
 * The plain text as HTML: escaped, one line per line, `Field:` labels bold, URLs as links. Same
 * content as the text part, so the two never disagree.
 */
export function textToHtml(text: string): string {
  const lines = text.split('\n').map((line) => {
    const escaped = escapeHtml(line).replace(/https?:\/\/[^\s<>"']+/g, (url) => `<a href="${url}">${url}</a>`);
    const label = /^([A-Z][A-Za-z()]*(?: [A-Za-z()]+)?):( |$)/.exec(line);
    if (!label) return escaped;
    const name = escapeHtml(label[1]!);
    return `<b>${name}:</b>${escaped.slice(name.length + 1)}`;
  });
  return (
    '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>' +
    '<body><div style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5">' +
    lines.join('<br>\n') +
    '</div></body></html>\n'
  );
}

/** An Access List review reminder: the Go Slack plugin's wording, plain, with the link on its own line. */
export function accessListReminderMail(reminder: AccessListReminder, html?: boolean): RenderedMail {
  const text = reminderText(reminder, { bold: (s) => s });
  return { subject: reminderSubject(reminder), text, html: html ? textToHtml(text) : undefined };
}

function mail(clusterName: string, requestId: string, text: string, html: boolean | undefined): RenderedMail {
  return { subject: mailSubject(clusterName, requestId), text, html: html ? textToHtml(text) : undefined };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
