import { PluginError, effectKey, followUpText, parseEffectRecord, requestWebLink } from '@teleport-plugin/core';
import type { AccessRequest, ClusterInfo, FollowUpNote, Logger, PluginData, Resolution, TicketNote, TicketOutcome, TicketRef, TicketTracker } from '@teleport-plugin/core';
import type { JiraClient } from './client.js';
import { ISSUE_ID_KEY, ISSUE_KEY_KEY } from './pluginData.js';
import { issueDescription, issueSummary, resolutionComment, reviewComment, type CommentMarker, type ResolutionTag } from './render.js';

/** The ticketing kit's name for the effect that opens the issue (`fx/open` in plugin data). */
export const OPEN_EFFECT = 'open';

/**
 * Where each resolution moves the issue. A promoted request (access granted through an access
 * list) has no status upstream (the Go plugin fails on it): it goes to `Promoted` where the
 * workflow has one, else to `Approved`, since the requester did get access.
 */
export const RESOLUTION_STATUSES: Readonly<Record<Resolution, readonly string[]>> = {
  APPROVED: ['Approved'],
  DENIED: ['Denied'],
  EXPIRED: ['Expired'],
  PROMOTED: ['Promoted', 'Approved'],
};

/**
 * Jira as the ticketing kit sees it: one issue per request (found again by its
 * `teleportAccessRequestId` property), a comment per review and one on resolution (each found
 * again by its comment property or its text), and the transition to Approved / Denied / Expired.
 */
export class JiraTracker implements TicketTracker {
  readonly service = 'Jira';
  /** When a create was last attempted per request, for find to allow Jira's search index time to catch up. */
  private readonly attempts = new Map<string, number>();

  constructor(
    private readonly client: JiraClient,
    private readonly cluster: ClusterInfo,
    private readonly logger: Logger,
  ) {}

  ticketOf(data: PluginData | undefined): TicketRef | undefined {
    const id = data?.[ISSUE_ID_KEY];
    return id ? { [ISSUE_ID_KEY]: id, [ISSUE_KEY_KEY]: data?.[ISSUE_KEY_KEY] ?? '' } : undefined;
  }

  /**
   * Learns when an earlier attempt (possibly another process's, before a crash) started to open
   * the issue, from the `fx/open` record in the request's plugin data.
   */
  rememberAttempt(requestId: string, data: PluginData | undefined): void {
    const record = parseEffectRecord(data?.[effectKey(OPEN_EFFECT)]);
    if (record.state === 'running' && !this.attempts.has(requestId)) this.attempts.set(requestId, record.at);
  }

  async open(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef> {
    this.attempts.set(request.id, Date.now());
    const issue = await this.client.createIssue(
      {
        requestId: request.id,
        summary: issueSummary(request),
        description: issueDescription(request, requestWebLink(this.cluster, request.id)),
      },
      signal,
    );
    this.attempts.delete(request.id);
    return { [ISSUE_ID_KEY]: issue.id, [ISSUE_KEY_KEY]: issue.key };
  }

  /**
   * The issue an earlier attempt created, by its property. Jira's search trails writes by
   * seconds, so "not found" is only answered once the attempt is old enough to be searchable; an
   * attempt of unknown time (a record written before a restart) counts as just now.
   */
  async find(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef | undefined> {
    const attemptedAt = new Date(this.attempts.get(request.id) ?? Date.now());
    try {
      const issue = await this.client.findIssueByRequestId(request.id, { createdAfter: request.created, attemptedAt, signal });
      return issue && { [ISSUE_ID_KEY]: issue.id, [ISSUE_KEY_KEY]: issue.key };
    } finally {
      this.attempts.delete(request.id);
    }
  }

  async note(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<void> {
    const issue = issueId(ticket);
    try {
      await this.client.addComment(issue, commentText(note), commentMarker(note), signal);
    } catch (err) {
      if (!issueGone(err)) throw err;
      // Deleted in Jira (or no longer visible to the plugin): nothing to comment on, ever.
      this.logger.warn('Jira issue no longer exists; comment not posted', { issue: ticketName(ticket), requestId: note.requestId, kind: note.kind });
    }
  }

  async findNote(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.client.findComment(issueId(ticket), commentMarker(note), commentText(note), signal)) !== undefined;
    } catch (err) {
      if (!issueGone(err)) throw err;
      // Settled: the note() it stands for would skip the comment too.
      return true;
    }
  }

  /** A reminder or an escalation as a comment (`[reminders]`), marked like the others so it is found again. */
  async followUp(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.addComment(issueId(ticket), followUpText(note), followUpMarker(note), signal);
    } catch (err) {
      if (!issueGone(err)) throw err;
      this.logger.warn('Jira issue no longer exists; reminder not posted', { issue: ticketName(ticket), requestId: note.requestId, kind: note.kind });
    }
  }

  async findFollowUp(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.client.findComment(issueId(ticket), followUpMarker(note), followUpText(note), signal)) !== undefined;
    } catch (err) {
      if (!issueGone(err)) throw err;
      return true;
    }
  }

  /** The transition to the resolution's status; a no-op when the issue is there already (e.g. moved by the reviewer in Jira). */
  async close(ticket: TicketRef, outcome: TicketOutcome, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.transitionTo(issueId(ticket), RESOLUTION_STATUSES[outcome.resolution], signal);
    } catch (err) {
      if (!issueGone(err)) throw err;
      this.logger.warn('Jira issue no longer exists; nothing to transition', { issue: ticketName(ticket), requestId: outcome.requestId });
    }
  }
}

function issueId(ticket: TicketRef): string {
  const id = ticket[ISSUE_ID_KEY];
  if (!id) throw new PluginError('UNKNOWN', 'Jira ticket without an issue id');
  return id;
}

function ticketName(ticket: TicketRef): string {
  return ticket[ISSUE_KEY_KEY] || ticket[ISSUE_ID_KEY] || '?';
}

/** Jira answers 404 for an issue that was deleted, or that the plugin's user may no longer see. */
function issueGone(err: unknown): boolean {
  return err instanceof PluginError && err.service?.status === 404 && /\/issue\/\{id\}/.test(err.service.operation);
}

export function commentText(note: TicketNote): string {
  return note.kind === 'review' ? reviewComment(note.review) : resolutionComment(note.resolution.toLowerCase() as ResolutionTag, note.reason);
}

function followUpMarker(note: FollowUpNote): CommentMarker {
  return note.kind === 'reminder' ? { requestId: note.requestId, kind: 'reminder', index: note.index } : { requestId: note.requestId, kind: 'escalation' };
}

export function commentMarker(note: TicketNote): CommentMarker {
  return note.kind === 'review' ? { requestId: note.requestId, kind: 'review', index: note.index } : { requestId: note.requestId, kind: 'resolution' };
}
