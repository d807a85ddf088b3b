import * as core from '@teleport-plugin/core';
import { PluginError, type Logger, type TeleportClient, type TeleportConnectionConfig } from '@teleport-plugin/core';

type CreateTeleportClient = (config: TeleportConnectionConfig, logger: Logger) => Promise<TeleportClient> | TeleportClient;

/** The one Teleport connection, from `[teleport]` (core's createTeleportClient). */
export async function connectTeleport(config: TeleportConnectionConfig, logger: Logger): Promise<TeleportClient> {
  const create = (core as unknown as { createTeleportClient?: CreateTeleportClient }).createTeleportClient;
  if (typeof create !== 'function') {
    throw new PluginError('NOT_IMPLEMENTED', 'this build of @teleport-plugin/core has no Teleport client (createTeleportClient)');
  }
  return await create(config, logger);
}
