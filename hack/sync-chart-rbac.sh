#!/usr/bin/env bash
# Writes the Helm chart's RBAC templates (charts/tenantwire/templates/rbac) from config/rbac and its
# admission policy templates (charts/tenantwire/templates/admission, switched by admission.enabled)
# from config/admission, so the chart and kustomize grant and enforce the same. Only the namespace
# (-> the release namespace) and the labels (-> the chart's label helper) change; see hack/chartrbac.
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./hack/chartrbac -base config/rbac -namespace tenantwire-system -out charts/tenantwire/templates/rbac
go run ./hack/chartrbac -base config/admission -kinds admission -if admission.enabled -namespace tenantwire-system \
  -out charts/tenantwire/templates/admission
