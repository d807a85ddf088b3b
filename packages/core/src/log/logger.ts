/**
 * The one logging interface of the runtime. winston sits behind it (log/create-logger.ts); adapters
 * only see this. Messages are short and static; variable parts go in fields.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  trace(message: string, fields?: LogFields): void;
  /** A logger whose every line carries these fields, e.g. `{ adapter: 'slack' }`, `{ requestId }`. */
  child(fields: LogFields): Logger;
}
