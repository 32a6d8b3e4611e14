#!/usr/bin/env bash
# Builds the service's image here, where no image registry can be reached: starts a Docker engine if none answers
# (scripts/docker-engine.mjs), makes the Debian base images (scripts/local-base-image.sh, cached), then builds the
# repo's Dockerfile on them. The container test runs this same script.
#
#   scripts/docker-build.sh [tag]      default tag: webhook-sender:local
#
# With a registry at hand, plain `docker build -t webhook-sender .` builds on the official Node image instead.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-webhook-sender:local}"
log() { echo "[docker-build] $*" >&2; }

node "$root/scripts/docker-engine.mjs" start
started=$SECONDS
build_args=()
while IFS= read -r line; do
  [[ "$line" =~ ^(BASE_IMAGE|BUILD_BASE_IMAGE)=[^[:space:]]+$ ]] && build_args+=(--build-arg "$line")
done < <("$root/scripts/local-base-image.sh")
[[ ${#build_args[@]} -eq 4 ]] || {
  log "scripts/local-base-image.sh printed no BASE_IMAGE and BUILD_BASE_IMAGE"
  exit 1
}
log "base images ready in $((SECONDS - started)) s"
started=$SECONDS
# --network host: the engine runs without a bridge network, and npm ci reaches the registry through the host's.
docker build --network host "${build_args[@]}" --tag "$tag" "$root" >&2
log "image $tag built in $((SECONDS - started)) s"
# Earlier builds of the image that no tag names any more (the build stage's cache is kept).
docker image prune --force --filter label=org.opencontainers.image.title=webhook-sender >/dev/null
echo "$tag"
