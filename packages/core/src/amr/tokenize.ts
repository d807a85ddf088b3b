import { ConditionError } from './conditionError.js';

export type TokenKind = 'ident' | 'string' | '(' | ')' | '[' | ']' | ',' | '.' | '!' | '==' | '!=' | '&&' | '||' | 'eof';

export interface Token {
  kind: TokenKind;
  /** Identifier name or the decoded string value; the operator itself otherwise. */
  text: string;
  /** 0-based offset of the token's first character. */
  pos: number;
}

const SINGLE: Readonly<Record<string, TokenKind>> = { '(': '(', ')': ')', '[': '[', ']': ']', ',': ',', '.': '.' };
const DOUBLE: Readonly<Record<string, TokenKind>> = { '==': '==', '!=': '!=', '&&': '&&', '||': '||' };
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdentPart = (c: string): boolean => /[A-Za-z0-9_]/.test(c);

/**
 * Splits a condition into tokens. Strings follow Go's syntax, as Teleport parses conditions with
 * Go's expression parser: "interpreted" strings with backslash escapes (no raw newline inside)
 * and `raw` strings in backquotes.
 */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (message: string, pos: number): never => {
    throw new ConditionError(message, pos, source);
  };
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i += 1;
      continue;
    }
    const two = source.slice(i, i + 2);
    const double = DOUBLE[two];
    if (double) {
      tokens.push({ kind: double, text: two, pos: i });
      i += 2;
      continue;
    }
    const single = SINGLE[c];
    if (single) {
      tokens.push({ kind: single, text: c, pos: i });
      i += 1;
      continue;
    }
    if (c === '!') {
      tokens.push({ kind: '!', text: c, pos: i });
      i += 1;
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < source.length && isIdentPart(source[i]!)) i += 1;
      tokens.push({ kind: 'ident', text: source.slice(start, i), pos: start });
      continue;
    }
    if (c === '"') {
      const start = i;
      const [value, end] = readInterpreted(source, i + 1, start, fail);
      tokens.push({ kind: 'string', text: value, pos: start });
      i = end;
      continue;
    }
    if (c === '`') {
      const close = source.indexOf('`', i + 1);
      if (close < 0) fail('unterminated string literal', i);
      // Go drops carriage returns from raw strings.
      tokens.push({ kind: 'string', text: source.slice(i + 1, close).replace(/\r/g, ''), pos: i });
      i = close + 1;
      continue;
    }
    if (c === "'") fail(`single quotes do not delimit strings; use "..."`, i);
    if (c === '&' || c === '|') fail(`unexpected "${c}" (did you mean "${c}${c}"?)`, i);
    if (c === '=') fail('unexpected "=" (did you mean "=="?)', i);
    if (/[0-9]/.test(c)) fail('numbers are not supported in conditions', i);
    fail(`unexpected character "${c}"`, i);
  }
  tokens.push({ kind: 'eof', text: '', pos: source.length });
  return tokens;
}

/** Reads a "..." body from `i` (just after the quote); returns the value and the offset after the closing quote. */
function readInterpreted(source: string, i: number, start: number, fail: (message: string, pos: number) => never): [string, number] {
  let out = '';
  while (i < source.length) {
    const c = source[i]!;
    if (c === '"') return [out, i + 1];
    if (c === '\n') break;
    if (c !== '\\') {
      out += c;
      i += 1;
      continue;
    }
    const e = source[i + 1];
    if (e === undefined) break;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      out += simple;
      i += 2;
      continue;
    }
    const hexDigits = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexDigits > 0) {
      const hex = source.slice(i + 2, i + 2 + hexDigits);
      if (!new RegExp(`^[0-9A-Fa-f]{${hexDigits}}$`).test(hex)) fail(`invalid escape sequence "\\${e}${hex}"`, i);
      const code = Number.parseInt(hex, 16);
      if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) fail(`escape sequence "\\${e}${hex}" is not a valid Unicode code point`, i);
      out += String.fromCodePoint(code);
      i += 2 + hexDigits;
      continue;
    }
    if (/[0-7]/.test(e)) {
      const oct = source.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(oct) || Number.parseInt(oct, 8) > 255) fail(`invalid escape sequence "\\${oct}"`, i);
      out += String.fromCharCode(Number.parseInt(oct, 8));
      i += 4;
      continue;
    }
    fail(`unknown escape sequence "\\${e}"`, i);
  }
  return fail('unterminated string literal', start);
}
