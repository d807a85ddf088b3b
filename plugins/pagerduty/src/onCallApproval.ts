import type { AccessRequest, Logger, TeleportActions } from '@teleport-plugin/core';
import type { PagerDutyClient, PdService } from './client.js';
import { autoApprovalReason } from './render.js';

export interface OnCallApprovalOptions {
  client: PagerDutyClient;
  teleport: TeleportActions;
  /** The request annotation listing the services (default `pagerduty_services`). */
  servicesAnnotation: string;
  maxEscalationLevel: number | undefined;
  /** Service look-ups, cached (the tracker's); defaults to the client. */
  services?: { serviceByName(name: string, signal?: AbortSignal): Promise<PdService | undefined> };
}

export type OnCallOutcome =
  'no-services-annotation' | 'long-term' | 'requester-not-email' | 'user-not-found' | 'no-services-found' | 'not-on-call' | 'approved' | 'already-reviewed';

/**
 * Approves a request when its requester is on call, in PagerDuty, for one of the services named in
 * the request's services annotation. Each way this can end is logged at info with the reason, so
 * "why was I (not) auto-approved?" is answered by the log alone.
 */
export async function approveIfOnCall(request: AccessRequest, options: OnCallApprovalOptions, logger: Logger, signal: AbortSignal): Promise<OnCallOutcome> {
  const names = [...new Set((request.systemAnnotations[options.servicesAnnotation] ?? []).map((s) => s.trim()).filter(Boolean))].sort();
  if (names.length === 0) {
    logger.info('Not auto-approving: the request has no services annotation', { annotation: options.servicesAnnotation });
    return 'no-services-annotation';
  }
  // Being on call justifies a few hours of access, not standing access through an Access List.
  if (request.requestKind === 'LONG_TERM') {
    logger.info('Not auto-approving: long-term access requests are never approved for being on call', { services: names });
    return 'long-term';
  }
  // Teleport user names and PagerDuty users meet only through the email address.
  if (!/^[^\s@]+@[^\s@]+$/.test(request.user)) {
    logger.info('Not auto-approving: the requester is not an email address', { user: request.user, services: names });
    return 'requester-not-email';
  }
  const pdUser = await options.client.findUserByEmail(request.user, signal);
  if (!pdUser) {
    logger.info('Not auto-approving: the requester is not a PagerDuty user', { email: request.user, services: names });
    return 'user-not-found';
  }

  const byPolicy = new Map<string, PdService[]>();
  for (const name of names) {
    const service = options.services ? await options.services.serviceByName(name, signal) : await options.client.findServiceByName(name, signal);
    if (!service) {
      logger.info('PagerDuty service not found; skipped for auto-approval', { service: name });
      continue;
    }
    const group = byPolicy.get(service.escalationPolicyId) ?? [];
    group.push(service);
    byPolicy.set(service.escalationPolicyId, group);
  }
  if (byPolicy.size === 0) {
    logger.info('Not auto-approving: none of the services exist in PagerDuty', { services: names });
    return 'no-services-found';
  }

  const max = options.maxEscalationLevel;
  const onCalls = await options.client.listOnCalls(pdUser.id, [...byPolicy.keys()], signal);
  const policies = new Set(
    onCalls
      .filter((o) => o.userType === 'user_reference' && o.userId === pdUser.id && byPolicy.has(o.escalationPolicyId))
      .filter((o) => max === undefined || (o.escalationLevel !== undefined && o.escalationLevel <= max))
      .map((o) => o.escalationPolicyId),
  );
  if (policies.size === 0) {
    // The service names go into the message itself: "why was I not approved?" is usually asked by
    // grepping the log for the request id, and the answer should not hide in a field.
    logger.info(`Not auto-approving: the requester is not on call in services ${names.join(', ')}` + (max === undefined ? '' : ` within escalation levels 1..${max}`), {
      email: pdUser.email,
      services: names.join(', '),
      ...(max === undefined ? {} : { maxEscalationLevel: max }),
    });
    return 'not-on-call';
  }

  const onCallServices = [...policies].flatMap((id) => (byPolicy.get(id) ?? []).map((s) => s.name)).sort();
  const reason = autoApprovalReason(pdUser.name, pdUser.email, onCallServices);
  const result = await options.teleport.submitReview(request.id, { proposedState: 'APPROVED', reason }, signal);
  if (result.outcome === 'already-reviewed') {
    logger.info('Auto-approval already submitted earlier', { services: onCallServices.join(',') });
    return 'already-reviewed';
  }
  logger.info('Auto-approved: the requester is on call', { email: pdUser.email, services: onCallServices.join(',') });
  return 'approved';
}
