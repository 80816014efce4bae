#!/usr/bin/env bash
# `make run`: run the operator against the cluster in $KUBECONFIG (or ~/.kube/config), or, when no
# cluster is configured, against a simulated cluster started here with the samples applied.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS=hack/tools.sh
DEV_DIR=${DEV_DIR:-$PWD/.dev-cluster}
export DEV_DIR

log() { printf '[run %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

build() {
  log "building bin/tenantwire"
  CGO_ENABLED=0 go build -trimpath -o bin/tenantwire .
}

install_into_cluster() {
  local kubectl=$1
  log "installing CRDs and the tenant ClusterRoles"
  $kubectl apply --server-side --force-conflicts -f config/crd/bases >/dev/null
  $kubectl wait --for=condition=Established --timeout=60s -f config/crd/bases >/dev/null
  $kubectl apply --server-side --force-conflicts -f config/rbac/tenant_roles.yaml >/dev/null
}

kubectl="$($TOOLS path kubectl)"
# A configured cluster is a kubeconfig with a current context; otherwise we start a simulated one.
if [[ -z ${TENANTWIRE_SIMULATED:-} ]] && $kubectl config current-context >/dev/null 2>&1; then
  # A real cluster: run in the foreground like any kubebuilder project; Ctrl-C stops it.
  log "using the cluster of ${KUBECONFIG:-$HOME/.kube/config} ($($kubectl config current-context))"
  install_into_cluster "$kubectl"
  build
  exec bin/tenantwire manager --metrics-bind-address=:8080 --metrics-secure=false --health-probe-bind-address=:8081 \
    --require-approval=false
fi

export KUBECONFIG
KUBECONFIG=$(hack/dev-cluster.sh up)
kubectl="$kubectl --kubeconfig $KUBECONFIG"
install_into_cluster "$kubectl"
build

# stop_previous ends the process a previous `make run` left running.
stop_previous() {
  local pidfile=$1
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" && sleep 1
  fi
}

pidfile="$DEV_DIR/manager.pid"
stop_previous "$pidfile"
log "starting the operator (log: $DEV_DIR/manager.log)"
nohup bin/tenantwire manager --metrics-bind-address=127.0.0.1:18080 --metrics-secure=false \
  --health-probe-bind-address=127.0.0.1:18081 --require-approval=false >"$DEV_DIR/manager.log" 2>&1 &
echo $! >"$pidfile"

samples_failed() {
  log "samples did not become Ready; last lines of the operator log:"
  tail -n 30 "$DEV_DIR/manager.log" >&2
  exit 1
}
log "applying the development secret store (ESO fake provider) and config/samples"
$kubectl apply --server-side -f config/dev/secretstore-fake.yaml >/dev/null
$kubectl apply --server-side -f config/samples/tenantwire_v1alpha1_keypolicy.yaml >/dev/null
$kubectl apply --server-side -f config/samples/tenantwire_v1alpha1_tenant.yaml >/dev/null
$kubectl wait --for=condition=Ready --timeout=120s tenants --all >/dev/null || samples_failed
# No storage provisioner here: a volume bound in advance to the sample Integration's state claim.
$kubectl apply --server-side -f config/dev/state-volume.yaml >/dev/null
$kubectl apply --server-side -f config/samples/tenantwire_v1alpha1_integration.yaml >/dev/null
$kubectl wait --for=condition=Ready --timeout=120s integrations --all -A >/dev/null || samples_failed
$kubectl wait --for=condition=Ready --timeout=60s keypolicies --all >/dev/null || samples_failed
$kubectl get keypolicies
$kubectl get tenants
$kubectl get integrations -A

# kwok's pods run no containers, so the sample Integration's sync runtime runs here, on the files
# its pod mounts, against fake vendors on loopback (hack/synclocal prints what it rewrote and why).
sync_local() {
  local pidfile="$DEV_DIR/sync-local.pid" out="$DEV_DIR/sync-local.out"
  stop_previous "$pidfile"
  log "running the sample Integration's sync runtime locally against fake vendors"
  go build -o "$DEV_DIR/synclocal" ./hack/synclocal
  nohup "$DEV_DIR/synclocal" -kubectl "$($TOOLS path kubectl)" -kubeconfig "$KUBECONFIG" -tenantwire bin/tenantwire \
    -dir "$DEV_DIR" -namespace tenant-acme-family-practice -integration cerbo-to-quickbooks >"$out" 2>&1 &
  echo $! >"$pidfile"
  for _ in $(seq 120); do
    # -s: the background job may not have created $out yet.
    if grep -qs '^first sync cycle' "$out"; then
      cat "$out"
      return
    fi
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.5
  done
  cat "$out" >&2
  log "the local sync runtime finished no cycle"
  exit 1
}
sync_local

audit_log=$(hack/dev-cluster.sh audit-log)
cat <<MSG

The operator runs in the background against a simulated cluster. Look around with:

  export KUBECONFIG=$KUBECONFIG
  alias kubectl=$($TOOLS path kubectl)
  kubectl get tenants
  kubectl describe tenant acme-family-practice
  kubectl get ns,networkpolicies,resourcequotas,limitranges,rolebindings,serviceaccounts -n tenant-acme-family-practice
  kubectl get integrations,externalsecrets,secrets,deployments,pods -n tenant-acme-family-practice
  kubectl describe integration cerbo-to-quickbooks -n tenant-acme-family-practice
  kubectl get integration cerbo-to-quickbooks -n tenant-acme-family-practice -o jsonpath='{.status.fields}'   # the fields that flow
  kubectl get tenant acme-family-practice -o jsonpath='{.status.keyring}'   # active version, last and next rotation
  kubectl patch keypolicy standard --type merge -p '{"spec":{"rotateNow":{"request":"now-1","tenants":["acme-family-practice"]}}}'   # rotate now
  kubectl get events -A --field-selector involvedObject.apiVersion=tenantwire.io/v1alpha1
  curl -s http://127.0.0.1:18080/metrics | grep tenantwire_

Operator log: $DEV_DIR/manager.log   External Secrets Operator log: $DEV_DIR/external-secrets.log
API server audit log (config/audit/policy.yaml, JSON lines): $audit_log
  who changed which Integration:  jq -c 'select(.objectRef.resource=="integrations" and (.verb|test("create|update|patch|delete")))
    | [.requestReceivedTimestamp, .user.username, .impersonatedUser.username, .sourceIPs[0], .verb, .objectRef.namespace, .objectRef.name]' $audit_log
Sample sync runtime: $DEV_DIR/sync-local.out (what it rewrote for this machine, and where to follow it)
Stop everything with: make dev-cluster-down
MSG
