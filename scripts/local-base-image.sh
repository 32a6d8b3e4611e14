#!/usr/bin/env bash
# Builds the base images the Dockerfile builds on where no image registry can be reached: a Debian root file
# system made with debootstrap, imported with `docker import`. Two tags from one package set:
#
#   wss-base:<release>-<key>        runtime: nodejs + ca-certificates (the image's final stage)
#   wss-base:<release>-<key>-build  the same + npm (the build stage only: npm is not in the image that runs)
#
# <key> is a hash of the release and package lists, so changing either builds new tags instead of reusing stale
# ones. Cached twice: an image already in the engine is reused as it is (docker image inspect), and each root
# file system is kept as a tarball under the cache dir (git-ignored), so a new engine data root only re-imports.
#
#   scripts/local-base-image.sh            build what is missing; prints BASE_IMAGE=... and BUILD_BASE_IMAGE=...
#   scripts/local-base-image.sh --print    only print the two tags (builds nothing)
#
# Environment: WSS_BASE_RELEASE (default trixie: Node.js 20.19; bookworm's 18 is too old), WSS_DEBIAN_MIRROR
# (default http://deb.debian.org/debian), WSS_BASE_CACHE_DIR (default .tools/cache/base-image). Needs root (for
# debootstrap), debootstrap and a running Docker engine (scripts/docker-engine.mjs starts one).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
release="${WSS_BASE_RELEASE:-trixie}"
mirror="${WSS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${WSS_BASE_CACHE_DIR:-$root/.tools/cache/base-image}"
# nodejs's own dependencies come along. ca-certificates: the system CA bundle (/etc/ssl/certs), which Node.js reads
# through NODE_EXTRA_CA_CERTS or --use-openssl-ca (its own built-in list is there either way).
runtime_packages="nodejs,ca-certificates"
# Added to the runtime file system for the build stage.
build_packages="npm"

# The build stage reaches the npm registry through this machine's network, which may re-sign TLS with a CA of its
# own: the build base trusts the CAs this machine added to its store (/usr/local/share/ca-certificates), the
# runtime base only Debian's.
host_cas=/usr/local/share/ca-certificates
host_cas_sum="$(find "$host_cas" -name '*.crt' -type f -print0 2>/dev/null | sort -z | xargs -0 -r cat | sha256sum)"
key="$(printf '%s|%s|%s|%s|4' "$release" "$runtime_packages" "$build_packages" "$host_cas_sum" | sha256sum | cut -c1-10)"
runtime_tag="wss-base:$release-$key"
build_tag="wss-base:$release-$key-build"

log() { echo "[base-image] $(date +%T) $*" >&2; }

if [[ "${1:-}" == "--print" ]]; then
  echo "BASE_IMAGE=$runtime_tag"
  echo "BUILD_BASE_IMAGE=$build_tag"
  exit 0
fi
if [[ $# -gt 0 ]]; then
  echo "usage: $0 [--print]" >&2
  exit 2
fi

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || {
  log "no Docker engine answers (start one: node scripts/docker-engine.mjs start)"
  exit 1
}

# One debootstrap makes both root file systems: the runtime one is tarred first, then npm is added with apt-get in
# a chroot (debootstrap's own resolver cannot install npm: it does not follow virtual packages) and tarred again.
make_tarballs() {
  [[ -s "$runtime_tar" && -s "$build_tar" ]] && return 0
  command -v debootstrap >/dev/null || {
    log "debootstrap is missing (apt-get install debootstrap; npm test's bootstrap installs it)"
    exit 1
  }
  [[ "$(id -u)" == 0 ]] || {
    log "debootstrap needs root"
    exit 1
  }
  scratch="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'umount "$scratch/proc" 2>/dev/null || true; rm -rf "$scratch"' EXIT
  mkdir -p "$cache/debs"
  log "debootstrap $release ($runtime_packages) from $mirror"
  debootstrap --variant=minbase --include="$runtime_packages" --cache-dir="$cache/debs" "$release" "$scratch" \
    "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    cat "$scratch/debootstrap/debootstrap.log" >>"$cache/debootstrap.log" 2>/dev/null || true
    tail -n 30 "$cache/debootstrap.log" >&2
    log "debootstrap failed (full log: $cache/debootstrap.log)"
    exit 1
  }
  rm -rf "$scratch/debootstrap"
  tidy_and_tar "$runtime_tar"

  log "adding ${build_packages// /, } (apt-get in a chroot)"
  cp /etc/resolv.conf "$scratch/etc/resolv.conf"
  if [[ -d "$host_cas" ]]; then cp -r "$host_cas/." "$scratch/usr/local/share/ca-certificates/"; fi
  # Nothing needs these files durable before they are tarred: skip dpkg's fsyncs (much faster on a busy disk).
  echo force-unsafe-io >"$scratch/etc/dpkg/dpkg.cfg.d/wss-unsafe-io"
  mount -t proc proc "$scratch/proc"
  chroot "$scratch" /usr/bin/env DEBIAN_FRONTEND=noninteractive sh -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends $build_packages && update-ca-certificates" \
    >>"$cache/debootstrap.log" 2>&1 || {
    tail -n 30 "$cache/debootstrap.log" >&2
    log "apt-get install $build_packages failed (full log: $cache/debootstrap.log)"
    exit 1
  }
  umount "$scratch/proc"
  rm -f "$scratch/etc/dpkg/dpkg.cfg.d/wss-unsafe-io"
  tidy_and_tar "$build_tar"
  rm -rf "$scratch"
  trap - EXIT
}

# Nothing that only the install needed (package lists, downloaded .debs, docs, logs) goes into the image.
tidy_and_tar() {
  rm -rf "$scratch"/var/lib/apt/lists/* "$scratch"/var/cache/apt/* "$scratch"/usr/share/doc/* \
    "$scratch"/usr/share/man/* "$scratch"/usr/share/info/* "$scratch"/var/log/*
  # The engine fills these in per container.
  : >"$scratch/etc/hostname"
  : >"$scratch/etc/resolv.conf"
  # mktemp made the directory 0700: as the image's / it would shut every non-root user out.
  chmod 0755 "$scratch"
  tar --numeric-owner --xattrs -C "$scratch" -cf "$1.partial" .
  mv "$1.partial" "$1"
}

import_image() {
  local tag="$1" tarball="$2" extra_env="${4:-}"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag is present"
    return 0
  fi
  make_tarballs
  log "docker import $tarball as $tag"
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    ${extra_env:+--change "ENV $extra_env"} \
    --change 'CMD ["node"]' \
    --message "debootstrap $release: $3" \
    "$tarball" "$tag" >/dev/null
}

mkdir -p "$cache"
# Tarballs of earlier package sets are never used again.
find "$cache" -maxdepth 1 -name '*.tar' ! -name "$release-$key.tar" ! -name "$release-$key-build.tar" -delete
runtime_tar="$cache/$release-$key.tar"
build_tar="$cache/$release-$key-build.tar"
import_image "$runtime_tag" "$runtime_tar" "$runtime_packages"
# Node's own CA list lacks this machine's additions; npm reads the system store through NODE_EXTRA_CA_CERTS.
import_image "$build_tag" "$build_tar" "$runtime_packages,$build_packages" \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
# Bases of earlier package sets: untag them (layers still used by an image stay until that image goes).
docker image ls --format '{{.Repository}}:{{.Tag}}' wss-base | grep -vxF -e "$runtime_tag" -e "$build_tag" |
  xargs -r docker image rm >/dev/null 2>&1 || true
echo "BASE_IMAGE=$runtime_tag"
echo "BUILD_BASE_IMAGE=$build_tag"
