import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAdapterInfo, type LoadedAdapter } from '@teleport-plugin/core';

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
