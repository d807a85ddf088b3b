/**
 * What the condition language knows: variables and functions with their static types. The subset
 * of Teleport's access-request condition language (lib/accessmonitoring) that plugins need; names
 * and semantics follow upstream so a condition means here what it means to the server.
 */

/** Static types of values. `map` is name -> set of strings (traits, annotations, labels). */
export type ValueType = 'string' | 'bool' | 'set' | 'map' | 'time';

// Maps, not object literals: a condition naming `toString` or `__proto__` must find nothing.
export const VARIABLES: ReadonlyMap<string, ValueType> = new Map<string, ValueType>(
  Object.entries({
    'access_request.spec.roles': 'set',
    'access_request.spec.suggested_reviewers': 'set',
    'access_request.spec.system_annotations': 'map',
    'access_request.spec.user': 'string',
    'access_request.spec.request_reason': 'string',
    'access_request.spec.creation_time': 'time',
    'access_request.spec.expiry': 'time',
    'access_request.spec.resource_labels_intersection': 'map',
    'access_request.spec.resource_labels_union': 'map',
    'user.traits': 'map',
  }),
);

export interface FunctionSignature {
  /** Allowed types of each fixed parameter. */
  params: ReadonlyArray<readonly ValueType[]>;
  /** Type of any further arguments (variadic functions). */
  rest?: readonly ValueType[];
  returns: ValueType;
}

export const FUNCTIONS: ReadonlyMap<string, FunctionSignature> = new Map<string, FunctionSignature>(
  Object.entries({
    set: { params: [], rest: ['string'], returns: 'set' },
    contains: { params: [['set'], ['string']], returns: 'bool' },
    contains_any: { params: [['set'], ['set']], returns: 'bool' },
    contains_all: { params: [['set'], ['set']], returns: 'bool' },
    // Upstream takes a set; maps and strings are accepted too since "is empty" is just as clear
    // for them (is_empty(access_request.spec.request_reason)).
    is_empty: { params: [['set', 'map', 'string']], returns: 'bool' },
  }),
);

/** `x.contains(v)` is `contains(x, v)`: the one method upstream's examples use. */
export const METHODS: ReadonlySet<string> = new Set(['contains']);

export function typeName(t: ValueType): string {
  return t === 'bool' ? 'boolean' : t;
}
