# pim-operator: the two commands a new user needs are `make up` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest
CLUSTER_DIR ?= $(CURDIR)/.cluster
# `make up` brings up kind (what users know); CLUSTER=embedded for the embedded local cluster
# (control plane + a real kubelet node on this machine, hack/up.sh).
CLUSTER ?= kind
export KIND_CLUSTER ?= pim
export KIND_KUBECONFIG ?= $(CURDIR)/.kind-kubeconfig
# The e2e tests run pods on a real node unless PIM_CLUSTER_NODE=0; the node needs the images.
NODE_IMAGES := $(if $(filter 0,$(PIM_CLUSTER_NODE)),,images)
export PIM_CACHE_DIR ?= $(HOME)/.cache/pim-operator

.PHONY: help deps system-deps venv binaries images addons lint fmt unit test test-fast test-cluster test-scaling bench \
        bench-cycles up down kind-up kind-load kind-addons kind-deploy kind-e2e kind-scaling kind-down clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: system-deps venv binaries ## install everything the tests need (apt, pip, go build; cached)

system-deps: ## Debian packages (needs root)
	hack/ci/system-deps.sh

venv: $(BIN)/pim-operator ## the Python virtualenv with the project installed editable

$(BIN)/pim-operator: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

binaries: ## etcd, kwok, Kubernetes 1.34, kube-router and Prometheus from the Go module proxy (cached; progress shown)
	hack/cluster/build.sh

images: ## the debootstrapped base, engine, operator, console, pause and local-path-provisioner images (cached)
	hack/images/build.sh all
	hack/images/pause.sh
	hack/images/local-path.sh

addons: ## CloudNativePG, the PostgreSQL image, metrics-server and CoreDNS (Go module proxy, Debian; cached)
	hack/addons/images.sh all >/dev/null

lint: venv ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

unit: venv ## pure tests: no cluster, no network
	$(PYTEST) -m unit -q

test-fast: venv ## unit tests and the engine's HTTP tests (real uvicorn, real SQLite)
	$(PYTEST) -m "not cluster and not e2e" -q --junitxml=build/junit-fast.xml

# The local cluster gets a real node (containerd, kubelet, kube-proxy; needs root) for the e2e tests.
test-cluster: export PIM_CLUSTER_NODE ?= 1
test-cluster: venv binaries $(NODE_IMAGES) ## everything that needs the API server (starts the local cluster)
	$(PYTEST) -m "(cluster or e2e) and not kind_only and not scaling and not unstable" -q --junitxml=build/junit-cluster.xml

test-scaling: export PIM_CLUSTER_NODE ?= 1
test-scaling: venv binaries $(NODE_IMAGES) addons ## issue 12's scaling scenarios (3 replicas, rollouts, kills, failover, HPA) on the local node
	$(PYTEST) -m scaling -q -s --junitxml=build/junit-scaling.xml

test: lint test-fast test-cluster ## every test: lint, unit, engine, cluster, e2e
	@$(PY) hack/ci/count.py build/junit-fast.xml build/junit-cluster.xml

bench: venv ## the engine benchmark (others: python -m bench.<name>; results go to BENCHMARKS.md)
	$(BIN)/python -m bench.engine_bench

bench-cycles: venv ## 20 `make up CLUSTER=embedded` / `make down` cycles: bring-up reliability (bench/cluster_cycles.py)
	$(BIN)/python -m bench.cluster_cycles --target make --cycles 20 --write

ifeq ($(CLUSTER),embedded)
up: system-deps venv ## a local cluster (kind; CLUSTER=embedded: the embedded one) + add-ons + operator (helm) + a sample (PIM_ADDONS=0: no add-ons)
	CLUSTER=embedded PIM_CLUSTER_DIR=$(CLUSTER_DIR) hack/up.sh
else ifeq ($(CLUSTER),kind)
up: system-deps venv
	hack/kind/up.sh
	[ "$${PIM_ADDONS:-1}" = 0 ] || hack/addons/kind.sh
	hack/kind/load.sh
	hack/kind/deploy.sh --set probeInterval=10
	hack/kind/sample.sh
else
up:
	$(error CLUSTER=$(CLUSTER): expected kind or embedded)
endif

# CLUSTER=embedded stops only the embedded cluster (and a dockerd its `make up` started); otherwise
# both kinds of cluster go, and any dockerd these scripts started.
down: ## stop what `make up` started: the kind cluster, the embedded cluster, a dockerd it started
ifeq ($(CLUSTER),embedded)
	CLUSTER=embedded PIM_CLUSTER_DIR=$(CLUSTER_DIR) hack/down.sh
else
	hack/kind/down.sh
	CLUSTER=embedded PIM_CLUSTER_DIR=$(CLUSTER_DIR) hack/down.sh
	hack/images/dockerd.sh stop
endif

# The kind targets work on a laptop with Docker as here: kind, and (where kindest/node cannot be
# pulled) its node image, are built from the Go module proxy and Debian (hack/kind/README.md).
# One kind cluster per machine: wrap their use in `flock /tmp/pim-kind.lock make ...`.
kind-up: system-deps ## create the kind cluster of kind-config.yaml, Ready with DNS, storage, a CNI
	hack/kind/up.sh

kind-load: venv ## build the engine and operator images, kind load them into the nodes
	hack/kind/load.sh

kind-addons: ## CloudNativePG, its PostgreSQL image and metrics-server: built here, kind-loaded, installed
	hack/addons/kind.sh

kind-deploy: venv ## helm install the operator into pim-system of the kind cluster
	hack/kind/deploy.sh

kind-e2e: venv ## the e2e suite against the kind cluster (the operator and Prometheus run in it)
	hack/kind/load.sh --e2e
	hack/addons/kind.sh
	PIM_KUBECONFIG=$(KIND_KUBECONFIG) $(PYTEST) -m "e2e and not local_node_only and not scaling" -q --junitxml=build/junit-kind.xml

kind-scaling: venv ## issue 12's scaling scenarios on the kind cluster (after kind-e2e, or alone: it loads what it needs)
	hack/kind/load.sh
	hack/addons/kind.sh
	PIM_KUBECONFIG=$(KIND_KUBECONFIG) $(PYTEST) -m scaling -q -s --junitxml=build/junit-kind-scaling.xml

kind-down: ## delete the kind cluster
	hack/kind/down.sh

clean: down
	rm -rf build .pytest_cache
