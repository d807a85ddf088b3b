import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PluginError, errorMessage, isPluginError, loadAdapterInfo, readAdapterTables, type Adapter, type LoadedAdapter } from '@teleport-plugin/core';

/** Where adapters are looked up: the working directory first, then next to this CLI. */
export function adapterSearchPath(): string[] {
  return [process.cwd(), path.dirname(fileURLToPath(import.meta.url))];
}

/**
 * One adapter by name, package or path (for commands that report each failure on its own). A
 * name in `instances` (`[instances]` of the config) is that adapter again under the instance's name.
 */
export async function loadAdapter(spec: string, instances?: ReadonlyMap<string, string>): Promise<LoadedAdapter> {
  const runs = instances?.get(spec);
  if (runs === undefined) return loadAdapterInfo(spec, { from: adapterSearchPath() });
  let loaded: LoadedAdapter;
  try {
    loaded = await loadAdapterInfo(runs, { from: adapterSearchPath() });
  } catch (err) {
    throw new PluginError(isPluginError(err) ? err.code : 'ADAPTER_INVALID', `[instances] ${spec} = "${runs}": ${errorMessage(err)}`, {
      cause: err,
      userFacing: true,
    });
  }
  // The same adapter under another name (prototype kept: an adapter may be a class instance).
  const renamed = Object.create(loaded.adapter, { name: { value: spec, enumerable: true } }) as Adapter<unknown>;
  return { ...loaded, spec, adapter: renamed };
}

export async function loadAdapters(specs: readonly string[], instances?: ReadonlyMap<string, string>): Promise<LoadedAdapter[]> {
  const out: LoadedAdapter[] = [];
  for (const spec of specs) out.push(await loadAdapter(spec, instances));
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
