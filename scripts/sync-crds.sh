#!/usr/bin/env bash
# Copies the generated CRD (crds/, written by npm run gen:crd from src/api/crd.ts) to where kustomize and
# Helm read it: deploy/crds/ (kustomize cannot load files outside its directory) and the chart's crds/.
# test/deploy/crds.test.ts fails when a copy differs.
set -euo pipefail
cd "$(dirname "$0")/.."
for dest in deploy/crds charts/milvus-refresh-operator/crds; do
  for f in crds/*.yaml; do cp "$f" "$dest/"; done
done
echo "copied $(ls crds/*.yaml | tr '\n' ' ')to deploy/crds/ and charts/milvus-refresh-operator/crds/"
