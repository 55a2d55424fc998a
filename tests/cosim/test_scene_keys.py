"""The scene keys the experiments use, as a user sets them: ``--set`` overrides, a denser
``brain.focus``, ``brain.placement_scale``, single-voxel DC, ``brain.cut`` and
``bridge.feedback``."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from brain.connectivity import connect
from brain.inputs import stimulated_cells
from cosim.build import build_brain_model
from cosim.cli import main
from cosim.scene import SceneError, load, parse_override

SYN = "m1_m2_th_pg_cb"
SITE = [18, 14, 16]                       # an MOp L2/3 voxel of the synthetic brain
FOCUS = f'brain.focus=[{{regions=["MOp"], voxel={SITE}, radius_um=300.0, density_scale=1.0}}]'


def test_override_parsing_and_validation():
    assert parse_override("brain.dc[0].amplitude_pA=350") == (["brain", "dc", 0,
                                                               "amplitude_pA"], 350)
    assert parse_override('brain.cell_types."MOp.L23_E".g_L_nS=5')[0][2] == "MOp.L23_E"
    s = load("demo", overrides=["brain.dc[0].amplitude_pA=350", "run.seed=4"])
    assert s.brain.dc[0].amplitude_pA == 350.0 and s.run.seed == 4
    for bad, words in [("brain.dc[3].amplitude_pA=1", "index out of range"),
                       ("brain.densty_scale=0.1", "unknown key"),
                       ("brain.density_scale=-1", "0 < value <= 1"),
                       # more cells than the tissue holds: refused at load, not after
                       # hours of counting synapses
                       ("brain.density_scale=1.5", "density_scale = 1.5: must be a fraction"),
                       ("brain.density_scale", "KEY=VALUE")]:
        with pytest.raises(SceneError, match=words):
            load("demo", overrides=[bad])
    for bad, words in [("brain.region_density_scale={MOp=10}",
                        r"brain.region_density_scale.MOp: .* = 10: must be a fraction"),
                       (FOCUS.replace("density_scale=1.0", "density_scale=3.0"),
                        r"brain.focus\[0\].density_scale: .* = 3.0: must be a fraction")]:
        with pytest.raises(SceneError, match=words):
            load("m1_m2_th_pg_cb", overrides=[bad])


def test_cli_set_reaches_the_run_and_is_recorded(tmp_path, small_scene_path):
    out = tmp_path / "o.h5"
    assert main(["run", str(small_scene_path), "-o", str(out), "--no-progress",
                 "--no-figure", "--set", "brain.dc[0].amplitude_pA=0.0"]) == 0
    with h5py.File(out) as f:
        assert json.loads(f.attrs["overrides"]) == ["brain.dc[0].amplitude_pA=0.0"]
        assert json.loads(f.attrs["scene_resolved"])["brain"]["dc"][0]["amplitude_pA"] == 0.0


def _indegree(model, gids):
    syn = connect(model.params, model.cells, gids, model.dt_ms, model.seed)
    return np.bincount(syn.target, minlength=len(gids))


def test_focus_is_denser_but_keeps_in_degrees():
    base = build_brain_model(load(SYN))
    foc = build_brain_model(load(SYN, overrides=[FOCUS]))
    mop_e = lambda m: np.flatnonzero(np.array([t.name for t in m.params.cell_types])  # noqa
                                     [m.cells.type_id] == "MOp.L23_E")
    n0, n1 = len(mop_e(base)), len(mop_e(foc))
    assert n1 > 1.5 * n0, (n0, n1)            # 10x the density in a 300 um disc
    in_focus = mop_e(foc)[foc.cells.wiring_factor[mop_e(foc)] < 1]
    assert abs(np.median(foc.cells.wiring_factor[in_focus]) - 0.1) < 1e-9
    # same rules, 10x the sources in the disc: in-degrees stay those of the sparse model
    k_base = _indegree(base, mop_e(base)[:300]).mean()
    k_focus = _indegree(foc, in_focus[:300]).mean()
    assert 0.75 < k_focus / k_base < 1.33, (k_base, k_focus)


def test_placement_scale_halves_cells_not_in_degrees():
    base = build_brain_model(load(SYN))
    half = build_brain_model(load(SYN, overrides=["brain.placement_scale=0.5"]))
    assert 0.45 < half.n_cells / base.n_cells < 0.55
    pick = lambda m: np.flatnonzero(np.array([t.name for t in m.params.cell_types])  # noqa
                                    [m.cells.type_id] == "MOp.L5B_E")[:300]
    ratio = _indegree(half, pick(half)).mean() / _indegree(base, pick(base)).mean()
    assert 0.8 < ratio < 1.25, ratio


def test_dc_on_one_voxel_selects_only_that_voxel():
    scene = load(SYN, overrides=[f"brain.dc[0].voxels=[{SITE}]", "brain.dc[0].columns=[]",
                                 FOCUS])
    model = build_brain_model(scene)
    gids = stimulated_cells(model, scene.brain.dc[0])
    assert len(gids) >= 10                      # tens of cells in one voxel at 0.1
    assert np.all(model.atlas.ijk[model.cells.voxel[gids]] == SITE)
    names = {model.params.cell_types[t].name for t in model.cells.type_id[gids]}
    assert names <= set(scene.brain.dc[0].cell_types)


def test_cut_removes_the_pathways_and_names_unknown_regions():
    full = build_brain_model(load(SYN)).params
    cut = build_brain_model(load(SYN, overrides=['brain.cut=["MOp->*"]'])).params
    rows = lambda p: {(a, b) for r in p.projections for a, b, _, _ in r.resolved}  # noqa
    assert any(a == "MOp" for a, _ in rows(full))
    assert not any(a == "MOp" for a, _ in rows(cut))
    assert rows(full) - rows(cut) == {(a, b) for a, b in rows(full) if a == "MOp"}
    with pytest.raises(SceneError, match="brain.cut"):
        load(SYN, overrides=['brain.cut=["MOx->*"]'])


def test_feedback_off_freezes_the_afferents(tmp_path, small_scene_path):
    rates = {}
    for flag in ("true", "false"):
        out = tmp_path / f"fb_{flag}.h5"
        assert main(["run", str(small_scene_path), "-o", str(out), "--no-progress",
                     "--no-figure", "--set", f"bridge.feedback={flag}"]) == 0
        with h5py.File(out) as f:
            rates[flag] = f["bridge/afferent_rates_Hz"][()]
    assert np.ptp(rates["false"], axis=0).max() == 0.0        # the rest rates throughout
    assert np.ptp(rates["true"], axis=0).max() > 0.0          # the moving limb's rates
