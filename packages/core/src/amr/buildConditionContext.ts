import type { AccessRequest, Traits } from '../teleport/types.js';

/**
 * What a condition can read about one access request, flat and immutable. `undefined` means "not
 * known" (not looked up), which is different from empty: a condition that reads an unknown value
 * fails for that rule, so a missing lookup never silently changes where a request is routed.
 */
export interface ConditionContext {
  readonly roles: readonly string[];
  readonly suggestedReviewers: readonly string[];
  readonly systemAnnotations: Readonly<Traits>;
  readonly user: string;
  readonly requestReason: string;
  /** Also the instant schedules are checked against. */
  readonly creationTime: Date | undefined;
  /** When the request object expires (ResourceExpiry, else Metadata.Expires), as upstream's Expiry(). */
  readonly expiry: Date | undefined;
  readonly resourceLabelsIntersection: Readonly<Traits> | undefined;
  readonly resourceLabelsUnion: Readonly<Traits> | undefined;
  /** The requester's traits (`user.traits`). */
  readonly userTraits: Readonly<Traits> | undefined;
}

export interface ConditionContextInput {
  request: AccessRequest;
  /** The requester's traits (GetUser). Omit when not looked up. */
  userTraits?: Traits;
  /**
   * Labels of each requested resource, when looked up (ListResources). Omit when unknown; a
   * request that names no resources has known, empty labels either way.
   */
  resourceLabels?: ReadonlyArray<Readonly<Record<string, string>>>;
}

export function buildConditionContext(input: ConditionContextInput): ConditionContext {
  const { request } = input;
  const labels = input.resourceLabels ?? (request.requestedResources.length === 0 ? [] : undefined);
  return Object.freeze({
    roles: [...request.roles],
    suggestedReviewers: [...request.suggestedReviewers],
    systemAnnotations: copyTraits(request.systemAnnotations),
    user: request.user,
    requestReason: request.requestReason,
    creationTime: request.created,
    expiry: request.resourceExpires,
    resourceLabelsIntersection: labels ? labelIntersection(labels) : undefined,
    resourceLabelsUnion: labels ? labelUnion(labels) : undefined,
    userTraits: input.userTraits ? copyTraits(input.userTraits) : undefined,
  });
}

function copyTraits(t: Readonly<Traits>): Traits {
  const out: Traits = {};
  for (const [k, v] of Object.entries(t)) out[k] = [...v];
  return out;
}

/** Every label of any resource, each name with all its values. */
function labelUnion(resources: ReadonlyArray<Readonly<Record<string, string>>>): Traits {
  const out: Traits = {};
  for (const labels of resources) {
    for (const [k, v] of Object.entries(labels)) {
      // hasOwn, not ??=: a label named like an Object.prototype member must not find it.
      const values = Object.hasOwn(out, k) ? out[k]! : (out[k] = []);
      if (!values.includes(v)) values.push(v);
    }
  }
  return out;
}

/** The labels every resource carries with the same value (upstream: none when there are no resources). */
function labelIntersection(resources: ReadonlyArray<Readonly<Record<string, string>>>): Traits {
  const [first, ...rest] = resources;
  if (!first) return {};
  const out: Traits = {};
  for (const [k, v] of Object.entries(first)) {
    if (rest.every((labels) => Object.hasOwn(labels, k) && labels[k] === v)) out[k] = [v];
  }
  return out;
}
