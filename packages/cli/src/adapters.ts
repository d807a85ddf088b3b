import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAdapterInfo, type LoadedAdapter } from '@teleport-plugin/core';

/** Where adapters are looked up: the working directory first, then next to this CLI. */
export function adapterSearchPath(): string[] {
  return [process.cwd(), path.dirname(fileURLToPath(import.meta.url))];
}

export async function loadAdapters(specs: readonly string[]): Promise<LoadedAdapter[]> {
  const out: LoadedAdapter[] = [];
  for (const spec of specs) out.push(await loadAdapterInfo(spec, { from: adapterSearchPath() }));
  return out;
}
