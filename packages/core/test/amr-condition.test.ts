// The condition language: tokenizer, parser (positions, type checks) and evaluator, without
// schedules. Every function and operator, precedence, strings, and what a bad condition says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCondition } from '../src/amr/parseCondition.js';
import { evaluateCondition, type ConditionValue } from '../src/amr/evaluateCondition.js';
import type { ConditionContext } from '../src/amr/buildConditionContext.js';
import { tokenize } from '../src/amr/tokenize.js';

const CTX: ConditionContext = {
  roles: ['access', 'editor'],
  suggestedReviewers: ['carol@example.com'],
  systemAnnotations: { pagerduty_services: ['svc-a', 'svc-b'], empty: [] },
  user: 'alice@example.com',
  requestReason: 'deploy "hotfix"\n2',
  creationTime: new Date('2025-03-07T18:00:00Z'),
  expiry: new Date('2025-03-08T18:00:00Z'),
  resourceLabelsIntersection: { env: ['prod'] },
  resourceLabelsUnion: { env: ['prod'], team: ['db', 'web'] },
  userTraits: { team: ['sre', 'dev'], logins: ['alice'] },
};

function value(source: string, ctx: ConditionContext = CTX): ConditionValue {
  const parsed = parseCondition(source);
  assert.ok(parsed.ok, `${source}: ${parsed.ok ? '' : parsed.error.describe()}`);
  const result = evaluateCondition(parsed.condition, ctx);
  assert.ok(result.ok, `${source}: ${result.ok ? '' : result.error}`);
  return result.value;
}

const is = (source: string, expected: boolean, ctx?: ConditionContext): void => assert.equal(value(source, ctx), expected, source);

function parseError(source: string): { message: string; position: number; line: number; column: number } {
  const parsed = parseCondition(source);
  assert.ok(!parsed.ok, `${source} should not parse`);
  const { message, position, line, column } = parsed.error;
  return { message, position, line, column };
}

test('variables read the request, the requester and the resources', () => {
  assert.deepEqual(value('access_request.spec.roles'), new Set(['access', 'editor']));
  assert.deepEqual(value('access_request.spec.suggested_reviewers'), new Set(['carol@example.com']));
  assert.equal(value('access_request.spec.user'), 'alice@example.com');
  assert.equal(value('access_request.spec.request_reason'), 'deploy "hotfix"\n2');
  assert.deepEqual(value('access_request.spec.creation_time'), new Date('2025-03-07T18:00:00Z'));
  assert.deepEqual(value('access_request.spec.expiry'), new Date('2025-03-08T18:00:00Z'));
  assert.deepEqual(value('access_request.spec.system_annotations["pagerduty_services"]'), new Set(['svc-a', 'svc-b']));
  assert.deepEqual(value('access_request.spec.resource_labels_intersection["env"]'), new Set(['prod']));
  assert.deepEqual(value('access_request.spec.resource_labels_union["team"]'), new Set(['db', 'web']));
  assert.deepEqual(value('user.traits["team"]'), new Set(['sre', 'dev']));
  // A missing key is an empty set (upstream's Dict), including names of Object.prototype members.
  assert.deepEqual(value('user.traits["nope"]'), new Set());
  assert.deepEqual(value('user.traits["constructor"]'), new Set());
  assert.ok(value('user.traits') instanceof Map);
});

test('set() builds sets, with zero or more strings', () => {
  assert.deepEqual(value('set()'), new Set());
  assert.deepEqual(value('set("a")'), new Set(['a']));
  assert.deepEqual(value('set("a", "b", "a")'), new Set(['a', 'b']));
});

test('contains(set, string) and the .contains method', () => {
  is('contains(access_request.spec.roles, "access")', true);
  is('contains(access_request.spec.roles, "root")', false);
  is('contains(user.traits["team"], "sre")', true);
  is('contains(set(), "x")', false);
  is('access_request.spec.roles.contains("editor")', true);
  is('user.traits["team"].contains("ops")', false);
  is('set("a", "b").contains("b")', true);
  is('!access_request.spec.roles.contains("root")', true); // ! applies to the whole call
  is('!access_request.spec.roles.contains("access") || false', false);
});

test('contains_any(set, set): any element of the second is in the first', () => {
  is('contains_any(user.traits["team"], set("sre"))', true);
  is('contains_any(user.traits["team"], set("ops", "dev"))', true);
  is('contains_any(user.traits["team"], set("ops"))', false);
  is('contains_any(user.traits["team"], set())', false);
  is('contains_any(set(), set("sre"))', false);
});

test('contains_all(set, set): every element of the second is in the first, and the second is not empty (upstream)', () => {
  is('contains_all(access_request.spec.roles, set("access"))', true);
  is('contains_all(access_request.spec.roles, set("access", "editor"))', true);
  is('contains_all(access_request.spec.roles, set("access", "root"))', false);
  is('contains_all(access_request.spec.roles, set())', false);
  // The spec's example reads the other way round: the requested roles all lie within set("access").
  is('contains_all(set("access"), access_request.spec.roles)', false);
  is('contains_all(set("access", "editor", "x"), access_request.spec.roles)', true);
});

test('is_empty() on sets, maps and strings', () => {
  is('is_empty(set())', true);
  is('is_empty(access_request.spec.roles)', false);
  is('is_empty(user.traits["nope"])', true);
  is('is_empty(access_request.spec.system_annotations["empty"])', true);
  is('is_empty(access_request.spec.request_reason)', false);
  is('is_empty("")', true);
  is('is_empty(user.traits)', false);
  is('is_empty(access_request.spec.resource_labels_intersection)', false);
});

test('== and != on strings, booleans, sets and times', () => {
  is('access_request.spec.user == "alice@example.com"', true);
  is('access_request.spec.user != "alice@example.com"', false);
  is('access_request.spec.user == "bob@example.com"', false);
  is('"a" != "b"', true);
  is('true == true', true);
  is('true == false', false);
  is('access_request.spec.roles == set("editor", "access")', true);
  is('access_request.spec.roles == set("editor")', false);
  is('user.traits["team"] != set("dev", "sre")', false);
  is('access_request.spec.creation_time == access_request.spec.creation_time', true);
  is('access_request.spec.creation_time == access_request.spec.expiry', false);
  is('("1" == "1")', true);
});

test('!, && and || with short-circuit evaluation', () => {
  is('!false', true);
  is('!true', false);
  is('!!true', true);
  is('true && true', true);
  is('true && false', false);
  is('false || true', true);
  is('false || false', false);
  // The right side would fail (traits not known) but is never evaluated.
  const noTraits: ConditionContext = { ...CTX, userTraits: undefined };
  is('false && contains(user.traits["team"], "sre")', false, noTraits);
  is('true || contains(user.traits["team"], "sre")', true, noTraits);
  const needsTraits = parseCondition('true && contains(user.traits["team"], "sre")');
  assert.ok(needsTraits.ok);
  assert.deepEqual(evaluateCondition(needsTraits.condition, noTraits), { ok: false, error: "the requester's traits are not known" });
});

test("precedence is Go's: ! over ==, == over &&, && over ||; parentheses override", () => {
  is('true || false && false', true); // true || (false && false)
  is('(true || false) && false', false);
  is('false && false || true', true); // (false && false) || true
  is('false && (false || true)', false);
  is('!false == true', true); // (!false) == true
  is('!(false == true)', true);
  is('!true == false', true); // (!true) == false
  is('"a" == "a" && "b" == "c"', false); // ("a" == "a") && ("b" == "c")
  is('"a" == "b" || "c" == "c"', true);
  is('true == false == false', true); // (true == false) == false
  is('!(true && false) && !(false || false)', true);
});

test('string literals: escapes, raw strings, unicode, whitespace and newlines between tokens', () => {
  assert.equal(value('"tab\\there"'), 'tab\there');
  assert.equal(value('"quote \\" backslash \\\\"'), 'quote " backslash \\');
  assert.equal(value('"\\n\\r\\a\\b\\f\\v"'), '\n\r\x07\b\f\v');
  assert.equal(value('"\\x41\\u00e9\\U0001F600\\101"'), 'A\u00e9\u{1F600}A');
  assert.equal(value('"héllo ☃"'), 'héllo ☃');
  assert.equal(value('`raw \\n "quotes"`'), 'raw \\n "quotes"');
  is('access_request.spec.request_reason == "deploy \\"hotfix\\"\\n2"', true);
  is('\n  contains_all(set("access", "editor"), access_request.spec.roles) &&\n\tcontains_any(user.traits["team"], set("sre"))\n', true);
  assert.deepEqual(
    tokenize('a.b("x")').map((t) => [t.kind, t.text, t.pos]),
    [
      ['ident', 'a', 0],
      ['.', '.', 1],
      ['ident', 'b', 2],
      ['(', '(', 3],
      ['string', 'x', 4],
      [')', ')', 7],
      ['eof', '', 8],
    ],
  );
});

test('a condition that is not boolean still evaluates (callers count it as false)', () => {
  const parsed = parseCondition('access_request.spec.roles');
  assert.ok(parsed.ok);
  assert.equal(parsed.condition.type, 'set');
  const str = parseCondition('"x"');
  assert.ok(str.ok);
  assert.equal(str.condition.type, 'string');
});

test('bad conditions: a plain message and where', () => {
  const cases: Array<[string, string, number]> = [
    ['', 'the condition is empty', 0],
    ['   ', 'the condition is empty', 0],
    ['contains(access_request.spec.roles, "x)', 'unterminated string literal', 36],
    ['"abc', 'unterminated string literal', 0],
    ['"a\nb"', 'unterminated string literal', 0],
    ['`raw', 'unterminated string literal', 0],
    ['"bad \\q escape"', 'unknown escape sequence "\\q"', 5],
    ['"\\x4"', 'invalid escape sequence "\\x4""', 1],
    ["contains(access_request.spec.roles, 'x')", 'single quotes do not delimit strings; use "..."', 36],
    ['foo("x")', 'unknown function "foo"', 0],
    ['true && regexp.match("x", "y")', 'unknown function "regexp.match"', 8],
    ['access_request.spec.roles.add("x")', 'unknown function "access_request.spec.roles.add"', 0],
    ['user.traits["a"].add("x")', 'unknown method "add"', 17],
    ['contains(access_request.spec.roles)', 'contains takes 2 arguments, got 1', 0],
    ['contains_any(set("a"), set("b"), set("c"))', 'contains_any takes 2 arguments, got 3', 0],
    ['is_empty()', 'is_empty takes 1 argument, got 0', 0],
    ['access_request.spec.rolez', 'unknown variable "access_request.spec.rolez"', 0],
    ['user.name == "x"', 'unknown variable "user.name"', 0],
    ['contains(access_request.spec.user, "x")', 'contains: argument 1 must be a set, got string', 9],
    ['contains(access_request.spec.roles, set("x"))', 'contains: argument 2 must be a string, got set', 36],
    ['set(access_request.spec.roles)', 'set: argument 1 must be a string, got set', 4],
    ['is_empty(true)', 'is_empty: argument 1 must be a set or a map or a string, got boolean', 9],
    ['access_request.spec.user == set("x")', 'cannot compare string with set using ==', 25],
    ['access_request.spec.roles && true', 'operator && needs boolean operands, got set', 0],
    ['true || "x"', 'operator || needs boolean operands, got string', 8],
    ['!access_request.spec.user', 'operator ! needs a boolean, got string', 0],
    ['access_request.spec.roles["x"]', 'only maps can be indexed, got set', 25],
    ['user.traits[true]', 'a map key must be a string, got boolean', 12],
    ['user.traits["a"', 'expected "]" to close the index, got the end of the condition', 15],
    ['(true', 'expected ")" to close the "(" at line 1, column 1, got the end of the condition', 5],
    ['contains(set("a"), "a"', 'expected ")" to close the call to contains, got the end of the condition', 22],
    ['true true', 'unexpected "true" after the end of the expression', 5],
    ['true &&', 'unexpected end of the condition', 7],
    ['true & false', 'unexpected "&" (did you mean "&&"?)', 5],
    ['true | false', 'unexpected "|" (did you mean "||"?)', 5],
    ['"a" = "a"', 'unexpected "=" (did you mean "=="?)', 4],
    ['1 == 1', 'numbers are not supported in conditions', 0],
    ['true && $x', 'unexpected character "$"', 8],
    [')', 'unexpected ")"', 0],
    ['user.traits.', 'expected a name after ".", got the end of the condition', 12],
    ['set("a").size', 'unexpected field "size" (only methods such as .contains(...) follow an expression)', 9],
    ['contains(,)', 'unexpected ","', 9],
  ];
  for (const [source, message, position] of cases) {
    const err = parseError(source);
    assert.equal(err.message, message, `message for ${JSON.stringify(source)}`);
    assert.equal(err.position, position, `position for ${JSON.stringify(source)}: ${err.message}`);
  }
});

test('positions are also given as line and column for multi-line conditions', () => {
  const err = parseError('contains_all(set("access"), access_request.spec.roles) &&\n  contains_any(user.traits["team"], sett("sre"))');
  assert.equal(err.message, 'unknown function "sett"');
  assert.equal(err.line, 2);
  assert.equal(err.column, 37);
  const parsed = parseCondition('true &&\n\n   bogus');
  assert.ok(!parsed.ok);
  assert.equal(parsed.error.describe(), 'line 3, column 4: unknown variable "bogus"');
});

test('deep nesting is refused with an error, not a stack overflow', () => {
  const deep = '('.repeat(5000) + 'true' + ')'.repeat(5000);
  assert.equal(parseError(deep).message, 'the condition is nested too deeply');
  const bangs = '!'.repeat(5000) + 'true';
  assert.equal(parseError(bangs).message, 'the condition is nested too deeply');
  is('((((((((((true))))))))))', true);
});

test('evaluation problems come back as results, never as exceptions', () => {
  const cases: Array<[string, Partial<ConditionContext>, string]> = [
    ['contains(user.traits["team"], "sre")', { userTraits: undefined }, "the requester's traits are not known"],
    ['is_empty(access_request.spec.resource_labels_union)', { resourceLabelsUnion: undefined }, 'the labels of the requested resources are not known'],
    ['is_empty(access_request.spec.resource_labels_intersection["env"])', { resourceLabelsIntersection: undefined }, 'the labels of the requested resources are not known'],
    ['access_request.spec.creation_time == access_request.spec.creation_time', { creationTime: undefined }, 'the request creation time is not known'],
    ['access_request.spec.expiry == access_request.spec.expiry', { expiry: undefined }, 'the request expiry is not known'],
  ];
  for (const [source, patch, error] of cases) {
    const parsed = parseCondition(source);
    assert.ok(parsed.ok, source);
    assert.deepEqual(evaluateCondition(parsed.condition, { ...CTX, ...patch }), { ok: false, error }, source);
  }
  // A context that lies about its types (built from untyped data) fails softly too.
  const parsed = parseCondition('contains(access_request.spec.roles, "x")');
  assert.ok(parsed.ok);
  const bad = evaluateCondition(parsed.condition, { ...CTX, roles: 42 as unknown as string[] });
  assert.equal(bad.ok, false);
});

test('the source is never executed as code', () => {
  for (const source of ['process.exit(1)', 'constructor.constructor("return process")()', '__proto__', 'this', 'toString', 'hasOwnProperty("x")', 'constructor']) {
    const parsed = parseCondition(source);
    assert.equal(parsed.ok, false, source);
  }
});
