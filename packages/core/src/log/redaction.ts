/**
 * Secret redaction for every log line. Config secrets register themselves here when read
 * (ConfigSection.secret), so a token that reaches a message or a field by accident, e.g. inside
 * a vendor error text or a URL, is still never written out.
 */
export const REDACTED = '[redacted]';

/**
 * Field names whose string values are always hidden. `_file`/`path` keys name where a secret
 * lives, not the secret, so they stay readable.
 */
const SECRET_FIELD = /(token|password|passwd|secret|api_?key|private_?key|authorization|credential|cookie)/i;
const SECRET_LOCATION_FIELD = /(_file|file|path)$/i;

// Shorter values would blank out ordinary words in unrelated log lines.
const MIN_SECRET_LENGTH = 4;

const secrets = new Set<string>();
let ordered: string[] = [];

export function registerSecret(value: string | undefined): void {
  if (value === undefined) return;
  const trimmed = value.trim();
  if (trimmed.length < MIN_SECRET_LENGTH || secrets.has(trimmed)) return;
  secrets.add(trimmed);
  // Longest first, so a secret that contains another is replaced whole.
  ordered = [...secrets].sort((a, b) => b.length - a.length);
}

function isSecretFieldName(name: string): boolean {
  return SECRET_FIELD.test(name) && !SECRET_LOCATION_FIELD.test(name);
}

export function redactString(text: string): string {
  let out = text;
  for (const secret of ordered) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

const MAX_DEPTH = 6;

/** A copy of `value` with secrets replaced; Errors become `{ message, code }` plain objects. */
function redactValue(value: unknown, fieldName?: string, depth = 0): unknown {
  if (typeof value === 'string') {
    return fieldName !== undefined && isSecretFieldName(fieldName) && value !== '' ? REDACTED : redactString(value);
  }
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[…]';
  if (value instanceof Date) return value;
  if (value instanceof Error) {
    const out: Record<string, unknown> = { message: redactString(value.message) };
    const code = (value as { code?: unknown }).code;
    if (typeof code === 'string' || typeof code === 'number') out['code'] = code;
    return out;
  }
  if (Buffer.isBuffer(value)) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, fieldName, depth + 1));
  if (value instanceof Map) return redactValue(Object.fromEntries(value), fieldName, depth);
  if (value instanceof Set) return redactValue([...value], fieldName, depth);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = redactValue(v, k, depth + 1);
  return out;
}

export function redactFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    out[k] = redactValue(v, k);
  }
  return out;
}
