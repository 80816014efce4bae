#!/usr/bin/env bash
# Builds the Kubernetes toolchain tenantwire tests and runs against, from the Go module proxy only
# (no binary downloads reach these machines). Each tool is built once into a cache outside the repo,
# keyed by version, so CI and later sessions reuse it.
#
#   hack/tools.sh ensure [tool...]   build what is missing (default: everything)
#   hack/tools.sh path <tool>        print the path of a built tool (building it first if needed)
#   hack/tools.sh envtest            print a directory usable as KUBEBUILDER_ASSETS
#
# Tools: kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok kwokctl
#        external-secrets, plus the go-installable helpers listed in GO_TOOLS below.
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.4}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
ESO_VERSION=${ESO_VERSION:-v0.20.4}
TOOLS_CACHE=${TENANTWIRE_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tenantwire/tools}

# name=package@version, installed with `go install` into the cache.
GO_TOOLS=(
  "controller-gen=sigs.k8s.io/controller-tools/cmd/controller-gen@v0.19.0"
  "kustomize=sigs.k8s.io/kustomize/kustomize/v5@v5.8.0"
  "helm=helm.sh/helm/v3/cmd/helm@v3.22.0"
  "kubeconform=github.com/yannh/kubeconform/cmd/kubeconform@v0.7.0"
  "golangci-lint=github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0"
  "crd-ref-docs=github.com/elastic/crd-ref-docs@v0.3.0"
)

log() { printf '[tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

k8s_dir() { echo "$TOOLS_CACHE/kubernetes-$KUBE_VERSION"; }
etcd_dir() { echo "$TOOLS_CACHE/etcd-$ETCD_VERSION"; }
kwok_dir() { echo "$TOOLS_CACHE/kwok-$KWOK_VERSION-k8s-$KUBE_VERSION"; }
eso_dir() { echo "$TOOLS_CACHE/external-secrets-$ESO_VERSION"; }

go_tool_spec() {
  local want=$1 entry
  for entry in "${GO_TOOLS[@]}"; do
    if [[ ${entry%%=*} == "$want" ]]; then echo "${entry#*=}"; return 0; fi
  done
  return 1
}

tool_path() {
  case $1 in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) echo "$(k8s_dir)/$1" ;;
    etcd) echo "$(etcd_dir)/etcd" ;;
    kwok|kwokctl) echo "$(kwok_dir)/$1" ;;
    external-secrets) echo "$(eso_dir)/external-secrets" ;;
    *)
      local spec
      spec=$(go_tool_spec "$1") || { echo "unknown tool: $1" >&2; return 2; }
      echo "$TOOLS_CACHE/$1-${spec##*@}/$1"
      ;;
  esac
}

# Scratch directories of this run, removed on exit (also when a build fails or is interrupted).
SCRATCH=()
cleanup() {
  local d
  for d in "${SCRATCH[@]}"; do chmod -R u+w "$d" 2>/dev/null || true; rm -rf "$d"; done
}
trap cleanup EXIT

# new_scratch sets $d to a fresh directory; with "module" it holds an empty Go module.
new_scratch() {
  d=$(mktemp -d "${TMPDIR:-/tmp}/tenantwire-tools.XXXXXX")
  SCRATCH+=("$d")
  if [[ ${1:-} == module ]]; then (cd "$d" && go mod init tenantwire.local/toolbuild >/dev/null 2>&1); fi
}

# install_built moves a finished binary into place atomically so an interrupted build never leaves
# a half-written tool in the cache.
install_built() {
  local src=$1 dst=$2
  mkdir -p "$(dirname "$dst")"
  mv -f "$src" "$dst.tmp.$$" && mv -f "$dst.tmp.$$" "$dst"
}

build_kubernetes() {
  local name=$1 dst d minor ldflags
  dst=$(tool_path "$name")
  [[ -x $dst ]] && return 0
  log "building $name $KUBE_VERSION from the module proxy (first one ~5 min, later ones 1-2 min)"
  new_scratch module
  local staging_version="v0.${KUBE_VERSION#v1.}"
  (
    cd "$d"
    go mod edit -require "k8s.io/kubernetes@$KUBE_VERSION"
    local modfile
    modfile=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
    # k8s.io/kubernetes replaces its staging modules with local paths; point each at its release.
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$modfile" | awk '{print $1}' | sort -u | while read -r m; do
      go mod edit -replace "$m=$m@$staging_version"
    done
    GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/$name@$KUBE_VERSION" >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "k8s.io/kubernetes/cmd/$name@$KUBE_VERSION"
    minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
    ldflags="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
      ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=0000000000000000000000000000000000000000"
      ldflags+=" -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$d/$name.bin" "k8s.io/kubernetes/cmd/$name"
  )
  install_built "$d/$name.bin" "$dst"
  log "built $dst"
}

build_etcd() {
  local dst d
  dst=$(tool_path etcd)
  [[ -x $dst ]] && return 0
  log "building etcd $ETCD_VERSION"
  new_scratch module
  (
    cd "$d"
    cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$d/etcd.bin" .
  )
  install_built "$d/etcd.bin" "$dst"
  log "built $dst"
}

build_kwok() {
  local name=$1 dst d ldflags
  dst=$(tool_path "$name")
  [[ -x $dst ]] && return 0
  log "building $name $KWOK_VERSION"
  new_scratch module
  ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBE_VERSION#v}"
  (
    cd "$d"
    GOFLAGS=-mod=mod go get "sigs.k8s.io/kwok/cmd/$name@$KWOK_VERSION" >/dev/null 2>&1 || GOFLAGS=-mod=mod go get "sigs.k8s.io/kwok/cmd/$name@$KWOK_VERSION"
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "$ldflags" -o "$d/$name.bin" "sigs.k8s.io/kwok/cmd/$name"
  )
  install_built "$d/$name.bin" "$dst"
  log "built $dst"
}

build_eso() {
  local dst d src
  dst=$(tool_path external-secrets)
  [[ -x $dst ]] && return 0
  log "building the External Secrets Operator controller $ESO_VERSION (~4 min)"
  new_scratch module
  # ESO's go.mod carries replace directives, so build inside a copy of its own module. Some of its
  # provider modules are missing from the checksum database: skip it for this one tool build only.
  src=$(cd "$d" && GOFLAGS=-mod=mod go mod download -json "github.com/external-secrets/external-secrets@$ESO_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp -r "$src" "$d/src"
  chmod -R u+w "$d/src"
  (
    cd "$d/src"
    CGO_ENABLED=0 GOFLAGS=-mod=mod GOSUMDB=off GOWORK=off go build -trimpath -ldflags "-s -w" -o "$d/eso.bin" .
  )
  install_built "$d/eso.bin" "$dst"
  log "built $dst"
}

build_go_tool() {
  local name=$1 spec dst d
  spec=$(go_tool_spec "$name")
  dst=$(tool_path "$name")
  [[ -x $dst ]] && return 0
  log "installing $name ${spec##*@}"
  new_scratch
  CGO_ENABLED=0 GOBIN="$d" GOWORK=off go install "$spec"
  install_built "$d/$name" "$dst"
}

ensure_one() {
  case $1 in
    kube-apiserver|kube-controller-manager|kube-scheduler|kubectl) build_kubernetes "$1" ;;
    etcd) build_etcd ;;
    kwok|kwokctl) build_kwok "$1" ;;
    external-secrets) build_eso ;;
    envtest) ensure_envtest >/dev/null ;;
    *) build_go_tool "$1" ;;
  esac
}

# ensure_envtest lays out the directory controller-runtime's envtest expects (kube-apiserver, etcd,
# kubectl side by side) as links into the per-version caches.
ensure_envtest() {
  local d
  d="$TOOLS_CACHE/envtest-$KUBE_VERSION-etcd-$ETCD_VERSION"
  build_kubernetes kube-apiserver
  build_kubernetes kubectl
  build_etcd
  mkdir -p "$d"
  ln -sfn "$(tool_path kube-apiserver)" "$d/kube-apiserver"
  ln -sfn "$(tool_path kubectl)" "$d/kubectl"
  ln -sfn "$(tool_path etcd)" "$d/etcd"
  echo "$d"
}

# What `ensure` builds by default: everything make test uses (test/manifests renders the chart and
# config/ with helm and kustomize).
ALL=(etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok kwokctl external-secrets kustomize helm)

cmd=${1:-ensure}
shift || true
case $cmd in
  ensure)
    [[ $# -gt 0 ]] || set -- "${ALL[@]}"
    for t in "$@"; do ensure_one "$t"; done
    ;;
  path)
    [[ $# -eq 1 ]] || { echo "usage: $0 path <tool>" >&2; exit 2; }
    ensure_one "$1"
    tool_path "$1"
    ;;
  envtest) ensure_envtest ;;
  versions)
    echo "KUBE_VERSION=$KUBE_VERSION ETCD_VERSION=$ETCD_VERSION KWOK_VERSION=$KWOK_VERSION ESO_VERSION=$ESO_VERSION"
    ;;
  *) echo "usage: $0 ensure [tool...] | path <tool> | envtest | versions" >&2; exit 2 ;;
esac
