# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test test-fast bench gpu-wheels clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements-dev.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

demo: setup
	$(BIN)/slmscale demo --out demo-out

test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 -q

test-fast: setup
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

bench: setup
	for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Wheels for the GPU benchmark's bare machine (docs/training.md, "GPU benchmark"); needs network.
gpu-wheels: setup
	$(BIN)/python bench/gpu/wheels.py bench/gpu/wheels

clean:
	rm -rf $(VENV) demo-out .pytest_cache
