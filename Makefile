# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CORE := $(VENV)/.installed-core
FULL := $(VENV)/.installed-test
# pytest-xdist workers for `make test` (0: one process, e.g. to debug); a test module's
# tests stay on one worker, so a module's expensive fixtures run once
TEST_WORKERS ?= 2

.PHONY: install install-test system-deps demo test lint format bench clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (make PYTHON=python3.11 ...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# the grader with the instructor features (gradebook, Dask, similarity) and the demo's needs
$(CORE): $(PY) pyproject.toml
	$(PY) -m pip install -q -e '.[demo,instructor]'
	@touch $@

# plus test tools and what the reference solutions need (PyTorch, torchvision, ...)
$(FULL): $(CORE)
	$(PY) -m pip install -q -e '.[demo,instructor,dev,reference]'
	@touch $@

install: $(CORE)
install-test: $(FULL)

# Debian packages: bubblewrap (sandbox) and chromium (browser tests)
system-deps:
	@bash scripts/system-deps.sh

demo: install
	$(PY) examples/make_examples.py --out demo-out

test: install-test system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadscope

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install-test
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install-test
	$(PY) benchmarks/static_checks.py --n 40

clean:
	rm -rf $(VENV) demo-out dist build .pytest_cache .ruff_cache
