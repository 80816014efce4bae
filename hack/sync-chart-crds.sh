#!/usr/bin/env bash
# Keeps the Helm chart's CRDs identical to the generated ones in config/crd/bases.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p charts/tenantwire/crds
rm -f charts/tenantwire/crds/*.yaml
cp config/crd/bases/*.yaml charts/tenantwire/crds/
