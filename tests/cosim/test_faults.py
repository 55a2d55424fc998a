"""Runs that stop early: a non-finite brain or body state is named at the interval it
appears in, SIGTERM/SIGINT finish the interval and leave a readable file marked
interrupted, and everything written before stays in the file."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from cosim.interrupts import SimulationFault
from cosim.runner import embedded_parts, run_embedded
from cosim.scene import load
from tests.conftest import diverge_body_at


def test_nan_membrane_is_named_with_time_and_cell(tmp_path, small_scene_path):
    scene = load(small_scene_path)
    brain, side = embedded_parts(scene, tmp_path / "run.h5")
    for k in range(3):
        brain.interval(k)
        side.interval(k)
    gid = int(brain.engine.gid[7])
    brain.engine.v_mV[7] = np.nan
    with pytest.raises(SimulationFault) as err:
        brain.interval(3)
    msg = str(err.value)
    type_name = brain.model.params.cell_types[brain.model.cells.type_id[gid]].name
    assert msg.startswith("t = 3-4 ms: 1 membrane potential(s) became non-finite"), msg
    assert f"first cell {gid} ({type_name}, region" in msg and "nan mV" in msg, msg
    side.stop(error=msg)


def test_diverged_body_stops_the_run_and_keeps_the_file(tmp_path, small_scene_path,
                                                         monkeypatch):
    diverge_body_at(monkeypatch, 21)    # interval 20: the physics blows up
    out = tmp_path / "run.h5"
    with pytest.raises(SimulationFault, match=r"t = 21 ms: body .*reset the state"):
        run_embedded(load(small_scene_path), out, progress=False)
    with h5py.File(out, "r") as f:
        assert not f.attrs["complete"] and "t = 21 ms" in f.attrs["error"]
        assert f["body/time_s"].shape[0] == 21            # intervals 0..20, the last one faulty
        assert f["bridge/interval"][-1] == 20
        t = f["spikes/brain/timestamps"][:]
        assert t.size == 0 or t.max() <= 21.0           # nothing from after the fault


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_finishes_the_interval_and_marks_the_file(tmp_path, small_scene_path, sig, code):
    out = tmp_path / "run.h5"
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "cosim", "run", str(small_scene_path),
                             "-o", str(out), "--duration", "60000", "--no-progress",
                             "--no-figure"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        rows = 0
        while rows < 200 and time.monotonic() < deadline:   # two chunks of 100 ms written
            time.sleep(0.5)
            if out.exists():
                try:
                    with h5py.File(out, "r", locking=False) as f:
                        rows = f["body/time_s"].shape[0]
                except (OSError, KeyError):
                    pass                                    # file being created
        assert rows >= 200, "the run did not get going"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert signal.Signals(sig).name in err and "Traceback" not in err, err
    with h5py.File(out, "r") as f:
        assert not f.attrs["complete"]
        assert signal.Signals(sig).name in f.attrs["interrupted"]
        n = f["body/time_s"].shape[0]
        assert rows <= n < 60000 and f["bridge/interval"][-1] == n - 1
        # every interval up to the stop is there: spikes to its end, the body row of each
        t = f["spikes/brain/timestamps"][:]
        assert t.max() <= n * 1.0 and t.max() > n - 50.0
        assert np.all(np.diff(f["bridge/interval"][:]) == 1)
