/**
 * Line numbers of TOML keys and table headers. smol-toml returns plain values without
 * positions, so this small scanner walks the (already validated) source once and records where
 * every dotted key path was written, letting config errors point at `plugin.toml:7`.
 * It is forgiving by design: on anything unexpected it stops and keeps what it found.
 */
export class KeyPositions {
  private readonly lines = new Map<string, number>();

  static scan(text: string): KeyPositions {
    const positions = new KeyPositions();
    try {
      new Scanner(text, positions).run();
    } catch {
      // Positions are a courtesy; a scanner gap must never break loading.
    }
    return positions;
  }

  /** 1-based line of the key (or table header) at `path`, if it was written explicitly. */
  line(path: readonly string[]): number | undefined {
    return this.lines.get(pathKey(path));
  }

  record(path: readonly string[], line: number): void {
    const key = pathKey(path);
    if (!this.lines.has(key)) this.lines.set(key, line);
  }
}

function pathKey(path: readonly string[]): string {
  return path.join('\u0000');
}

const BARE_KEY = /[A-Za-z0-9_-]/;

class Scanner {
  private i = 0;
  private line = 1;
  private table: string[] = [];
  private readonly arrayCounts = new Map<string, number>();

  constructor(
    private readonly text: string,
    private readonly out: KeyPositions,
  ) {}

  run(): void {
    for (;;) {
      this.skipBlank(true);
      if (this.i >= this.text.length) return;
      const c = this.text[this.i];
      if (c === '[') this.header();
      else this.keyValue(this.table);
    }
  }

  private header(): void {
    const line = this.line;
    this.i++;
    const isArray = this.text[this.i] === '[';
    if (isArray) this.i++;
    this.skipBlank(false);
    const path = this.key();
    this.skipBlank(false);
    this.i += isArray ? 2 : 1;
    if (isArray) {
      const id = pathKey(path);
      const index = this.arrayCounts.get(id) ?? 0;
      this.arrayCounts.set(id, index + 1);
      this.out.record(path, line);
      this.table = [...path, String(index)];
    } else {
      this.table = path;
    }
    this.out.record(this.table, line);
  }

  private keyValue(base: string[]): void {
    const line = this.line;
    const key = this.key();
    this.skipBlank(false);
    if (this.text[this.i] !== '=') throw new Error('expected =');
    this.i++;
    const path = [...base, ...key];
    // Intermediate tables of a dotted key (`a.b = 1` defines table `a`) take the same line.
    for (let n = base.length + 1; n <= path.length; n++) this.out.record(path.slice(0, n), line);
    this.skipBlank(false);
    this.value(path);
  }

  private key(): string[] {
    const parts: string[] = [];
    for (;;) {
      this.skipBlank(false);
      const c = this.text[this.i];
      if (c === '"') parts.push(this.basicString());
      else if (c === "'") parts.push(this.literalString());
      else {
        const start = this.i;
        while (this.i < this.text.length && BARE_KEY.test(this.text[this.i] ?? '')) this.i++;
        if (this.i === start) throw new Error('expected key');
        parts.push(this.text.slice(start, this.i));
      }
      this.skipBlank(false);
      if (this.text[this.i] !== '.') return parts;
      this.i++;
    }
  }

  private value(path: string[]): void {
    const t = this.text;
    if (t.startsWith('"""', this.i)) return this.multiline('"""', true);
    if (t.startsWith("'''", this.i)) return this.multiline("'''", false);
    const c = t[this.i];
    if (c === '"') {
      this.basicString();
      return;
    }
    if (c === "'") {
      this.literalString();
      return;
    }
    if (c === '[') {
      this.i++;
      let index = 0;
      for (;;) {
        this.skipBlank(true);
        if (t[this.i] === ']') {
          this.i++;
          return;
        }
        this.value([...path, String(index++)]);
        this.skipBlank(true);
        if (t[this.i] === ',') this.i++;
      }
    }
    if (c === '{') {
      this.i++;
      for (;;) {
        this.skipBlank(true);
        if (t[this.i] === '}') {
          this.i++;
          return;
        }
        this.keyValue(path);
        this.skipBlank(true);
        if (t[this.i] === ',') this.i++;
      }
    }
    // Scalars (numbers, booleans, dates: a date may contain a space) run to a delimiter.
    const start = this.i;
    while (this.i < t.length && !',]}\n#'.includes(t[this.i] ?? '')) this.i++;
    if (this.i === start) throw new Error('expected value');
  }

  private basicString(): string {
    const start = this.i;
    this.i++;
    while (this.i < this.text.length && this.text[this.i] !== '"') {
      if (this.text[this.i] === '\\') this.i++;
      this.i++;
    }
    this.i++;
    const raw = this.text.slice(start, this.i);
    try {
      return JSON.parse(raw) as string;
    } catch {
      return raw.slice(1, -1);
    }
  }

  private literalString(): string {
    const start = ++this.i;
    while (this.i < this.text.length && this.text[this.i] !== "'") this.i++;
    return this.text.slice(start, this.i++);
  }

  private multiline(quote: string, escapes: boolean): void {
    this.i += 3;
    while (this.i < this.text.length && !this.text.startsWith(quote, this.i)) {
      if (escapes && this.text[this.i] === '\\') this.i++;
      if (this.text[this.i] === '\n') this.line++;
      this.i++;
    }
    this.i += 3;
    // A closing run may carry up to two extra quote characters that belong to the content.
    while (this.text[this.i] === quote[0]) this.i++;
  }

  /** Skips spaces, tabs and comments; newlines too when `newlines`. */
  private skipBlank(newlines: boolean): void {
    const t = this.text;
    while (this.i < t.length) {
      const c = t[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '#') {
        while (this.i < t.length && t[this.i] !== '\n') this.i++;
      } else if (c === '\n' && newlines) {
        this.line++;
        this.i++;
      } else return;
    }
  }
}
