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
stop_previous "$DEV_DIR/sync-local.pid"
# The operator runs as its ServiceAccount, the identity the admission policies let write in tenant
# namespaces, and requires approval as an install does by default.
log "starting the operator as ServiceAccount tenantwire-system/tenantwire-manager (log: $DEV_DIR/manager.log)"
KUBECONFIG=$(hack/dev-cluster.sh manager-kubeconfig) nohup bin/tenantwire manager --metrics-bind-address=127.0.0.1:18080 \
  --metrics-secure=false --health-probe-bind-address=127.0.0.1:18081 >"$DEV_DIR/manager.log" 2>&1 &
echo $! >"$pidfile"

samples_failed() {
  log "samples did not become Ready; last lines of the operator log:"
  tail -n 30 "$DEV_DIR/manager.log" >&2
  exit 1
}
ns=tenant-acme-family-practice
integration=cerbo-to-quickbooks
log "applying the development secret store (ESO fake provider) and config/samples"
$kubectl apply --server-side -f config/dev/secretstore-fake.yaml >/dev/null
$kubectl apply --server-side -f config/samples/tenantwire_v1alpha1_keypolicy.yaml >/dev/null
$kubectl apply --server-side -f config/samples/tenantwire_v1alpha1_tenant.yaml >/dev/null
# The sample Tenant names no approvers; the platform admin names the practice's, as README's Tenant does.
$kubectl patch tenant acme-family-practice --type=merge \
  -p '{"spec":{"approvers":[{"kind":"Group","name":"oidc:acme-approvers"}]}}' >/dev/null
$kubectl wait --for=condition=Ready --timeout=120s tenants --all >/dev/null || samples_failed
# No storage provisioner here: a volume bound in advance to the sample Integration's state claim.
$kubectl apply --server-side -f config/dev/state-volume.yaml >/dev/null
# A second make run walks the approval again from the start.
$kubectl delete integrationapprovals --all -n $ns >/dev/null

# The walk through README "Approving an Integration", with kubectl impersonating the practice's
# users (as an OIDC login would name them): ann the admin, vic the viewer, carol the approver.
as_ann="--as ann --as-group oidc:acme-admins"
as_vic="--as vic --as-group oidc:acme-staff"
as_carol="--as carol --as-group oidc:acme-approvers"
step() { printf '\n==> %s\n' "$*"; }
# show prints a command as a user would type it, then runs it.
show() {
  local a line=kubectl
  for a in "$@"; do [[ $a == *[{\ ]* ]] && a="'$a'"; line+=" $a"; done
  printf '$ %s\n' "$line"
  $kubectl "$@"
}
wait_reason() {
  $kubectl wait --timeout=120s -n $ns integration/$integration \
    --for=jsonpath='{.status.conditions[?(@.type=="Ready")].reason}'="$1" >/dev/null || samples_failed
}
replicas() { $kubectl get deployment $integration-sync -n $ns -o jsonpath='{.spec.replicas}'; }
wait_replicas() {
  for _ in $(seq 120); do [[ $(replicas) == "$1" ]] && return; sleep 0.5; done
  samples_failed
}
# refused runs a kubectl command that must fail and prints the API server's reason.
refused() {
  local out
  if out=$($kubectl "$@" 2>&1); then
    log "kubectl $* was allowed; it must be refused"
    exit 1
  fi
  printf '  refused: %s\n' "$out"
}

step "ann (admin, group oidc:acme-admins) creates the sample Integration; it moves no data until an approver approves its flow"
show apply --server-side -f config/samples/tenantwire_v1alpha1_integration.yaml $as_ann
wait_reason AwaitingApproval
wait_replicas 0
show get integration $integration -n $ns
digest=$($kubectl get integration $integration -n $ns -o jsonpath='{.status.flowDigest}')
printf '  Ready message: %s\n' "$($kubectl get integration $integration -n $ns -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')"
printf '  sync Deployment replicas: %s\n' "$(replicas)"

approval() {
  cat <<YAML
apiVersion: tenantwire.io/v1alpha1
kind: IntegrationApproval
metadata:
  name: $integration-${digest:7:8}
  namespace: $ns
spec:
  integration: $integration
  flowDigest: $digest
  approvedBy: carol
  approverGroups: [oidc:acme-approvers]
YAML
}
step "vic (viewer, group oidc:acme-staff) and ann try to approve it in carol's name"
printf '$ kubectl create -f approval.yaml %s\n' "$as_vic"
approval | refused create -f - $as_vic
printf '$ kubectl create -f approval.yaml %s\n' "$as_ann"
approval | refused create -f - $as_ann

step "carol (approver, group oidc:acme-approvers) approves the flow's digest, status.flowDigest, in her own name"
approval | sed 's/^/  /'
printf '$ kubectl create -f approval.yaml %s\n' "$as_carol"
approval | $kubectl create -f - $as_carol
$kubectl wait --for=condition=Ready --timeout=120s integration/$integration -n $ns >/dev/null || samples_failed
$kubectl wait --for=condition=Ready --timeout=60s keypolicies --all >/dev/null || samples_failed
show get integration $integration -n $ns
printf '  approval: %s\n' "$($kubectl get integration $integration -n $ns -o jsonpath='{.status.approval.approvedBy} approved {.status.approval.flowDigest} at {.status.approval.approvedAt}')"
printf '  sync Deployment replicas: %s\n' "$(replicas)"

# kwok's pods run no containers, so the sample Integration's sync runtime runs here, on the files
# its pod mounts, against fake vendors on loopback (hack/synclocal prints what it rewrote and why).
sync_local() {
  local pidfile="$DEV_DIR/sync-local.pid" out="$DEV_DIR/sync-local.out"
  stop_previous "$pidfile"
  go build -o "$DEV_DIR/synclocal" ./hack/synclocal
  nohup "$DEV_DIR/synclocal" -kubectl "$($TOOLS path kubectl)" -kubeconfig "$KUBECONFIG" -tenantwire bin/tenantwire \
    -dir "$DEV_DIR" -namespace $ns -integration $integration >"$out" 2>&1 &
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
step "data flows: the sample's sync runtime runs one cycle from a fake Cerbo to a fake QuickBooks"
sync_local

step "ann drops phone from spec.fields: the flow changed, so carol's approval no longer covers it and the workload pauses"
show patch integration $integration -n $ns --type=merge -p '{"spec":{"fields":["name","email"]}}' $as_ann
wait_reason FlowChangedSinceApproval
wait_replicas 0
# The sync pod is gone, so the runtime that stands in for it stops too.
stop_previous "$DEV_DIR/sync-local.pid"
show get integration $integration -n $ns
printf '  Ready message: %s\n' "$($kubectl get integration $integration -n $ns -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}')"
printf '  sync Deployment replicas: %s (the local sync runtime is stopped with it)\n' "$(replicas)"
printf '  events: %s\n' "$($kubectl get events -n $ns --field-selector involvedObject.name=$integration,reason=ApprovalVoided -o jsonpath='{.items[-1:].message}')"

step "ann undoes the change: the flow is again the one carol approved, and the sync resumes"
show patch integration $integration -n $ns --type=merge -p '{"spec":{"fields":["name","email","phone"]}}' $as_ann
$kubectl wait --for=condition=Ready --timeout=120s integration/$integration -n $ns >/dev/null || samples_failed
wait_replicas 1
show get integration $integration -n $ns
sync_local >/dev/null
printf '  the local sync runtime runs again (%s)\n' "$DEV_DIR/sync-local.out"

printf '\n'
$kubectl get keypolicies
$kubectl get tenants

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
  kubectl get integrationapprovals -n tenant-acme-family-practice   # who approved which flow digest
  kubectl auth can-i create integrationapprovals -n tenant-acme-family-practice $as_vic   # no: only approvers
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
