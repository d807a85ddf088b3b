import type { Resolution } from '../adapter.js';
import type { FollowUpNote } from '../routing/types.js';
import type { AccessRequest, AccessReview, PluginData } from '../teleport/types.js';

/**
 * A ticket as plugin data knows it: the Go plugin's keys for it (`incident_id` + `service_id`,
 * `issue_id` + `issue_key`, `project_id` + `issue_iid` + `issue_id`), so a Go plugin's tickets
 * are continued, never opened twice.
 */
export type TicketRef = Readonly<Record<string, string>>;

export type TicketNote =
  { kind: 'review'; requestId: string; index: number; review: AccessReview } | { kind: 'resolution'; requestId: string; resolution: Resolution; reason: string };

export interface TicketOutcome {
  requestId: string;
  resolution: Resolution;
  reason: string;
}

/**
 * What an incident or issue tracker does for the ticketing kit (PagerDuty, Jira, GitLab). The kit
 * owns the rest: one ticket per request recorded before and after it is opened, one note per
 * review, one closing note, retries. Verbs throw PluginErrors with service facts (core's outbound
 * policy); `find*` verbs answer "did this already happen?" after a crash or an ambiguous failure.
 */
export interface TicketTracker {
  /** `PagerDuty`, `Jira`: for logs. */
  readonly service: string;
  /** The ticket recorded in plugin data, or undefined when none was opened. */
  ticketOf(data: PluginData | undefined): TicketRef | undefined;
  /** Whether this request gets a ticket at all (PagerDuty: only with a notify-service annotation or a rule). Default: always. */
  wants?(request: AccessRequest, signal?: AbortSignal): boolean | Promise<boolean>;
  /** Opens the ticket (not idempotent). */
  open(request: AccessRequest, signal?: AbortSignal): Promise<TicketRef>;
  /** The ticket already opened for this request, if any (incident key, issue property, label...). */
  find?(request: AccessRequest, signal?: AbortSignal, since?: number): Promise<TicketRef | undefined>;
  /** One note (comment) on the ticket (not idempotent). */
  note(ticket: TicketRef, note: TicketNote, signal?: AbortSignal): Promise<void>;
  findNote?(ticket: TicketRef, note: TicketNote, signal?: AbortSignal, since?: number): Promise<boolean>;
  /** A reminder or an escalation note on the ticket (`[reminders]`); without it no reminders are sent. Not idempotent. */
  followUp?(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal): Promise<void>;
  findFollowUp?(ticket: TicketRef, note: FollowUpNote, signal?: AbortSignal, since?: number): Promise<boolean>;
  /** Brings the ticket to its final state (resolve, transition, close + label). Must be repeatable. */
  close(ticket: TicketRef, outcome: TicketOutcome, signal?: AbortSignal): Promise<void>;
}

/** A ref as an effect's result string and back (the keys are plain plugin-data keys). */
export function encodeTicket(ref: TicketRef): string {
  return new URLSearchParams(Object.entries(ref)).toString();
}

export function decodeTicket(value: string): TicketRef {
  return Object.fromEntries(new URLSearchParams(value));
}
