import { lowerResolutionTag, ticketSnapshot } from '@teleport-plugin/core';
import type { AccessRequest, PluginData, PluginDataLayout } from '@teleport-plugin/core';

/**
 * The Go gitlab plugin's plugin-data layout (access/gitlab/plugindata.go): the ticket-style
 * request snapshot (`user`, `roles`, `created`, `request_reason`, `reviews_count`, `resolution`
 * in lower case, `resolve_reason`) plus the issue: `project_id`, `issue_iid`, `issue_id`, decimal,
 * "" when 0. Upstream also kept issue iid → request id in its bbolt file; the request id in the
 * description replaces it.
 */
export const PROJECT_ID_KEY = 'project_id';
export const ISSUE_IID_KEY = 'issue_iid';
export const ISSUE_ID_KEY = 'issue_id';

export interface IssueRef {
  projectId: number;
  issueIid: number;
  issueId: number;
}

export function gitlabSnapshot(request: AccessRequest): PluginData {
  return { [PROJECT_ID_KEY]: '', [ISSUE_IID_KEY]: '', [ISSUE_ID_KEY]: '', ...ticketSnapshot(request) };
}

export const gitlabPluginData: PluginDataLayout = {
  snapshot: gitlabSnapshot,
  resolutionTag: lowerResolutionTag,
};

/** The keys that record an opened issue. */
export function issueRefData(ref: IssueRef): PluginData {
  return { [PROJECT_ID_KEY]: String(ref.projectId), [ISSUE_IID_KEY]: String(ref.issueIid), [ISSUE_ID_KEY]: String(ref.issueId) };
}

/**
 * The issue recorded for a request; undefined until project id and iid are both known (as
 * upstream, which could do nothing with a blank one). Values are read as Go's Sscanf("%d") does.
 */
export function readIssueRef(data: PluginData | undefined): IssueRef | undefined {
  if (!data) return undefined;
  const projectId = decimal(data[PROJECT_ID_KEY]);
  const issueIid = decimal(data[ISSUE_IID_KEY]);
  if (projectId === 0 || issueIid === 0) return undefined;
  return { projectId, issueIid, issueId: decimal(data[ISSUE_ID_KEY]) };
}

/**
 * Whether a webhook's issue is the one recorded for its request: project id, issue id and iid
 * must all match, and none may be blank (upstream's check). The request id came from the
 * description, which anyone who may edit the issue can change; this is what makes it safe.
 */
export function issueMatches(recorded: PluginData | undefined, hook: IssueRef): boolean {
  const ref = readIssueRef(recorded);
  return ref !== undefined && ref.issueId !== 0 && ref.projectId === hook.projectId && ref.issueIid === hook.issueIid && ref.issueId === hook.issueId;
}

function decimal(value: string | undefined): number {
  const m = /^\s*\+?(\d+)/.exec(value ?? '');
  const n = m ? Number(m[1]) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}
