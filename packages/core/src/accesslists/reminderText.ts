/** One list in a reminder. */
export interface DueAccessList {
  /** metadata.name. */
  name: string;
  /** What people see (the title, else the name). */
  title: string;
  dueAt: Date;
  overdue: boolean;
  overdueDays: number;
  /** The list's review page, when the proxy's address is known. */
  link?: string;
}

/** What an owner is reminded of: one message, one or several lists. */
export interface AccessListReminder {
  /** Unique per reminder sent: tags the message so it can be found again after a crash. */
  readonly id: string;
  /** The owner's Teleport user name. */
  readonly owner: string;
  /** Earliest review date first. */
  readonly lists: readonly DueAccessList[];
  /** The Access Lists page, when the proxy's address is known (for several lists). */
  readonly listsLink?: string;
}

export interface ReminderTextStyle {
  /** How a title is emphasised: Slack `*x*` (the default), Markdown `**x**`, plain `x`. */
  bold(text: string): string;
}

const slackStyle: ReminderTextStyle = { bold: (s) => `*${s}*` };

const day = (d: Date): string => d.toISOString().slice(0, 10);

/**
 * The Go Slack plugin's wording, so owners see what they saw before a swap:
 * `Access List *<title>* is due for a review by 2026-12-24. Please review it soon!`, or
 * `… is 3 day(s) past due for a review! Please review it.`, or for several lists
 * `2 Access Lists are due for reviews, earliest of which is …`, each followed by a link line
 * when the proxy's address is known.
 */
export function reminderText(reminder: AccessListReminder, style: ReminderTextStyle = slackStyle): string {
  const [first] = reminder.lists;
  if (!first) return '';
  let text: string;
  let link: string | undefined;
  if (reminder.lists.length === 1) {
    const name = style.bold(first.title);
    text = first.overdue
      ? `Access List ${name} is ${first.overdueDays} day(s) past due for a review! Please review it.`
      : `Access List ${name} is due for a review by ${day(first.dueAt)}. Please review it soon!`;
    link = first.link;
  } else {
    const earliest = first.overdue
      ? `earliest of which is ${first.overdueDays} day(s) past due. Please review!`
      : `earliest of which is due by ${day(first.dueAt)}. Please review them soon!`;
    text = `${reminder.lists.length} Access Lists are due for reviews, ${earliest}`;
    link = reminder.listsLink;
  }
  return link ? `${text}\n${style.bold('Link')}: ${link}` : text;
}

/** A one-line subject (mail): the same facts, no links. */
export function reminderSubject(reminder: AccessListReminder): string {
  const [first] = reminder.lists;
  if (!first) return '';
  if (reminder.lists.length > 1) return `${reminder.lists.length} Access Lists are due for review`;
  return first.overdue ? `Access List ${first.title} is past due for review` : `Access List ${first.title} is due for review by ${day(first.dueAt)}`;
}
