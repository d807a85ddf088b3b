import { demoHttpAddress, sleep } from '@teleport-plugin/core';
import type { DemoKit, DemoProvider, DemoService } from '@teleport-plugin/core';
import type { FakeJira, FakeJiraDelivery, FakeJiraUser, FakeJiraWebhookTarget } from './testing/fake-jira.js';

export const DEMO_USERNAME = 'jira-bot@example.com';
export const DEMO_API_TOKEN = 'jira-demo-token';
export const DEMO_WEBHOOK_SECRET = 'jira-demo-webhook-secret';
export const DEMO_PROJECT = 'ACCESS';
/** The Jira user who moves issues in the demo (not a Teleport user: Jira decides as itself). */
export const DEMO_JIRA_REVIEWER = 'dana@example.com';
export const DEMO_APPROVAL_REASON = 'approved from the Jira board';

/**
 * `teleport-plugin demo --plugin jira`: a fake Jira (project ACCESS with the Pending / Approved /
 * Denied / Expired workflow) whose webhook points at the runtime's HTTP server on 127.0.0.1,
 * signed with the demo secret. The plugin's Teleport role gets `access_request: update` (what the
 * Jira plugin needs to approve). For the "approved" request, a Jira user moves the issue to
 * Approved with a `Reason:` comment, and the webhook approves the request in Teleport.
 */
export const jiraDemo: DemoProvider = {
  async start(kit: DemoKit): Promise<DemoService> {
    // Loaded only for the demo: the fake is this package's own testing export.
    const { FakeJira: Fake } = await import('./testing/fake-jira.js');
    const jira = new Fake({ username: DEMO_USERNAME, apiToken: DEMO_API_TOKEN, projectKey: DEMO_PROJECT, projectName: 'Access requests' });
    await jira.start();
    const reviewer = jira.addUser(DEMO_JIRA_REVIEWER, { displayName: 'Dana (Jira)' });
    // The demo's shared HTTP server (GitLab's webhook may be on it too), or a port of our own.
    const http = kit.http ?? (await demoHttpAddress());
    const webhook: FakeJiraWebhookTarget = { url: `${http.url}/jira/`, secret: DEMO_WEBHOOK_SECRET };
    jira.addWebhook(webhook);
    allowSetState(kit);

    return {
      section: { url: jira.url, username: DEMO_USERNAME, api_token: DEMO_API_TOKEN, project: DEMO_PROJECT, webhook_secret: DEMO_WEBHOOK_SECRET },
      topLevel: { http: { listen_addr: http.listenAddr } },
      approve: (requestId) => approveInJira(jira, reviewer, webhook, requestId),
      describe: () => describeIssues(jira),
      close: () => jira.close(),
    };
  },
};

/** The reviewer moves the request's issue to Approved, as on a Jira board; Jira's webhook does the rest. */
async function approveInJira(jira: FakeJira, reviewer: FakeJiraUser, webhook: FakeJiraWebhookTarget, requestId: string): Promise<string | undefined> {
  try {
    await jira.waitForIssues(() => jira.issuesForRequest(requestId).length > 0, 10_000);
  } catch {
    return undefined;
  }
  const issue = jira.issuesForRequest(requestId)[0]!;
  let [delivery] = await jira.transitionAs(reviewer, issue.id, 'Approved', { comment: `Looks fine to me.\nReason: ${DEMO_APPROVAL_REASON}` });
  // As Jira: a 5xx answer is delivered again a little later.
  for (let retry = 0; delivery && delivery.status >= 500 && retry < 5; retry++) {
    await sleep(200 * (retry + 1));
    delivery = await jira.redeliver(delivery, webhook);
  }
  return `${reviewer.displayName} moves ${issue.key} to Approved in Jira; the webhook ${webhookOutcome(delivery)}`;
}

function webhookOutcome(delivery: FakeJiraDelivery | undefined): string {
  if (!delivery) return 'was not sent';
  if (delivery.status !== 200) return `was answered ${delivery.status}`;
  try {
    const body = JSON.parse(delivery.responseBody) as { result?: string };
    if (body.result === 'applied') return `approves the request (delegator jira:${DEMO_JIRA_REVIEWER})`;
    return `changed nothing (${body.result ?? 'no result'})`;
  } catch {
    return 'was answered 200';
  }
}

function describeIssues(jira: FakeJira): string[] {
  if (jira.issues.length === 0) return ['Jira: no issues yet'];
  const lines: string[] = [];
  for (const issue of jira.issues) {
    lines.push(`Jira issue ${issue.key}: ${issue.summary} [${issue.status}]`);
    for (const c of issue.comments) lines.push(`  comment by ${c.author.displayName}: ${c.body.trim().replace(/\n+/g, ' | ')}`);
    for (const change of issue.changelog) {
      for (const item of change.items) lines.push(`  ${change.author.displayName} moved it ${item.fromString ?? '?'} -> ${item.toString ?? '?'}`);
    }
  }
  const deliveries = jira.deliveries.map((d) => d.status).join(', ');
  if (deliveries) lines.push(`Webhook deliveries to the plugin, answered: ${deliveries}`);
  return lines;
}

/** Adds `update` on access_request to the plugin's role in the fake Teleport (what deciding from Jira needs). */
function allowSetState(kit: DemoKit): void {
  if (kit.cluster) kit.cluster.grantPlugin('access_request', ['update']);
  else kit.logger.warn('Fake Teleport does not expose its roles; give the plugin role access_request update yourself');
}
