import { followUpText, isPluginError, lowerResolutionTag, requestWebLink } from '@teleport-plugin/core';
import type { AccessRequest, ClusterInfo, FollowUpNote, Logger, PluginData, TicketNote, TicketOutcome, TicketRef, TicketTracker } from '@teleport-plugin/core';
import type { GitlabClient, GlIssue } from './client.js';
import { labelKey, resolutionLabelKey, type LabelNames } from './labels.js';
import { ISSUE_ID_KEY, ISSUE_IID_KEY, PROJECT_ID_KEY, issueRefData, readIssueRef, type IssueRef } from './pluginData.js';
import { issueDescription, issueTitle, resolutionNote, reviewNote } from './render.js';

export interface GitlabTrackerOptions {
  client: GitlabClient;
  /** The numeric id of `[gitlab] project_id`, found at start-up. New issues open there. */
  projectId: number;
  /** The four labels as found or created at start-up. */
  labels: LabelNames;
  cluster: Pick<ClusterInfo, 'webProxyUrl'>;
  /** The token's own user: a note counts as ours only when it wrote it. */
  botUserId?: number;
  logger?: Logger;
}

/**
 * GitLab as the ticketing kit sees it: one issue per request (the pending label, upstream's title
 * and description with the request id), a note per review, then a closing note, the outcome's
 * label and the issue closed. Each ticket is the Go plugin's keys `project_id`, `issue_iid` and
 * `issue_id`, so issues a Go plugin opened are continued.
 *
 * After an unclear failure the kit asks before doing anything twice: an issue is found again by
 * the request id on its description's own `Request ID is` line and one of our labels, a note by
 * its exact text written by the plugin's user.
 */
export class GitlabTracker implements TicketTracker {
  readonly service = 'GitLab';

  constructor(private readonly options: GitlabTrackerOptions) {}

  ticketOf(data: PluginData | undefined): TicketRef | undefined {
    const ref = readIssueRef(data);
    return ref && issueRefData(ref);
  }

  async open(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef> {
    const { client, projectId, labels, cluster } = this.options;
    const issue = await client.createIssue(
      projectId,
      { title: issueTitle(request), description: issueDescription(request, requestWebLink(cluster, request.id)), labels: [labels.pending] },
      signal,
    );
    return refOf(issue, projectId);
  }

  async find(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef | undefined> {
    const { client, projectId } = this.options;
    const issue = await client.findIssueByRequestId(projectId, request.id, signal);
    // Its label too: a reviewer may have decided it since, so any of the four counts.
    if (issue === undefined || !issue.labels.some((l) => labelKey(l) !== undefined)) return undefined;
    return refOf(issue, projectId);
  }

  async note(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<void> {
    const ref = issueOf(ticket);
    try {
      await this.options.client.createNote(ref.projectId, ref.issueIid, noteText(note), signal);
    } catch (err) {
      if (!isGone(err)) throw err;
      this.options.logger?.warn('GitLab issue no longer exists; note not added', { ...ticket, note: note.kind });
    }
  }

  async findNote(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<boolean> {
    const ref = issueOf(ticket);
    const found = await this.options.client.findNote(ref.projectId, ref.issueIid, noteText(note), signal);
    const bot = this.options.botUserId;
    return found !== undefined && (bot === undefined || found.authorId === undefined || found.authorId === bot);
  }

  /** A reminder or an escalation note (`[reminders]`), found again by its exact text. */
  async followUp(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<void> {
    const ref = issueOf(ticket);
    try {
      await this.options.client.createNote(ref.projectId, ref.issueIid, followUpText(note), signal);
    } catch (err) {
      if (!isGone(err)) throw err;
      this.options.logger?.warn('GitLab issue no longer exists; reminder not added', { ...ticket, note: note.kind });
    }
  }

  async findFollowUp(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<boolean> {
    const ref = issueOf(ticket);
    const found = await this.options.client.findNote(ref.projectId, ref.issueIid, followUpText(note), signal);
    const bot = this.options.botUserId;
    return found !== undefined && (bot === undefined || found.authorId === undefined || found.authorId === bot);
  }

  /** Closed with the outcome's label in place of the pending one. Repeatable: GitLab ignores what is already so. */
  async close(ticket: TicketRef, outcome: TicketOutcome, signal?: AbortSignal): Promise<void> {
    const ref = issueOf(ticket);
    const { labels } = this.options;
    const tag = lowerResolutionTag(outcome.resolution) as 'approved' | 'denied' | 'expired' | 'promoted';
    try {
      await this.options.client.updateIssue(
        ref.projectId,
        ref.issueIid,
        { stateEvent: 'close', removeLabels: [labels.pending], addLabels: [labels[resolutionLabelKey(tag)]] },
        signal,
      );
    } catch (err) {
      if (!isGone(err)) throw err;
      this.options.logger?.warn('GitLab issue no longer exists; nothing to close', { ...ticket });
    }
  }
}

/** The text of a note, the same on every attempt (findNote compares it exactly). */
export function noteText(note: TicketNote): string {
  return note.kind === 'review' ? reviewNote(note.review) : resolutionNote(lowerResolutionTag(note.resolution), note.reason);
}

function refOf(issue: GlIssue, projectId: number): TicketRef {
  return issueRefData({ projectId: issue.projectId || projectId, issueIid: issue.iid, issueId: issue.id });
}

function issueOf(ticket: TicketRef): IssueRef {
  const ref = readIssueRef({ [PROJECT_ID_KEY]: ticket[PROJECT_ID_KEY] ?? '', [ISSUE_IID_KEY]: ticket[ISSUE_IID_KEY] ?? '', [ISSUE_ID_KEY]: ticket[ISSUE_ID_KEY] ?? '' });
  if (ref === undefined) throw new Error(`not a GitLab issue: ${JSON.stringify(ticket)}`);
  return ref;
}

/** Someone deleted the issue (or its project): nothing left to write to, and retrying cannot help. */
function isGone(err: unknown): boolean {
  return isPluginError(err) && err.service?.status === 404;
}
