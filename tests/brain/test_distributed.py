"""Distributed build without MPI: each rank's partial table wires exactly the replicated
synapses, the partition needs no cell table, and the /cells blocks equal the full table."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from brain.connectivity import connect
from brain.distributed import connect_local, local_model, rank_of_voxels
from brain.partition import local_cells
from cosim import cache
from cosim.build import (_LOADED, build_brain_model, build_layout_model_of, build_pools,
                         cell_table, cell_table_blocks, rank_of_cells)
from cosim.scene import SceneError, load

SMALL = ["brain.region_density_scale={MOp=0.03, MOs=0.03}",
         'brain.focus=[{regions=["MOp"], voxel=[18, 14, 16], radius_um=300.0, '
         'density_scale=0.1}]']
SYN_FIELDS = ("indptr", "target", "weight_code", "weight_table_nS", "delay_steps")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COSIM_CACHE", str(tmp_path_factory.mktemp("cache")))
    scene = load("m1_m2_th_pg_cb", overrides=SMALL)
    yield scene, build_brain_model(scene), build_layout_model_of(scene)
    mp.undo()


def test_layout_counts_match_the_placed_cells(models):
    _, full, base = models
    assert base.n_cells == full.n_cells and base.cells.n == 0
    assert np.array_equal(base.all_type_ids(), full.cells.type_id)
    g = np.arange(0, full.n_cells, 97)
    assert np.array_equal(base.positions(g), full.cells.pos_um[g])
    assert full.cells.wiring_factor is not None        # the focus is there


@pytest.mark.parametrize("n_ranks", [2, 3])
def test_partial_tables_wire_the_replicated_synapses(models, n_ranks):
    scene, full, base = models
    rank_of = rank_of_cells(full, n_ranks)
    assert np.array_equal(rank_of_voxels(base, n_ranks)[full.cells.voxel], rank_of)
    for r in range(n_ranks):
        model, gids = local_model(base, n_ranks, r)
        assert np.array_equal(gids, local_cells(rank_of, r))
        assert model.cells.n < full.n_cells              # a partial table, not the whole
        want = connect(full.params, full.cells, gids, full.dt_ms, full.seed,
                       grid_um=full.atlas.voxel_um)
        got = connect_local(model, gids)
        assert want.n > 0
        for k in SYN_FIELDS:
            assert np.array_equal(getattr(got, k), getattr(want, k)), (r, k)


@pytest.mark.parametrize("n_ranks", [2, 3, 5])
def test_area_partition_from_the_layout_equals_the_replicated_one(models, n_ranks):
    """run.partition = "area": the layout's voxel weights give the same partition (5
    ranks: more ranks than this scene's areas, so areas are split too)."""
    _, full, base = models
    rank_of = rank_of_cells(full, n_ranks, "area")
    assert np.array_equal(rank_of_voxels(base, n_ranks, "area")[full.cells.voxel], rank_of)
    assert len(np.unique(rank_of)) == n_ranks
    model, gids = local_model(base, n_ranks, n_ranks - 1, "area")
    assert np.array_equal(gids, local_cells(rank_of, n_ranks - 1))


def test_cell_blocks_concatenate_to_the_full_table(models):
    scene, full, base = models
    pools = build_pools(scene, full, 10)
    assert np.array_equal(build_pools(scene, base, 10).pool, pools.pool)
    want = cell_table(full, pools)
    fixed, blocks = cell_table_blocks(base, pools, block_cells=5000)
    blocks = list(blocks)
    assert len(blocks) > 3
    for k, v in want.items():
        got = fixed[k] if k in fixed else np.concatenate([b[k] for b in blocks])
        v = np.asarray(v).astype("S") if np.asarray(v).dtype == object else np.asarray(v)
        got = got.astype("S") if got.dtype == object else got
        assert np.array_equal(got, v), k
    assert (want["dc_site"] >= 0).any()


def test_partial_table_misuse_is_an_error(models):
    _, full, base = models
    model, gids = local_model(base, 2, 0)
    with pytest.raises(ValueError, match="not in this partial cell table"):
        model.cells.rows(np.setdiff1d(np.arange(model.n_cells), model.cells.gid)[:1])
    with pytest.raises(ValueError, match="needs a voxel atlas and its sources"):
        connect(model.params, model.cells, gids, model.dt_ms, model.seed)
    with pytest.raises(ValueError, match="rank 2 of 2"):
        local_model(base, 2, 2)


@pytest.mark.parametrize("override, words", [
    ('run.build="distrib"', "run.build: build = 'distrib': must be one of 'replicated', "
                            "'distributed'"),
    ('run.spikes="rank"', "run.spikes: spikes = 'rank': must be one of 'gathered', "
                          "'per_rank'"),
])
def test_bad_build_keys(override, words):
    with pytest.raises(SceneError, match=words.replace(".", r"\.").replace("(", r"\(")):
        load("m1_m2_th_pg_cb", overrides=[override])


def test_distributed_needs_a_voxel_atlas():
    with pytest.raises(SceneError, match=r"run\.build: 'distributed' needs a voxel atlas"):
        load("demo", overrides=['run.build="distributed"'])


def test_cache_still_serves_the_replicated_build(models, tmp_path, monkeypatch):
    monkeypatch.setenv("COSIM_CACHE", str(tmp_path))
    cache.set_enabled(True)
    scene = models[0]
    a = build_brain_model(scene)
    b = build_brain_model(scene)          # from the cache
    assert np.array_equal(a.cells.pos_um, b.cells.pos_um) and b.layout is None
    assert id(b) in _LOADED and id(a) not in _LOADED


def test_whole_area_rules_reach_every_source(models):
    """Fixed in-degree and sigma_um = 0 rules draw from the whole area: the partial table
    must hold all of its sources (and the in-degree draws index them by position)."""
    scene, full, base = models
    rules = full.params.connections
    changed = (dataclasses.replace(rules[0], indegree=7, p_max=0.0),
               dataclasses.replace(rules[1], sigma_um=0.0, p_max=0.002)) + rules[2:]
    params = dataclasses.replace(full.params, connections=changed)
    full, base = (dataclasses.replace(m, params=params) for m in (full, base))
    rank_of = rank_of_cells(full, 3)
    for r in range(3):
        model, gids = local_model(base, 3, r)
        assert np.array_equal(gids, local_cells(rank_of, r))
        want = connect(params, full.cells, gids, full.dt_ms, full.seed,
                       grid_um=full.atlas.voxel_um)
        got = connect_local(model, gids)
        for k in SYN_FIELDS:
            assert np.array_equal(getattr(got, k), getattr(want, k)), (r, k)
