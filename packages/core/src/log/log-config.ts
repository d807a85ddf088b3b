/** Severities from most to least severe; `trace` is the newest Go plugins' extra level. */
export const LOG_SEVERITIES = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

export type LogFormat = 'text' | 'json';

/** `[log]` of the config, normalised (see config/log-section.ts for the accepted spellings). */
export interface LogConfig {
  /** `stderr`, `stdout`, or a file path (appended to, created when missing). */
  output: string;
  severity: LogSeverity;
  format: LogFormat;
}

export const DEFAULT_LOG_CONFIG: LogConfig = { output: 'stderr', severity: 'info', format: 'text' };
