#!/usr/bin/env bash
# Builds kube-apiserver (k8s.io/kubernetes) and etcd (go.etcd.io/etcd/server/v3) from Go modules into a
# versioned cache directory outside the repository. Idempotent: a binary that exists is not rebuilt.
#
#   scripts/build-control-plane.sh            build what is missing, print the directory
#   scripts/build-control-plane.sh --print-dir print the directory only
#
# Environment: ECR_K8S_VERSION (1.34.4), ECR_ETCD_VERSION (3.6.16), ECR_BIN_CACHE (base cache directory).
# Nothing built here is ever committed.
set -euo pipefail

K8S_VERSION="${ECR_K8S_VERSION:-1.34.4}"
ETCD_VERSION="${ECR_ETCD_VERSION:-3.6.16}"
CACHE_BASE="${ECR_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator/bin}"
OUT="$CACHE_BASE/kube-v${K8S_VERSION}-etcd-v${ETCD_VERSION}"

if [ "${1:-}" = "--print-dir" ]; then echo "$OUT"; exit 0; fi

log() { printf '[build-control-plane] %s\n' "$*" >&2; }

if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ]; then
  log "reusing kube-apiserver v$K8S_VERSION and etcd v$ETCD_VERSION in $OUT"
  echo "$OUT"; exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "error: Go is not installed or not on PATH."
  log "kube-apiserver and etcd are built from Go modules; install Go >= 1.24 (this project uses 1.26.8) and retry."
  exit 127
fi

mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ecr-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod

elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

build_etcd() {
  local start; start=$(date +%s)
  log "building etcd v$ETCD_VERSION (about 40 s on 2 cores the first time)"
  mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
  go mod init example.invalid/etcd-build >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=v$ETCD_VERSION" \
    -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$OUT/etcd.tmp" "$OUT/etcd"
  log "built etcd in $(elapsed "$start")"
}

build_apiserver() {
  local start minor staging modfile m ldf p
  start=$(date +%s)
  minor=$(echo "$K8S_VERSION" | cut -d. -f2)
  staging="0.${K8S_VERSION#1.}"
  log "building kube-apiserver v$K8S_VERSION (about 3 minutes on 2 cores the first time, more on a slow proxy; later runs reuse $OUT)"
  mkdir -p "$WORK/apiserver" && cd "$WORK/apiserver"
  go mod init example.invalid/kube-apiserver-build >/dev/null 2>&1
  go mod edit -go=1.24 -godebug=default=go1.24
  modfile=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$modfile" ] || { log "error: could not download the go.mod of k8s.io/kubernetes@v$K8S_VERSION"; exit 1; }
  # k8s.io/kubernetes requires its staging modules at v0.0.0; pin each to its published v0.X.Y.
  for m in $(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$modfile"); do
    go mod edit -replace="$m=$m@v$staging"
  done
  go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" >&2
  ldf="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf="$ldf -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
    ldf="$ldf -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  go build -trimpath -ldflags "$ldf" -o "$OUT/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver"
  log "built kube-apiserver in $(elapsed "$start")"
}

total=$(date +%s)
[ -x "$OUT/etcd" ] || build_etcd
[ -x "$OUT/kube-apiserver" ] || build_apiserver
log "control-plane binaries ready in $OUT (took $(elapsed "$total"))"
echo "$OUT"
