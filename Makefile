# Two commands on a fresh machine with Python >= 3.11 and pip:
#   make demo   - create .venv, install, run the demo scene (writes out/demo.h5 and out/demo.png)
#   make test   - create .venv (+ bench/.venv-peers with NEST and Brian2), run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEERS := bench/.venv-peers/.installed

.PHONY: setup demo test bench peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	# a muscle model we did not write, for the generic-MJCF env test; its metadata pins
	# mujoco<4 although the models load fine, hence --no-deps
	$(BIN)/python -m pip install --quiet --no-deps myo-sim
	touch $(STAMP)

# NEST and Brian2 live in their own venv so they never pin this project's numpy
$(PEERS): bench/setup_peers.sh
	PYTHON=$(PYTHON) bash bench/setup_peers.sh
	touch $(PEERS)

peers: $(PEERS)

setup: $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/cosim run scenes/demo.toml -o out/demo.h5

test: $(STAMP) $(PEERS)
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(BIN)/python -m pytest

bench: $(STAMP) $(PEERS)
	$(BIN)/python bench/coba.py --N 10000 50000 --simulators ours,nest,brian2 --json bench/results/coba.json

clean:
	rm -rf $(VENV) out .pytest_cache
