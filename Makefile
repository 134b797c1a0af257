# qemu-migration-model: one entry point per job. `make report` and `make test` are the quick start.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup report verify test lint manifest bench qemu-setup qemu-test qtest clean

$(BIN)/migmodel: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev,harness]'
	@touch $@

setup: $(BIN)/migmodel
	@# Graphviz turns the DOT graphs into SVG/PNG; without it DOT and Mermaid are still written.
	@command -v dot >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && apt-get install -y -qq --no-install-recommends graphviz >/dev/null) || \
		echo "note: graphviz not installed; reports keep DOT and Mermaid graphs only"; }

# The main job: verify every named configuration against the pinned manifest, write reports/.
report: setup
	$(BIN)/migmodel verify --quiet --no-counterexamples --check-manifest tests/manifest.json
	$(BIN)/migmodel report --out reports --quiet

verify: setup
	$(BIN)/migmodel verify

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check model properties checker
	$(BIN)/mypy --strict model properties checker

# After a deliberate model change: pin the new counts and verdicts (explain them in the commit).
manifest: setup
	$(BIN)/migmodel verify --quiet --no-counterexamples --write-manifest tests/manifest.json || true

bench: setup
	$(BIN)/python benchmarks/bench_verify.py

qemu-setup: setup
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
