# The two commands the README opens with. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test test-fast lint venv dist lock

$(BIN)/cortex-action: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,lint]'
	@touch $@

venv: $(BIN)/cortex-action

demo: venv
	$(BIN)/python scripts/demo.py

# Two workers per core: many tests wait on loopback servers and child processes (run serially,
# the suite's CPU time is about 60 % of its wall time), so on this project's 2-core machines 4
# workers finish the parallel part in 81 s against 101 s with one per core (3: 82 s, 6: 86 s).
# loadgroup: tests are spread one by one, except those that share a costly module fixture
# (marked xdist_group), which stay on one worker.
WORKERS ?= $(shell $(PYTHON) -c 'import os; print(2 * (os.cpu_count() or 1))')
PYTEST_PARALLEL ?= -n $(WORKERS) --dist loadgroup

# Tests that bound real elapsed time run alone, after the rest: on 2 cores a parallel worker's
# noise would be read as the tool's own lateness.
test: venv
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not realtime"
	$(BIN)/python -m pytest -m realtime

# Everything but the tests marked slow: a quick check while editing.
test-fast: venv
	$(BIN)/python -m pytest $(PYTEST_PARALLEL) -m "not slow and not realtime"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The sdist and the wheel in dist/, checked as PyPI will (what the release workflow publishes).
dist: venv
	$(BIN)/pip install --quiet -e '.[dist]'
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The image's dependencies, pinned with their hashes (requirements.txt, checked in; the Dockerfile
# installs it with --require-hashes). Resolved for the image's Python (3.12), from pyproject.toml's
# runtime dependencies only. Refresh after changing them, or to take new releases:
#   make lock              (keeps current pins where still allowed)
#   make lock UPGRADE=1    (newest allowed versions)
# Dependabot (pip, directory /) also proposes updates of these pins.
LOCK_PYTHON ?= $(shell command -v python3.12 2>/dev/null || echo python3)
LOCK_VENV := .work/lock-venv
lock:
	$(LOCK_PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet 'pip-tools>=7.4,<8'
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --generate-hashes \
		--strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links --no-emit-trusted-host \
		$(if $(UPGRADE),--upgrade) --output-file requirements.txt pyproject.toml
