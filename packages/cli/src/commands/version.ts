import { createRequire } from 'node:module';
import { errorMessage } from '@teleport-plugin/core';
import { loadAdapter } from '../adapters.js';
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
  const specs = explicit
    ? flags.plugins
    : (env['TELEPORT_PLUGINS'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  let code = 0;
  for (const spec of specs) {
    try {
      const loaded = await loadAdapter(spec);
      const name = loaded.packageName ?? loaded.entry;
      lines.push(`${name} v${loaded.version ?? 'unknown'} (adapter "${loaded.adapter.name}")`);
    } catch (err) {
      lines.push(`${spec}: ${errorMessage(err)}`);
      if (explicit) code = 1;
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  return code;
}
