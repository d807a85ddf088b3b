import * as net from 'node:net';
import type { DemoKit, DemoProvider, DemoService } from '@teleport-plugin/core';
import { decisionOfLabel, defaultLabelName, labelKey, type DecisionKey } from './labels.js';
import type { FakeGitLab, FakeGlProject } from './testing/fake-gitlab.js';

export const DEMO_TOKEN = 'glpat-teleport-demo';
export const DEMO_PROJECT = 'demo/access-requests';
export const DEMO_WEBHOOK_SECRET = 'demo-webhook-secret';

/** The GitLab user who labels issues in the demo (not a Teleport user: GitLab decides as itself). */
export const DEMO_GITLAB_REVIEWER = { username: 'erin', name: 'Erin (GitLab)', email: 'erin@example.com' };

/** What the demo needs of the fake Teleport, looked up structurally (its own types are the testkit's). */
interface RuleLike {
  resources: string[];
  verbs: string[];
}
interface RoleLike {
  name: string;
  rules?: RuleLike[];
}
interface ClusterLike {
  roles: Map<string, RoleLike>;
  upsertRole(role: RoleLike): void;
}
interface AdminLike {
  pluginData(id: string, plugin: string): Record<string, string> | undefined;
}
interface FakeTeleportLike {
  admin?: Partial<AdminLike>;
  waitFor?(predicate: () => unknown, timeoutMs?: number, what?: string): Promise<unknown>;
}

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
    const http = kit.http ?? (await ownHttp());
    const decisions: LabelDecision[] = [];

    // The plugin sets requests' states from labels: its Teleport role needs access_request update.
    const cluster = findCluster(kit.teleport);
    if (cluster) {
      for (const role of [...cluster.roles.values()]) {
        const rules = role.rules ?? [];
        if (!rules.some((r) => r.resources.includes('access_plugin_data'))) continue;
        cluster.upsertRole({
          ...role,
          rules: rules.map((r) => (r.resources.includes('access_request') && !r.verbs.includes('update') ? { ...r, verbs: [...r.verbs, 'update'] } : r)),
        });
      }
    } else {
      kit.logger.warn("Fake Teleport does not expose its roles; give the plugin's role access_request update yourself");
    }

    const tp = kit.teleport as FakeTeleportLike | undefined;
    /** The request's issue once the plugin has recorded it (the webhook acts only on that issue). */
    const recordedIssue = async (requestId: string): Promise<number | undefined> => {
      const iid = (): number | undefined => {
        const n = Number(tp?.admin?.pluginData?.(requestId, 'gitlab')?.['issue_iid'] ?? '');
        return Number.isSafeInteger(n) && n > 0 ? n : undefined;
      };
      if (iid() === undefined && typeof tp?.waitFor === 'function') {
        await tp.waitFor(() => iid() !== undefined, ISSUE_WAIT_MS).catch(() => undefined);
      }
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

/** Without the demo's shared HTTP server (an older CLI): a port nobody listens on right now. */
async function ownHttp(): Promise<{ listenAddr: string; url: string }> {
  const port = await freePort();
  return { listenAddr: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** The fake Teleport's cluster state, whether it is the object itself or its `state`/`cluster`. */
function findCluster(teleport: unknown): ClusterLike | undefined {
  const candidates = [teleport, (teleport as { state?: unknown } | undefined)?.state, (teleport as { cluster?: unknown } | undefined)?.cluster];
  for (const c of candidates) {
    const obj = c as Partial<ClusterLike> | undefined;
    if (obj && obj.roles instanceof Map && typeof obj.upsertRole === 'function') return obj as ClusterLike;
  }
  return undefined;
}
