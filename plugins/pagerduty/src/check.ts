import { errorMessage, isPluginError } from '@teleport-plugin/core';
import type { CheckItem, TeleportActions } from '@teleport-plugin/core';
import { pagerDutyStatus, type PagerDutyClient } from './client.js';
import type { PagerDutyConfig } from './config.js';

/**
 * `teleport-plugin check`: the API key, the user_email (a PagerDuty user), and every service named
 * in the roles' annotations (and check_services). Nothing is opened or changed.
 */
export async function checkPagerDuty(client: PagerDutyClient, config: PagerDutyConfig, signal: AbortSignal, teleport?: TeleportActions): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  try {
    await client.abilities(signal);
    items.push({ name: 'PagerDuty API key', ok: true, detail: `accepted by ${client.endpoint}` });
  } catch (err) {
    const status = pagerDutyStatus(err);
    const detail =
      status === 401 || status === 403
        ? `PagerDuty at ${client.endpoint} rejected pagerduty.api_key (HTTP ${status}). Create a REST API key in PagerDuty (Integrations, API Access Keys) and put it, or a /path to a file holding it, in api_key.`
        : `Could not talk to PagerDuty at ${client.endpoint}: ${errorMessage(err)}`;
    items.push({ name: 'PagerDuty API key', ok: false, detail });
    return items;
  }

  try {
    const user = await client.findUserByEmail(config.userEmail, signal);
    items.push(
      user
        ? { name: 'PagerDuty user_email', ok: true, detail: `${config.userEmail} is the PagerDuty user ${user.name}` }
        : {
            name: 'PagerDuty user_email',
            ok: false,
            detail: `No PagerDuty user has the email ${config.userEmail} (pagerduty.user_email). PagerDuty refuses to open incidents and add notes unless the From header names one of its users.`,
          },
    );
  } catch (err) {
    items.push({ name: 'PagerDuty user_email', ok: false, detail: errorMessage(err) });
  }

  const names = await annotatedServiceNames(config, teleport, signal);
  const where = names.source;
  if (names.templates.length > 0) {
    items.push({
      name: 'PagerDuty services',
      ok: true,
      detail: `not checkable (filled in from user traits at request time): ${names.templates.join(', ')}`,
    });
  }
  if (names.all.length === 0) {
    items.push({ name: 'PagerDuty services', ok: true, detail: where.startsWith('not checked') ? where : `none named (${where})` });
    return items;
  }
  try {
    const missing: string[] = [];
    for (const name of names.all) {
      if (!(await client.findServiceByName(name, signal))) missing.push(name);
    }
    items.push(
      missing.length === 0
        ? { name: 'PagerDuty services', ok: true, detail: `found: ${names.all.join(', ')} (${where})` }
        : {
            name: 'PagerDuty services',
            ok: false,
            detail:
              `not found in PagerDuty: ${missing.map((m) => names.describe(m)).join('; ')}. ` +
              `Fix the names in the roles' ${config.annotations.notifyService} / ${config.annotations.services} annotations, or create the services.`,
          },
    );
  } catch (err) {
    items.push({ name: 'PagerDuty services', ok: false, detail: errorMessage(err) });
  }
  return items;
}

interface AnnotatedNames {
  /** Literal service names, sorted, deduplicated (case-insensitively, as PagerDuty compares). */
  all: string[];
  /** Values with `{{...}}`: filled in from user traits, so not checkable here. */
  templates: string[];
  /** Where the names came from, for the report (or why the roles could not be read). */
  source: string;
  /** `Name` with the roles (and/or check_services) that name it. */
  describe(name: string): string;
}

/**
 * The service names `check` should look up: every value of the notify and services annotations
 * in every Teleport role (the plugin's identity needs `role: [list, read]`), plus the names in
 * `check_services`. Without role access, check_services alone, and the report says why.
 */
async function annotatedServiceNames(config: PagerDutyConfig, teleport: TeleportActions | undefined, signal: AbortSignal): Promise<AnnotatedNames> {
  const origins = new Map<string, { name: string; from: Set<string> }>();
  const templates = new Set<string>();
  const add = (raw: string, from: string): void => {
    const name = raw.trim();
    if (!name) return;
    if (name.includes('{{')) {
      templates.add(`${name} (${from})`);
      return;
    }
    const key = name.toLowerCase();
    const entry = origins.get(key) ?? { name, from: new Set<string>() };
    entry.from.add(from);
    origins.set(key, entry);
  };
  for (const name of config.checkServices) add(name, 'check_services');

  const keys = [config.annotations.notifyService, config.annotations.services];
  let source: string;
  if (!teleport?.listRoles) {
    source = 'from check_services';
  } else {
    try {
      const roles = await teleport.listRoles(signal);
      let annotated = 0;
      for (const role of roles) {
        const values = keys.flatMap((k) => role.requestAnnotations[k] ?? []);
        if (values.length > 0) annotated++;
        for (const v of values) add(v, `role ${role.name}`);
      }
      source = `from the ${keys.join(' / ')} annotations of ${annotated} of ${roles.length} Teleport roles${config.checkServices.length > 0 ? ' and check_services' : ''}`;
    } catch (err) {
      const why = isPluginError(err, 'ACCESS_DENIED')
        ? "the plugin's Teleport role may not list roles (add rule resources [role], verbs [list, read] to check the annotations)"
        : `could not list Teleport roles: ${errorMessage(err)}`;
      // Not being allowed to look is not a broken setup: say so without failing the check.
      source = config.checkServices.length > 0 ? `from check_services; ${why}` : `not checked: ${why}, or name the services in pagerduty.check_services`;
    }
  }
  const all = [...origins.values()].map((e) => e.name).sort((a, b) => a.localeCompare(b));
  return {
    all,
    templates: [...templates].sort(),
    source,
    describe: (name) => `${name} (${[...(origins.get(name.toLowerCase())?.from ?? [])].sort().join(', ')})`,
  };
}
