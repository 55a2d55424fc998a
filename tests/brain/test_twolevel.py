"""Area partition and two-level intervals without MPI: the partition keeps areas whole and
balanced, the two synapse tables split the network exactly, the traffic model adds the
two exchanges, and an engine stopped in the middle of a long period continues from its
state as if never stopped."""
import numpy as np
import pytest

from brain.connectivity import Synapses
from brain.engine import Engine, long_synapse_mask, split_synapses
from brain.exchange import LocalExchange
from brain.partition import partition_areas
from brain.traffic import rank_traffic, source_targets
from cosim.build import build_brain_model, build_synapses, long_period_steps
from cosim.scene import SCENES_DIR, load


def test_partition_areas_whole_and_balanced():
    area = np.array([0, 0, 1, 1, 1, 2, 2, 3, 3, 5])
    weight = np.array([1.0, 1.0, 2.0, 2.0, 2.0, 2.5, 2.5, 1.0, 0.5, 0.0])
    # units by weight: 1 (6.0), 2 (5.0), 0 (2.0), 3 (1.5); area 5 holds no cell
    assert partition_areas(weight, area, 2).tolist() == [1, 1, 0, 0, 0, 1, 1, 0, 0, 0]
    assert partition_areas(weight, area, 4).tolist() == [2, 2, 0, 0, 0, 1, 1, 3, 3, 0]
    assert not partition_areas(weight, area, 1).any()
    with pytest.raises(ValueError):
        partition_areas(weight, area, 0)
    # more ranks than areas: D'Hondt gives areas 1 and 2 two ranks each (6/2 = 3 > 2.5 >
    # 2), ranks numbered by area, and each of them is bisected among its own ranks
    center = np.column_stack([np.arange(10.0) * 100, np.zeros(10), np.zeros(10)])
    assert partition_areas(weight, area, 6, center).tolist() == [0, 0, 1, 1, 2, 3, 4, 5, 5, 0]
    with pytest.raises(ValueError, match="voxel centres"):
        partition_areas(weight, area, 6)


def test_split_keeps_every_synapse_in_row_order():
    rng = np.random.default_rng(4)
    n_cells, n_syn = 30, 200
    source = np.sort(rng.integers(0, n_cells, n_syn))
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n_cells), out=indptr[1:])
    syn = Synapses.from_weights(indptr, rng.integers(0, 10, n_syn), rng.random(n_syn),
                                rng.integers(1, 40, n_syn))
    mask = syn.delay_steps >= 20
    short, long_ = split_synapses(syn, mask)
    assert short.n + long_.n == syn.n and long_.delay_steps.min() >= 20
    for s in range(n_cells):
        row = slice(indptr[s], indptr[s + 1])
        for part, keep in ((short, ~mask[row]), (long_, mask[row])):
            got = slice(part.indptr[s], part.indptr[s + 1])
            assert np.array_equal(part.target[got], syn.target[row][keep])
            assert np.array_equal(part.weight_nS[got], syn.weight_nS[row][keep])


def _pairs(rng, n_cells, n_ranks, rank_of_cell, n_syn=120):
    source = np.sort(rng.integers(0, n_cells, n_syn))
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n_cells), out=indptr[1:])
    return source_targets(indptr, rng.integers(0, n_cells, n_syn), rank_of_cell, n_ranks)


def test_traffic_of_two_tables_adds_the_long_exchange():
    rng = np.random.default_rng(7)
    n_cells, n_ranks, period, long_period, n_steps = 40, 3, 10, 30, 200
    rank_of_cell = rng.integers(0, n_ranks, n_cells).astype(np.int32)
    short, long_ = (_pairs(rng, n_cells, n_ranks, rank_of_cell) for _ in range(2))
    steps, gids = rng.integers(0, n_steps, 80), rng.integers(0, n_cells, 80)
    both = rank_traffic(steps, gids, rank_of_cell, n_ranks, short, period, n_steps,
                        long_, long_period)
    one = rank_traffic(steps, gids, rank_of_cell, n_ranks, short, period, n_steps)
    # the long exchange alone: 6 whole long periods; steps 180-199 are never exchanged
    cut = steps < 180
    alone = rank_traffic(steps[cut], gids[cut], rank_of_cell, n_ranks, long_, long_period,
                         180)
    for k in ("events", "sparse_messages", "sparse_bytes", "sparse_control_messages"):
        assert both[k].tolist() == (one[k] + alone[k]).tolist(), k
    for k in ("allgather_messages", "allgather_bytes", "periods"):
        assert both[k].tolist() == one[k].tolist(), k
    assert both["long_periods"].tolist() == [6, 6, 6]


@pytest.fixture(scope="module")
def cortex():
    scene = load(SCENES_DIR / "bilateral_cortex.toml", duration_ms=30.0,
                 overrides=['run.long_period_ms=2.0'])
    model = build_brain_model(scene)
    gids = np.arange(model.n_cells, dtype=np.int64)
    return scene, model, gids, build_synapses(scene, model, gids, 1)


def _engine(cortex):
    scene, model, gids, syn = cortex
    eng = Engine(model, gids, syn, LocalExchange(), 10, long_period_steps(scene))
    eng.prepare()
    return eng


def test_long_table_is_the_inter_area_synapses_due_after_the_long_period(cortex):
    scene, model, gids, syn = cortex
    eng = _engine(cortex)
    assert eng.long_period_steps == 20 and eng.n_synapses == syn.n
    assert eng.long_syn.delay_steps.min() >= 20
    mask = long_synapse_mask(model, gids, syn, 20)
    area = model.area_of(gids)
    source = np.repeat(gids, np.diff(syn.indptr))
    assert np.all(area[source[mask]] != area[syn.target[mask]])
    # the few inter-area synapses with delays of 1.8-1.9 ms stay in the short table
    inter = area[source] != area[syn.target]
    assert 0 < np.count_nonzero(inter & ~mask) < 100
    eng.close()
    with pytest.raises(ValueError, match="multiple of the period"):
        Engine(model, gids, syn, LocalExchange(), 10, 25)


def test_state_in_the_middle_of_a_long_period_continues_the_run(cortex):
    whole = _engine(cortex)
    ref = whole.run(300)
    first = _engine(cortex)
    a = first.run(130)                   # long periods of 20 steps: 10 steps pending
    state = first.get_state()
    assert len(state["pending_gids"]) > 0 and state["pending_steps"].min() >= 120
    second = _engine(cortex)
    second.set_state(state)
    b = second.run(170)
    for i in range(2):
        assert np.array_equal(np.concatenate([a[i], b[i]]), ref[i])
    assert np.array_equal(second.v_mV, whole.v_mV)
    bad = dict(state, pending_steps=state["pending_steps"] - 20)
    with pytest.raises(ValueError, match="pending long-period spikes"):
        second.set_state(bad)
