import type { LogSeverity } from './log-config.js';
import type { LogFields, Logger } from './logger.js';

/** A Logger whose five level methods all go to `write`; `child` decides what a child is. */
export function levelLogger(write: (level: LogSeverity, message: string, fields: LogFields | undefined) => void, child: (fields: LogFields) => Logger): Logger {
  return {
    error: (message, fields) => write('error', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    info: (message, fields) => write('info', message, fields),
    debug: (message, fields) => write('debug', message, fields),
    trace: (message, fields) => write('trace', message, fields),
    child,
  };
}
