# pim-operator: the two commands a new user needs are `make up` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST := $(BIN)/pytest
CLUSTER_DIR ?= $(CURDIR)/.cluster
KIND_CLUSTER ?= pim
KIND_KUBECONFIG ?= $(CURDIR)/.kind-kubeconfig
export PIM_CACHE_DIR ?= $(HOME)/.cache/pim-operator

.PHONY: help deps system-deps venv binaries images lint fmt unit test test-fast test-cluster bench \
        up down status kind-up kind-load kind-deploy kind-e2e kind-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

deps: system-deps venv binaries ## install everything the tests need (apt, pip, go build; cached)

system-deps: ## Debian packages (needs root)
	hack/ci/system-deps.sh

venv: $(BIN)/pim-operator ## the Python virtualenv with the project installed editable

$(BIN)/pim-operator: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

binaries: ## etcd, kwok and the Kubernetes 1.34 server binaries from the Go module proxy (cached)
	hack/cluster/build.sh

images: ## the debootstrapped base, pause, engine and operator images (cached)
	hack/images/build.sh

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
test-cluster: venv binaries ## everything that needs the API server (starts the local cluster)
	$(PYTEST) -m "cluster or e2e" -q --junitxml=build/junit-cluster.xml

test: lint test-fast test-cluster ## every test: lint, unit, engine, cluster, e2e
	@$(PY) hack/ci/count.py build/junit-fast.xml build/junit-cluster.xml

bench: venv ## benchmarks (results go to BENCHMARKS.md)
	$(BIN)/python bench/engine_bench.py

up: deps ## local cluster + operator + a sample model and instance
	hack/up.sh

down: ## stop the local cluster started by `make up`
	hack/cluster/down.sh $(CLUSTER_DIR)

kind-up: ## (on a machine with kind and docker) create the kind cluster from kind-config.yaml
	kind create cluster --name $(KIND_CLUSTER) --config kind-config.yaml --kubeconfig $(KIND_KUBECONFIG)

kind-load: images ## build the images and load them into kind
	kind load docker-image --name $(KIND_CLUSTER) pim.dev/pim-engine:dev pim.dev/pim-operator:dev

kind-deploy: ## helm install the operator into kind
	KUBECONFIG=$(KIND_KUBECONFIG) hack/helm.sh upgrade --install pim-operator deploy/helm/pim-operator \
	  --namespace pim-system --create-namespace --wait

kind-e2e: venv ## the same e2e suite against the kind cluster
	PIM_KUBECONFIG=$(KIND_KUBECONFIG) $(PYTEST) -m "cluster or e2e" -q

kind-down:
	kind delete cluster --name $(KIND_CLUSTER)

clean: down
	rm -rf build .pytest_cache
