#!/usr/bin/env bash
# Keeps the Helm chart in step with the generated and kustomize manifests (run by `make manifests`):
# its CRDs are copies of config/crd/bases and its RBAC templates are generated from config/rbac.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p charts/tenantwire/crds
rm -f charts/tenantwire/crds/*.yaml
cp config/crd/bases/*.yaml charts/tenantwire/crds/
hack/sync-chart-rbac.sh
