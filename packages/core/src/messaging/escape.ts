/**
 * Upstream's escaping of free text in chat messages (`accessrequest/message.go`): trimmed, empty
 * shown as `(empty)`, wrapped in a code block (or span), each backtick followed by a zero-width
 * no-break space so it cannot close the block (counting double), cut at `limit` runes with
 * ` (truncated)`.
 */
export function escapeBlock(text: string, limit: number): string {
  return escape(text, limit, '```\n', '```', '``` (truncated)');
}

/** Inline code span (roles, logins, resources). */
export function escapeInline(text: string, limit: number): string {
  return escape(text, limit, '`', '`', '` (truncated)');
}

function escape(text: string, limit: number, open: string, close: string, truncated: string): string {
  const trimmed = text.trim();
  if (trimmed === '') return '(empty)';
  let out = open;
  let count = 0;
  for (const rune of trimmed) {
    if (count >= limit) return out + truncated;
    if (rune === '`') {
      out += '`\ufeff';
      count += 2;
    } else {
      out += rune;
      count += 1;
    }
  }
  return out + close;
}

/** At most `limit` runes of `text`, with `suffix` when cut (never splits a surrogate pair). */
export function truncateRunes(text: string, limit: number, suffix = ' (truncated)'): string {
  const runes = [...text];
  if (runes.length <= limit) return text;
  return runes.slice(0, Math.max(0, limit)).join('') + suffix;
}
