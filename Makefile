# tenantwire — see README.md. `make test` and `make run` set up everything they need on a fresh machine.
SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec

IMG ?= tenantwire:dev
TOOLS := hack/tools.sh
CONTROLLER_GEN = $(shell $(TOOLS) path controller-gen)
GOTEST_FLAGS ?= -count=1 -timeout 30m
PKGS ?= ./...

.PHONY: all
all: build

##@ General
.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development
.PHONY: manifests
manifests: ## Generate CRDs and RBAC from the markers; copy them into the Helm chart; regenerate docs/api.md.
	$(CONTROLLER_GEN) rbac:roleName=tenantwire-manager crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	hack/sync-chart.sh
	hack/api-docs.sh

.PHONY: api-docs
api-docs: ## Generate the API reference docs/api.md from api/v1alpha1 with crd-ref-docs.
	hack/api-docs.sh

.PHONY: generate
generate: ## Generate deepcopy code.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: fmt
fmt: ## go fmt
	go fmt ./...

.PHONY: vet
vet: ## go vet
	go vet ./...

.PHONY: lint
lint: ## golangci-lint
	$(shell $(TOOLS) path golangci-lint) run ./...

.PHONY: helm-lint
helm-lint: manifests ## Lint the Helm chart with --strict (make test also lints, renders and validates it).
	$(shell $(TOOLS) path helm) lint --strict charts/tenantwire

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files are not committed.
	@git diff --exit-code -- api config charts docs/api.md || { echo "generated files are stale: run make manifests generate and commit"; exit 1; }

.PHONY: tools
tools: ## Build the Kubernetes toolchain into the cache (first time 30 minutes or more on 2 cores).
	$(TOOLS) ensure

.PHONY: test
test: manifests generate vet tools ## Unit, envtest and simulated-cluster tests (builds the toolchain on first use).
	KUBEBUILDER_ASSETS="$$($(TOOLS) envtest)" go test $(GOTEST_FLAGS) $(PKGS)

BENCH_TENANTS ?= 100,1000
BENCH_FLAGS ?=
.PHONY: bench
bench: tools ## Scale benchmark on the simulated cluster (BENCH_TENANTS=100,1000; BENCH_FLAGS="-memory-limit 128Mi -cpu-limit 1" for the chart's limits); writes docs/benchmarks-results.md.
	go run ./test/bench -tenants $(BENCH_TENANTS) $(BENCH_FLAGS) -out docs/benchmarks-results.md

BENCH_SYNC_FLAGS ?=
.PHONY: bench-sync
bench-sync: ## Mapping lookups/s and upserts/s on SQLite and PostgreSQL against the raw driver (needs the PostgreSQL server binaries, as make test does), and a 10,000-patient backfill into each destination fake at the vendors' (scaled) limits; writes docs/benchmarks-sync-results.md.
	go run ./test/benchsync $(BENCH_SYNC_FLAGS) -out docs/benchmarks-sync-results.md

##@ Build
.PHONY: build
build: manifests generate ## Build the binary.
	CGO_ENABLED=0 go build -trimpath -o bin/tenantwire .

.PHONY: run
run: manifests generate ## Run against $$KUBECONFIG, or start a simulated cluster when none is configured.
	hack/run.sh

.PHONY: dev-cluster
dev-cluster: ## Start the simulated cluster (kwok, real apiserver/etcd/controller-manager/scheduler, ESO).
	hack/dev-cluster.sh up

.PHONY: dev-cluster-down
dev-cluster-down: ## Remove the simulated cluster and everything make run started.
	hack/dev-cluster.sh down

.PHONY: docker-build
docker-build: ## Build the image (needs a Docker engine).
	docker build -t $(IMG) .

# kustomize edit rewrites the kustomization it edits, so it runs on a copy of config/ in dist/.
.PHONY: build-installer
build-installer: manifests ## Write dist/install.yaml, the whole kustomize install in one file (IMG selects the image).
	rm -rf dist/kustomize && mkdir -p dist/kustomize && cp -r config dist/kustomize/
	cd dist/kustomize/config/manager && $(shell $(TOOLS) path kustomize) edit set image controller=$(IMG)
	$(shell $(TOOLS) path kustomize) build dist/kustomize/config/default > dist/install.yaml
	rm -rf dist/kustomize
	@echo "wrote dist/install.yaml for $(IMG)"

##@ Deployment
.PHONY: install
install: manifests ## Install the CRDs into the cluster in $$KUBECONFIG.
	$(shell $(TOOLS) path kubectl) apply --server-side -f config/crd/bases

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs.
	$(shell $(TOOLS) path kubectl) delete --ignore-not-found -f config/crd/bases

.PHONY: deploy
deploy: manifests ## Deploy the operator with kustomize (IMG selects the image).
	cd config/manager && $(shell $(TOOLS) path kustomize) edit set image controller=$(IMG)
	$(shell $(TOOLS) path kustomize) build config/default | $(shell $(TOOLS) path kubectl) apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the operator deployed by make deploy.
	$(shell $(TOOLS) path kustomize) build config/default | $(shell $(TOOLS) path kubectl) delete --ignore-not-found -f -
