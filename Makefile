# Developer commands. `make test` is the one CI runs (see .ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Resolve locks against PyPI alone, whatever pip.conf this machine has.
LOCK := env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL PIP_CONFIG_FILE=/dev/null \
	$(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	--no-emit-index-url --no-emit-find-links

.PHONY: test lint bench lock clean

# Lint, type-check, then every test layer: unit, integration (emulator), end-to-end (Docker).
test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Fan-out figures against a private emulator (ours beside the bare Python and Node.js
# clients; the Node.js client comes from benchmarks/node's lock, by npm ci), the backlog
# drain, the work queue's and the sink's throughput, then start-up and shutdown in Docker;
# prints tables and writes benchmarks/results/. Not a test: about 20 minutes on 2 CPUs.
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks.fanout $(BENCH_ARGS)

$(VENV)/.installed: requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

# Re-resolve the locks after changing dependencies in pyproject.toml: one per image (the
# publisher's: the client only; the subscriber's: plus the sink's driver; the dashboard's:
# plus its web server), and development.
lock: $(VENV)/.installed
	$(LOCK) --output-file requirements-publisher.lock pyproject.toml
	$(LOCK) --extra sink --output-file requirements-subscriber.lock pyproject.toml
	$(LOCK) --extra dashboard --output-file requirements-dashboard.lock pyproject.toml
	$(LOCK) --extra dev --extra sink --extra dashboard --output-file requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
