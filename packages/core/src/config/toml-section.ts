import * as fs from 'node:fs';
import * as path from 'node:path';
import { PluginError, errorMessage } from '../errors.js';
import { registerSecret } from '../log/redaction.js';
import { parseDuration } from './duration.js';
import type { KeyPositions } from './key-positions.js';
import type { ConfigSection, SecretOptions, StringOptions } from './section.js';
import { nearest } from './suggest.js';

type TomlTable = Record<string, unknown>;

/** What every section of one file shares. */
export interface SectionHost {
  /** The file as the user named it (shown in messages). */
  readonly file: string;
  readonly positions: KeyPositions;
  readonly env: NodeJS.ProcessEnv;
  /** Relative `*_file` paths resolve against this (the Go plugins used the working directory). */
  readonly cwd: string;
  warn(message: string): void;
}

/** A key nobody read, with a likely intended spelling. */
export interface UnknownKey {
  /** Dotted path, e.g. `slack.tokn`. */
  path: string;
  line: number | undefined;
  suggestion: string | undefined;
  isTable: boolean;
}

// Starts of `expected` texts that already read as a full statement.
const STATEMENT = /^(expected|must|requires?|required|cannot|can't|conflicts|is|are|set|use|unknown|not|only|invalid|missing|needs?|should|has|have)\b/i;

/**
 * ConfigSection over one parsed TOML table. Every lookup (found or not) is recorded, so after
 * all adapters have parsed their sections, whatever nobody asked for is reported as unknown
 * with the closest key that was asked for.
 */
export class TomlSection implements ConfigSection {
  readonly path: string;
  private readonly queried = new Set<string>();
  private readonly secretKeys = new Set<string>();
  private readonly children = new Map<string, TomlSection>();
  /** Set by stringListMap: the whole table is free-form data, every key in it counts as read. */
  private wholeTableRead = false;

  constructor(
    private readonly host: SectionHost,
    readonly parts: readonly string[],
    private readonly table: TomlTable | undefined,
  ) {
    this.path = parts.join('.');
  }

  get file(): string {
    return this.host.file;
  }

  get present(): boolean {
    return this.table !== undefined;
  }

  has(key: string): boolean {
    this.queried.add(key);
    return this.table !== undefined && this.table[key] !== undefined;
  }

  keys(): string[] {
    return this.table === undefined ? [] : Object.keys(this.table);
  }

  /** The raw value (marks the key read). */
  raw(key: string): unknown {
    this.queried.add(key);
    return this.table?.[key];
  }

  string(key: string, options: StringOptions = {}): string | undefined {
    const found = this.lookup(key, options.aliases, options.deprecated);
    if (found === undefined) return options.default;
    if (typeof found.value !== 'string') throw this.typeError(found.key, 'a string', options.description);
    return found.value;
  }

  requireString(key: string, options: StringOptions = {}): string {
    const value = this.string(key, options);
    if (value === undefined || value.trim() === '') throw this.missing(key, 'a string', options.description);
    return value;
  }

  secret(key: string, options: SecretOptions = {}): string | undefined {
    const names = [key, ...(options.aliases ?? [])];
    const found = this.lookup(key, options.aliases);
    const fileKeys = names.map((n) => `${n}_file`);
    const fileFound = this.lookupAny(fileKeys);
    for (const n of names) this.secretKeys.add(n);

    if (found !== undefined && fileFound !== undefined && found.value !== '') {
      throw this.errorAt(fileFound.key, `cannot be combined with ${found.key}: set one or the other`);
    }

    let value: string | undefined;
    if (fileFound !== undefined) {
      if (typeof fileFound.value !== 'string' || fileFound.value === '') {
        throw this.typeError(fileFound.key, 'a file path', `a file holding ${options.description ?? key}`);
      }
      value = this.readSecretFile(fileFound.key, fileFound.value);
    } else if (found !== undefined) {
      if (typeof found.value !== 'string') throw this.typeError(found.key, 'a string', options.description);
      value = this.resolveSecret(found.key, found.value);
    }

    if (value === undefined || value === '') {
      if (options.required === true) throw this.missing(key, 'a string', options.description, `or ${key}_file`);
      return undefined;
    }
    registerSecret(value);
    return value;
  }

  bool(key: string, defaultValue: boolean): boolean {
    const found = this.lookup(key);
    if (found === undefined) return defaultValue;
    if (typeof found.value !== 'boolean') throw this.typeError(found.key, 'true or false');
    return found.value;
  }

  integer(key: string, options: { default?: number; min?: number; max?: number } = {}): number | undefined {
    const found = this.lookup(key);
    if (found === undefined) return options.default;
    const v = found.value;
    const { min, max } = options;
    const range = min !== undefined && max !== undefined ? ` between ${min} and ${max}` : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : '';
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.typeError(found.key, `an integer${range}`);
    if ((min !== undefined && v < min) || (max !== undefined && v > max)) {
      throw this.errorAt(found.key, `expected an integer${range}, got ${v}`);
    }
    return v;
  }

  duration(key: string, defaultMs: number): number {
    const found = this.lookup(key);
    if (found === undefined) return defaultMs;
    const v = found.value;
    const expected = 'a duration such as "30s", "1m30s" or "2h" (or a number of seconds)';
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v * 1000;
    if (typeof v === 'string') {
      const ms = parseDuration(v);
      if (ms !== undefined) return ms;
      throw this.errorAt(found.key, `expected ${expected}, got ${JSON.stringify(v)}`);
    }
    throw this.typeError(found.key, expected);
  }

  stringList(key: string, options: { aliases?: string[]; deprecated?: string } = {}): string[] | undefined {
    const found = this.lookup(key, options.aliases, options.deprecated);
    if (found === undefined) return undefined;
    const list = asStringList(found.value);
    if (list === undefined) throw this.typeError(found.key, 'a string or an array of strings');
    return list;
  }

  oneOf<T extends string>(key: string, values: readonly T[], defaultValue: T): T {
    const found = this.lookup(key);
    if (found === undefined) return defaultValue;
    const listed = listWords(
      values.map((v) => JSON.stringify(v)),
      'or',
    );
    if (typeof found.value !== 'string') throw this.typeError(found.key, `one of ${listed}`);
    if (found.value.trim() === '') return defaultValue;
    const match = values.find((v) => v.toLowerCase() === (found.value as string).trim().toLowerCase());
    if (match === undefined) {
      throw this.errorAt(found.key, `expected one of ${listed}, got ${JSON.stringify(found.value)}`);
    }
    return match;
  }

  section(key: string, options: { aliases?: string[] } = {}): ConfigSection {
    return this.child(key, options.aliases);
  }

  /** Like section(), typed as the implementation (for the loader's own bookkeeping). */
  child(key: string, aliases?: string[]): TomlSection {
    const found = this.lookup(key, aliases);
    const actual = found?.key ?? key;
    const existing = this.children.get(actual);
    if (existing !== undefined) return existing;
    if (found !== undefined && !isTable(found.value)) throw this.typeError(found.key, 'a table');
    const child = new TomlSection(this.host, [...this.parts, actual], found?.value as TomlTable | undefined);
    this.children.set(actual, child);
    return child;
  }

  stringListMap(key: string): Record<string, string[]> | undefined {
    const sub = this.child(key);
    if (!sub.present) return undefined;
    sub.wholeTableRead = true;
    const out: Record<string, string[]> = {};
    for (const k of sub.keys()) {
      const list = asStringList(sub.table?.[k]);
      if (list === undefined) throw sub.typeError(k, 'a string or an array of strings');
      out[k] = list;
    }
    return out;
  }

  error(key: string, expected: string): PluginError {
    const text = STATEMENT.test(expected.trim()) ? expected : `expected ${expected}`;
    const value = this.table?.[key];
    const got = value === undefined || /\bgot\b/.test(text) ? '' : `, got ${this.describe(key, value)}`;
    return this.errorAt(key, text + got);
  }

  warn(key: string, message: string): void {
    this.host.warn(`${this.where(key)}${this.label(key)}: ${message}`);
  }

  /** An error about the table as a whole (`[teleport]: no credentials configured`). */
  tableError(message: string): PluginError {
    return configError(`${this.where(undefined)}[${this.path}]: ${message}`);
  }

  /** An error message, verbatim, located at `key` (or at the table header when it is absent). */
  errorAt(key: string, message: string): PluginError {
    return configError(`${this.where(key)}${this.label(key)}: ${message}`);
  }

  /** Keys present in the file that nobody read, depth first. */
  unknownKeys(): UnknownKey[] {
    if (this.table === undefined || this.wholeTableRead) return [];
    const out: UnknownKey[] = [];
    for (const [key, value] of Object.entries(this.table)) {
      const child = this.children.get(key);
      if (child !== undefined) {
        out.push(...child.unknownKeys());
        continue;
      }
      if (this.queried.has(key)) continue;
      const suggestion = nearest(
        key,
        [...this.queried].filter((q) => q !== key),
      );
      out.push({
        path: [...this.parts, key].join('.'),
        line: this.host.positions.line([...this.parts, key]),
        suggestion: suggestion === undefined ? undefined : [...this.parts, suggestion].join('.'),
        isTable: isTable(value),
      });
    }
    return out;
  }

  /** Whether anyone asked for `key` of this table. */
  wasRead(key: string): boolean {
    return this.queried.has(key) || this.children.has(key);
  }

  // ---- internals ----

  private lookup(key: string, aliases: string[] = [], deprecated?: string): { key: string; value: unknown } | undefined {
    const found = this.lookupAny([key, ...aliases]);
    if (found !== undefined && deprecated !== undefined) this.warn(found.key, `is deprecated: ${deprecated}`);
    return found;
  }

  private lookupAny(names: string[]): { key: string; value: unknown } | undefined {
    let found: { key: string; value: unknown } | undefined;
    for (const name of names) {
      this.queried.add(name);
      const value = this.table?.[name];
      if (value === undefined) continue;
      if (found !== undefined && !sameValue(found.value, value)) {
        throw this.errorAt(name, `conflicts with ${found.key}: set only one of them`);
      }
      found ??= { key: name, value };
    }
    return found;
  }

  private resolveSecret(key: string, value: string): string {
    // Upstream: a value starting with "/" is a file holding the secret (Helm mounts them so).
    if (value.startsWith('/')) return this.readSecretFile(key, value);
    if (value.startsWith('env:')) {
      const name = value.slice(4).trim();
      const fromEnv = this.host.env[name];
      if (name === '' || fromEnv === undefined || fromEnv === '') {
        throw this.errorAt(key, `environment variable ${name === '' ? '(empty name)' : name} is not set`);
      }
      return fromEnv.trim();
    }
    return value;
  }

  private readSecretFile(key: string, file: string): string {
    const resolved = path.resolve(this.host.cwd, file);
    try {
      return fs.readFileSync(resolved, 'utf8').trim();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : errorMessage(err);
      throw this.errorAt(key, `cannot read secret file ${file}: ${why}`);
    }
  }

  private typeError(key: string, expected: string, description?: string): PluginError {
    const what = description === undefined ? expected : `${expected} (${description})`;
    return this.errorAt(key, `expected ${what}, got ${this.describe(key, this.table?.[key])}`);
  }

  private missing(key: string, expected: string, description: string | undefined, alternative?: string): PluginError {
    const what = description === undefined ? `expected ${expected}` : description;
    const alt = alternative === undefined ? '' : ` (${alternative})`;
    const where = this.table === undefined && this.parts.length > 0 ? `; the file has no [${this.path}] section` : '';
    return this.errorAt(key, `required${alt}: ${what}${where}`);
  }

  private describe(key: string, value: unknown): string {
    if (typeof value === 'string') {
      if (this.secretKeys.has(key) || /token|password|secret|key$/i.test(key)) return 'a string';
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    }
    if (typeof value === 'number') return Number.isInteger(value) ? 'a number' : 'a decimal number';
    if (typeof value === 'boolean') return 'a boolean';
    if (Array.isArray(value)) return 'an array';
    if (isTable(value)) return 'a table';
    if (value === undefined) return 'nothing';
    return 'a date';
  }

  private where(key: string | undefined): string {
    const line = (key === undefined ? undefined : this.host.positions.line([...this.parts, key])) ?? this.host.positions.line(this.parts);
    return line === undefined ? `${this.host.file}: ` : `${this.host.file}:${line}: `;
  }

  private label(key: string): string {
    return this.parts.length === 0 ? key : `[${this.path}] ${key}`;
  }
}

export function configError(message: string, cause?: unknown): PluginError {
  return new PluginError('CONFIG', message, { userFacing: true, cause });
}

export function isTable(value: unknown): value is TomlTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function asStringList(value: unknown): string[] | undefined {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.filter((v) => v !== '');
  return undefined;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** `a, b or c` (or `and`), for messages. */
export function listWords(words: readonly string[], conjunction: 'and' | 'or'): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} ${conjunction} ${words[words.length - 1]}`;
}
