import * as net from 'node:net';
import type { DemoKit, DemoProvider, DemoService } from '@teleport-plugin/core';
import { decisionOfLabel, defaultLabelName, labelKey, type DecisionKey } from './labels.js';
import type { FakeGitLab, FakeGlProject } from './testing/fake-gitlab.js';

export const DEMO_TOKEN = 'glpat-teleport-demo';
export const DEMO_PROJECT = 'demo/access-requests';
export const DEMO_WEBHOOK_SECRET = 'demo-webhook-secret';

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
type Review = (id: string, opts: { author: string; state: 'APPROVED' | 'DENIED'; reason?: string }) => Promise<unknown>;
interface AdminLike {
  review: Review;
  pluginData(id: string, plugin: string): Record<string, string> | undefined;
  getRequest(id: string): unknown;
}

/** One decision a demo reviewer made by labelling an issue. */
interface LabelDecision {
  reviewer: string;
  iid: number;
  label: string;
  status: number;
}

/**
 * `teleport-plugin demo --plugin gitlab`: a fake GitLab with one project, the plugin's webhook on
 * a free local port, and reviewers who decide in GitLab: where the demo's reviewer would review a
 * request in Teleport, it adds the "Teleport: Approved" or "Teleport: Denied" label to the
 * request's issue instead. GitLab calls the plugin's webhook, the plugin sets the request's state
 * (delegator gitlab:<reviewer's email>), and the issue is closed with the outcome.
 */
export const gitlabDemo: DemoProvider = {
  async start(kit: DemoKit): Promise<DemoService> {
    // Loaded only for the demo: the fake is this package's own testing export.
    const { FakeGitLab: Fake } = await import('./testing/fake-gitlab.js');
    const gitlab = new Fake({ token: DEMO_TOKEN });
    await gitlab.start();
    const project = gitlab.addProject(DEMO_PROJECT);
    const port = await freePort();
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

    // Reviews become labels on the request's issue.
    const admin = findAdmin(kit.teleport);
    const original = admin?.review;
    if (admin && original) {
      admin.review = async (id, opts) => {
        const iid = Number(admin.pluginData(id, 'gitlab')?.['issue_iid'] ?? '');
        if (!Number.isSafeInteger(iid) || iid <= 0) return original.call(admin, id, opts);
        const decision: DecisionKey = opts.state === 'APPROVED' ? 'approved' : 'denied';
        const label = labelFor(project, decision);
        const reviewer = gitlab.userNamed(opts.author) ?? gitlab.addUser({ username: opts.author });
        const [delivery] = await gitlab.addLabelAs(reviewer, project, iid, label);
        decisions.push({ reviewer: reviewer.username, iid, label, status: delivery?.status ?? 0 });
        return admin.getRequest(id);
      };
    } else {
      kit.logger.warn('Fake Teleport has no admin.review to redirect; reviews stay in Teleport');
    }

    return {
      section: { url: gitlab.url, token: DEMO_TOKEN, project_id: DEMO_PROJECT, webhook_secret: DEMO_WEBHOOK_SECRET },
      topLevel: { http: { public_addr: `http://127.0.0.1:${port}`, listen_addr: `127.0.0.1:${port}` } },
      describe: () => describeProject(gitlab, project, decisions),
      close: async () => {
        if (admin && original) admin.review = original;
        await gitlab.close();
      },
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

/** A port nobody listens on right now, for the plugin's webhook server. */
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

function findAdmin(teleport: unknown): AdminLike | undefined {
  const admin = (teleport as { admin?: Partial<AdminLike> } | undefined)?.admin;
  return admin && typeof admin.review === 'function' && typeof admin.pluginData === 'function' && typeof admin.getRequest === 'function' ? (admin as AdminLike) : undefined;
}
