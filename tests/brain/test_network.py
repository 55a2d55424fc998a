"""Network building and simulation do not depend on how cells are split over ranks."""
import numpy as np
import pytest

from brain.connectivity import connect
from brain.engine import Engine, exchange_period
from brain.partition import local_cells, partition
from cosim.build import build_brain_model
from cosim.scene import load


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from tests.conftest import SMALL, write_scene
    scene = load(write_scene(tmp_path_factory.mktemp("s"), **SMALL))
    return scene, build_brain_model(scene)


def _global_synapses(scene, model, n_ranks):
    rows = []
    rank_of = partition(model.n_cells, model.cells.voxel, n_ranks)
    for r in range(n_ranks):
        gids = local_cells(rank_of, r)
        syn = connect(scene.brain, model.cells, gids, scene.run.dt_ms, scene.run.seed)
        pre = np.repeat(np.arange(model.n_cells), np.diff(syn.indptr))
        rows.append(np.stack([pre, gids[syn.target], syn.delay_steps,
                              syn.weight_nS.view(np.int32)], axis=1))
    allrows = np.concatenate(rows)
    return allrows[np.lexsort(allrows.T[::-1])]


def test_same_synapses_for_1_2_3_ranks(small):
    scene, model = small
    one = _global_synapses(scene, model, 1)
    assert len(one) > 10000
    for n in (2, 3):
        assert np.array_equal(one, _global_synapses(scene, model, n))


def test_partition_is_balanced_and_voxel_aligned(small):
    _, model = small
    rank_of = partition(model.n_cells, model.cells.voxel, 3)
    counts = np.bincount(rank_of)
    assert counts.min() > 0.6 * counts.max()
    for v in np.unique(model.cells.voxel):
        assert len(np.unique(rank_of[model.cells.voxel == v])) == 1


def test_exchange_period_divides_interval_and_respects_min_delay():
    assert exchange_period(10, 10) == 10
    assert exchange_period(15, 10) == 10
    assert exchange_period(7, 10) == 5
    assert exchange_period(3, 10) == 2
    with pytest.raises(ValueError):
        exchange_period(0, 10)


def test_engine_rejects_bad_use(small):
    scene, model = small
    gids = np.arange(model.n_cells, dtype=np.int64)
    syn = connect(scene.brain, model.cells, gids, scene.run.dt_ms, scene.run.seed)
    from brain.exchange import LocalExchange
    with pytest.raises(ValueError, match="exceeds the minimum delay"):
        Engine(model, gids, syn, LocalExchange(), model.min_delay_steps + 1)
    eng = Engine(model, gids, syn, LocalExchange(), 10)
    with pytest.raises(RuntimeError, match="before prepare"):
        eng.run(10)
    eng.prepare()
    with pytest.raises(ValueError, match="multiple of the exchange period"):
        eng.run(15)
    with pytest.raises(ValueError, match="afferent rates"):
        eng.set_afferent_rates(np.zeros(3))
    steps, spk = eng.run(500)
    assert len(spk) > 0 and np.all(np.diff(steps) >= 0)


def test_voxel_tiles_are_compact_and_balanced(small):
    from brain.partition import partition_tiles
    _, model = small
    cortex = model.cells.voxel[model.atlas.column[model.cells.voxel][:, 0] >= 0]
    centers = model.atlas.center_um
    for n in (2, 3, 4):
        rank_of = partition_tiles(cortex, centers, n)
        counts = np.bincount(rank_of, minlength=n)
        assert counts.min() > 0.5 * counts.max(), counts
        for v in np.unique(cortex):                       # a voxel never straddles ranks
            assert len(np.unique(rank_of[cortex == v])) == 1
        assert np.array_equal(rank_of, partition_tiles(cortex, centers, n))   # pure
