import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { decisionOfLabel, type DecisionKey } from './labels.js';
import { requestIdFromDescription } from './render.js';

/**
 * Reading a GitLab Issue Hook call, with no I/O: who is calling (token), what kind of call, and
 * whether a reviewer added the approved or denied label. What to do with the decision (check the
 * request's plugin data, set its state, close the issue) is the adapter's business.
 *
 * Order of checks: the token first, so a caller without it learns nothing (not even whether its
 * payload would parse); then the media type, the size and the event kind, as the Go plugin.
 */

/** GitLab's own cap on webhook payloads (and the Go plugin's). */
export const MAX_HOOK_BODY_BYTES = 25 * 1024 * 1024;
export const ISSUE_HOOK_EVENT = 'Issue Hook';
export const DELEGATOR_PREFIX = 'gitlab:';

export interface HookCall {
  headers: IncomingHttpHeaders;
  rawBody: Buffer | string;
}

export interface ReadIssueHookOptions {
  /** `[gitlab] webhook_secret`. */
  secret: string;
  /** Larger bodies get 413 (default MAX_HOOK_BODY_BYTES). */
  maxBodyBytes?: number;
  /** Label changes made by this GitLab user (the plugin's own token) decide nothing. */
  ignoreUserId?: number;
}

/** Who changed the labels, as the hook names them. */
export interface HookUser {
  id: number | undefined;
  name: string;
  username: string;
  /** GitLab sends `[REDACTED]` (or nothing) on most instances since 16.x: see delegatorFor. */
  email: string | undefined;
}

export interface LabelDecision {
  decision: DecisionKey;
  /** The label title that was added. */
  label: string;
  projectId: number;
  issueId: number;
  issueIid: number;
  /** From the issue description (`Request ID is ...`). */
  requestId: string;
  user: HookUser;
  /** `gitlab:<email>` (upstream's form) or `gitlab:<username>` when GitLab hides the email. */
  delegator: string;
}

export type IssueHookReading =
  /** Refused: answer `status` and change nothing. */
  | { kind: 'rejected'; status: 400 | 401 | 413; reason: string }
  /** Authentic but not a decision: answer 204 (GitLab disables hooks that keep failing). */
  | { kind: 'ignored'; status: 204; reason: string }
  | { kind: 'decision'; decision: LabelDecision };

/** The one entry point: authenticate, check, parse, and find a decision in an Issue Hook call. */
export function readIssueHook(call: HookCall, options: ReadIssueHookOptions): IssueHookReading {
  if (!tokenMatches(header(call.headers, 'x-gitlab-token'), options.secret)) {
    return { kind: 'rejected', status: 401, reason: 'missing or wrong X-Gitlab-Token' };
  }
  const type = header(call.headers, 'content-type');
  if (type === undefined || type.trim().toLowerCase() !== 'application/json') {
    return { kind: 'rejected', status: 400, reason: `Content-Type must be application/json, got ${JSON.stringify(type ?? '')}` };
  }
  const size = typeof call.rawBody === 'string' ? Buffer.byteLength(call.rawBody) : call.rawBody.length;
  const max = options.maxBodyBytes ?? MAX_HOOK_BODY_BYTES;
  if (size > max) return { kind: 'rejected', status: 413, reason: `payload of ${size} bytes is over ${max}` };
  const event = header(call.headers, 'x-gitlab-event');
  if (event !== ISSUE_HOOK_EVENT) return { kind: 'ignored', status: 204, reason: `unsupported event ${JSON.stringify(event ?? '')}` };

  let payload: unknown;
  try {
    payload = JSON.parse(typeof call.rawBody === 'string' ? call.rawBody : call.rawBody.toString('utf8'));
  } catch {
    return { kind: 'rejected', status: 400, reason: 'payload is not valid JSON' };
  }
  if (!isObject(payload)) return { kind: 'rejected', status: 400, reason: 'payload is not a JSON object' };
  return findDecision(payload, options);
}

/**
 * Constant time whatever the lengths: both sides are hashed to 32 bytes before
 * `timingSafeEqual`, so neither the content nor the length of the secret leaks.
 */
export function tokenMatches(given: string | undefined, secret: string): boolean {
  if (given === undefined || secret === '') return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/**
 * The delegator recorded in Teleport's audit log. Upstream used the event user's email; GitLab
 * now sends `[REDACTED]` (or omits it) unless the instance exposes emails, so the username
 * stands in for it then.
 */
export function delegatorFor(user: Pick<HookUser, 'email' | 'username' | 'name'>): string {
  const email = user.email?.trim();
  if (email && /^[^\s@]+@[^\s@]+$/.test(email)) return `${DELEGATOR_PREFIX}${email}`;
  return `${DELEGATOR_PREFIX}${user.username.trim() || user.name.trim() || email || 'unknown'}`;
}

interface HookLabel {
  id: number | undefined;
  title: string;
}

/** Labels in `current` and not in `previous` (by id, else by title), in id order as upstream. */
export function addedLabels(previous: readonly HookLabel[], current: readonly HookLabel[]): HookLabel[] {
  const same = (a: HookLabel, b: HookLabel): boolean => (a.id !== undefined && b.id !== undefined ? a.id === b.id : a.title === b.title);
  return current.filter((label) => !previous.some((p) => same(p, label))).sort((a, b) => (a.id ?? Number.MAX_SAFE_INTEGER) - (b.id ?? Number.MAX_SAFE_INTEGER));
}

function findDecision(payload: Record<string, unknown>, options: ReadIssueHookOptions): IssueHookReading {
  const attrs = payload['object_attributes'];
  if (!isObject(attrs)) return { kind: 'rejected', status: 400, reason: 'payload has no object_attributes' };
  if (attrs['action'] !== 'update') return { kind: 'ignored', status: 204, reason: `issue action ${JSON.stringify(attrs['action'] ?? '')}` };
  const changes = payload['changes'];
  const labels = isObject(changes) ? changes['labels'] : undefined;
  if (!isObject(labels)) return { kind: 'ignored', status: 204, reason: 'labels did not change' };

  let decided: { decision: DecisionKey; label: string } | undefined;
  for (const label of addedLabels(toLabels(labels['previous']), toLabels(labels['current']))) {
    const decision = decisionOfLabel(label.title);
    if (decision !== undefined) {
      decided = { decision, label: label.title };
      break;
    }
  }
  if (decided === undefined) return { kind: 'ignored', status: 204, reason: 'no approved or denied label was added' };

  const projectId = positiveInt(attrs['project_id']);
  const issueId = positiveInt(attrs['id']);
  const issueIid = positiveInt(attrs['iid']);
  if (projectId === undefined || issueId === undefined || issueIid === undefined) {
    return { kind: 'rejected', status: 400, reason: 'object_attributes lacks id, iid or project_id' };
  }
  const user = toUser(payload['user']);
  if (user === undefined) return { kind: 'rejected', status: 400, reason: 'payload names no user' };
  if (options.ignoreUserId !== undefined && user.id === options.ignoreUserId) {
    return { kind: 'ignored', status: 204, reason: 'label changed by the plugin itself' };
  }
  const description = attrs['description'];
  const requestId = requestIdFromDescription(typeof description === 'string' ? description : undefined);
  if (requestId === undefined) return { kind: 'ignored', status: 204, reason: 'issue names no access request (not opened by the plugin)' };

  return {
    kind: 'decision',
    decision: { ...decided, projectId, issueId, issueIid, requestId, user, delegator: delegatorFor(user) },
  };
}

function toLabels(value: unknown): HookLabel[] {
  if (!Array.isArray(value)) return [];
  const out: HookLabel[] = [];
  for (const item of value) {
    if (!isObject(item)) continue;
    const title = typeof item['title'] === 'string' ? item['title'] : typeof item['name'] === 'string' ? item['name'] : undefined;
    if (title === undefined) continue;
    out.push({ id: positiveInt(item['id']), title });
  }
  return out;
}

function toUser(value: unknown): HookUser | undefined {
  if (!isObject(value)) return undefined;
  const str = (key: string): string => (typeof value[key] === 'string' ? (value[key] as string) : '');
  const user: HookUser = { id: positiveInt(value['id']), name: str('name'), username: str('username'), email: str('email') || undefined };
  if (user.username.trim() === '' && user.name.trim() === '' && !user.email) return undefined;
  return user;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return typeof value === 'string' ? value : undefined;
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
