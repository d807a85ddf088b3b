import type { AdapterContext } from '../adapter.js';
import type { PluginData } from '../teleport/types.js';

export type TicketDecisionOutcome =
  /** The state was set in Teleport; its PUT event closes the ticket through the normal flow. */
  | 'applied'
  /** The request was already resolved (or a redelivery): nothing changed, the ticket is synced. */
  | 'already'
  /** The request no longer exists: the ticket is synced (closed as expired). */
  | 'gone'
  /** No plugin data for the request: not ours, ignored. */
  | 'unknown'
  /** The plugin data names another ticket: ignored (a forged or stale ticket). */
  | 'mismatch';

/**
 * A decision made in a tracker (a Jira transition, a GitLab label), applied to Teleport: only for
 * a request this adapter opened that very ticket for, only while it is pending, with who decided
 * recorded as the delegator (`jira:<email>`). A redelivered webhook finds the request resolved and
 * changes nothing twice. Ticket state is never changed here: the request's own event (or a resync)
 * brings the ticket to the final state through the one delivery path.
 */
export async function applyTicketDecision(
  ctx: AdapterContext<unknown>,
  input: {
    requestId: string;
    /** Whether the plugin data's ticket keys are the ticket the webhook is about. */
    sameTicket(data: PluginData): boolean;
    decision: 'APPROVED' | 'DENIED';
    delegator: string;
    reason?: string;
    signal?: AbortSignal;
  },
): Promise<TicketDecisionOutcome> {
  const log = ctx.logger.child({ requestId: input.requestId });
  const data = await ctx.store.get(input.requestId, input.signal);
  if (!data) {
    log.info('webhook for a request this plugin has no record of; ignored');
    return 'unknown';
  }
  if (!input.sameTicket(data)) {
    log.warn('webhook ticket does not match the ticket recorded for this request; ignored');
    return 'mismatch';
  }
  const request = await ctx.teleport.getRequest(input.requestId, input.signal);
  if (!request) {
    ctx.resync(input.requestId);
    return 'gone';
  }
  if (request.state !== 'PENDING') {
    ctx.resync(input.requestId);
    return 'already';
  }
  await ctx.teleport.setState(input.requestId, { state: input.decision, delegator: input.delegator, ...(input.reason ? { reason: input.reason } : {}) }, input.signal);
  log.info('request decided in the tracker', { decision: input.decision, delegator: input.delegator });
  return 'applied';
}
