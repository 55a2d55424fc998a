# Two commands on a fresh machine with Python >= 3.11 and pip:
#   make demo   - create .venv, install, run the demo scene (writes out/demo.h5 and out/demo.png)
#   make test   - create .venv, install with test extras, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/cosim run scenes/demo.toml -o out/demo.h5

test: $(STAMP)
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out .pytest_cache
