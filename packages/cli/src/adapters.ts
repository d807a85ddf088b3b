import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAdapterInfo, readAdapterTables, type LoadedAdapter } from '@teleport-plugin/core';

/** Where adapters are looked up: the working directory first, then next to this CLI. */
export function adapterSearchPath(): string[] {
  return [process.cwd(), path.dirname(fileURLToPath(import.meta.url))];
}

/** One adapter by name, package or path (for commands that report each failure on its own). */
export function loadAdapter(spec: string): Promise<LoadedAdapter> {
  return loadAdapterInfo(spec, { from: adapterSearchPath() });
}

export async function loadAdapters(specs: readonly string[]): Promise<LoadedAdapter[]> {
  const out: LoadedAdapter[] = [];
  for (const spec of specs) out.push(await loadAdapter(spec));
  return out;
}

/** The adapters this project publishes (the CLI's defaults for `demo`, `configure` and config tables). */
export const BUILTIN_ADAPTERS = ['slack', 'mattermost', 'jira', 'pagerduty', 'email', 'gitlab'] as const;

/**
 * Which adapter owns a top-level table not named after it (email's `[smtp]`), as the installed
 * adapters declare it in their package.json; the named ones (`--plugin`) are asked too.
 */
export function tableOwners(extra: readonly string[] = []): Record<string, string> {
  const names = [
    ...new Set([
      ...BUILTIN_ADAPTERS,
      ...extra
        .flatMap((p) => p.split(','))
        .map((p) => p.trim())
        .filter(Boolean),
    ]),
  ];
  return readAdapterTables(names, { from: adapterSearchPath() });
}
