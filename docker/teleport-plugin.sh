#!/bin/sh
# The image's `teleport-plugin` command. It only interprets TELEPORT_PLUGINS=all (the default of
# an image built with PLUGIN=all), then becomes the CLI (exec: signals from tini reach node).
#   start, check: run the adapters plugin.toml has sections for, like the CLI without a list
#   other commands (version, configure, demo): every adapter installed here (/app/plugins)
if [ "${TELEPORT_PLUGINS:-}" = all ]; then
  case "${1:-}" in
    start | check) unset TELEPORT_PLUGINS ;;
    *)
      TELEPORT_PLUGINS=$(paste -sd, /app/plugins)
      export TELEPORT_PLUGINS
      ;;
  esac
fi
exec node /app/node_modules/@teleport-plugin/cli/bin/teleport-plugin.js "$@"
