import { PluginError, parseDuration, type RuntimeOptions } from '@teleport-plugin/core';

/**
 * Runtime tuning from the environment (the Go plugins' TELEPORT_PLUGIN_FAIL_FAST, and ours), as
 * Kubernetes sets it: a bad value is a one-line error naming the variable and what it expects.
 */
export function runtimeEnv(env: NodeJS.ProcessEnv): Pick<RuntimeOptions, 'failFast' | 'instanceName' | 'reconcileIntervalMs' | 'leaseMs' | 'handlerTimeoutMs'> {
  const out: ReturnType<typeof runtimeEnv> = {};
  const failFast = env['TELEPORT_PLUGIN_FAIL_FAST'];
  if (failFast !== undefined && failFast !== '') {
    if (!/^(true|1|yes|false|0|no)$/i.test(failFast)) throw bad('TELEPORT_PLUGIN_FAIL_FAST', 'true or false', failFast);
    out.failFast = /^(true|1|yes)$/i.test(failFast);
  }
  const name = env['TELEPORT_PLUGIN_INSTANCE']?.trim();
  if (name) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name)) throw bad('TELEPORT_PLUGIN_INSTANCE', 'a name of letters, digits, ".", "_" or "-" (e.g. the pod name)', name);
    out.instanceName = name;
  }
  const duration = (variable: string, min: number): number | undefined => {
    const raw = env[variable]?.trim();
    if (!raw) return undefined;
    const ms = parseDuration(raw);
    if (ms === undefined || ms < min) throw bad(variable, `a duration of at least ${min / 1000}s such as "30s" or "5m"`, raw);
    return ms;
  };
  const reconcile = duration('TELEPORT_PLUGIN_RECONCILE_INTERVAL', 1_000);
  if (reconcile !== undefined) out.reconcileIntervalMs = reconcile;
  const lease = duration('TELEPORT_PLUGIN_LEASE', 1_000);
  if (lease !== undefined) out.leaseMs = lease;
  const timeout = duration('TELEPORT_PLUGIN_HANDLER_TIMEOUT', 1_000);
  if (timeout !== undefined) out.handlerTimeoutMs = timeout;
  if (out.leaseMs !== undefined && out.leaseMs <= (out.handlerTimeoutMs ?? 30_000)) {
    throw bad(
      'TELEPORT_PLUGIN_LEASE',
      `a duration longer than the handler timeout (${(out.handlerTimeoutMs ?? 30_000) / 1000}s): a lease must outlast the work it covers`,
      env['TELEPORT_PLUGIN_LEASE'] ?? '',
    );
  }
  return out;
}

function bad(variable: string, expected: string, got: string): PluginError {
  return new PluginError('CONFIG', `environment variable ${variable}: expected ${expected}, got "${got}"`, { userFacing: true });
}
