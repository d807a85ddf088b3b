/**
 * The four labels that carry a request's state on its issue, named and reused as the Go plugin
 * did: any project label whose name reduces to `teleport : <key>` (case and spaces ignored) is
 * taken for that key, so a board someone already set up with "Teleport: Approved" keeps working;
 * missing ones are created as `Teleport: <Key>` with upstream's colours.
 */

export const LABEL_KEYS = ['pending', 'approved', 'denied', 'expired'] as const;
export type LabelKey = (typeof LABEL_KEYS)[number];

/** The labels a reviewer adds to decide a request. */
export type DecisionKey = Extract<LabelKey, 'approved' | 'denied'>;

export const DEFAULT_LABEL_COLORS: Readonly<Record<LabelKey, string>> = Object.freeze({
  pending: '#FFECDB',
  approved: '#428BCA',
  denied: '#D9534F',
  expired: '#7F8C8D',
});

/** Label names per key, as found in (or created in) the project. */
export type LabelNames = Readonly<Record<LabelKey, string>>;

/**
 * `Teleport: Approved`, ` teleport :denied ` → `approved`; anything not of the form
 * `teleport : <rest>` → undefined. Go's `LabelName.Reduced`: lower-cased, split at the first
 * colon, both sides trimmed of Unicode spaces.
 */
export function reduceLabelName(name: string): string | undefined {
  const lower = name.toLowerCase();
  const colon = lower.indexOf(':');
  if (colon < 0) return undefined;
  if (lower.slice(0, colon).trim() !== 'teleport') return undefined;
  const rest = lower.slice(colon + 1).trim();
  return rest === '' ? undefined : rest;
}

/** The key a label name stands for, when it is one of the four. */
export function labelKey(name: string): LabelKey | undefined {
  const reduced = reduceLabelName(name);
  return (LABEL_KEYS as readonly string[]).includes(reduced ?? '') ? (reduced as LabelKey) : undefined;
}

/** Approved or denied, when adding this label decides a request. */
export function decisionOfLabel(name: string): DecisionKey | undefined {
  const key = labelKey(name);
  return key === 'approved' || key === 'denied' ? key : undefined;
}

/** `Teleport: Pending`: the name the Go plugin created (Go's `strings.Title(key)`). */
export function defaultLabelName(key: LabelKey): string {
  return `Teleport: ${key.charAt(0).toUpperCase()}${key.slice(1)}`;
}

export interface LabelPlan {
  /** Existing label names, per key they reduce to (the first one listed wins, as upstream). */
  existing: Partial<Record<LabelKey, string>>;
  /** Keys no existing label stands for: create `defaultLabelName(key)` with its default colour. */
  missing: Array<{ key: LabelKey; name: string; color: string }>;
}

/** Which of the four labels the project already has, and which must be created. */
export function planLabels(projectLabelNames: readonly string[]): LabelPlan {
  const existing: Partial<Record<LabelKey, string>> = {};
  for (const name of projectLabelNames) {
    const key = labelKey(name);
    if (key !== undefined && existing[key] === undefined) existing[key] = name;
  }
  const missing = LABEL_KEYS.filter((key) => existing[key] === undefined).map((key) => ({
    key,
    name: defaultLabelName(key),
    color: DEFAULT_LABEL_COLORS[key],
  }));
  return { existing, missing };
}

/** The resolution tag (lower case, as stored in plugin data) to the label key it closes with. */
export function resolutionLabelKey(tag: 'approved' | 'denied' | 'expired' | 'promoted'): LabelKey {
  // A promoted request was approved through an Access List: upstream predates promotion; the
  // approved label is the honest closest state of the issue.
  return tag === 'promoted' ? 'approved' : tag;
}
