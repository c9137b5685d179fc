#!/usr/bin/env bash
# Builds the Go tools the packaging tests use, from Go modules, into versioned cache directories outside the
# repository (next to the control plane of scripts/build-control-plane.sh). Idempotent: a binary that exists
# is not rebuilt.
#
#   helm        helm.sh/helm/v3/cmd/helm                      helm lint, helm template, helm install
#   promtool    github.com/prometheus/prometheus/cmd/promtool promtool check rules, promtool test rules
#   argo-health test/gitops-harness/cmd/argo-health           health.lua in gopher-lua, the way Argo CD runs it
#   kstatus     test/gitops-harness/cmd/kstatus               sigs.k8s.io/cli-utils kstatus on recorded statuses
#
#   scripts/build-tools.sh               build what is missing; prints NAME=PATH lines on stdout
#   scripts/build-tools.sh --print-paths print the NAME=PATH lines only (nothing is built)
#
# Environment: ECR_HELM_VERSION (3.22.0), ECR_PROMETHEUS_VERSION (0.316.0, the Go module version of
# Prometheus 3.16), ECR_BIN_CACHE (base cache directory). Nothing built here is ever committed.
set -euo pipefail

HELM_VERSION="${ECR_HELM_VERSION:-3.22.0}"
PROM_VERSION="${ECR_PROMETHEUS_VERSION:-0.316.0}"
CACHE_BASE="${ECR_BIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ecr-operator/bin}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HARNESS="$ROOT/test/gitops-harness"

# The harnesses are keyed by a hash of their sources, so an edit rebuilds them.
harness_key=$(cd "$HARNESS" && cat go.mod go.sum $(find cmd -name '*.go' | sort) | sha256sum | cut -c1-12)

HELM="$CACHE_BASE/helm-v$HELM_VERSION/helm"
PROMTOOL="$CACHE_BASE/promtool-v$PROM_VERSION/promtool"
ARGO_HEALTH="$CACHE_BASE/gitops-harness-$harness_key/argo-health"
KSTATUS="$CACHE_BASE/gitops-harness-$harness_key/kstatus"

print_paths() {
  printf 'helm=%s\npromtool=%s\nargo-health=%s\nkstatus=%s\n' "$HELM" "$PROMTOOL" "$ARGO_HEALTH" "$KSTATUS"
}
if [ "${1:-}" = "--print-paths" ]; then print_paths; exit 0; fi

log() { printf '[build-tools] %s\n' "$*" >&2; }
elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

if [ -x "$HELM" ] && [ -x "$PROMTOOL" ] && [ -x "$ARGO_HEALTH" ] && [ -x "$KSTATUS" ]; then
  log "reusing helm v$HELM_VERSION, promtool v$PROM_VERSION and the gitops harnesses ($harness_key) in $CACHE_BASE"
  print_paths; exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  log "error: Go is not installed or not on PATH."
  log "helm, promtool and the health-check harnesses are built from Go modules; install Go >= 1.26 and retry."
  exit 127
fi

export CGO_ENABLED=0 GOFLAGS=-mod=mod
total=$(date +%s)

# go install of module@version: both modules build without replace directives. -trimpath keeps the
# binaries independent of where the module cache is.
install_module() { # name, package@version, ldflags, output path
  local name=$1 pkg=$2 ldflags=$3 out=$4 start tmp
  start=$(date +%s)
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/ecr-tools.XXXXXX")
  GOBIN="$tmp" go install -trimpath -ldflags "$ldflags" "$pkg" >&2
  mkdir -p "$(dirname "$out")"
  mv "$tmp/$name" "$out.tmp.$$" && mv "$out.tmp.$$" "$out"
  rm -rf "$tmp"
  log "built $name in $(elapsed "$start")"
}

if [ ! -x "$HELM" ]; then
  log "building helm v$HELM_VERSION (about 2 minutes on 2 cores the first time)"
  install_module helm "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION" \
    "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "$HELM"
fi

if [ ! -x "$PROMTOOL" ]; then
  log "building promtool v$PROM_VERSION (several minutes on 2 cores the first time: Prometheus is a large module)"
  # Go module v0.3XX.Y is Prometheus 3.XX.Y.
  mid=${PROM_VERSION#0.}; mid=${mid%%.*}; v="3.$((mid - 300)).${PROM_VERSION##*.}"
  install_module promtool "github.com/prometheus/prometheus/cmd/promtool@v$PROM_VERSION" \
    "-s -w -X github.com/prometheus/common/version.Version=$v -X github.com/prometheus/common/version.Branch=HEAD" \
    "$PROMTOOL"
fi

if [ ! -x "$ARGO_HEALTH" ] || [ ! -x "$KSTATUS" ]; then
  start=$(date +%s)
  log "building the gitops harnesses (gopher-lua, cli-utils kstatus) from test/gitops-harness (about 30 s)"
  mkdir -p "$(dirname "$ARGO_HEALTH")"
  for cmd in argo-health kstatus; do
    (cd "$HARNESS" && go build -trimpath -ldflags "-s -w" -o "$CACHE_BASE/gitops-harness-$harness_key/$cmd.tmp.$$" "./cmd/$cmd")
    mv "$CACHE_BASE/gitops-harness-$harness_key/$cmd.tmp.$$" "$CACHE_BASE/gitops-harness-$harness_key/$cmd"
  done
  log "built argo-health and kstatus in $(elapsed "$start")"
fi

log "tools ready (took $(elapsed "$total"))"
print_paths
