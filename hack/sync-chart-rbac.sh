#!/usr/bin/env bash
# Writes the Helm chart's RBAC templates (charts/tenantwire/templates/rbac) from config/rbac, so the
# chart and kustomize grant the same permissions. Only the namespace (-> the release namespace) and
# the labels (-> the chart's label helper) change; see hack/chartrbac.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./hack/chartrbac -base config/rbac -namespace tenantwire-system -out charts/tenantwire/templates/rbac
