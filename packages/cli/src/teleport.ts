import { createTeleportClient, type Logger, type TeleportClient, type TeleportConnectionConfig } from '@teleport-plugin/core';

/** The one Teleport connection, from `[teleport]` (dial, identity checks and Ping included). */
export async function connectTeleport(config: TeleportConnectionConfig, logger: Logger): Promise<TeleportClient> {
  return await createTeleportClient(config, logger);
}
