/**
 * `teleport-plugin configure --plugin a --plugin b`: joins the adapters' commented example configs
 * into one file. Tables that several adapters print (core's `[http]` for Jira and GitLab,
 * `[role_to_recipients]` for Slack, Mattermost and email) would be duplicate TOML tables, which
 * no parser accepts; they are merged here:
 *
 * - `[role_to_recipients]`: one shared table (the first adapter's), with a comment saying who
 *   shares it; an adapter whose example routes to other recipients (Mattermost's team/channel,
 *   email's addresses) keeps them in its own `[<adapter>.role_to_recipients]`, which replaces the
 *   shared table for that adapter. A table identical to the shared one is dropped.
 * - any other shared table (`[http]`): one table, the first adapter's keys and comments, plus the
 *   keys (with their comments) only later adapters set; for a key set twice the first value wins.
 *
 * Works on the example text line by line: a table runs from its header to the next one, and the
 * comment paragraph right above a header belongs to that table.
 */

interface Chunk {
  /** The table's name (`http`, `slack.review`), or undefined for the lines before any header. */
  table: string | undefined;
  lines: string[];
}

interface Part {
  adapter: string;
  chunks: Chunk[];
}

const HEADER = /^\[([A-Za-z0-9_.\-"]+)\]\s*(#.*)?$/;
const RECIPIENTS = 'role_to_recipients';

/** Splits one example config into tables; comments directly above a header go with that table. */
export function splitTables(text: string): Chunk[] {
  const chunks: Chunk[] = [{ table: undefined, lines: [] }];
  for (const line of text.replace(/\s+$/, '').split('\n')) {
    const header = HEADER.exec(line);
    if (!header) {
      chunks.at(-1)!.lines.push(line);
      continue;
    }
    const previous = chunks.at(-1)!.lines;
    let start = previous.length;
    while (start > 0 && previous[start - 1]!.startsWith('#')) start--;
    const attached = previous.splice(start);
    chunks.push({ table: header[1]!.replace(/"/g, ''), lines: [...attached, line] });
  }
  return chunks.filter((c) => c.table !== undefined || c.lines.some((l) => l.trim() !== ''));
}

/** The key a `key = value` line sets (quotes removed), or undefined for comments and blanks. */
function keyOf(line: string): string | undefined {
  const m = /^\s*("[^"]*"|[A-Za-z0-9_-]+)\s*=/.exec(line);
  return m ? m[1]!.replace(/"/g, '') : undefined;
}

/** The non-comment, non-blank lines of a table: what makes two tables "the same". */
function body(chunk: Chunk): string {
  return chunk.lines
    .filter((l) => !HEADER.test(l) && l.trim() !== '' && !l.trim().startsWith('#'))
    .map((l) =>
      l
        .replace(/\s+#.*$/, '')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .join('\n');
}

function rootOf(table: string): string {
  return table.split('.')[0]!;
}

function listNames(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)!}`;
}

/** Merges the adapters' example configs (in order) into one text without duplicate tables. */
export function mergeExampleConfigs(examples: ReadonlyArray<{ adapter: string; text: string }>): string {
  const parts: Part[] = examples.map(({ adapter, text }) => ({ adapter, chunks: splitTables(text) }));
  // Which adapters print each table not named after one of them.
  const users = new Map<string, string[]>();
  for (const part of parts) {
    for (const chunk of part.chunks) {
      if (chunk.table === undefined) continue;
      const list = users.get(chunk.table) ?? [];
      if (!list.includes(part.adapter)) list.push(part.adapter);
      users.set(chunk.table, list);
    }
  }
  const shared = new Set([...users].filter(([, list]) => list.length > 1).map(([table]) => table));
  if (shared.size === 0) return examples.map((e) => e.text.trimEnd() + '\n').join('\n');

  const first = new Map<string, Chunk>();
  const own = new Map<string, string[]>(); // table -> adapters that got their own copy
  for (const part of parts) {
    const kept: Chunk[] = [];
    for (const chunk of part.chunks) {
      const table = chunk.table;
      if (table === undefined || !shared.has(table)) {
        kept.push(chunk);
        continue;
      }
      const existing = first.get(table);
      if (existing === undefined) {
        const copy = { table, lines: [...chunk.lines] };
        first.set(table, copy);
        kept.push(copy);
        continue;
      }
      if (table === RECIPIENTS) {
        if (body(chunk) === body(existing)) continue;
        const header = chunk.lines.findIndex((l) => HEADER.test(l));
        const lines = [...chunk.lines];
        lines[header] = `[${part.adapter}.${RECIPIENTS}]`;
        lines.unshift(`# ${part.adapter}'s own recipients: for ${part.adapter}, this table replaces [${RECIPIENTS}].`);
        kept.push({ table: `${part.adapter}.${RECIPIENTS}`, lines });
        own.set(table, [...(own.get(table) ?? []), part.adapter]);
        continue;
      }
      // Keys only this adapter sets join the first table, each with the comments right above it.
      const present = new Set(existing.lines.map(keyOf).filter((k): k is string => k !== undefined));
      let pending: string[] = [];
      for (const line of chunk.lines) {
        if (HEADER.test(line)) continue;
        if (line.trim() === '') {
          pending = [];
          continue;
        }
        const key = keyOf(line);
        if (key === undefined) {
          pending.push(line);
          continue;
        }
        if (!present.has(key)) {
          existing.lines.push(...pending, line);
          present.add(key);
        } else {
          // Set by both: the first value stays; this adapter's explanation joins the first's.
          const at = existing.lines.findIndex((l) => keyOf(l) === key);
          const fresh = pending.filter((c) => !existing.lines.includes(c));
          existing.lines.splice(at, 0, ...fresh);
        }
        pending = [];
      }
    }
    part.chunks = kept;
  }

  for (const [table, chunk] of first) {
    const sharers = users.get(table)!;
    const note =
      rootOf(table) === RECIPIENTS
        ? [
            `# Shared by ${listNames(sharers)}: who is told about each request, by requested role ("*" for`,
            `# the rest).${own.has(table) ? ` ${listNames(own.get(table)!)} ${own.get(table)!.length === 1 ? 'has its' : 'have their'} own table below, which replaces this one for ${own.get(table)!.length === 1 ? 'it' : 'them'}.` : ''}`,
          ]
        : rootOf(table) === 'http'
          ? [`# Shared by ${listNames(sharers)}: one HTTP server for all of them (each adapter's webhook under`, '# /<adapter>/, plus /healthz, /readyz and /metrics).']
          : [`# Shared by ${listNames(sharers)}.`];
    chunk.lines.unshift(...note);
  }

  return parts
    .map(
      (p) =>
        p.chunks
          .map((c) => c.lines.join('\n'))
          .join('\n')
          .replace(/\n{3,}/g, '\n\n')
          .trimEnd() + '\n',
    )
    .join('\n');
}
