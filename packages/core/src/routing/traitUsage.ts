import type { ConditionNode } from '../amr/ast.js';
import { parseCondition } from '../amr/parseCondition.js';

/** Which traits of the requester a condition reads. */
export interface TraitUsage {
  /** Literal keys read as `user.traits["key"]`. */
  keys: ReadonlySet<string>;
  /** The map is read as a whole, or with a computed key: every trait is needed. */
  whole: boolean;
}

const NONE: TraitUsage = { keys: new Set(), whole: false };
const cache = new Map<string, TraitUsage>();

/**
 * What a condition reads of `user.traits`, so the requester is looked up only when a rule needs
 * it, and adapter facts (which are read as traits) are computed only for the rules that read
 * them. A condition that does not parse reads nothing (it never matches anyway).
 */
export function traitUsage(condition: string): TraitUsage {
  const hit = cache.get(condition);
  if (hit) return hit;
  const parsed = parseCondition(condition);
  let usage = NONE;
  if (parsed.ok) {
    const keys = new Set<string>();
    let whole = false;
    const walk = (node: ConditionNode, parent?: ConditionNode): void => {
      switch (node.kind) {
        case 'variable':
          if (node.name === 'user.traits') {
            const key = parent?.kind === 'index' && parent.target === node ? parent.key : undefined;
            if (key?.kind === 'literal' && typeof key.value === 'string') keys.add(key.value);
            else whole = true;
          }
          return;
        case 'literal':
          return;
        case 'index':
          walk(node.target, node);
          walk(node.key, node);
          return;
        case 'call':
          for (const arg of node.args) walk(arg, node);
          return;
        case 'not':
          walk(node.operand, node);
          return;
        case 'binary':
          walk(node.left, node);
          walk(node.right, node);
          return;
      }
    };
    walk(parsed.condition.root);
    usage = { keys, whole };
  }
  if (cache.size > 5_000) cache.clear();
  cache.set(condition, usage);
  return usage;
}
