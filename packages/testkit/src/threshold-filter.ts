import { badParameter } from './teleport-error.js';

/**
 * A small subset of Teleport's threshold filter predicates (`allow.request.thresholds[].filter`):
 * `contains(list, "v")`, `equals(a, b)`, `!`, `&&`, `||`, parentheses, string literals and the
 * fields `reviewer.roles`, `reviewer.traits["k"]`, `review.reason`, `review.annotations["k"]`,
 * `request.roles`, `request.reason`, `request.system_annotations["k"]`. Anything else is refused
 * when the role is stored, so a test never silently runs with a filter the fake cannot honour.
 */

export interface ThresholdFilterContext {
  reviewer: { roles: string[]; traits: Record<string, string[]> };
  review: { reason: string; annotations: Record<string, string[]> };
  request: { roles: string[]; reason: string; systemAnnotations: Record<string, string[]> };
}

type Value = string | string[];
type Node =
  | { t: 'lit'; v: string }
  | { t: 'field'; path: string; key?: string }
  | { t: 'call'; fn: 'contains' | 'equals'; args: Node[] }
  | { t: 'not'; e: Node }
  | { t: 'and' | 'or'; l: Node; r: Node };

const FIELDS = new Set(['reviewer.roles', 'reviewer.traits', 'review.reason', 'review.annotations', 'request.roles', 'request.reason', 'request.system_annotations']);
const MAPS = new Set(['reviewer.traits', 'review.annotations', 'request.system_annotations']);

function tokenize(src: string): string[] {
  const tokens: string[] = [];
  const re = /\s*(&&|\|\||[()[\],!]|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_.]*)/y;
  let pos = 0;
  while (pos < src.length) {
    if (/^\s*$/.test(src.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(src);
    if (!m) throw new Error(`unexpected input at offset ${pos}`);
    tokens.push(m[1]!);
    pos = re.lastIndex;
  }
  return tokens;
}

function parseThresholdFilter(src: string): Node {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  const take = (want?: string): string => {
    const tok = tokens[i++];
    if (tok === undefined || (want !== undefined && tok !== want)) throw new Error(`expected ${want ?? 'a token'}, got ${tok ?? 'end of input'}`);
    return tok;
  };
  const primary = (): Node => {
    const tok = take();
    if (tok === '(') {
      const e = or();
      take(')');
      return e;
    }
    if (tok === '!') return { t: 'not', e: primary() };
    if (tok.startsWith('"')) return { t: 'lit', v: JSON.parse(tok) as string };
    if (peek() === '(') {
      if (tok !== 'contains' && tok !== 'equals') throw new Error(`unsupported function ${tok}`);
      take('(');
      const args = [or()];
      while (peek() === ',') {
        take(',');
        args.push(or());
      }
      take(')');
      if (args.length !== 2) throw new Error(`${tok} takes 2 arguments`);
      return { t: 'call', fn: tok, args };
    }
    let path = tok;
    let key: string | undefined;
    if (peek() === '[') {
      take('[');
      const k = take();
      if (!k.startsWith('"')) throw new Error('map keys must be string literals');
      key = JSON.parse(k) as string;
      take(']');
    } else {
      const dot = /^(reviewer\.traits|review\.annotations|request\.system_annotations)\.(.+)$/.exec(tok);
      if (dot) [path, key] = [dot[1]!, dot[2]!];
    }
    if (!FIELDS.has(path)) throw new Error(`unsupported field ${path}`);
    if (MAPS.has(path) !== (key !== undefined)) throw new Error(`${path} ${key === undefined ? 'needs' : 'takes no'} a key`);
    return key === undefined ? { t: 'field', path } : { t: 'field', path, key };
  };
  const and = (): Node => {
    let l = primary();
    while (peek() === '&&') {
      take();
      l = { t: 'and', l, r: primary() };
    }
    return l;
  };
  const or = (): Node => {
    let l = and();
    while (peek() === '||') {
      take();
      l = { t: 'or', l, r: and() };
    }
    return l;
  };
  const tree = or();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]}`);
  return tree;
}

function value(n: Node, ctx: ThresholdFilterContext): Value | boolean {
  switch (n.t) {
    case 'lit':
      return n.v;
    case 'field': {
      const k = n.key ?? '';
      switch (n.path) {
        case 'reviewer.roles':
          return ctx.reviewer.roles;
        case 'reviewer.traits':
          return ctx.reviewer.traits[k] ?? [];
        case 'review.reason':
          return ctx.review.reason;
        case 'review.annotations':
          return ctx.review.annotations[k] ?? [];
        case 'request.roles':
          return ctx.request.roles;
        case 'request.reason':
          return ctx.request.reason;
        default:
          return ctx.request.systemAnnotations[k] ?? [];
      }
    }
    case 'call': {
      const [a, b] = n.args.map((x) => value(x, ctx));
      if (n.fn === 'contains') return (Array.isArray(a) ? a : [String(a)]).includes(String(b));
      return JSON.stringify(a) === JSON.stringify(b);
    }
    case 'not':
      return !truthy(value(n.e, ctx));
    case 'and':
      return truthy(value(n.l, ctx)) && truthy(value(n.r, ctx));
    case 'or':
      return truthy(value(n.l, ctx)) || truthy(value(n.r, ctx));
  }
}

function truthy(v: Value | boolean): boolean {
  if (typeof v === 'boolean') return v;
  throw badParameter('threshold filter must evaluate to a boolean');
}

/** Throws BadParameter naming the filter when the fake cannot evaluate it. */
export function validateThresholdFilter(filter: string): void {
  if (!filter) return;
  try {
    const tree = parseThresholdFilter(filter);
    if (tree.t === 'lit' || tree.t === 'field') throw new Error('not a boolean expression');
  } catch (err) {
    throw badParameter(`invalid threshold predicate: "${filter}": ${(err as Error).message}`);
  }
}

/** An empty filter matches every review. */
export function thresholdFilterMatches(filter: string | undefined, ctx: ThresholdFilterContext): boolean {
  if (!filter) return true;
  return truthy(value(parseThresholdFilter(filter), ctx));
}
