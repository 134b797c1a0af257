# qemu-migration-model: one entry point per job. `make report` and `make test` are the quick start.
# Nothing here installs system packages except `make system-deps`, which says what it installs.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup dev-setup system-deps report verify test lint manifest bench qemu-setup qemu-test qtest clean

# The tool alone (`pip install -e .`: numpy, hypothesis, transitions): all `make report` needs.
$(VENV)/.tool: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e .
	@touch $@

# Tests, lint and the real-QEMU harness: the [dev] and [harness] extras on top.
$(VENV)/.dev: $(VENV)/.tool
	$(BIN)/pip install -q -e '.[dev,harness]'
	@touch $@

setup: $(VENV)/.tool
dev-setup: $(VENV)/.dev

# Optional system packages, with apt-get (as root): Graphviz draws the state graphs as SVG/PNG
# (without it the report and `migmodel graph` write DOT and Mermaid only), Chromium runs the
# report's screenshot test (skipped without it).
system-deps:
	@echo "system-deps: apt-get install graphviz (SVG/PNG graphs) and chromium (report screenshot test)"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends graphviz chromium

# The main job: explore every named configuration once, check verdicts and counts against the
# pinned manifest, and write reports/ (only if they match).
report: setup
	$(BIN)/migmodel report --out reports --check-manifest tests/manifest.json --quiet

verify: setup
	$(BIN)/migmodel verify

# One worker per core (pytest-xdist), a test file's tests on one worker (they share module fixtures).
test: dev-setup
	$(BIN)/python -m pytest -q -n auto --dist loadfile

# The whole repository: ruff on every Python file, mypy --strict on the folders pyproject.toml's
# [tool.mypy] files lists (model properties checker harness benchmarks tests).
lint: dev-setup
	$(BIN)/ruff check .
	$(BIN)/mypy --strict

# After a deliberate model change: pin the new counts and verdicts (explain them in the commit).
manifest: setup
	$(BIN)/migmodel verify --quiet --no-counterexamples --write-manifest tests/manifest.json || true

bench: dev-setup
	$(BIN)/python benchmarks/bench_verify.py

qemu-setup: dev-setup
	bash harness/setup-qemu.sh

qemu-test: qemu-setup
	$(BIN)/python -m pytest -q -m qemu tests/live

# QEMU's own migration tests (tests/qtest/migration-test) on the 10.2.2 built from source, each
# recorded and checked against the model (migmodel qtest --list: what is in scope and why not).
qtest: qemu-setup
	bash harness/setup-qemu.sh --with-10.2
	$(BIN)/migmodel qtest --out-dir qtest-traces

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
