import { applyTicketDecision, errorMessage } from '@teleport-plugin/core';
import type { AdapterContext, TicketDecisionOutcome, WebhookRequest, WebhookResponse, WebhookRoute } from '@teleport-plugin/core';
import { UPSTREAM_WEBHOOK_PATH, WEBHOOK_ROUTE_PATH } from './config.js';
import { issueMatches } from './pluginData.js';
import { MAX_HOOK_BODY_BYTES, readIssueHook } from './webhook.js';

export interface WebhookRouteOptions {
  /** `[gitlab] webhook_secret`: GitLab sends it back in X-Gitlab-Token. */
  secret: string;
  /** The plugin's own GitLab user: its label changes (closing an issue) decide nothing. */
  botUserId?: number;
  /** How long one call may take (GitLab gives up after 10 s by default). */
  deadlineMs?: number;
}

/**
 * `POST /gitlab/webhook` (and upstream's `/webhook`): GitLab's Issue Hooks. A reviewer adding the
 * approved or denied label to a request's issue decides the request, with the delegator
 * `gitlab:<email or username>`; only for the issue recorded in the request's plugin data (project,
 * issue id and iid), only while the request is pending. Everything else authentic is acknowledged
 * (204) and ignored, since GitLab disables hooks that keep failing; a missing or wrong token gets
 * 401 and changes nothing. The issue itself is not touched here: the request's own event closes
 * it through the ticketing kit.
 */
export function webhookRoute(ctx: AdapterContext<unknown>, options: WebhookRouteOptions): WebhookRoute {
  const deadlineMs = options.deadlineMs ?? 9_000;
  return {
    method: 'POST',
    path: WEBHOOK_ROUTE_PATH,
    legacyPath: UPSTREAM_WEBHOOK_PATH,
    // GitLab proves itself with X-Gitlab-Token; it sends basic auth only when public_addr has it.
    selfAuthenticated: true,
    maxBodyBytes: MAX_HOOK_BODY_BYTES,
    async handle(req: WebhookRequest): Promise<WebhookResponse> {
      const reading = readIssueHook(
        { headers: req.headers, rawBody: req.rawBody },
        { secret: options.secret, ...(options.botUserId !== undefined && { ignoreUserId: options.botUserId }) },
      );
      if (reading.kind === 'rejected') {
        const fields = { status: reading.status, reason: reading.reason, remoteAddress: req.remoteAddress };
        if (reading.status === 401) ctx.logger.warn('GitLab webhook call refused', fields);
        else ctx.logger.info('GitLab webhook call refused', fields);
        return { status: reading.status, body: { error: reading.status === 401 ? 'unauthorized' : reading.reason } };
      }
      if (reading.kind === 'ignored') {
        ctx.logger.debug('GitLab webhook call ignored', { reason: reading.reason });
        return { status: 204 };
      }

      const d = reading.decision;
      const log = ctx.logger.child({ requestId: d.requestId });
      const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(deadlineMs)]);
      let outcome: TicketDecisionOutcome;
      try {
        outcome = await applyTicketDecision(ctx, {
          requestId: d.requestId,
          sameTicket: (data) => issueMatches(data, { projectId: d.projectId, issueIid: d.issueIid, issueId: d.issueId }),
          decision: d.decision === 'approved' ? 'APPROVED' : 'DENIED',
          delegator: d.delegator,
          signal,
        });
      } catch (err) {
        // GitLab shows the failure on the hook's page; the reviewer can add the label again.
        log.error('could not apply a decision made in GitLab', { decision: d.decision, delegator: d.delegator, issueIid: d.issueIid, error: errorMessage(err) });
        return { status: 500, body: { error: 'the decision could not be applied; add the label again' } };
      }
      log.info('GitLab label handled', { label: d.label, delegator: d.delegator, issueIid: d.issueIid, outcome });
      return { status: 204 };
    },
  };
}
