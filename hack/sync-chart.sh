#!/usr/bin/env bash
# Keeps the Helm chart in step with the generated and kustomize manifests (run by `make manifests`):
# its CRD templates (switched by crds.enabled, kept on uninstall by crds.keep) are generated from
# config/crd, its RBAC and admission templates from config/rbac and config/admission.
set -euo pipefail
cd "$(dirname "$0")/.."
# The CRDs used to be copies in crds/, which Helm installs once and never upgrades.
rm -rf charts/tenantwire/crds
go run ./hack/chartrbac -base config/crd -kinds crd -if crds.enabled -out charts/tenantwire/templates/crds
hack/sync-chart-rbac.sh
# The chart's PrometheusRule renders these alerts (prometheusRule.enabled).
mkdir -p charts/tenantwire/files
{
  echo "# Copied from config/prometheus/alerts.yaml by make manifests (hack/sync-chart.sh). DO NOT EDIT."
  cat config/prometheus/alerts.yaml
} > charts/tenantwire/files/alerts.yaml
