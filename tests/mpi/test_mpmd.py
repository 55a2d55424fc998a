"""The same scene over real mpiexec (1, 2, 3 brain ranks + 1 body rank, with the sparse
and the allgather spike exchange) equals the embedded run bit for bit; a failing rank
aborts the whole job with its message."""
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

from cosim.launch import launch_env, mpiexec_path, mpmd_command
from cosim.runner import run_embedded
from cosim.scene import load
from tests.conftest import SMALL, write_scene

pytestmark = pytest.mark.mpi


def _read(path):
    with h5py.File(path, "r") as f:
        return {k: f[k][:] for k in ("spikes/brain/node_ids", "spikes/brain/timestamps",
                                     "body/qpos", "body/qvel", "bridge/counts",
                                     "bridge/afferent_rates_Hz", "cells/pos_um")}, dict(f.attrs)


def _mpirun(cmd, timeout=300):
    return subprocess.run(cmd, env=launch_env(), capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mpi")
    path = write_scene(tmp, "small.toml", **SMALL)
    embedded = tmp / "embedded.h5"
    run_embedded(load(path), embedded, progress=False)
    return path, _read(embedded)[0], tmp


@pytest.mark.parametrize("exchange", ["sparse", "allgather"])
@pytest.mark.parametrize("brain_ranks", [1, 2, 3])
def test_mpi_equals_embedded(small, brain_ranks, exchange):
    path, ref, tmp = small
    out = tmp / f"mpi{brain_ranks}_{exchange}.h5"
    res = _mpirun(mpmd_command(path, brain_ranks, out, progress=False,
                               overrides=[f'run.exchange="{exchange}"']))
    assert res.returncode == 0, res.stderr[-3000:]
    got, attrs = _read(out)
    assert attrs["mode"] == "mpi" and attrs["n_brain_ranks"] == brain_ranks
    assert attrs["exchange"] == exchange
    assert len(ref["spikes/brain/node_ids"]) > 100
    for key in ("spikes/brain/node_ids", "spikes/brain/timestamps", "bridge/counts",
                "cells/pos_um"):
        assert np.array_equal(got[key], ref[key]), key
    for key in ("body/qpos", "body/qvel", "bridge/afferent_rates_Hz"):
        assert got[key].shape == ref[key].shape
        assert np.abs(got[key] - ref[key]).max() <= 1e-9, key


def test_cosim_launch_runs_mpiexec(small):
    path, ref, tmp = small
    out = tmp / "launched.h5"
    res = subprocess.run([sys.executable, "-m", "cosim", "launch", str(path), "--brain-ranks",
                          "2", "-o", str(out), "--no-progress"], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert np.array_equal(_read(out)[0]["spikes/brain/node_ids"], ref["spikes/brain/node_ids"])


def test_failing_rank_aborts_job_with_message(tmp_path):
    # The muscle override names no muscle of the body. Since the scene check compiles the
    # MJCF at load, every rank finds it and the first to abort names itself (CI saw rank 0
    # as often as rank 2): the job must end at once with a rank's message naming the key.
    path = write_scene(tmp_path, "bad.toml", **SMALL,
                       **{"[bridge.transfer]": "[bridge.muscles.tail]\ngain_per_Hz = 0.1\n\n"
                          "[bridge.transfer]"})
    res = _mpirun(mpmd_command(path, 2, tmp_path / "bad.h5", progress=False), timeout=120)
    assert res.returncode != 0
    assert re.search(r"rank [0-2] \((brain|body)\): .*bridge\.muscles\.tail: no muscle 'tail'",
                     res.stderr), res.stderr


def test_wrong_program_order_is_reported(tmp_path):
    path = write_scene(tmp_path, "s.toml", **SMALL)
    py = sys.executable
    cmd = [mpiexec_path(), "-n", "1", py, "-m", "body", str(path), "-o", str(tmp_path / "x.h5"),
           ":", "-n", "1", py, "-m", "brain", str(path)]
    res = _mpirun(cmd, timeout=120)
    assert res.returncode != 0 and "launch brain first" in res.stderr


def test_ensemble_members_are_independent_models(small):
    """--members 2: one job, two models (seed, seed+1), each equal to its embedded run."""
    path, ref, tmp = small
    out = tmp / "ens.h5"
    res = _mpirun(mpmd_command(path, 1, out, progress=False, members=2))
    assert res.returncode == 0, res.stderr[-3000:]
    m0, a0 = _read(tmp / "ens_member000.h5")
    m1, a1 = _read(tmp / "ens_member001.h5")
    scene = load(path)
    assert a0["seed"] == scene.run.seed and a1["seed"] == scene.run.seed + 1
    assert np.array_equal(m0["spikes/brain/node_ids"], ref["spikes/brain/node_ids"])
    other = tmp / "embedded_seed1.h5"
    run_embedded(scene.with_run(seed=scene.run.seed + 1), other, progress=False)
    r1 = _read(other)[0]
    assert np.array_equal(m1["spikes/brain/node_ids"], r1["spikes/brain/node_ids"])
    assert np.array_equal(m1["body/qpos"], r1["body/qpos"])
    assert not np.array_equal(m1["cells/pos_um"], m0["cells/pos_um"])
