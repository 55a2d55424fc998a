"""The overlapped embedded loop (body interval k in a thread while the brain computes
k+1, ``run_embedded(overlap=True)``) writes the serial loop's file bit for bit."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from cosim.checkpoint import schedule
from cosim.interrupts import SimulationFault
from cosim.runner import run_embedded
from cosim.scene import load
from tests.conftest import diverge_body_at


def _datasets(path) -> dict:
    """Every dataset of a run file except the scene text, by name."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) and name != "scene" else None)
    return out


def _assert_same_file(a, b) -> None:
    da, db = _datasets(a), _datasets(b)
    assert sorted(da) == sorted(db)
    for name in da:
        assert np.array_equal(da[name], db[name]), name


@pytest.mark.parametrize("spikes", ["gathered", "per_rank"])
def test_overlapped_run_writes_the_serial_file(tmp_path, small_scene_path, spikes):
    scene = load(small_scene_path, overrides=[f'run.spikes="{spikes}"'])
    assert scene.bridge.lag
    (tmp_path / "serial").mkdir()
    (tmp_path / "overlapped").mkdir()
    run_embedded(scene, tmp_path / "serial" / "run.h5", progress=False)
    r = run_embedded(scene, tmp_path / "overlapped" / "run.h5", progress=False, overlap=True)
    assert r.n_spikes > 0
    _assert_same_file(tmp_path / "serial" / "run.h5", tmp_path / "overlapped" / "run.h5")


def test_overlapped_checkpoints_match_the_serial_run(tmp_path, small_scene_path):
    """A checkpoint taken in the overlapped loop holds the brain just after its interval
    (the body of that interval runs in the main thread): the serial loop's checkpoint."""
    scene = load(small_scene_path, overrides=["run.duration_ms=60"])
    files = {}
    for overlap in (False, True):
        out = tmp_path / f"run_{overlap}.h5"
        sched = schedule(scene, 20.0, output=out)
        run_embedded(scene, out, progress=False, checkpoints=sched, overlap=overlap)
        files[overlap] = (out, sched.path)
    _assert_same_file(files[False][0], files[True][0])
    _assert_same_file(files[False][1], files[True][1])


def test_overlapped_run_stops_at_a_body_fault_like_the_serial_run(tmp_path, small_scene_path,
                                                                  monkeypatch):
    """The faulty interval is the file's last, and no spike of the interval the brain
    computed meanwhile reaches the file."""
    def run(overlap):
        diverge_body_at(monkeypatch, 21)    # interval 20: the physics blows up
        out = tmp_path / f"fault_{overlap}.h5"
        with pytest.raises(SimulationFault, match=r"t = 21 ms: body"):
            run_embedded(load(small_scene_path), out, progress=False, overlap=overlap)
        return out

    serial, overlapped = run(False), run(True)
    _assert_same_file(serial, overlapped)
    with h5py.File(overlapped, "r") as f:
        assert f["body/time_s"].shape[0] == 21 and not f.attrs["complete"]


def test_overlap_needs_the_lag(tmp_path, small_scene_path):
    scene = load(small_scene_path, overrides=["bridge.lag=false"])
    with pytest.raises(ValueError, match="bridge.lag"):
        run_embedded(scene, tmp_path / "run.h5", progress=False, overlap=True)
    assert not (tmp_path / "run.h5").exists()
