import type { DemoKit, DemoProvider, DemoService } from '@teleport-plugin/core';
import type { FakePagerDuty } from './testing/fakePagerDuty.js';

export const DEMO_API_KEY = 'pd-demo-key';
export const DEMO_BOT_EMAIL = 'teleport-bot@example.com';
export const DEMO_SERVICE = 'Teleport Access Requests';
/** On call in the demo unless the fake Teleport has email-named users of its own. */
export const DEMO_REQUESTER = 'alice@example.com';

/**
 * `teleport-plugin demo --plugin pagerduty`: a fake PagerDuty with one service, its escalation
 * policy, and the demo requesters on call for it; every role that may request roles gets the
 * notify and services annotations, so a demo request opens an incident and is auto-approved.
 */
export const pagerDutyDemo: DemoProvider = {
  async start(kit: DemoKit): Promise<DemoService> {
    // Loaded only for the demo: the fake is this package's own testing export.
    const { FakePagerDuty: Fake } = await import('./testing/fakePagerDuty.js');
    const pd = new Fake({ apiKey: DEMO_API_KEY });
    await pd.start();
    const policy = pd.addEscalationPolicy('Teleport on-call');
    const service = pd.addService(DEMO_SERVICE, policy);
    pd.addUser(DEMO_BOT_EMAIL, 'Teleport Bot');

    const requesters = new Set([DEMO_REQUESTER, ...(kit.cluster?.emailUsers() ?? [])]);
    for (const email of requesters) pd.addOnCall(pd.addUser(email, email.split('@')[0]), policy, 1);

    if (kit.cluster) {
      kit.cluster.annotateRequesterRoles({ pagerduty_notify_service: [service.name], pagerduty_services: [service.name] });
    } else {
      kit.logger.warn('Fake Teleport does not expose its roles; set the PagerDuty annotations on the requester role yourself', {
        annotations: ['pagerduty_notify_service', 'pagerduty_services'],
      });
    }

    return {
      section: { api_key: DEMO_API_KEY, user_email: DEMO_BOT_EMAIL, api_endpoint: pd.url },
      describe: () => describeIncidents(pd),
      close: () => pd.close(),
    };
  },
};

function describeIncidents(pd: FakePagerDuty): string[] {
  if (pd.incidents.length === 0) return ['PagerDuty: no incidents yet'];
  const lines: string[] = [];
  for (const incident of pd.incidents) {
    const service = pd.services.find((s) => s.id === incident.serviceId)?.name ?? incident.serviceId;
    lines.push(`PagerDuty incident ${incident.id} on "${service}": ${incident.title} [${incident.status}]`);
    for (const note of incident.notes) lines.push(`  note: ${note.content.trim().replace(/\n+/g, ' | ')}`);
  }
  return lines;
}
