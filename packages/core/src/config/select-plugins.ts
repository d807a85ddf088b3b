import { configError } from './toml-section.js';

/**
 * Which adapters to run: `--plugin` flags win, then `TELEPORT_PLUGINS` (comma-separated), then
 * the plugin sections present in the config file. Order is kept, duplicates dropped.
 */
export function selectPlugins(
  flags: readonly string[],
  cfg: { readonly pluginSections: readonly string[]; readonly file?: string } | undefined,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  const fromFlags = clean(flags.flatMap((f) => f.split(',')));
  if (fromFlags.length > 0) return fromFlags;
  const fromEnv = clean((env['TELEPORT_PLUGINS'] ?? '').split(','));
  if (fromEnv.length > 0) return fromEnv;
  const fromFile = clean(cfg?.pluginSections ?? []);
  if (fromFile.length > 0) return fromFile;
  const where = cfg?.file === undefined ? '' : `, or add a plugin section such as [slack] to ${cfg.file}`;
  throw configError(`no plugin selected: pass --plugin NAME (e.g. --plugin slack), set TELEPORT_PLUGINS${where}`);
}

function clean(names: readonly string[]): string[] {
  const out: string[] = [];
  for (const n of names) {
    const t = n.trim();
    if (t !== '' && !out.includes(t)) out.push(t);
  }
  return out;
}
