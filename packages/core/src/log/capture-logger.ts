import { levelLogger } from './level-logger.js';
import type { LogSeverity } from './log-config.js';
import type { LogFields, Logger } from './logger.js';
import { redactFields, redactString } from './redaction.js';

export interface CapturedLogEntry {
  level: LogSeverity;
  message: string;
  fields: LogFields;
}

/** A Logger that keeps entries in memory (redacted like real output), for tests and `check`. */
export interface CaptureLogger extends Logger {
  readonly entries: CapturedLogEntry[];
}

export function createCaptureLogger(): CaptureLogger {
  const entries: CapturedLogEntry[] = [];
  const make = (base: LogFields): Logger =>
    levelLogger(
      (level, message, fields) => {
        entries.push({ level, message: redactString(message), fields: redactFields({ ...base, ...fields }) });
      },
      (fields) => make({ ...base, ...fields }),
    );
  return Object.assign(make({}), { entries });
}
