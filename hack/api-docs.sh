#!/usr/bin/env bash
# Generates the API reference from the Go types in api/ with crd-ref-docs (run by `make api-docs`
# and `make manifests`). test/manifests regenerates it into a temporary file and fails when the
# committed docs/api.md differs.
#
#   hack/api-docs.sh [output]    default: docs/api.md
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/api.md}
"$(hack/tools.sh path crd-ref-docs)" --source-path=./api --config=hack/crd-ref-docs.yaml \
  --renderer=markdown --output-path="$out" --log-level=ERROR
