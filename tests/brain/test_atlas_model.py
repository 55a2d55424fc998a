"""Atlas-based model building: synthetic and real-CCF voxel atlases, placement, wiring."""
from __future__ import annotations

import numpy as np
import pytest

from brain.connectivity import connect
from brain.kernels.rng import uniform
from brain.kernels.projections import STREAM_SHEET
from brain.model import build_model
from brain.partition import local_cells, partition
from cosim.scene import SCENES_DIR, load
from tests.conftest import SHARED_DATA

needs_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data absent")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    scene = load(SCENES_DIR / "m1_m2_th_pg_cb.toml")
    return scene, build_model(scene.brain, scene.run.dt_ms, scene.run.seed, cache_dir=cache)


@pytest.fixture(scope="module")
def ccf(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("COSIM_DATA", str(SHARED_DATA))
    scene = load(SCENES_DIR / "ccf_motor_left.toml")
    mp.undo()
    return scene, build_model(scene.brain, scene.run.dt_ms, scene.run.seed)


def _names(model):
    return np.array([t.name for t in model.params.cell_types])[model.cells.type_id]


def test_synthetic_scene_populates_every_region(synthetic):
    scene, model = synthetic
    counts = np.bincount(model.cells.region, minlength=len(model.atlas.region_names))
    assert dict(zip(model.atlas.region_names, counts)).keys() == set(scene.brain.atlas.regions)
    assert counts.min() > 10
    names = _names(model)
    for t in ("MOp.L5B_E", "VAL.TC", "SIM.GR", "SIM.PC", "SIM.MLI", "PG.PG_E", "DN.DCN"):
        assert (names == t).sum() > 5, t
    assert (model.cells.hemisphere == 0).all()
    # cells sit in their voxel and the cerebellar layers come from the labels
    off = np.abs(model.cells.pos_um - model.atlas.center_um[model.cells.voxel])
    assert off.max() <= model.atlas.voxel_um / 2
    assert set(model.atlas.layer[model.atlas.region == "SIM"]) == {"ML", "PCL", "GL"}
    assert {"L5A", "L5B"} <= set(model.atlas.layer[model.atlas.region == "MOp"])


def _network(params, cells, n_ranks, seed):
    rows = []
    rank_of = partition(cells.n, cells.voxel, n_ranks)
    for r in range(n_ranks):
        gids = local_cells(rank_of, r)
        syn = connect(params, cells, gids, 0.1, seed)
        pre = np.repeat(np.arange(cells.n), np.diff(syn.indptr))
        rows.append(np.stack([pre, gids[syn.target], syn.delay_steps,
                              syn.weight_nS.view(np.int32)], axis=1))
    allrows = np.concatenate(rows)
    return allrows[np.lexsort(allrows.T[::-1])]


def test_same_network_for_1_and_3_ranks(synthetic, tmp_path):
    scene, model = synthetic
    again = build_model(scene.brain, scene.run.dt_ms, scene.run.seed, cache_dir=tmp_path)
    assert np.array_equal(again.cells.pos_um, model.cells.pos_um)
    assert np.array_equal(again.cells.type_id, model.cells.type_id)
    one = _network(model.params, model.cells, 1, scene.run.seed)
    assert len(one) > 100_000
    assert np.array_equal(one, _network(model.params, model.cells, 3, scene.run.seed))


def test_parallel_fibres_run_along_the_folium(synthetic):
    scene, model = synthetic
    rule = next(r for r in model.params.connections if r.kind == "parallel_fibre")
    names = _names(model)
    gids = np.flatnonzero(names == "SIM.PC")[:20]
    syn = connect(model.params, model.cells, gids, 0.1, scene.run.seed)
    pre = np.repeat(np.arange(model.n_cells), np.diff(syn.indptr))
    from_gr = names[pre] == "SIM.GR"
    d = model.cells.sheet_um[pre[from_gr]] - model.cells.sheet_um[gids[syn.target[from_gr]]]
    assert np.abs(d[:, 2]).max() <= rule.fibre_length_um / 2          # along the fibre
    assert np.abs(d[:, 0]).max() <= rule.fibre_width_um / 2           # across: narrow
    assert np.abs(d[:, 2]).max() > 5 * np.abs(d[:, 0]).max()
    # every drawn pair is the keyed Bernoulli draw, and no pair within the band is missed
    gr = np.flatnonzero(names == "SIM.GR")
    r = scene.brain.connections.index(rule)
    for g in gids[:3]:
        dd = model.cells.sheet_um[gr] - model.cells.sheet_um[g]
        band = (np.abs(dd[:, 2]) <= rule.fibre_length_um / 2) & \
            (dd[:, 0] ** 2 + dd[:, 1] ** 2 <= (rule.fibre_width_um / 2) ** 2)
        want = {int(j) for j in gr[band]
                if uniform(scene.run.seed, STREAM_SHEET, int(g), int(j) * 64 + r) < rule.p_max}
        t = int(np.flatnonzero(gids == g)[0])
        got = set(pre[(syn.target == t) & from_gr].tolist())
        assert got == want


def test_topographic_projection_keeps_body_part_maps(synthetic):
    scene, model = synthetic
    c, names = model.cells, _names(model)
    mos = np.flatnonzero(names == "MOs.L23_E")
    syn = connect(model.params, c, mos, 0.1, scene.run.seed)
    pre = np.repeat(np.arange(model.n_cells), np.diff(syn.indptr))
    from_mop = c.region[pre] == model.atlas.region_names.index("MOp")
    # the AP position (u) of M1 sources follows that of their M2 targets
    u_pre, u_post = c.sheet_um[pre[from_mop], 0], c.sheet_um[mos[syn.target[from_mop]], 0]
    assert np.corrcoef(u_pre, u_post)[0, 1] > 0.5


@needs_data
def test_ccf_scene_regions_layers_and_density(ccf):
    from brain.allen import read_densities, read_ontology
    scene, model = ccf
    a = model.atlas
    counts = np.bincount(model.cells.region, minlength=len(a.region_names))
    assert counts.min() > 10, dict(zip(a.region_names, counts))
    mop = a.region == "MOp"
    assert "L4" not in set(a.layer[mop]) and {"L1", "L2/3", "L5A", "L5B", "L6"} <= set(a.layer[mop])
    assert {"ML", "PCL", "GL"} <= set(a.layer[a.region == "SIM"])
    onto = read_ontology(scene.brain.atlas.ontology)
    keller = read_densities(scene.brain.atlas.densities, onto).neurons_per_mm3("MOp")
    from brain.placement import expected_counts
    per_voxel = expected_counts(a, model.params.cell_types, 1.0).sum(axis=0)
    density = per_voxel[mop].sum() / (mop.sum() * (a.voxel_um * 1e-3) ** 3)
    assert density == pytest.approx(keller, rel=0.05)
    assert np.isfinite(model.cells.depth_um[model.cells.region == 0]).all()


@needs_data
def test_ccf_mop_projects_most_to_cp(ccf):
    from brain.allen import read_knox, read_ontology
    scene, model = ccf
    onto = read_ontology(scene.brain.atlas.ontology)
    knox = read_knox(scene.brain.atlas.connectome, onto)
    assert knox.targets_of("MOp")[0][0] == "CP"
    c = model.cells
    syn = connect(model.params, c, np.arange(c.n, dtype=np.int64), 0.1, scene.run.seed)
    pre = np.repeat(np.arange(c.n), np.diff(syn.indptr))
    names = model.atlas.region_names
    from_mop = c.region[pre] == names.index("MOp")
    per_target = {}
    for r in ("CP", "VAL", "PG", "SIM", "DN", "IP", "FN"):
        k = names.index(r)
        per_target[r] = (from_mop & (c.region[syn.target] == k)).sum() / (c.region == k).sum()
    assert per_target["CP"] > max(v for r, v in per_target.items() if r != "CP"), per_target


def test_partition_balances_neurons_and_synapses():
    """Tiles weighted by cell_cost spread the work (neurons + synapses) more evenly than
    tiles balanced by cell count alone, in a model whose types differ in in-degree."""
    from brain.connectivity import connect
    from brain.partition import SYNAPSE_COST, cell_cost, partition_tiles
    from cosim.build import build_brain_model
    from cosim.scene import load

    model = build_brain_model(load("m1_m2_th_pg_cb"))
    cost = cell_cost(model)
    assert cost.min() >= 1.0 and cost.max() > 1.01          # types really differ
    gids = np.arange(model.n_cells, dtype=np.int64)
    syn = connect(model.params, model.cells, gids, model.dt_ms, model.seed,
                  grid_um=model.atlas.voxel_um)
    true_cost = 1.0 + SYNAPSE_COST * np.bincount(syn.target, minlength=model.n_cells)

    def imbalance(rank_of):
        work = np.bincount(rank_of, weights=true_cost, minlength=3)
        return work.max() / work.mean()

    plain = partition_tiles(model.cells.voxel, model.atlas.center_um, 3)
    weighted = partition_tiles(model.cells.voxel, model.atlas.center_um, 3, cost)
    assert imbalance(weighted) <= imbalance(plain) + 1e-9
    assert imbalance(weighted) < 1.1
