#!/bin/sh
# The image's `teleport-plugin` command. It only expands TELEPORT_PLUGINS=all (the default of an
# image built with PLUGIN=all) to the adapters installed in this image, listed in /app/plugins,
# then becomes the CLI (exec: signals from tini reach node directly).
if [ "${TELEPORT_PLUGINS:-}" = all ]; then
  TELEPORT_PLUGINS=$(paste -sd, /app/plugins)
  export TELEPORT_PLUGINS
fi
exec node /app/node_modules/@teleport-plugin/cli/bin/teleport-plugin.js "$@"
