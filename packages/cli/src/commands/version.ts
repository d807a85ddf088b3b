import { createRequire } from 'node:module';
import { errorMessage, isPluginError } from '@teleport-plugin/core';
import { loadAdapters } from '../adapters.js';
import type { CommonFlags } from '../main.js';

const require = createRequire(import.meta.url);

function packageVersion(id: string): string {
  try {
    return (require(id) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** `teleport-plugin version`: the CLI, the core, and each selected adapter. */
export async function runVersion(flags: CommonFlags, env: NodeJS.ProcessEnv): Promise<number> {
  const lines = [
    `teleport-plugin v${packageVersion('../../../package.json')} (node ${process.version})`,
    `@teleport-plugin/core v${packageVersion('@teleport-plugin/core/package.json')}`,
  ];
  const explicit = flags.plugins.length > 0;
  const specs = explicit ? flags.plugins : (env['TELEPORT_PLUGINS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  let code = 0;
  for (const spec of specs) {
    try {
      const [loaded] = await loadAdapters([spec]);
      if (loaded === undefined) continue;
      const name = loaded.packageName ?? loaded.entry;
      lines.push(`${name} v${loaded.version ?? 'unknown'} (adapter "${loaded.adapter.name}")`);
    } catch (err) {
      lines.push(`${spec}: ${isPluginError(err) ? err.message : errorMessage(err)}`);
      if (explicit) code = 1;
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  return code;
}
