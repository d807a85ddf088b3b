import type { ConditionNode } from './ast.js';
import { ConditionError } from './conditionError.js';
import { tokenize, type Token, type TokenKind } from './tokenize.js';
import { FUNCTIONS, METHODS, VARIABLES, typeName, type ValueType } from './vocabulary.js';

/** A condition that parsed and type-checked; evaluate it with evaluateCondition(). */
export interface ParsedCondition {
  readonly source: string;
  readonly root: ConditionNode;
  /** Static type of the whole condition; anything but `bool` never matches. */
  readonly type: ValueType;
}

export type ParseConditionResult = { ok: true; condition: ParsedCondition } | { ok: false; error: ConditionError };

/** Deep enough for any real condition, shallow enough never to overflow the stack. */
const MAX_DEPTH = 100;

/**
 * Parses a condition (hand-written recursive descent; nothing is ever evaluated as code) and
 * checks its types, so unknown names, wrong arity and type mismatches are reported here, with
 * their position, rather than when a request arrives. Precedence is Go's, as upstream parses
 * conditions as Go expressions: `!` binds tightest, then `==`/`!=`, then `&&`, then `||`.
 */
export function parseCondition(source: string): ParseConditionResult {
  try {
    const parser = new Parser(source, tokenize(source));
    const root = parser.parse();
    return { ok: true, condition: { source, root, type: root.type } };
  } catch (err) {
    if (err instanceof ConditionError) return { ok: false, error: err };
    throw err;
  }
}

class Parser {
  private index = 0;
  private depth = 0;

  constructor(
    private readonly source: string,
    private readonly tokens: readonly Token[],
  ) {}

  parse(): ConditionNode {
    if (this.peek().kind === 'eof') this.fail('the condition is empty', 0);
    const root = this.parseOr();
    const next = this.peek();
    if (next.kind !== 'eof') this.fail(`unexpected ${describe(next)} after the end of the expression`, next.pos);
    return root;
  }

  // ---- grammar -------------------------------------------------------------------------------

  private parseOr(): ConditionNode {
    let left = this.parseAnd();
    while (this.peek().kind === '||') {
      this.next();
      const right = this.parseAnd();
      left = this.logical('||', left, right);
    }
    return left;
  }

  private parseAnd(): ConditionNode {
    let left = this.parseComparison();
    while (this.peek().kind === '&&') {
      this.next();
      const right = this.parseComparison();
      left = this.logical('&&', left, right);
    }
    return left;
  }

  private parseComparison(): ConditionNode {
    let left = this.parseUnary();
    for (;;) {
      const kind = this.peek().kind;
      if (kind !== '==' && kind !== '!=') return left;
      const op = this.next();
      const right = this.parseUnary();
      if (left.type !== right.type) {
        this.fail(`cannot compare ${typeName(left.type)} with ${typeName(right.type)} using ${kind}`, op.pos);
      }
      left = { kind: 'binary', pos: left.pos, type: 'bool', op: kind, left, right };
    }
  }

  private parseUnary(): ConditionNode {
    const token = this.peek();
    if (token.kind !== '!') return this.parsePostfix();
    this.next();
    const operand = this.nested(() => this.parseUnary());
    if (operand.type !== 'bool') this.fail(`operator ! needs a boolean, got ${typeName(operand.type)}`, token.pos);
    return { kind: 'not', pos: token.pos, type: 'bool', operand };
  }

  private parsePostfix(): ConditionNode {
    let node = this.parsePrimary();
    for (;;) {
      const token = this.peek();
      if (token.kind === '[') {
        this.next();
        const key = this.nested(() => this.parseOr());
        this.expect(']', 'to close the index');
        if (node.type !== 'map') this.fail(`only maps can be indexed, got ${typeName(node.type)}`, token.pos);
        if (key.type !== 'string') this.fail(`a map key must be a string, got ${typeName(key.type)}`, key.pos);
        node = { kind: 'index', pos: node.pos, type: 'set', target: node, key };
      } else if (token.kind === '.') {
        this.next();
        const name = this.expect('ident', 'after "."');
        if (this.peek().kind !== '(') this.fail(`unexpected field "${name.text}" (only methods such as .contains(...) follow an expression)`, name.pos);
        if (!METHODS.has(name.text)) this.fail(`unknown method "${name.text}"`, name.pos);
        node = this.call(name.text, name.pos, node);
      } else {
        return node;
      }
    }
  }

  private parsePrimary(): ConditionNode {
    const token = this.peek();
    switch (token.kind) {
      case 'string':
        this.next();
        return { kind: 'literal', pos: token.pos, type: 'string', value: token.text };
      case '(': {
        this.next();
        const inner = this.nested(() => this.parseOr());
        this.expect(')', `to close the "(" at ${this.where(token.pos)}`);
        return inner;
      }
      case 'ident':
        return this.parseName();
      case 'eof':
        return this.fail('unexpected end of the condition', token.pos);
      default:
        return this.fail(`unexpected ${describe(token)}`, token.pos);
    }
  }

  /** A dotted name: a variable, a function call, or a method call on a variable. */
  private parseName(): ConditionNode {
    const first = this.next();
    const segments: Token[] = [first];
    // Take `.ident` while it is not a method call on what we have so far.
    while (this.peek().kind === '.' && this.peek(1).kind === 'ident') {
      const isMethodCall = this.peek(2).kind === '(' && METHODS.has(this.peek(1).text) && VARIABLES.has(joined(segments));
      if (isMethodCall) break;
      this.next();
      segments.push(this.next());
    }
    const name = joined(segments);
    if (this.peek().kind === '(') {
      if (FUNCTIONS.has(name)) return this.call(name, first.pos);
      return this.fail(`unknown function "${name}"`, first.pos);
    }
    if (name === 'true' || name === 'false') return { kind: 'literal', pos: first.pos, type: 'bool', value: name === 'true' };
    const type = VARIABLES.get(name);
    if (!type) return this.fail(`unknown variable "${name}"`, first.pos);
    return { kind: 'variable', pos: first.pos, type, name };
  }

  /** Arguments of `fn(...)` (the "(" is next); `receiver` is the x of `x.fn(...)`. */
  private call(fn: string, pos: number, receiver?: ConditionNode): ConditionNode {
    const signature = FUNCTIONS.get(fn);
    if (!signature) return this.fail(`unknown function "${fn}"`, pos);
    this.expect('(', `after "${fn}"`);
    const args: ConditionNode[] = receiver ? [receiver] : [];
    if (this.peek().kind !== ')') {
      for (;;) {
        args.push(this.nested(() => this.parseOr()));
        if (this.peek().kind !== ',') break;
        this.next();
      }
    }
    this.expect(')', `to close the call to ${fn}`);
    const fixed = signature.params.length;
    const arity = signature.rest ? `at least ${fixed}` : `${fixed}`;
    if (args.length < fixed || (!signature.rest && args.length > fixed)) {
      this.fail(`${fn} takes ${arity} argument${fixed === 1 && !signature.rest ? '' : 's'}, got ${args.length}`, pos);
    }
    args.forEach((arg, i) => {
      const allowed = signature.params[i] ?? signature.rest ?? [];
      if (!allowed.includes(arg.type)) {
        this.fail(`${fn}: argument ${i + 1} must be ${allowed.map((t) => `a ${typeName(t)}`).join(' or ')}, got ${typeName(arg.type)}`, arg.pos);
      }
    });
    return { kind: 'call', pos, type: signature.returns, fn, args };
  }

  private logical(op: '&&' | '||', left: ConditionNode, right: ConditionNode): ConditionNode {
    for (const side of [left, right]) {
      if (side.type !== 'bool') this.fail(`operator ${op} needs boolean operands, got ${typeName(side.type)}`, side.pos);
    }
    return { kind: 'binary', pos: left.pos, type: 'bool', op, left, right };
  }

  // ---- tokens --------------------------------------------------------------------------------

  private peek(ahead = 0): Token {
    return this.tokens[Math.min(this.index + ahead, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.index += 1;
    return token;
  }

  private expect(kind: TokenKind, context: string): Token {
    const token = this.peek();
    if (token.kind !== kind) {
      const wanted = kind === 'ident' ? 'a name' : `"${kind}"`;
      this.fail(`expected ${wanted} ${context}, got ${describe(token)}`, token.pos);
    }
    return this.next();
  }

  private nested<T>(fn: () => T): T {
    this.depth += 1;
    if (this.depth > MAX_DEPTH) this.fail('the condition is nested too deeply', this.peek().pos);
    try {
      return fn();
    } finally {
      this.depth -= 1;
    }
  }

  private where(pos: number): string {
    const e = new ConditionError('', pos, this.source);
    return `line ${e.line}, column ${e.column}`;
  }

  private fail(message: string, pos: number): never {
    throw new ConditionError(message, pos, this.source);
  }
}

function joined(segments: readonly Token[]): string {
  return segments.map((s) => s.text).join('.');
}

function describe(token: Token): string {
  switch (token.kind) {
    case 'eof':
      return 'the end of the condition';
    case 'ident':
      return `"${token.text}"`;
    case 'string':
      return `the string ${JSON.stringify(token.text)}`;
    default:
      return `"${token.text}"`;
  }
}
