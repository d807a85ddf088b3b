import * as fs from 'node:fs';
import winston from 'winston';
import { PluginError, errorMessage } from '../errors.js';
import { levelLogger } from './level-logger.js';
import { LOG_SEVERITIES, type LogConfig, type LogSeverity } from './log-config.js';
import type { LogFields, Logger } from './logger.js';
import { redactFields, redactString } from './redaction.js';
import { formatTextLine } from './text-line.js';

// winston's numbers: lower is more severe, in LOG_SEVERITIES order.
const LEVELS = Object.fromEntries(LOG_SEVERITIES.map((s, i) => [s, i])) as Record<LogSeverity, number>;

export interface CreateLoggerOptions extends Partial<LogConfig> {
  /** `--debug`: at least debug, whatever `[log] severity` says. */
  debug?: boolean;
  /** Write here instead of `output` (tests, embedding). */
  stream?: NodeJS.WritableStream;
}

/** A Logger that owns its output: close() flushes (and closes a log file). */
export interface RootLogger extends Logger {
  readonly severity: LogSeverity;
  close(): Promise<void>;
}

// Keys winston itself uses on its info objects; fields with these names are nested under `fields`.
const RESERVED = new Set(['level', 'message', 'time', 'msg']);
const FIELDS = Symbol('fields');

/**
 * The runtime's logger: winston behind the small Logger interface, with every message and field
 * passed through secret redaction before formatting.
 */
export function createLogger(options: CreateLoggerOptions = {}): RootLogger {
  let severity: LogSeverity = options.severity ?? 'info';
  if (options.debug === true && LEVELS[severity] < LEVELS.debug) severity = 'debug';
  const format = options.format ?? 'text';

  const { stream, ownsStream } = openOutput(options.output ?? 'stderr', options.stream);

  const formatter = winston.format.printf((info) => {
    const fields = (info as unknown as Record<symbol, Record<string, unknown>>)[FIELDS] ?? {};
    const message = String(info.message);
    const time = new Date();
    if (format === 'json') {
      return JSON.stringify({ time: time.toISOString(), level: info.level, msg: message, ...fields });
    }
    return formatTextLine(time, info.level, message, fields);
  });

  const winstonLogger = winston.createLogger({
    levels: LEVELS,
    level: severity,
    format: formatter,
    transports: [new winston.transports.Stream({ stream })],
    exitOnError: false,
  });

  let closed: Promise<void> | undefined;
  const write = (level: LogSeverity, message: string, base: LogFields, fields: LogFields | undefined): void => {
    // Late lines (a handler finishing after shutdown) are dropped: winston throws after end().
    if (LEVELS[level] > LEVELS[severity] || closed !== undefined) return;
    const merged = fields === undefined ? base : { ...base, ...fields };
    const safe = redactFields(merged);
    for (const key of Object.keys(safe)) {
      if (RESERVED.has(key)) {
        safe[`field.${key}`] = safe[key];
        delete safe[key];
      }
    }
    winstonLogger.log({ level, message: redactString(message), [FIELDS]: safe } as unknown as winston.LogEntry);
  };

  const make = (base: LogFields): Logger =>
    levelLogger(
      (level, message, fields) => write(level, message, base, fields),
      (fields) => make({ ...base, ...fields }),
    );

  return {
    ...make({}),
    severity,
    close() {
      closed ??= new Promise<void>((resolve) => {
        winstonLogger.on('finish', () => {
          if (!ownsStream) return resolve();
          stream.end(() => resolve());
        });
        winstonLogger.end();
      });
      return closed;
    },
  };
}

function openOutput(output: string, override: NodeJS.WritableStream | undefined): { stream: NodeJS.WritableStream; ownsStream: boolean } {
  if (override !== undefined) return { stream: override, ownsStream: false };
  if (output === 'stderr') return { stream: process.stderr, ownsStream: false };
  if (output === 'stdout') return { stream: process.stdout, ownsStream: false };
  let fd: number;
  try {
    // Opened synchronously so a bad path fails start-up with a clear message, not a later stream error.
    fd = fs.openSync(output, 'a', 0o600);
  } catch (err) {
    throw new PluginError('CONFIG', `[log] output: cannot open log file ${output}: ${errorMessage(err)}`, {
      userFacing: true,
      cause: err,
    });
  }
  return { stream: fs.createWriteStream(output, { fd, flags: 'a' }), ownsStream: true };
}

/** A logger that drops everything (library defaults, tests). */
export const silentLogger: Logger = {
  error() {},
  warn() {},
  info() {},
  debug() {},
  trace() {},
  child() {
    return silentLogger;
  },
};
