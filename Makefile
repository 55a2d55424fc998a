# Two commands on a fresh machine with Python >= 3.11 and pip:
#   make demo   - create .venv, install, run the demo scene (writes out/demo.h5 and out/demo.png)
#   make test   - create .venv (+ bench/.venv-peers with NEST and Brian2), run the whole test suite
#   make report-docs - the demo's HTML report, its screenshot and a limb video frame in docs/
#                  (needs Debian's chromium + chromium-driver and an OpenGL backend)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PEERS := bench/.venv-peers/.installed

.PHONY: setup demo test bench peers clean report-docs

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

report-docs: $(STAMP)
	mkdir -p out docs
	$(BIN)/cosim run scenes/demo.toml -o out/demo.h5 --overwrite --no-figure --no-progress
	$(BIN)/cosim report out/demo.h5 -o out/demo_report
	$(BIN)/python -m cosim.report.screenshot out/demo_report/index.html docs/report.png > /dev/null
	cp out/demo_report/limb.png docs/limb_frame.png

test: $(STAMP) $(PEERS)
	OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 $(BIN)/python -m pytest

# issue 13's targets are at 2 threads; then the per-phase profile of the demo co-simulation
bench: $(STAMP) $(PEERS)
	$(BIN)/python bench/coba.py --N 10000 50000 --threads 2 --simulators ours,nest,brian2-standalone --json bench/results/coba.json
	OMP_NUM_THREADS=1 $(BIN)/python bench/scene_profile.py scenes/demo.toml --duration-ms 500 --json bench/results/demo_profile.json

clean:
	rm -rf $(VENV) out .pytest_cache
