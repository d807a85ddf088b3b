import type { ConfigSection } from './section.js';

/** `[instances]`: more than one of an adapter in one process, each under a name of its own. */
export const INSTANCES_SECTION = 'instances';

const INSTANCE_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

/**
 * Reads `[instances]`, instance name -> the adapter it runs:
 *
 * ```toml
 * [instances]
 * slack-partners = "slack"      # a second Slack (another workspace, bot or channels)
 *
 * [slack-partners]              # its config: the keys of [slack]
 * token = "/var/lib/teleport-plugins/partners-token"
 * [slack-partners.role_to_recipients]
 * "*" = ["partner-access"]
 * ```
 *
 * An instance is an adapter of its own everywhere: `--plugin slack-partners`, its table, its
 * plugin data (`slack-partners`, so its messages are its own), its webhook routes
 * (`/slack-partners/…`), the name Access Monitoring Rules notify, `[routing] dedupe`, metrics.
 */
export function readInstances(root: { section(name: string): ConfigSection }, adapterNames: readonly string[] = []): Map<string, string> {
  const table = root.section(INSTANCES_SECTION);
  const out = new Map<string, string>();
  if (!table.present) return out;
  for (const name of table.keys()) {
    const adapter = table.requireString(name, { description: 'the adapter this instance runs, e.g. "slack"' }).trim();
    if (!INSTANCE_NAME.test(name))
      throw table.error(name, 'an instance name of lower-case letters, digits, "-" and "_", starting with a letter (it names a table, plugin data and URLs)');
    if (adapter === '' || adapter === name) throw table.error(name, `the adapter this instance runs, other than its own name, e.g. ${name} = "slack"`);
    if (adapterNames.includes(name)) throw table.error(name, `an instance name that is not an adapter's own name ("${name}" is the ${name} adapter)`);
    out.set(name, adapter);
  }
  return out;
}
