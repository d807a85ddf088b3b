import type { DemoCluster } from '@teleport-plugin/core';
import type { FakeTeleport } from './fake-teleport.js';

/** The DemoCluster the CLI's demo hands adapters: a narrow, typed view of the fake Teleport. */
export function demoCluster(tp: FakeTeleport): DemoCluster {
  const { state } = tp;
  return {
    grantPlugin(resource, verbs) {
      // The plugin's roles are the ones that may write plugin data.
      for (const role of [...state.roles.values()]) {
        const rules = role.rules ?? [];
        if (!rules.some((r) => r.resources.includes('access_plugin_data'))) continue;
        const covered = rules.some((r) => r.resources.includes(resource));
        const updated = covered
          ? rules.map((r) => (r.resources.includes(resource) ? { ...r, verbs: [...new Set([...r.verbs, ...verbs])] } : r))
          : [...rules, { resources: [resource], verbs: [...verbs] }];
        state.upsertRole({ ...role, rules: updated });
      }
    },
    annotateRequesterRoles(annotations) {
      for (const role of [...state.roles.values()]) {
        if (!role.requestRoles || role.requestRoles.length === 0) continue;
        state.upsertRole({ ...role, requestAnnotations: { ...(role.requestAnnotations ?? {}), ...annotations } });
      }
    },
    emailUsers: () => [...state.users.keys()].filter((name) => name.includes('@')),
    pluginData: (requestId, plugin) => tp.admin.pluginData(requestId, plugin),
    waitFor: (predicate, timeoutMs) =>
      tp.waitFor(predicate, timeoutMs).then(
        () => true,
        () => false,
      ),
  };
}
