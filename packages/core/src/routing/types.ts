import type { AccessRequest, PluginData } from '../teleport/types.js';

/**
 * Routing and follow-up, as an adapter sees it (AdapterContext.routing). The core never branches
 * on adapter names: an adapter (usually through its kit) declares what it can do here, and asks
 * for its recipients per request.
 */
export interface AdapterRouting {
  /**
   * The adapter's own recipients for a request when no Access Monitoring Rule names any (its
   * role_to_recipients and suggested reviewers), declared once in setup. `people`: the
   * recipients that are email addresses reach one person each (a DM, a mail), so the same person
   * reached by several adapters can be deduplicated (`[routing] dedupe`). Without a declaration the
   * static list is empty.
   */
  declareRecipients(declaration: RecipientDeclaration): void;
  /**
   * Who to notify for this request: the recipients of every matching rule naming this adapter
   * (then the static ones are not used), else the declared static ones; the requester is never
   * among them, nor a person a preferred adapter reaches already. Never throws for a bad rule.
   */
  recipients(request: AccessRequest, signal?: AbortSignal): Promise<RecipientPlan>;
  /** Facts about requests that automatic-review conditions can read (see FactProvider). */
  provideFacts(provider: FactProvider): void;
  /**
   * Whether this request was decided by the automatic review the moment it arrived, before any
   * adapter announced it (it is then announced already decided). Nobody has anything to act on:
   * trackers open no ticket for it. Known to the process that reviewed it, and to everyone from
   * the adapter's plugin data (`data`), where the decision is written before the review.
   */
  decidedOnArrival(requestId: string, data?: PluginData): boolean;
}

export interface RecipientDeclaration {
  static(request: AccessRequest): string[];
  /** Email recipients are people (DMs, mails): they take part in cross-adapter dedupe. Default false. */
  people?: boolean;
}

export interface RecipientPlan {
  /** Raw recipients in order (config order, rules sorted by name), deduplicated. */
  recipients: string[];
  /** `rules`: from matching rules, the static config was not used; `static`: the adapter's own config. */
  source: 'rules' | 'static';
  /** The matching rules that named recipients, with the schedule the request fell in. */
  rules: Array<{ name: string; schedule?: string; recipients: string[] }>;
  /** Why this source was used, in plain words (for logs and `explain`). */
  why: string;
  /** Recipients left out, and why. */
  dropped: Array<{ recipient: string; reason: 'requester' | 'dedupe'; detail: string }>;
}

/**
 * Facts an adapter knows about a request that conditions can use, e.g. PagerDuty: whether the
 * requester is on call. Conditions read them as traits of the requester,
 * `user.traits["pagerduty.on_call"]`, so a rule stays valid to Teleport's own condition parser
 * (which accepts any trait name) and `tctl create` takes it. The names a provider declares belong
 * to it: a real trait of the same name is never seen by a condition.
 */
export interface FactProvider {
  /** Trait names this provider fills, each starting with the adapter's name and a dot. */
  readonly names: readonly string[];
  /** Values per name ([] = known to be empty). Throwing makes conditions that read these facts fail (the rule is skipped). */
  facts(request: AccessRequest, signal?: AbortSignal): Promise<Record<string, string[]>>;
}

/** A step of the follow-up of a pending request, handed to an adapter's onFollowUp. */
export type FollowUpStep =
  | {
      /** `remind/2`: the plugin-data name of the step. */
      readonly id: string;
      readonly kind: 'reminder';
      /** 1-based. */
      readonly index: number;
      /** How many reminders there are at most. */
      readonly of: number;
      /** When it was due (ms since the epoch). */
      readonly dueAt: number;
      /** How long the request has been pending at `dueAt`. */
      readonly pendingForMs: number;
    }
  | {
      readonly id: 'escalate';
      readonly kind: 'escalation';
      /** Raw recipients to bring in (the adapter's formats). */
      readonly recipients: readonly string[];
      readonly dueAt: number;
      readonly pendingForMs: number;
    };

/** What a reminder or an escalation says in an existing thread or ticket. */
export type FollowUpNote =
  | { kind: 'reminder'; requestId: string; index: number; of: number; pendingForMs: number }
  | { kind: 'escalation'; requestId: string; recipients: readonly string[]; pendingForMs: number };

export function followUpNote(requestId: string, step: FollowUpStep): FollowUpNote {
  return step.kind === 'reminder'
    ? { kind: 'reminder', requestId, index: step.index, of: step.of, pendingForMs: step.pendingForMs }
    : { kind: 'escalation', requestId, recipients: step.recipients, pendingForMs: step.pendingForMs };
}

/** `2 h 30 min`, `45 min`, `1 d 2 h`: how long a request has been waiting, for reminder texts. */
export function formatWaiting(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60_000));
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const mins = minutes % 60;
  const parts: string[] = [];
  if (days > 0) parts.push(`${days} d`);
  if (hours > 0) parts.push(`${hours} h`);
  if (mins > 0 || parts.length === 0) parts.push(`${mins} min`);
  return parts.slice(0, 2).join(' ');
}

/** The one-line text of a follow-up note, for adapters that need no markup of their own. */
export function followUpText(note: FollowUpNote): string {
  const waiting = formatWaiting(note.pendingForMs);
  if (note.kind === 'reminder') {
    return `Reminder ${note.index} of ${note.of}: access request ${note.requestId} is still waiting for a review (pending for ${waiting}).`;
  }
  return `Escalated: access request ${note.requestId} has been pending for ${waiting} without a decision; also asking ${note.recipients.join(', ')}.`;
}
