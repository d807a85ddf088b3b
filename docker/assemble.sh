#!/bin/sh
# Build-stage helper for docker/Dockerfile (run from the repository root inside the image).
# Produces $APP_DIR (default /app, the image's path): package.json + a flat production node_modules
# holding @teleport-plugin/cli and the adapters named by $PLUGIN, plus $APP_DIR/plugins (the
# resolved list, one name per line).
#   VERSION empty: build this workspace, `pnpm pack` each needed package (pnpm rewrites
#                  workspace:* to real versions) and npm-install the tarballs, so $APP_DIR looks
#                  exactly like a user's `npm install` of the published packages.
#   VERSION=x.y.z: npm-install the published packages of that version from the configured
#                  registry. Reads nothing of the checkout but plugins/*/package.json (the adapter
#                  names PLUGIN may use): no install, no build. test/packaging.test.ts runs this
#                  path against a local fake registry serving freshly packed tarballs.
set -eu

fail() { echo "assemble.sh: $*" >&2; exit 1; }

# A CA bundle passed with `--secret id=npm_ca,...` (TLS-intercepting proxies); never stored in a layer.
if [ -s /run/secrets/npm_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm_ca; fi

available=$(cd plugins && for d in */; do [ -f "$d/package.json" ] && printf '%s ' "${d%/}"; done)
requested=$(printf '%s' "${PLUGIN:-all}" | tr ',' ' ')
[ -n "$(printf '%s' "$requested" | tr -d ' ')" ] || fail "PLUGIN is empty; expected e.g. slack, slack,pagerduty or all"
if [ "$requested" = all ]; then requested=$available; fi
plugins=
for p in $requested; do
  case " $available " in
    *" $p "*) ;;
    *) fail "unknown adapter '$p' in PLUGIN=$PLUGIN; expected a comma-separated list of: ${available% } (or all)" ;;
  esac
  case " $plugins " in *" $p "*) ;; *) plugins="$plugins $p" ;; esac
done
plugins=${plugins# }
echo "assemble.sh: adapters: $plugins"

# Absolute, so the paths below do not depend on where the subshells run.
app=$(mkdir -p "${APP_DIR:-/app}" && cd "${APP_DIR:-/app}" >/dev/null && pwd)
printf '{\n  "name": "teleport-plugin-image",\n  "private": true,\n  "type": "module"\n}\n' >"$app/package.json"
npm_install() { (cd "$app" && npm install --omit=dev --no-audit --no-fund --loglevel=warn "$@"); }

if [ -n "${VERSION:-}" ]; then
  specs="@teleport-plugin/cli@$VERSION"
  for p in $plugins; do specs="$specs @teleport-plugin/$p@$VERSION"; done
  # shellcheck disable=SC2086 # word splitting intended
  npm_install $specs
else
  npm install --global --loglevel=warn "pnpm@${PNPM_VERSION:?}"
  filters="--filter teleport-plugin-workspace --filter @teleport-plugin/cli..."
  for p in $plugins; do filters="$filters --filter @teleport-plugin/$p..."; done
  # pm-on-fail=ignore: pnpm 12 otherwise wants to record the `packageManager` pin in the lockfile,
  # which --frozen-lockfile forbids; the pinned pnpm is the one installed just above anyway.
  # shellcheck disable=SC2086
  pnpm install --frozen-lockfile --config.pm-on-fail=ignore --store-dir /root/.pnpm-store --reporter=append-only $filters
  dirs="packages/cli"
  for p in $plugins; do dirs="$dirs plugins/$p"; done
  # Not `pnpm exec`: pnpm 12 would first re-check the whole workspace install (and the registry).
  # shellcheck disable=SC2086
  node_modules/.bin/tsc -b $dirs
  mkdir -p /tmp/pkgs
  # testkit is a runtime dependency of the CLI (`teleport-plugin demo`).
  for d in packages/core packages/testkit $dirs; do
    (cd "$d" && pnpm pack --config.pm-on-fail=ignore --pack-destination /tmp/pkgs >/dev/null)
  done
  ls -1 /tmp/pkgs
  # Installing all tarballs in one go lets npm satisfy the packages' mutual dependencies
  # (@teleport-plugin/core@0.1.0, ...) from the tarballs rather than from the registry.
  npm_install /tmp/pkgs/*.tgz
fi

printf '%s\n' $plugins >"$app/plugins"
# Dead weight at run time, which would make an image with every adapter much bigger than one with
# a single adapter (jira.js alone ships 16 MB of TypeScript sources and maps): type declarations,
# TypeScript sources (no package's entry point is a .ts file), source maps (node reads them only
# with --enable-source-maps, which the image does not set) and changelogs. LICENSE files stay.
before=$(du -sk "$app/node_modules" | cut -f1)
find "$app/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' \
  -o -name '*.map' -o -name 'CHANGELOG*' -o -name 'HISTORY.md' \) -delete
rm -rf "$app/.npm" "$app/package-lock.json"
echo "assemble.sh: node_modules $((before / 1024)) MB -> $(($(du -sk "$app/node_modules" | cut -f1) / 1024)) MB without types, sources and maps"

# Fail the build, not the first start, when an adapter cannot be loaded.
TELEPORT_PLUGINS=$(printf '%s' "$plugins" | tr ' ' ',') "$app/node_modules/.bin/teleport-plugin" version
