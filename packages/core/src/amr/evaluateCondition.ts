import type { ConditionNode } from './ast.js';
import type { ConditionContext } from './buildConditionContext.js';
import type { ParsedCondition } from './parseCondition.js';

/** A runtime value: string, boolean, set of strings, map name -> set, or an instant. */
export type ConditionValue = string | boolean | ReadonlySet<string> | ReadonlyMap<string, ReadonlySet<string>> | Date;

export type EvaluateConditionResult = { ok: true; value: ConditionValue } | { ok: false; error: string };

/** Thrown inside the evaluator only; evaluateCondition turns it into a result. */
class EvaluationFailure extends Error {}

type Reader = (ctx: ConditionContext) => ConditionValue;

const READERS: ReadonlyMap<string, Reader> = new Map<string, Reader>(
  Object.entries({
    'access_request.spec.roles': (ctx) => new Set(ctx.roles),
    'access_request.spec.suggested_reviewers': (ctx) => new Set(ctx.suggestedReviewers),
    'access_request.spec.system_annotations': (ctx) => toMap(ctx.systemAnnotations),
    'access_request.spec.user': (ctx) => ctx.user,
    'access_request.spec.request_reason': (ctx) => ctx.requestReason,
    'access_request.spec.creation_time': (ctx) => known(ctx.creationTime, 'the request creation time is not known'),
    'access_request.spec.expiry': (ctx) => known(ctx.expiry, 'the request expiry is not known'),
    'access_request.spec.resource_labels_intersection': (ctx) => toMap(known(ctx.resourceLabelsIntersection, 'the labels of the requested resources are not known')),
    'access_request.spec.resource_labels_union': (ctx) => toMap(known(ctx.resourceLabelsUnion, 'the labels of the requested resources are not known')),
    'user.traits': (ctx) => toMap(known(ctx.userTraits, "the requester's traits are not known")),
  }),
);

/**
 * Evaluates a parsed condition against one request. Never throws for a problem with the data
 * (an unknown value, a malformed context): that comes back as `{ ok: false }` so one bad rule
 * cannot break the routing of the others. A non-boolean value is returned as is; callers treat it
 * as "no match".
 */
export function evaluateCondition(condition: ParsedCondition, ctx: ConditionContext): EvaluateConditionResult {
  try {
    return { ok: true, value: evaluate(condition.root, ctx) };
  } catch (err) {
    if (err instanceof EvaluationFailure) return { ok: false, error: err.message };
    // A context that is not what the types promise (e.g. built by hand from untyped data).
    return { ok: false, error: `evaluation failed: ${err instanceof Error ? err.message : String(err)}` };
  }
}

function evaluate(node: ConditionNode, ctx: ConditionContext): ConditionValue {
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'variable': {
      const read = READERS.get(node.name);
      if (!read) throw new EvaluationFailure(`unknown variable "${node.name}"`);
      return read(ctx);
    }
    case 'index': {
      const map = asMap(evaluate(node.target, ctx));
      const key = asString(evaluate(node.key, ctx));
      // A missing key is an empty set, as upstream's Dict lookup.
      return map.get(key) ?? new Set<string>();
    }
    case 'not':
      return !asBool(evaluate(node.operand, ctx));
    case 'binary':
      return binary(node.op, node.left, node.right, ctx);
    case 'call':
      return call(
        node.fn,
        node.args.map((a) => evaluate(a, ctx)),
      );
  }
}

function binary(op: '&&' | '||' | '==' | '!=', left: ConditionNode, right: ConditionNode, ctx: ConditionContext): boolean {
  // && and || short-circuit: `is_empty(user.traits["x"]) || ...` must not need the right side.
  if (op === '&&') return asBool(evaluate(left, ctx)) && asBool(evaluate(right, ctx));
  if (op === '||') return asBool(evaluate(left, ctx)) || asBool(evaluate(right, ctx));
  const same = equal(evaluate(left, ctx), evaluate(right, ctx));
  return op === '==' ? same : !same;
}

function call(fn: string, args: ConditionValue[]): ConditionValue {
  switch (fn) {
    case 'set':
      return new Set(args.map(asString));
    case 'contains':
      return asSet(args[0]).has(asString(args[1]));
    case 'contains_any': {
      const haystack = asSet(args[0]);
      return [...asSet(args[1])].some((v) => haystack.has(v));
    }
    case 'contains_all': {
      // Upstream: false for an empty second set, so contains_all(x, set()) never matches everything.
      const haystack = asSet(args[0]);
      const needles = asSet(args[1]);
      return needles.size > 0 && [...needles].every((v) => haystack.has(v));
    }
    case 'is_empty': {
      const v = args[0];
      if (typeof v === 'string') return v === '';
      if (v instanceof Set || v instanceof Map) return v.size === 0;
      throw new EvaluationFailure(`is_empty: cannot take ${describe(v)}`);
    }
    default:
      throw new EvaluationFailure(`unknown function "${fn}"`);
  }
}

function equal(a: ConditionValue, b: ConditionValue): boolean {
  if (typeof a === 'string' || typeof a === 'boolean') return a === b;
  if (a instanceof Date) return b instanceof Date && a.getTime() === b.getTime();
  if (a instanceof Set) return b instanceof Set && a.size === b.size && [...a].every((v) => b.has(v));
  if (a instanceof Map && b instanceof Map) {
    return (
      a.size === b.size &&
      [...a].every(([k, v]) => {
        const other = b.get(k);
        return other !== undefined && equal(v, other);
      })
    );
  }
  return false;
}

function known<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new EvaluationFailure(message);
  return value;
}

function toMap(traits: Readonly<Record<string, readonly string[]>>): ReadonlyMap<string, ReadonlySet<string>> {
  return new Map(Object.entries(traits).map(([k, v]) => [k, new Set(v)]));
}

function asBool(v: ConditionValue | undefined): boolean {
  if (typeof v !== 'boolean') throw new EvaluationFailure(`expected a boolean, got ${describe(v)}`);
  return v;
}

function asString(v: ConditionValue | undefined): string {
  if (typeof v !== 'string') throw new EvaluationFailure(`expected a string, got ${describe(v)}`);
  return v;
}

function asSet(v: ConditionValue | undefined): ReadonlySet<string> {
  if (!(v instanceof Set)) throw new EvaluationFailure(`expected a set, got ${describe(v)}`);
  return v;
}

function asMap(v: ConditionValue | undefined): ReadonlyMap<string, ReadonlySet<string>> {
  if (!(v instanceof Map)) throw new EvaluationFailure(`expected a map, got ${describe(v)}`);
  return v;
}

/** `a set`, `a string`, ... for messages. */
export function describe(v: ConditionValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'boolean') return 'a boolean';
  if (v instanceof Date) return 'a time';
  if (v instanceof Set) return 'a set';
  return 'a map';
}
