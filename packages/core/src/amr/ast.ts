import type { ValueType } from './vocabulary.js';

/** A parsed, type-checked condition node. `pos` is the 0-based offset it starts at. */
export type ConditionNode =
  | { kind: 'literal'; pos: number; type: 'string' | 'bool'; value: string | boolean }
  | { kind: 'variable'; pos: number; type: ValueType; name: string }
  | { kind: 'index'; pos: number; type: 'set'; target: ConditionNode; key: ConditionNode }
  | { kind: 'call'; pos: number; type: ValueType; fn: string; args: ConditionNode[] }
  | { kind: 'not'; pos: number; type: 'bool'; operand: ConditionNode }
  | { kind: 'binary'; pos: number; type: 'bool'; op: '&&' | '||' | '==' | '!='; left: ConditionNode; right: ConditionNode };
