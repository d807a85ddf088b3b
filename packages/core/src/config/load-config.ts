import * as fs from 'node:fs/promises';
import { parse, TomlError } from 'smol-toml';
import { errorMessage } from '../errors.js';
import type { HttpServerConfig } from '../http/types.js';
import { levelLogger } from '../log/level-logger.js';
import type { LogConfig, LogSeverity } from '../log/log-config.js';
import type { LogFields, Logger } from '../log/logger.js';
import type { TeleportConnectionConfig } from '../teleport/types.js';
import { parseHttpSection } from './http-section.js';
import { KeyPositions } from './key-positions.js';
import { parseLogSection } from './log-section.js';
import type { ConfigContext, ConfigSection } from './section.js';
import { parseTeleportSection } from './teleport-section.js';
import { configError, isTable, TomlSection } from './toml-section.js';

/** Top-level tables the core reads itself. */
export const CORE_SECTIONS = ['teleport', 'log', 'http', 'role_to_recipients', 'routing', 'automatic_review', 'reminders', 'access_list_reminders', 'instances'] as const;

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Where config warnings go; otherwise they wait in `warnings` until useLogger(). */
  logger?: Logger;
  /** Base for relative paths (default: the working directory, as the Go plugins did). */
  cwd?: string;
  /**
   * Top-level tables that belong to an adapter without being named after it, as adapters declare
   * them (the Go email plugin has no `[email]`, only `[smtp]`/`[mailgun]`/`[delivery]`): table ->
   * adapter name. See readAdapterTables.
   */
  tableOwners?: Readonly<Record<string, string>>;
}

export interface LoadedConfig {
  /** The file as given. */
  readonly file: string;
  readonly teleport: TeleportConnectionConfig;
  readonly log: LogConfig;
  /** Undefined when the file has no `[http]`. */
  readonly http: HttpServerConfig | undefined;
  /** Plugins this file configures, in file order (`[slack]`, or `email` implied by `[smtp]`). */
  readonly pluginSections: string[];
  /** A top-level table (`present: false` when missing). */
  section(name: string): ConfigSection;
  /** What adapters' parseConfig receives. */
  readonly context: ConfigContext;
  /** Every warning so far (deprecations, unknown keys), as printed. */
  readonly warnings: readonly string[];
  /**
   * Warn about every key no one read, with the nearest valid key. Call after every selected
   * adapter's parseConfig. Tables of plugins that are not running are skipped (see
   * unusedSections) unless their name looks like a typo of a table that was read.
   */
  reportUnknownKeys(): string[];
  /** Tables of plugins not selected to run, e.g. `[jira]` when only slack runs. */
  unusedSections(): string[];
  /** Route warnings (past and future) to this logger. */
  useLogger(logger: Logger): void;
}

/** Read, parse and validate a config file. Errors are PluginError CONFIG, userFacing. */
export async function loadConfig(file: string, options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file (pass the path with -c/--config)' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : errorMessage(err);
    throw configError(`cannot read config file ${file}: ${why}`, err);
  }
  return parseConfig(decodeUtf8(bytes, file), file, options);
}

// fatal: a lenient decoder turns a stray byte into U+FFFD silently, and the mistake then
// surfaces as a wrong value of whichever key held it, far from its cause.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The file's text, or a config error naming the line and byte offset of the first invalid byte. */
function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return UTF8.decode(bytes);
  } catch (err) {
    // Windows Notepad's "Unicode" is UTF-16; the byte-order mark says so better than offset 0.
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
      throw configError(`${file}:1: not valid UTF-8 (the file is UTF-16: it starts with a UTF-16 byte-order mark); save the file as UTF-8`, err);
    }
    const offset = firstInvalidUtf8(bytes);
    const line = 1 + bytes.subarray(0, offset).filter((b) => b === 0x0a).length;
    const byte = (bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, '0');
    throw configError(`${file}:${line}: not valid UTF-8 (byte 0x${byte} at byte offset ${offset}); save the file as UTF-8`, err);
  }
}

/**
 * Offset of the first byte that starts no well-formed UTF-8 sequence, or of the lead byte of a
 * sequence cut short, so the message points at the start of the broken character. TextDecoder
 * only says that decoding failed, not where.
 */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] ?? 0;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const shape = utf8Lead(lead);
    if (shape === undefined) return i;
    const [length, min, max] = shape;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      const [low, high] = k === 1 ? [min, max] : [0x80, 0xbf];
      if (next === undefined || next < low || next > high) return i;
    }
    i += length;
  }
  return bytes.length;
}

/**
 * Sequence length and the range allowed for the second byte, by lead byte (Unicode table 3-7);
 * undefined for bytes that never start a character (continuations, C0, C1, F5-FF).
 */
function utf8Lead(lead: number): [length: number, min: number, max: number] | undefined {
  if (lead >= 0xc2 && lead <= 0xdf) return [2, 0x80, 0xbf];
  if (lead === 0xe0) return [3, 0xa0, 0xbf]; // no overlong forms
  if (lead === 0xed) return [3, 0x80, 0x9f]; // no UTF-16 surrogates
  if (lead >= 0xe1 && lead <= 0xef) return [3, 0x80, 0xbf];
  if (lead === 0xf0) return [4, 0x90, 0xbf]; // no overlong forms
  if (lead >= 0xf1 && lead <= 0xf3) return [4, 0x80, 0xbf];
  if (lead === 0xf4) return [4, 0x80, 0x8f]; // nothing above U+10FFFF
  return undefined;
}

/** Parse and validate config text; `file` is used in messages. */
export function parseConfig(text: string, file: string, options: LoadConfigOptions = {}): LoadedConfig {
  // Editors on Windows like to start files with a byte-order mark; TOML does not allow one.
  const toml = text.replace(/^\uFEFF/, '');
  let root: Record<string, unknown>;
  try {
    root = parse(toml) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const first = err.message.split('\n')[0]?.replace(/^Invalid TOML document:\s*/i, '') ?? 'invalid TOML';
      throw configError(`${file}:${err.line}:${err.column}: invalid TOML: ${first}`, err);
    }
    throw configError(`${file}: invalid TOML: ${errorMessage(err)}`, err);
  }

  const warnings: string[] = [];
  let logger = options.logger;
  const host = {
    file,
    positions: KeyPositions.scan(toml),
    env: options.env ?? process.env,
    cwd: options.cwd ?? process.cwd(),
    warn(message: string) {
      warnings.push(message);
      logger?.warn(message);
    },
  };
  const rootSection = new TomlSection(host, [], root);

  const teleport = parseTeleportSection(rootSection.child('teleport'), host.cwd);
  const log = parseLogSection(rootSection.child('log'));
  const httpSection = rootSection.child('http');
  const http = httpSection.present ? parseHttpSection(httpSection) : undefined;

  const pluginSections: string[] = [];
  for (const [name, value] of Object.entries(root)) {
    if ((CORE_SECTIONS as readonly string[]).includes(name)) continue;
    if (!isTable(value)) continue;
    const plugin = options.tableOwners?.[name] ?? name;
    if (!pluginSections.includes(plugin)) pluginSections.push(plugin);
  }

  const early: Array<[LogSeverity, string, LogFields | undefined]> = [];
  const queueing: Logger = levelLogger(
    (level, message, fields) => early.push([level, message, fields]),
    () => queueing,
  );
  const currentLogger = (): Logger => logger ?? queueing;
  const bufferedLogger = levelLogger(
    (level, message, fields) => currentLogger()[level](message, fields),
    (fields) => currentLogger().child(fields),
  );

  const context: ConfigContext = {
    file,
    logger: bufferedLogger,
    roleToRecipients(section: ConfigSection) {
      const own = section.stringListMap('role_to_recipients');
      return own ?? rootSection.stringListMap('role_to_recipients');
    },
    root: () => rootSection,
    http: () => http,
  };

  let reported = false;

  return {
    file,
    teleport,
    log,
    http,
    pluginSections,
    section: (name) => rootSection.child(name),
    context,
    get warnings() {
      return warnings;
    },
    reportUnknownKeys() {
      const out: string[] = [];
      if (reported) return out;
      reported = true;
      for (const u of rootSection.unknownKeys()) {
        // A whole top-level table nobody read normally belongs to a plugin that is not running
        // (see unusedSections); it is only worth a warning when it looks like a typo.
        if (u.isTable && !u.path.includes('.') && u.suggestion === undefined) continue;
        const where = u.line === undefined ? `${file}: ` : `${file}:${u.line}: `;
        const hint = u.suggestion === undefined ? '' : ` (did you mean ${u.suggestion}?)`;
        const message = `${where}unknown ${u.isTable ? 'table' : 'key'} ${u.path}${hint}`;
        out.push(message);
        host.warn(message);
      }
      return out;
    },
    unusedSections() {
      return Object.keys(root).filter((k) => !(CORE_SECTIONS as readonly string[]).includes(k) && !rootSection.wasRead(k) && typeof root[k] === 'object');
    },
    useLogger(next: Logger) {
      const pending = logger === undefined ? warnings.slice() : [];
      logger = next;
      for (const w of pending) next.warn(w);
      for (const [level, m, f] of early.splice(0)) next[level](m, f);
    },
  };
}
