/**
 * Why a condition does not compile: a plain message and where (0-based offset into the source,
 * plus 1-based line and column, since conditions are often multi-line YAML blocks).
 */
export class ConditionError extends Error {
  override readonly name = 'ConditionError';
  readonly line: number;
  readonly column: number;

  constructor(
    message: string,
    readonly position: number,
    source: string,
  ) {
    super(message);
    const before = source.slice(0, Math.max(0, position));
    const lastBreak = before.lastIndexOf('\n');
    this.line = before.split('\n').length;
    this.column = position - (lastBreak + 1) + 1;
  }

  /** `line 2, column 5: unknown function "foo"`. */
  describe(): string {
    return `line ${this.line}, column ${this.column}: ${this.message}`;
  }
}
