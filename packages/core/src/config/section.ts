import type { PluginError } from '../errors.js';
import type { HttpServerConfig } from '../http/types.js';
import type { Logger } from '../log/logger.js';

/**
 * Typed, validating access to one TOML table (e.g. `[slack]` or `[slack.review]`).
 * Every error it builds names the file, the line where known, the dotted key and what was
 * expected. Keys an adapter never reads are reported as unknown, with the nearest valid key.
 */
export interface ConfigSection {
  /** Dotted path of this table, e.g. `slack.review`. */
  readonly path: string;
  /** The config file this table came from. */
  readonly file: string;
  /** True when the table was present in the file (even if empty). */
  readonly present: boolean;
  has(key: string): boolean;
  keys(): string[];

  /** `aliases`: older spellings accepted (e.g. `apiurl` for `api_url`); `deprecated` warns when used. */
  string(key: string, options?: StringOptions): string | undefined;
  requireString(key: string, options?: StringOptions): string;
  /**
   * A secret: the value itself, a value starting with `/` is read from that file (trimmed, as
   * upstream), `env:NAME` reads an environment variable, and `<key>_file` names a file. Secrets
   * are registered for redaction in logs.
   */
  secret(key: string, options?: SecretOptions): string | undefined;
  bool(key: string, defaultValue: boolean): boolean;
  integer(key: string, options?: { default?: number; min?: number; max?: number }): number | undefined;
  /** Go-style duration string (`90s`, `1m30s`, `2h`) or a number of seconds. Returns milliseconds. */
  duration(key: string, defaultMs: number): number;
  /** A string or an array of strings. */
  stringList(key: string, options?: { aliases?: string[]; deprecated?: string }): string[] | undefined;
  /** One of the listed values (compared case-insensitively, returned as listed). */
  oneOf<T extends string>(key: string, values: readonly T[], defaultValue: T): T;
  /** A sub-table (empty, `present: false`, when missing). */
  section(key: string, options?: { aliases?: string[] }): ConfigSection;
  /** A table of string -> string or string[] (e.g. role_to_recipients). */
  stringListMap(key: string): Record<string, string[]> | undefined;

  /**
   * An error naming file, line, key and what was expected. `expected` is a noun phrase
   * ("a URL starting with https://") and is printed as `expected <it>, got <the value>`; text that
   * already starts with a verb ("must ...", "requires ...", "cannot ...", "expected ...") is printed as is.
   */
  error(key: string, expected: string): PluginError;
  warn(key: string, message: string): void;
}

export interface StringOptions {
  default?: string;
  aliases?: string[];
  /** Warn that the key is deprecated, with this hint (e.g. "use role_to_recipients"). */
  deprecated?: string;
  /** What the value is, for error messages: `the bot token, xoxb-...`. */
  description?: string;
}

export interface SecretOptions {
  required?: boolean;
  aliases?: string[];
  /** What the value is, for error messages (never the value itself). */
  description?: string;
}

export interface ConfigContext {
  readonly file: string;
  readonly logger: Logger;
  /**
   * `[<adapter>.role_to_recipients]` if the adapter's section has one, else the top-level
   * `[role_to_recipients]`; undefined when neither is present.
   */
  roleToRecipients(section: ConfigSection): Record<string, string[]> | undefined;
  /** The whole file's root table, for adapters that read other top-level tables (`[smtp]`...). */
  root(): ConfigSection;
  /** The parsed `[http]` (listen and public address, basic auth, TLS), when the file has one. */
  http(): HttpServerConfig | undefined;
}
