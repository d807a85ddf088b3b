import { stringify } from 'smol-toml';

/** Serialise a plain object as TOML (demo configs, `configure` output). */
export function toToml(value: Record<string, unknown>): string {
  return stringify(value);
}
