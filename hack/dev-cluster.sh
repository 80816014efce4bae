#!/usr/bin/env bash
# A local simulated cluster for `make run` and the end-to-end tests: kwokctl's binary runtime with a
# real etcd, kube-apiserver, kube-controller-manager and kube-scheduler, fake nodes whose pods become
# Ready, the External Secrets Operator CRDs and its real controller. kwok's Logs kind is enabled so
# that `kubectl logs` of a pod can show a file, the log of a runtime run locally (hack/synclocal).
# The API server runs with config/audit/policy.yaml and writes its audit log as JSON lines to
# $DEV_DIR/kwok/clusters/$CLUSTER_NAME/logs/audit.log (`hack/dev-cluster.sh audit-log` prints it).
#
# The cluster runs under the admission policies a real install has (config/admission, the same
# kustomization config/default installs), so the operator runs as a real install runs it: as the
# ServiceAccount tenantwire-manager in tenantwire-system with the ClusterRoles of config/rbac, from
# $DEV_DIR/manager-kubeconfig (a token of that ServiceAccount). kwokctl starts kube-controller-manager
# with its admin certificate (kwok-admin, group system:masters); it gets
# --use-service-account-credentials here, so that each controller acts under its own ServiceAccount
# (system:serviceaccount:kube-system:replicaset-controller and so on) as on kubeadm, and the
# policies that name those controllers hold unchanged.
#
#   hack/dev-cluster.sh up      create (or reuse) the cluster; prints the kubeconfig path
#   hack/dev-cluster.sh down    stop everything started here and delete the cluster
#   hack/dev-cluster.sh status  say whether it is up
#   hack/dev-cluster.sh audit-log  print the path of the API server's audit log
#   hack/dev-cluster.sh manager-kubeconfig  print the path of the operator's kubeconfig
#
# State (kubeconfig, pid files, logs) lives in $DEV_DIR (default .dev-cluster/ in the repo).
set -euo pipefail
cd "$(dirname "$0")/.."

CLUSTER_NAME=${CLUSTER_NAME:-tenantwire}
DEV_DIR=${DEV_DIR:-$PWD/.dev-cluster}
NODES=${NODES:-2}
# ESO v0.20.4's fake provider crashes the controller under concurrent reconciles ("concurrent map
# iteration and map write" in NewClient, upstream issue 6233), so one worker by default.
ESO_CONCURRENT=${ESO_CONCURRENT:-1}
# ESO's own metrics (its API requests and reconciles); 0 turns them off. The benchmark sets it.
ESO_METRICS_ADDR=${ESO_METRICS_ADDR:-0}
TOOLS=hack/tools.sh
KUBECONFIG_OUT="$DEV_DIR/kubeconfig"
AUDIT_POLICY=$PWD/config/audit/policy.yaml
MANAGER_KUBECONFIG="$DEV_DIR/manager-kubeconfig"

log() { printf '[dev-cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

kwokctl() { "$($TOOLS path kwokctl)" "$@"; }
kubectl() { "$($TOOLS path kubectl)" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

# Our cluster keeps kwokctl's own state next to ours, so nothing is left in the user's home.
export KWOK_WORKDIR="$DEV_DIR/kwok"
# kwokctl writes the API server's audit log here when it is given a policy.
AUDIT_LOG="$KWOK_WORKDIR/clusters/$CLUSTER_NAME/logs/audit.log"

cluster_up() {
  [[ -f $KUBECONFIG_OUT ]] && kubectl get --raw /readyz >/dev/null 2>&1
}

stop_pidfile() {
  local f=$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

start_eso() {
  local pidfile="$DEV_DIR/external-secrets.pid"
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    return 0
  fi
  log "starting the External Secrets Operator controller (log: $DEV_DIR/external-secrets.log)"
  # The PushSecret reconcilers stay off here: with the fake provider these clusters use, ESO v0.20.4
  # dies of "concurrent map writes" (fake.(*Provider).NewClient) once PushSecret and ExternalSecret
  # reconciles share a store, and its fake store could not take the push anyway (it refuses a key
  # it defines). The operator's PushSecrets are still created and admitted; the write-back is
  # proven without ESO (internal/syncrun, test/admission).
  # The (Cluster)SecretStore reconciler builds a fake-provider client too, every
  # --store-requeue-interval (5m by default), and doing so beside an ExternalSecret reconcile is
  # the same race: a T=1000 benchmark's ESO died of it 25 minutes in. The store is reconciled when
  # it is created or changed, which is all these clusters need.
  KUBECONFIG="$KUBECONFIG_OUT" nohup "$($TOOLS path external-secrets)" \
    --metrics-addr="$ESO_METRICS_ADDR" --live-addr=127.0.0.1:0 --concurrent="$ESO_CONCURRENT" \
    --store-requeue-interval=24h \
    --enable-push-secret-reconciler=false --enable-cluster-push-secret-reconciler=false \
    --enable-leader-election=false --loglevel="${ESO_LOG_LEVEL:-info}" \
    >"$DEV_DIR/external-secrets.log" 2>&1 &
  echo $! >"$pidfile"
}

up() {
  mkdir -p "$DEV_DIR"
  log "making sure the toolchain is built (first time on a fresh machine: 20 minutes or more, see the README)"
  $TOOLS ensure
  if cluster_up; then
    log "cluster $CLUSTER_NAME is already up"
    # The controller-manager creates its controllers' ServiceAccounts only with
    # --use-service-account-credentials; a cluster created before it had the flag cannot create
    # pods in tenant namespaces under the policies.
    if ! kubectl get serviceaccount replicaset-controller -n kube-system >/dev/null 2>&1; then
      log "cluster $CLUSTER_NAME predates --use-service-account-credentials; recreate it with: make dev-cluster-down"
      exit 1
    fi
  else
    log "creating cluster $CLUSTER_NAME (kwokctl binary runtime, Kubernetes $(tool_version KUBE_VERSION))"
    kwokctl delete cluster --name "$CLUSTER_NAME" --kubeconfig "$DEV_DIR/kwokctl-kubeconfig" >/dev/null 2>&1 || true
    kwokctl create cluster --name "$CLUSTER_NAME" --runtime binary \
      --kube-apiserver-binary "$($TOOLS path kube-apiserver)" \
      --kube-controller-manager-binary "$($TOOLS path kube-controller-manager)" \
      --kube-scheduler-binary "$($TOOLS path kube-scheduler)" \
      --etcd-binary "$($TOOLS path etcd)" \
      --kwok-controller-binary "$($TOOLS path kwok)" \
      --kube-authorization --kube-admission \
      --kube-audit-policy "$AUDIT_POLICY" --extra-args kube-apiserver=audit-log-format=json \
      --extra-args kube-controller-manager=use-service-account-credentials=true \
      --enable-crds Logs \
      --kubeconfig "$DEV_DIR/kwokctl-kubeconfig" \
      --wait 2m >"$DEV_DIR/kwokctl.log" 2>&1 || { tail -n 20 "$DEV_DIR/kwokctl.log" >&2; exit 1; }
    kwokctl get kubeconfig --name "$CLUSTER_NAME" >"$KUBECONFIG_OUT"
    log "adding $NODES fake nodes"
    kwokctl scale node --replicas "$NODES" --name "$CLUSTER_NAME" >>"$DEV_DIR/kwokctl.log" 2>&1
  fi
  log "installing the External Secrets Operator CRDs"
  kubectl apply --server-side --force-conflicts -f "$(eso_crds)" >/dev/null
  kubectl wait --for=condition=Established --timeout=60s crd/externalsecrets.external-secrets.io >/dev/null
  start_eso
  install_operator_identity
  echo "$KUBECONFIG_OUT"
}

# install_operator_identity installs what a real install gives the operator before it runs: its
# namespace, ServiceAccount and ClusterRoles (config/rbac), the admission policies (config/admission),
# and a kubeconfig that authenticates as that ServiceAccount.
install_operator_identity() {
  log "installing the operator's ServiceAccount, RBAC and admission policies (config/rbac, config/admission)"
  kubectl get namespace tenantwire-system >/dev/null 2>&1 || kubectl create namespace tenantwire-system >/dev/null
  kubectl apply --server-side --force-conflicts -k config/rbac >/dev/null
  kubectl apply --server-side --force-conflicts -k config/admission >/dev/null
  local token server ca
  # A dev cluster lives as long as its user keeps it; the token outlives any make run or e2e.
  token=$(kubectl create token tenantwire-manager -n tenantwire-system --duration=8760h)
  server=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  rm -f "$MANAGER_KUBECONFIG"
  (umask 077 && cat >"$MANAGER_KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: $CLUSTER_NAME
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: tenantwire-manager
  user: {token: "$token"}
contexts:
- name: tenantwire-manager
  context: {cluster: $CLUSTER_NAME, user: tenantwire-manager}
current-context: tenantwire-manager
EOF
  )
}

# eso_crds is the CRD bundle of the ESO release we build, from the Go module cache.
eso_crds() {
  local dir version
  version=$(tool_version ESO_VERSION)
  dir=$(cd / && GOFLAGS= go mod download -json "github.com/external-secrets/external-secrets@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  echo "$dir/deploy/crds/bundle.yaml"
}

tool_version() { $TOOLS versions | tr ' ' '\n' | sed -n "s/^$1=//p"; }

down() {
  stop_pidfile "$DEV_DIR/sync-local.pid"
  stop_pidfile "$DEV_DIR/manager.pid"
  stop_pidfile "$DEV_DIR/external-secrets.pid"
  if [[ -d $KWOK_WORKDIR ]]; then
    log "deleting cluster $CLUSTER_NAME"
    kwokctl delete cluster --name "$CLUSTER_NAME" --kubeconfig "$DEV_DIR/kwokctl-kubeconfig" >/dev/null 2>&1 || true
  fi
  rm -rf "$DEV_DIR"
  log "removed"
}

case ${1:-up} in
  up) up ;;
  down) down ;;
  audit-log) echo "$AUDIT_LOG" ;;
  manager-kubeconfig) echo "$MANAGER_KUBECONFIG" ;;
  status) if cluster_up; then echo "up: KUBECONFIG=$KUBECONFIG_OUT"; else echo "down"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status|audit-log|manager-kubeconfig" >&2; exit 2 ;;
esac
