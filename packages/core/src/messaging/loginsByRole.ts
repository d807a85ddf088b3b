import type { TeleportActions } from '../adapter.js';
import { TtlCache } from '../cache/ttlCache.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AccessRequest, Traits } from '../teleport/types.js';

/** `{{internal.logins}}` / `{{external.x}}` expansion from the requester's traits. */
export function expandLogin(login: string, traits: Traits): string[] {
  const m = /^(.*)\{\{\s*(?:internal|external)\.([\w.-]+)\s*\}\}(.*)$/.exec(login);
  if (!m) return login.includes('{{') ? [] : [login];
  const [, prefix = '', trait = '', suffix = ''] = m;
  return (traits[trait] ?? []).filter((v) => v !== '').map((v) => `${prefix}${v}${suffix}`);
}

/**
 * The logins each requested role grants the requester, as upstream's messages show them. Reading
 * users and roles needs `user`/`role` read in the plugin's role; without it (or on any failure)
 * the message simply goes out without logins: enrichment never holds a message back.
 * Users' traits and roles' logins are cached for a minute, shared by every request.
 */
export class LoginsByRole {
  private readonly users = new TtlCache<Traits>({ max: 5_000, ttlMs: 60_000, negativeTtlMs: 10_000 });
  private readonly roles = new TtlCache<string[]>({ max: 2_000, ttlMs: 60_000, negativeTtlMs: 10_000 });
  private warned = false;

  constructor(private readonly teleport: TeleportActions) {}

  async of(request: AccessRequest, logger: Logger, signal?: AbortSignal): Promise<Record<string, string[]> | undefined> {
    try {
      const traits = (await this.users.get(request.user, async () => (await this.teleport.getUser(request.user, signal)).traits)) ?? {};
      const out: Record<string, string[]> = {};
      for (const role of request.roles) {
        const logins = (await this.roles.get(role, async () => (await this.teleport.getRole(role, signal)).allowLogins)) ?? [];
        out[role] = [...new Set(logins.flatMap((login) => expandLogin(login, traits)))];
      }
      return out;
    } catch (err) {
      if (!this.warned) {
        this.warned = true;
        logger.info('logins by role unavailable; messages show the roles only (give the plugin role/user read to show logins)', { error: errorMessage(err) });
      } else {
        logger.debug('logins by role unavailable', { error: errorMessage(err) });
      }
      return undefined;
    }
  }
}
