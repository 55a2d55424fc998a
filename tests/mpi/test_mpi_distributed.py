"""Distributed build and per-rank spike files over real mpiexec: the voxel-atlas scene
(projections, parallel fibres, a denser focus) on 1, 2, 3 brain ranks gives the replicated
embedded run's file, bit for bit; per-rank files read back as the gathered spikes."""
import json

import h5py
import numpy as np
import pytest

from cosim.launch import mpmd_command
from cosim.output import read_spikes
from cosim.rank_output import rank_path
from cosim.runner import run_embedded
from cosim.scene import SCENES_DIR, load
from tests.mpi.test_mpmd import _mpirun

pytestmark = pytest.mark.mpi

SCENE = SCENES_DIR / "m1_m2_th_pg_cb.toml"
SMALL = ["run.duration_ms=30.0", "brain.region_density_scale={MOp=0.03, MOs=0.03}",
         'brain.focus=[{regions=["MOp"], voxel=[18, 14, 16], radius_um=300.0, '
         'density_scale=0.1}]']
DIST, PER_RANK = 'run.build="distributed"', 'run.spikes="per_rank"'


def _datasets(path) -> dict:
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, v: out.__setitem__(k, v[()]) if isinstance(v, h5py.Dataset)
                     else None)
    return out


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(
        a, b, equal_nan=a.dtype.kind == "f")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    out = tmp / "replicated.h5"
    run_embedded(load(SCENE, overrides=SMALL), out, progress=False)
    return _datasets(out), tmp


def test_embedded_distributed_equals_replicated(reference):
    ref, tmp = reference
    out = tmp / "embedded_dist.h5"
    run_embedded(load(SCENE, overrides=SMALL + [DIST]), out, progress=False)
    got = _datasets(out)
    assert len(ref["spikes/brain/node_ids"]) > 1000
    assert set(got) == set(ref)
    assert [k for k in ref if not _same(got[k], ref[k])] == []


@pytest.mark.parametrize("brain_ranks", [1, 2, 3])
def test_mpi_distributed_equals_replicated(reference, brain_ranks):
    ref, tmp = reference
    out = tmp / f"dist{brain_ranks}.h5"
    res = _mpirun(mpmd_command(SCENE, brain_ranks, out, progress=False,
                               overrides=SMALL + [DIST]))
    assert res.returncode == 0, res.stderr[-3000:]
    got = _datasets(out)
    assert set(got) == set(ref)
    # spikes, body trajectory, bridge traffic and the /cells table, all bit for bit
    assert [k for k in ref if not _same(got[k], ref[k])] == []
    with h5py.File(out, "r") as f:
        assert f.attrs["n_brain_ranks"] == brain_ranks
        peaks = json.loads(f.attrs["peak_rss_bytes_brain"])
        assert len(peaks) == brain_ranks and min(peaks) > 50e6


@pytest.mark.parametrize("brain_ranks, build", [(1, []), (3, [DIST])])
def test_per_rank_spike_files_read_back_as_gathered(reference, brain_ranks, build):
    ref, tmp = reference
    out = tmp / f"per_rank{brain_ranks}.h5"
    res = _mpirun(mpmd_command(SCENE, brain_ranks, out, progress=False,
                               overrides=SMALL + build + [PER_RANK]))
    assert res.returncode == 0, res.stderr[-3000:]
    t, ids = read_spikes(out)
    assert np.array_equal(t, ref["spikes/brain/timestamps"])
    assert np.array_equal(ids, ref["spikes/brain/node_ids"])
    parts = []
    with h5py.File(out, "r") as f:
        pop = f["spikes/brain"]
        assert pop["timestamps"].is_virtual and pop["node_ids"].is_virtual
        assert pop.attrs["sorting"] == (2 if brain_ranks == 1 else 0)
        assert f.attrs["complete"]
        raw = pop["node_ids"][()]
        for r in range(brain_ranks):
            with h5py.File(rank_path(out, r), "r") as g:
                parts.append(g["spikes/brain/node_ids"][()])
                tr = g["spikes/brain/timestamps"][()]
                assert np.all(np.diff(tr) >= 0)      # each rank's file is sorted by time
    # the virtual population is the rank files one after the other, each spike once
    assert np.array_equal(raw, np.concatenate(parts))
    assert sum(len(p) > 0 for p in parts) == brain_ranks
    if brain_ranks > 1:
        assert not set(parts[0].tolist()) & set(parts[1].tolist())
    for key in ("body/qpos", "bridge/counts", "cells/pos_um"):
        assert _same(_datasets(out)[key], ref[key]), key


def test_per_rank_refuses_checkpoints(tmp_path):
    res = _mpirun(mpmd_command(SCENE, 1, tmp_path / "x.h5", progress=False,
                               overrides=SMALL + [PER_RANK], extra=["--checkpoint-every", "10"]),
                  timeout=120)
    assert res.returncode != 0 and "run.spikes = 'per_rank'" in res.stderr
