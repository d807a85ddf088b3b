import { PluginError, applyTicketDecision, errorMessage, isRetryable, sleep } from '@teleport-plugin/core';
import type { AdapterContext, Logger, PluginData, TicketDecisionOutcome, WebhookRequest, WebhookResponse, WebhookRoute } from '@teleport-plugin/core';
import type { JiraClient } from './client.js';
import type { JiraConfig, WebhookAuthConfig } from './config.js';
import { ISSUE_ID_KEY } from './pluginData.js';
import { truncateReason } from './render.js';
import type { JiraIssue, JiraUser } from './types.js';
import { WEBHOOK_BODY_LIMIT, lastStatusChange, parseWebhook, resolutionReason, sameSecret, verifyWebhookAuth, type WebhookEvent } from './webhook.js';

/** Teleport keeps resolve reasons up to this many characters; a longer Jira comment is cut, not refused forever. */
export const TELEPORT_REASON_LIMIT = 4096;

export interface WebhookTuning {
  /** One delivery's budget; past it the answer is 503 and Jira delivers again (default 15 s). */
  timeoutMs?: number;
  /** Extra reads of an issue whose status does not show the delivered change yet (default 3). */
  consistencyReads?: number;
  /** Pause between those reads (default 1 s). */
  consistencyPollMs?: number;
}

/** What one delivery came to (the JSON body of a 200, and the log line). */
export type WebhookResult = { result: 'ignored'; reason: string } | { result: TicketDecisionOutcome; requestId: string; issue: string };

type Authentication = { ok: true; by: string } | { ok: false; reason: string };

/**
 * How a delivery proves it comes from Jira. With `jira.webhook_secret` or `jira.webhook_token`
 * the route checks callers itself (the shared server's basic auth is then not required on it):
 * a right signature or token, or right `[http]` basic-auth credentials when those are configured,
 * let a call in; any credential that is present and wrong keeps it out. Without either, the shared
 * server has already enforced basic auth or client certificates (or the config opted out).
 */
export function authenticateDelivery(req: Pick<WebhookRequest, 'headers' | 'query' | 'rawBody'>, webhook: WebhookAuthConfig): Authentication {
  if (!webhook.secret && !webhook.token) return { ok: true, by: webhook.basicAuth ? 'basic auth (server)' : webhook.clientCert ? 'client certificate' : 'none' };
  const shared = verifyWebhookAuth(req, webhook);
  if (!shared.ok && !shared.missing) return { ok: false, reason: shared.reason };
  let basic: 'absent' | 'right' | 'wrong' = 'absent';
  const header = req.headers.authorization;
  if (webhook.basicAuth && header !== undefined) basic = basicAuthMatches(header, webhook.basicAuth) ? 'right' : 'wrong';
  if (basic === 'wrong') return { ok: false, reason: 'the Authorization header does not match [http] basic_auth' };
  if (shared.ok) return { ok: true, by: shared.by };
  if (basic === 'right') return { ok: true, by: 'basic auth' };
  return { ok: false, reason: `${shared.reason}${webhook.basicAuth ? ' or [http] basic auth' : ''}` };
}

function basicAuthMatches(header: string, expected: { user: string; password: string }): boolean {
  const match = /^\s*Basic\s+(\S+)\s*$/i.exec(header);
  const given = match ? Buffer.from(match[1]!, 'base64').toString('utf8') : '';
  // Constant time whatever the input; a malformed header compares as the empty string.
  return sameSecret(given, `${expected.user}:${expected.password}`) && match !== null;
}

/**
 * The webhook: `POST /jira/` (and `/`, the Go plugin's URL) for `jira:issue_updated`, and
 * `GET /jira/status` (`/status`) as upstream. A move to Approved or Denied decides the request
 * the issue's property names, through core's applyTicketDecision: only when the request's plugin
 * data names that very issue, only while it is pending, with the mover as delegator
 * (`jira:<email>`) and their latest `Reason:` comment as the reason. Everything else is answered
 * 200 and changes nothing; an internal failure is answered 5xx so Jira delivers again, and a
 * delivery that is repeated changes nothing twice (the request is no longer pending).
 */
export function jiraWebhookRoutes(ctx: AdapterContext<unknown>, client: JiraClient, config: JiraConfig, tuning: WebhookTuning = {}): WebhookRoute[] {
  const log = ctx.logger.child({ component: 'webhook' });
  const selfAuthenticated = Boolean(config.webhook.secret || config.webhook.token);
  const timeoutMs = tuning.timeoutMs ?? 15_000;
  const reads = tuning.consistencyReads ?? 3;
  const pollMs = tuning.consistencyPollMs ?? 1_000;

  async function handle(req: WebhookRequest): Promise<WebhookResponse> {
    const auth = authenticateDelivery(req, config.webhook);
    if (!auth.ok) {
      log.warn('webhook call refused', { reason: auth.reason, remoteAddress: req.remoteAddress });
      return {
        status: 401,
        ...(config.webhook.basicAuth ? { headers: { 'WWW-Authenticate': 'Basic realm=Restricted' } } : {}),
        body: { error: 'unauthorized' },
      };
    }
    const event = parseWebhook(req.rawBody);
    if (event.kind === 'invalid') {
      log.warn('webhook body refused', { reason: event.reason, status: event.status });
      return { status: event.status, body: { error: event.reason } };
    }
    if (event.kind === 'ignore') {
      log.debug('webhook ignored', { reason: event.reason });
      return ok({ result: 'ignored', reason: event.reason });
    }
    const delivery = typeof req.headers['x-atlassian-webhook-identifier'] === 'string' ? req.headers['x-atlassian-webhook-identifier'] : undefined;
    const elog = log.child({ issue: event.issueKey || event.issueId, ...(delivery ? { delivery } : {}) });
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(timeoutMs)]);
    try {
      const result = await decide(event, elog, signal);
      if (result.result === 'ignored') elog.debug('webhook ignored', { reason: result.reason });
      return ok(result);
    } catch (err) {
      // 5xx: Jira delivers again, which is safe (a decided request is not decided twice).
      const status = signal.aborted || isRetryable(err) ? 503 : 500;
      elog.error('webhook failed; Jira will deliver it again', { error: errorMessage(err), status, authenticatedBy: auth.by });
      return { status, body: { error: status === 503 ? 'temporarily unavailable' : 'internal error' } };
    }
  }

  async function decide(event: Extract<WebhookEvent, { kind: 'status-change' }>, elog: Logger, signal: AbortSignal): Promise<WebhookResult> {
    const decision = event.status === 'approved' ? 'APPROVED' : event.status === 'denied' ? 'DENIED' : undefined;
    if (!decision) return { result: 'ignored', reason: `status ${event.statusName} decides nothing` };

    const issue = await readIssue(event, elog, signal);
    if (!issue) return { result: 'ignored', reason: 'no such issue in Jira' };
    if (issue.status.name.toLowerCase() !== event.status) {
      return { result: 'ignored', reason: `the issue has moved on to ${issue.status.name} since this change` };
    }
    const requestId = issue.requestId;
    if (!requestId) return { result: 'ignored', reason: 'the issue has no teleportAccessRequestId property' };

    // The reviewer is whoever made the change, as the issue's history says (not the payload).
    const reviewer = lastStatusChange(issue.changelog, event.status)?.author ?? event.user;
    const comments = await client.listComments(issue.id, signal);
    const reason = truncateReason(resolutionReason(comments, reviewer), TELEPORT_REASON_LIMIT);
    const delegator = `jira:${who(reviewer)}`;

    let recorded: PluginData | undefined;
    const input = {
      requestId,
      sameTicket: (data: PluginData) => {
        recorded = data;
        return data[ISSUE_ID_KEY] === issue.id;
      },
      decision,
      delegator,
      ...(reason ? { reason } : {}),
      signal,
    } as const;
    let outcome: TicketDecisionOutcome;
    try {
      outcome = await applyTicketDecision(ctx, input);
    } catch (err) {
      // Decided by someone else between our read and our write: sync the issue, as for a repeat.
      const now = await ctx.teleport.getRequest(requestId, signal).catch(() => undefined);
      if (now === undefined || now.state === 'PENDING') throw err;
      ctx.resync(requestId);
      outcome = 'already';
    }
    if (outcome === 'mismatch' && !recorded?.[ISSUE_ID_KEY]) {
      // Our own issue whose id is not recorded yet (the create's answer is still on its way):
      // not a forgery, so let Jira deliver again rather than lose the decision.
      throw new PluginError('BUSY', `the issue of request ${requestId} is not recorded yet`);
    }
    const fields = { requestId, outcome, decision, delegator };
    if (outcome === 'applied') elog.info('request decided in Jira', fields);
    else if (outcome === 'mismatch') elog.warn('webhook issue is not the issue recorded for its request; ignored', fields);
    else elog.info('webhook changed nothing in Teleport', fields);
    return { result: outcome, requestId, issue: issue.key || issue.id };
  }

  /**
   * The issue as Jira serves it now. A read can trail the change the delivery reports; it is
   * read again a few times, and a change still not visible is left to Jira's redelivery.
   * Undefined when Jira has no such issue (or the plugin's user cannot see it).
   */
  async function readIssue(event: Extract<WebhookEvent, { kind: 'status-change' }>, elog: Logger, signal: AbortSignal): Promise<JiraIssue | undefined> {
    for (let read = 0; ; read++) {
      let issue: JiraIssue;
      try {
        issue = await client.getIssue(event.issueId, signal);
      } catch (err) {
        if (err instanceof PluginError && err.service?.status === 404) return undefined;
        throw err;
      }
      if (issue.status.name.toLowerCase() === event.status) return issue;
      // The history has the change, and the issue has been moved again since: a stale delivery.
      if (lastStatusChange(issue.changelog, event.status)) return issue;
      if (read >= reads) throw new PluginError('SERVICE_ERROR', `Jira does not show issue ${event.issueKey || event.issueId} in ${event.statusName} yet`);
      elog.debug('Jira does not show the change yet; reading the issue again', { status: issue.status.name, expected: event.statusName });
      await sleep(pollMs, signal);
    }
  }

  const post: WebhookRoute = {
    method: 'POST',
    path: '/',
    legacyPath: '/',
    selfAuthenticated,
    maxBodyBytes: WEBHOOK_BODY_LIMIT,
    handle,
  };
  const status: WebhookRoute = {
    method: 'GET',
    path: '/status',
    legacyPath: '/status',
    handle: async () => ({ status: 200, body: { status: 'ok' } }),
  };
  return [post, status];
}

function ok(result: WebhookResult): WebhookResponse {
  return { status: 200, body: result };
}

/** `jira:<email>` as upstream; Jira Cloud hides some users' emails, then their account id. */
function who(user: JiraUser | undefined): string {
  return user?.emailAddress ?? user?.accountId ?? user?.name ?? user?.key ?? 'unknown';
}
