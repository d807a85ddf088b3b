import type { LogConfig, LogFormat, LogSeverity } from '../log/log-config.js';
import type { TomlSection } from './toml-section.js';

const SEVERITY: Record<string, LogSeverity> = {
  info: 'info',
  err: 'error',
  error: 'error',
  debug: 'debug',
  warn: 'warn',
  warning: 'warn',
  trace: 'trace',
};

/** `[log]`: the Go plugins' spellings of output and severity (shared spec §3.2), plus `format`. */
export function parseLogSection(s: TomlSection): LogConfig {
  const rawOutput = s.string('output', { description: '"stderr", "stdout" or a file path' })?.trim() ?? 'stderr';
  const lower = rawOutput.toLowerCase();
  const output =
    lower === 'stderr' || lower === 'error' || lower === '2' ? 'stderr' : lower === 'stdout' || lower === 'out' || lower === '1' || lower === '' ? 'stdout' : rawOutput;

  const rawSeverity = s.string('severity');
  let severity: LogSeverity = 'info';
  if (rawSeverity !== undefined && rawSeverity.trim() !== '') {
    const mapped = SEVERITY[rawSeverity.trim().toLowerCase()];
    if (mapped === undefined) {
      throw s.error('severity', 'one of "info", "error", "warn", "debug" or "trace" (any case)');
    }
    severity = mapped;
  }
  const format: LogFormat = s.oneOf('format', ['text', 'json'] as const, 'text');
  return { output, severity, format };
}
