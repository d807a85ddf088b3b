import { demoHttpAddress } from '@teleport-plugin/core';
import type { DemoKit, DemoProvider, DemoService } from '@teleport-plugin/core';
import { decisionOfLabel, defaultLabelName, labelKey, type DecisionKey } from './labels.js';
import type { FakeGitLab, FakeGlProject } from './testing/fake-gitlab.js';

export const DEMO_TOKEN = 'glpat-teleport-demo';
export const DEMO_PROJECT = 'demo/access-requests';
export const DEMO_WEBHOOK_SECRET = 'demo-webhook-secret';

/** The GitLab user who labels issues in the demo (not a Teleport user: GitLab decides as itself). */
export const DEMO_GITLAB_REVIEWER = { username: 'erin', name: 'Erin (GitLab)', email: 'erin@example.com' };

/** One decision a demo reviewer made by labelling an issue. */
interface LabelDecision {
  reviewer: string;
  iid: number;
  label: string;
  status: number;
}

/** How long a decision waits for the plugin to record the request's issue. */
const ISSUE_WAIT_MS = 10_000;

/**
 * `teleport-plugin demo --plugin gitlab`: a fake GitLab with one project and the plugin's webhook
 * on the demo's HTTP server, and a GitLab user who decides in GitLab: for the demo's "to be
 * approved" or "to be denied" request (unless another service decides it first) she adds the
 * "Teleport: Approved" or "Teleport: Denied" label to the request's issue. GitLab calls the
 * plugin's webhook, the plugin sets the request's state (delegator gitlab:<her email>), and the
 * issue is closed with the outcome.
 */
export const gitlabDemo: DemoProvider = {
  async start(kit: DemoKit): Promise<DemoService> {
    // Loaded only for the demo: the fake is this package's own testing export.
    const { FakeGitLab: Fake } = await import('./testing/fake-gitlab.js');
    const gitlab = new Fake({ token: DEMO_TOKEN });
    await gitlab.start();
    const project = gitlab.addProject(DEMO_PROJECT);
    const reviewer = gitlab.addUser(DEMO_GITLAB_REVIEWER);
    const http = kit.http ?? (await demoHttpAddress());
    const decisions: LabelDecision[] = [];

    // The plugin sets requests' states from labels: its Teleport role needs access_request update.
    if (kit.cluster) kit.cluster.grantPlugin('access_request', ['update']);
    else kit.logger.warn("Fake Teleport does not expose its roles; give the plugin's role access_request update yourself");

    /** The request's issue once the plugin has recorded it (the webhook acts only on that issue). */
    const recordedIssue = async (requestId: string): Promise<number | undefined> => {
      const iid = (): number | undefined => {
        const n = Number(kit.cluster?.pluginData(requestId, 'gitlab')?.['issue_iid'] ?? '');
        return Number.isSafeInteger(n) && n > 0 ? n : undefined;
      };
      if (iid() === undefined) await kit.cluster?.waitFor(() => iid() !== undefined, ISSUE_WAIT_MS);
      return iid();
    };
    const decide = async (requestId: string, decision: DecisionKey): Promise<string | undefined> => {
      const iid = await recordedIssue(requestId);
      if (iid === undefined) return undefined;
      const label = labelFor(project, decision);
      const [delivery] = await gitlab.addLabelAs(reviewer, project, iid, label);
      decisions.push({ reviewer: reviewer.username, iid, label, status: delivery?.status ?? 0 });
      const webhook = delivery ? `GitLab calls the plugin's webhook (answered ${delivery.status})` : 'GitLab has no hook to call';
      return `${DEMO_GITLAB_REVIEWER.name} adds the label "${label}" to issue #${iid} in GitLab; ${webhook}`;
    };

    return {
      section: { url: gitlab.url, token: DEMO_TOKEN, project_id: DEMO_PROJECT, webhook_secret: DEMO_WEBHOOK_SECRET },
      topLevel: { http: { public_addr: http.url, listen_addr: http.listenAddr } },
      approve: (requestId) => decide(requestId, 'approved'),
      deny: (requestId) => decide(requestId, 'denied'),
      describe: () => describeProject(gitlab, project, decisions),
      close: () => gitlab.close(),
    };
  },
};

function labelFor(project: FakeGlProject, decision: DecisionKey): string {
  return project.labels.find((l) => labelKey(l.name) === decision)?.name ?? defaultLabelName(decision);
}

function describeProject(gitlab: FakeGitLab, project: FakeGlProject, decisions: readonly LabelDecision[]): string[] {
  const lines: string[] = [];
  const hooks = project.hooks.map((h) => `hook ${h.id} -> ${h.url}${h.issuesEvents ? ' (issue events)' : ''}`);
  lines.push(`GitLab project ${project.pathWithNamespace}: ${hooks.join('; ') || 'no hook'}`);
  if (project.issues.length === 0) lines.push('  no issues yet');
  for (const issue of project.issues) {
    lines.push(`issue #${issue.iid} "${issue.title}" [${issue.state}] labels: ${issue.labels.join(', ') || '(none)'}`);
    for (const d of decisions.filter((x) => x.iid === issue.iid)) {
      const verb = decisionOfLabel(d.label) === 'approved' ? 'approve' : 'deny';
      const email = gitlab.userNamed(d.reviewer)?.email ?? d.reviewer;
      lines.push(`  ${d.reviewer} added the label "${d.label}" -> webhook answered ${d.status}: the plugin asked Teleport to ${verb} (delegator gitlab:${email})`);
    }
    for (const note of gitlab.notesOf(issue)) lines.push(`  note: ${note.body.trim().replace(/\n+/g, ' | ')}`);
  }
  return lines;
}
