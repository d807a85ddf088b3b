import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { jiraTime, type JiraChangelogEntry, type JiraComment, type JiraUser } from './types.js';

/*
 * The pure half of the webhook: who may call it, what a delivery says, and what the issue's
 * history says about who decided and why. No I/O here; webhookRoute.ts fetches the issue and
 * asks Teleport.
 */

/** Jira Cloud's documented limit for a webhook payload (the Go plugin answers 413 above it). */
export const WEBHOOK_BODY_LIMIT = 25 * 1024 * 1024;

/** Jira admin webhooks with a secret send `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`. */
export const SIGNATURE_HEADER = 'x-hub-signature';

/** The query parameter that carries `jira.webhook_token`. */
export const TOKEN_PARAM = 'token';

export interface WebhookSecrets {
  /** `jira.webhook_secret` */
  secret?: string | undefined;
  /** `jira.webhook_token` */
  token?: string | undefined;
}

export interface WebhookDelivery {
  headers: IncomingHttpHeaders;
  query: URLSearchParams;
  rawBody: Buffer;
}

export type WebhookAuthResult =
  | { ok: true; by: 'signature' | 'token' | 'none' }
  /** `missing`: the call carried none of the configured credentials (rather than a wrong one). */
  | { ok: false; reason: string; missing?: boolean };

/**
 * Whether a delivery proves one of the configured shared secrets. With neither configured it
 * is `ok` with `by: 'none'`: the configuration then relies on `[http]` basic auth, client
 * certificates or an explicit opt-out (config.ts refuses anything else).
 *
 * A signature that is present must be right, even when a valid token is present too: a wrong
 * signature means the body was changed or the sender does not know the secret. Comparisons take
 * the same time whatever the inputs (timingSafeEqual over fixed-length digests).
 */
export function verifyWebhookAuth(delivery: WebhookDelivery, secrets: WebhookSecrets): WebhookAuthResult {
  const { secret, token } = secrets;
  if (!secret && !token) return { ok: true, by: 'none' };

  const signature = headerValue(delivery.headers, SIGNATURE_HEADER);
  if (secret && signature !== undefined) {
    return signatureMatches(signature, secret, delivery.rawBody)
      ? { ok: true, by: 'signature' }
      : { ok: false, reason: `${SIGNATURE_HEADER} does not match the body signed with jira.webhook_secret` };
  }
  const given = delivery.query.get(TOKEN_PARAM);
  if (token && given !== null) {
    return sameSecret(given, token) ? { ok: true, by: 'token' } : { ok: false, reason: 'the webhook URL token does not match jira.webhook_token' };
  }
  const expected = [secret ? `an ${SIGNATURE_HEADER} header` : '', token ? `a ?${TOKEN_PARAM}= parameter` : ''].filter(Boolean).join(' or ');
  return { ok: false, reason: `the call carries no credentials (expected ${expected})`, missing: true };
}

/** The signature Jira would send for `body`: `sha256=<hex>`. */
export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function signatureMatches(header: string, secret: string, body: Buffer): boolean {
  const match = /^\s*sha256=([0-9a-fA-F]{64})\s*$/.exec(header);
  const expected = createHmac('sha256', secret).update(body).digest();
  // Compare against something of the right length even when the header is malformed, so a
  // malformed header costs the same as a wrong one.
  const given = match ? Buffer.from(match[1]!, 'hex') : Buffer.alloc(expected.length);
  return timingSafeEqual(given, expected) && match !== null;
}

/** Constant-time equality of two strings of any lengths (compares their SHA-256 digests). */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** What one delivery asks of the adapter. */
export type WebhookEvent =
  | {
      kind: 'status-change';
      issueId: string;
      issueKey: string;
      /** The issue's new status, lower case (`approved`, `denied`...), as the Go plugin compares it. */
      status: string;
      /** The status as Jira names it. */
      statusName: string;
      /** The previous status, when the changelog names it. */
      fromStatus: string | undefined;
      /** Who made the change, as the payload says (the decision uses the issue's changelog). */
      user: JiraUser | undefined;
    }
  /** Acknowledge with 200 and do nothing (any other event; what the Go plugin does too). */
  | { kind: 'ignore'; reason: string }
  /** Answer with this status: Jira will not fix a body by sending it again. */
  | { kind: 'invalid'; status: 400 | 413; reason: string };

/**
 * Reads a delivery: a `jira:issue_updated` with `issue_event_type_name = issue_generic` (what a
 * workflow transition fires) whose changelog changes the status is a `status-change`; anything
 * else is ignored. The body is bounded here too (the server bounds it first).
 */
export function parseWebhook(rawBody: Buffer | string): WebhookEvent {
  const size = typeof rawBody === 'string' ? Buffer.byteLength(rawBody) : rawBody.length;
  if (size > WEBHOOK_BODY_LIMIT) return { kind: 'invalid', status: 413, reason: `body larger than ${WEBHOOK_BODY_LIMIT} bytes` };
  let payload: unknown;
  try {
    payload = JSON.parse(typeof rawBody === 'string' ? rawBody : rawBody.toString('utf8'));
  } catch {
    return { kind: 'invalid', status: 400, reason: 'body is not JSON' };
  }
  if (!isRecord(payload)) return { kind: 'invalid', status: 400, reason: 'body is not a JSON object' };

  const event = payload['webhookEvent'];
  const type = payload['issue_event_type_name'];
  if (event !== 'jira:issue_updated') return { kind: 'ignore', reason: `event ${describe(event)}` };
  if (type !== 'issue_generic') return { kind: 'ignore', reason: `issue event type ${describe(type)}` };

  const issue = payload['issue'];
  if (!isRecord(issue)) return { kind: 'invalid', status: 400, reason: 'jira:issue_updated without an issue' };
  const issueId = idString(issue['id']);
  if (!issueId) return { kind: 'invalid', status: 400, reason: 'issue without an id' };
  const issueKey = typeof issue['key'] === 'string' ? issue['key'] : '';

  const changelog = payload['changelog'];
  const items = isRecord(changelog) && Array.isArray(changelog['items']) ? changelog['items'].filter(isRecord) : [];
  const change = items.find((item) => item['field'] === 'status' || item['fieldId'] === 'status');
  if (!change) return { kind: 'ignore', reason: 'no status change' };

  const fields = isRecord(issue['fields']) ? issue['fields'] : {};
  const payloadStatus = isRecord(fields['status']) && typeof fields['status']['name'] === 'string' ? fields['status']['name'] : undefined;
  const statusName = payloadStatus ?? (typeof change['toString'] === 'string' ? change['toString'] : '');
  if (!statusName) return { kind: 'invalid', status: 400, reason: 'status change without a status name' };

  return {
    kind: 'status-change',
    issueId,
    issueKey,
    status: statusName.toLowerCase(),
    statusName,
    fromStatus: typeof change['fromString'] === 'string' ? change['fromString'] : undefined,
    user: userFrom(payload['user']),
  };
}

/** A user object from Jira JSON (webhook payloads, changelog authors, comment authors). */
export function userFrom(value: unknown): JiraUser | undefined {
  if (!isRecord(value)) return undefined;
  const user: JiraUser = {};
  for (const key of ['accountId', 'key', 'name', 'emailAddress', 'displayName'] as const) {
    const v = value[key];
    if (typeof v === 'string' && v !== '') user[key] = v;
  }
  return user;
}

/**
 * Whether two user objects are the same person: by `accountId` on Cloud, by `key` or `name` on
 * Server (where the Go plugin compared empty account ids and so matched every comment).
 */
export function sameJiraUser(a: JiraUser | undefined, b: JiraUser | undefined): boolean {
  if (!a || !b) return false;
  if (a.accountId || b.accountId) return a.accountId === b.accountId;
  if (a.key || b.key) return a.key === b.key;
  if (a.name || b.name) return a.name === b.name;
  return Boolean(a.emailAddress) && a.emailAddress?.toLowerCase() === b.emailAddress?.toLowerCase();
}

/**
 * The latest changelog entry that moved the status to `status` (lower case): its author is the
 * reviewer. The Go plugin took the first match in Jira's order, which on Cloud is newest first;
 * going by the timestamps gives the same answer whatever order the site returns.
 */
export function lastStatusChange(changelog: readonly JiraChangelogEntry[], status: string): JiraChangelogEntry | undefined {
  let best: JiraChangelogEntry | undefined;
  let bestAt = Number.NEGATIVE_INFINITY;
  for (const entry of changelog) {
    const moved = entry.items.some((item) => item.fieldtype === 'jira' && item.field === 'status' && (item.toString ?? '').toLowerCase() === status);
    if (!moved) continue;
    const at = jiraTime(entry.created);
    // Unreadable times keep Jira's order (first = newest on Cloud).
    if (best === undefined || (!Number.isNaN(at) && at > bestAt)) {
      best = entry;
      bestAt = Number.isNaN(at) ? bestAt : at;
    }
  }
  return best;
}

// The Go plugin's patterns: `Reason: text` on one line, or a `Reason:` line followed by text.
const INLINE_REASON = /^ *(?:resolution|reason) *: *(.+)$/im;
const SEPARATOR_REASON = /^ *(?:resolution|reason) *: *$/im;

/**
 * The reason the reviewer gave: in their newest comment that has one, the text after
 * `Reason:` (or `Resolution:`) on the same line, or everything after a line that is just
 * `Reason:`. Empty when they wrote none.
 */
export function resolutionReason(comments: readonly JiraComment[], author: JiraUser | undefined): string {
  const newestFirst = comments
    .map((comment, order) => ({ comment, order, at: jiraTime(comment.created) }))
    .sort((x, y) => (Number.isNaN(x.at) || Number.isNaN(y.at) || x.at === y.at ? x.order - y.order : y.at - x.at));
  for (const { comment } of newestFirst) {
    if (!sameJiraUser(comment.author, author)) continue;
    const reason = reasonIn(comment.body);
    if (reason !== undefined) return reason;
  }
  return '';
}

/** The reason in one comment body, or undefined when it has no `Reason:` line. */
export function reasonIn(body: string): string | undefined {
  const inline = INLINE_REASON.exec(body);
  if (inline) return inline[1]!.replace(/^[ \n]+|[ \n]+$/g, '');
  const separator = SEPARATOR_REASON.exec(body);
  if (separator) return body.slice(separator.index + separator[0].length).replace(/^[\r\n]+/, '');
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idString(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return '';
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : 'missing';
}
