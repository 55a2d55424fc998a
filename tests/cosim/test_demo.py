"""Acceptance of the walking skeleton on the shipped demo scene (1 s, embedded).

1. L5B cells fire, the counts reach the body and a forelimb joint moves > 5 degrees;
   with the bridge's motor output off, the joints move < 1 degree.
4. The output file opens with plain h5py, has the documented groups, and holds exactly
   the spikes the run produced in memory.
"""
import subprocess
import sys

import h5py
import numpy as np
import pytest

from cosim.output import SpikeBuffer
from cosim.runner import embedded_parts, run_embedded
from cosim.scene import load
from tests.conftest import SCENES, write_scene


class TeeBuffer(SpikeBuffer):
    """A spike buffer that also keeps everything it was given, for comparison."""

    def __init__(self):
        super().__init__()
        self.all_steps, self.all_gids = [], []

    def add(self, steps, gids):
        super().add(steps, gids)
        self.all_steps.append(np.array(steps))
        self.all_gids.append(np.array(gids))


def run_with_memory(scene, out):
    """The embedded run, keeping every spike in memory as well as writing the file."""
    spikes = TeeBuffer()
    run_embedded(scene, out, progress=False, spikes=spikes)
    return np.concatenate(spikes.all_steps), np.concatenate(spikes.all_gids)


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    on = load(SCENES / "demo.toml")
    off = load(write_scene(tmp, "off.toml", **{"motor_output = true": "motor_output = false"}))
    assert on.run.duration_ms == 1000.0
    r_on = run_embedded(on, tmp / "on.h5", progress=False)
    r_off = run_embedded(off, tmp / "off.h5", progress=False)
    return r_on, r_off


def _joint_excursion_deg(path):
    with h5py.File(path, "r") as f:
        q = f["body/qpos"][:]
    return np.degrees(np.abs(q - q[0]).max(axis=0))


def test_l5b_drives_the_forelimb(demo_runs):
    r_on, _ = demo_runs
    with h5py.File(r_on.path, "r") as f:
        ids = f["spikes/brain/node_ids"][:]
        types = [t.decode() for t in f["cells/type_names"][:]]
        type_id = f["cells/type_id"][:]
        counts = f["bridge/counts"][:]
        exc = f["body/excitation"][:]
    l5b = types.index("L5B_E")
    assert np.count_nonzero(type_id[ids] == l5b) > 100          # L5B cells fire
    assert counts.sum() == np.count_nonzero(type_id[ids] == l5b)  # every L5B spike counted
    assert exc.max() > 0.1                                       # counts reached the muscles
    assert _joint_excursion_deg(r_on.path).max() > 5.0


def test_without_motor_output_the_limb_stays(demo_runs):
    r_on, r_off = demo_runs
    with h5py.File(r_off.path, "r") as f:
        assert f["bridge/counts"][:].sum() > 0                   # the brain still fires ...
        assert f["body/excitation"][:].max() == 0.0              # ... but nothing reaches the body
    assert _joint_excursion_deg(r_off.path).max() < 1.0


def test_output_file_layout_and_spikes_equal_memory(tmp_path, small_scene_path):
    scene = load(small_scene_path)
    out = tmp_path / "run.h5"
    steps, gids = run_with_memory(scene, out)
    assert len(gids) > 100
    with h5py.File(out, "r") as f:
        for name in ("spikes/brain/timestamps", "spikes/brain/node_ids", "cells/type_id",
                     "cells/pos_um", "cells/voxel", "cells/region", "body/time_s", "body/qpos",
                     "body/qvel", "body/excitation", "body/activation", "body/force_N",
                     "body/length_m", "bridge/counts", "bridge/afferent_rates_Hz", "scene"):
            assert name in f, name
        assert f.attrs["cosim_version"] and f.attrs["complete"]
        assert f["scene"][()].decode() == scene.text
        t = f["spikes/brain/timestamps"][:]
        ids = f["spikes/brain/node_ids"][:]
        assert f["cells/type_id"].shape == f["cells/voxel"].shape and len(f["cells/type_id"]) > 500
        assert f["body/qpos"].shape[0] == scene.n_intervals
    order = np.lexsort((gids, steps))
    assert len(ids) == len(gids)
    assert np.array_equal(ids, gids[order].astype(np.uint64))
    assert np.allclose(t, (steps[order] + 1) * scene.run.dt_ms)
    assert np.all(np.diff(t) >= 0)


def test_chunks_are_readable_while_running(tmp_path, small_scene_path):
    """Output is flushed per chunk: a reader sees complete chunks before the run ends."""
    scene = load(small_scene_path)
    out = tmp_path / "run.h5"
    brain, side = embedded_parts(scene, out)
    for k in range(150):                       # 1.5 chunks of 100 ms
        brain.interval(k)
        side.interval(k)
    # another process reads while the writer still has the file open
    code = ("import h5py, sys; f = h5py.File(sys.argv[1], 'r', locking=False); "
            "print(f['body/time_s'].shape[0], bool(f.attrs['complete']), "
            "f['spikes/brain/node_ids'].shape[0])")
    res = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    rows, complete, n_spikes = res.stdout.split()
    assert rows == "100" and complete == "False" and int(n_spikes) > 0
    side.writer.close()


def test_record_only_chosen_cell_types(tmp_path, small_scene_path):
    text = small_scene_path.read_text().replace("flush_every_ms = 100.0",
                                                'flush_every_ms = 100.0\nrecord = ["L5B_E"]')
    path = tmp_path / "rec.toml"
    path.write_text(text)
    scene = load(path)
    run_embedded(scene, tmp_path / "rec.h5", progress=False)
    with h5py.File(tmp_path / "rec.h5", "r") as f:
        ids = f["spikes/brain/node_ids"][:]
        names = [t.decode() for t in f["cells/type_names"][:]]
        types = f["cells/type_id"][:]
        counts = f["bridge/counts"][:]
    assert len(ids) > 0 and set(types[ids]) == {names.index("L5B_E")}
    assert counts.sum() == len(ids)        # the bridge still sees all L5B spikes
