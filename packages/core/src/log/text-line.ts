import { rfc3339 } from '../ledger/fields.js';

/**
 * The `text` log format: `2026-11-25T12:00:00Z INFO message key=value ...`, one line per entry.
 * Values that would break `key=value` parsing (spaces, quotes, `=`, newlines) are JSON-quoted.
 */
export function formatTextLine(time: Date, level: string, message: string, fields: Record<string, unknown>): string {
  let line = `${rfc3339(time)} ${level.toUpperCase()} ${oneLine(message)}`;
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    line += ` ${key}=${formatValue(value)}`;
  }
  return line;
}

function oneLine(text: string): string {
  return text.includes('\n') ? text.replace(/\r?\n/g, '\\n') : text;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=\\]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value instanceof Date) return rfc3339(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return JSON.stringify(String(value));
  }
}
