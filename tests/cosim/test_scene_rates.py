"""Spontaneous and stimulus-evoked firing rates of the shipped voxel-atlas scenes.

The synthetic M1-M2-TH-PG-CB scene runs embedded for 350 ms: the baseline is taken from
50 ms (after the start-up transient) to the DC onset at 200 ms, the stimulated window from
220 ms on.  Every population's baseline rate must lie in a band around its tuned value
(wide enough for another seed, narrow enough to catch a runaway or a silent population),
and the DC pulse into L2/3 of one MOp column must raise the activity of the L5B and L6
cells around it that it does not reach, and spread to the pons.  The non-stimulated L2/3 E
cells around the column are not asserted: the stimulated interneurons (FS ~65 Hz, LTS ~90 Hz)
keep them from following (1.1 -> 0.9 Hz), a known shortfall of the tuning noted on issue 8.  The CCF scene (needs ../shared/data) only gets a short sanity run.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from cosim import cache
from cosim.runner import run_embedded
from cosim.scene import SCENES_DIR, load
from tests.conftest import SHARED_DATA

pytestmark = pytest.mark.slow

BASE = (50.0, 200.0)          # ms: after the start-up transient, before the DC onset
STIM = (220.0, 350.0)         # ms: DC on (starts at 200 ms), past the first 20 ms

# Baseline bands (Hz) per cell type, for both regions of a family.  Tuned values (seeds
# 20241 and 1) in the comments.
BANDS = {
    "L1_I": (2.0, 9.0),        # 4.0-4.3
    "L23_E": (0.3, 4.0),       # MOp 0.9-1.0, MOs 0.5-0.6
    "L23_FS": (3.0, 30.0),     # 6-9
    "L23_LTS": (1.0, 12.0),    # 2-2.6
    "L5A_E": (0.8, 8.0),       # 1.8-2.7
    "L5A_FS": (1.2, 25.0),     # 2.5-3.8
    "L5A_LTS": (0.1, 15.0),    # 0.5-1.1
    "L5B_E": (0.6, 7.0),       # 1.9-3.8
    "L5B_FS": (3.0, 30.0),     # 6-9.4
    "L5B_LTS": (1.0, 12.0),    # 2.4-3.1
    "L6_E": (0.6, 6.0),        # 1.3-2.8
    "L6_FS": (4.0, 30.0),      # 10-14
    "L6_LTS": (0.8, 15.0),     # 3.4-5.5
    "TC": (3.0, 30.0),         # VAL 18-19 (forelimb afferents), VM 8-12
    "PG_E": (3.0, 16.0),       # 8-9
    "GR": (0.5, 6.0),          # 2.1-2.4
    "GO": (3.0, 25.0),         # 10-11
    "PC": (40.0, 100.0),       # 62-63
    "MLI": (5.0, 30.0),        # 13-14
    "DCN": (10.0, 60.0),       # DN/IP 34-38, FN 17
    "D1": (0.3, 5.0),          # 1.4-1.5
    "D2": (0.3, 5.0),          # 1.3-1.5
    "CPFS": (4.0, 40.0),       # 15
    "GPE": (10.0, 60.0),       # 28-29
}


def _rates(path, window, near_um=None):
    """Mean rate (Hz) per cell type name over window (ms); with ``near_um`` only the
    non-stimulated cells within that surface distance of the stimulated cells' centre."""
    with h5py.File(path) as f:
        ids = f["spikes/brain/node_ids"][:]
        ts = f["spikes/brain/timestamps"][:]
        type_id = f["cells/type_id"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in f["cells/type_names"][:]]
        site, sheet = f["cells/dc_site"][:], f["cells/sheet_um"][:]
    keep = np.ones(len(type_id), dtype=bool)
    if near_um is not None:
        d = np.linalg.norm(sheet - sheet[site == 0].mean(axis=0), axis=1)
        keep = (d <= near_um) & (site < 0)
    count = np.bincount(type_id[keep], minlength=len(names))
    sel = (ts >= window[0]) & (ts < window[1]) & keep[ids]
    spikes = np.bincount(type_id[ids[sel]], minlength=len(names))
    hz = spikes / np.maximum(count, 1) / ((window[1] - window[0]) * 1e-3)
    return dict(zip(names, hz))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COSIM_CACHE", str(tmp_path_factory.mktemp("cache")))
        cache.set_enabled(True)
        yield


@pytest.fixture(scope="module")
def synthetic_run(cache_dir, tmp_path_factory):
    scene = load(SCENES_DIR / "m1_m2_th_pg_cb.toml").with_run(duration_ms=STIM[1])
    assert scene.brain.dc[0].start_ms == BASE[1], "the stimulus onset moved: update BASE/STIM"
    out = tmp_path_factory.mktemp("rates") / "syn.h5"
    run_embedded(scene, out, progress=False)
    return _rates(out, BASE), _rates(out, STIM), _rates(out, BASE, 300.0), _rates(out, STIM, 300.0)


def test_synthetic_spontaneous_rates_in_band(synthetic_run):
    base = synthetic_run[0]
    bad = []
    for name, hz in base.items():
        lo, hi = BANDS[name.split(".", 1)[-1]]
        if not lo <= hz <= hi:
            bad.append(f"{name}: {hz:.1f} Hz not in [{lo}, {hi}]")
    assert not bad, "\n".join(bad)


def test_synthetic_stimulus_raises_mop_and_spreads(synthetic_run):
    base, stim, near_base, near_stim = synthetic_run
    # the cells around the stimulated voxel that the DC does not reach follow it
    for name in ("MOp.L5B_E", "MOp.L6_E"):
        assert near_stim[name] >= 2.0 * near_base[name], (name, near_base[name], near_stim[name])
    assert stim["MOp.L5B_E"] >= 1.2 * base["MOp.L5B_E"], (base["MOp.L5B_E"], stim["MOp.L5B_E"])
    assert stim["PG.PG_E"] >= 1.15 * base["PG.PG_E"], (base["PG.PG_E"], stim["PG.PG_E"])
    # still no runaway anywhere while the stimulus is on
    assert max(stim.values()) < 120.0, max(stim.items(), key=lambda kv: kv[1])
    cortical_e = {k: v for k, v in stim.items() if k.split(".")[-1].endswith("_E")
                  and k.split(".")[0] in ("MOp", "MOs")}
    assert max(cortical_e.values()) < 15.0, cortical_e


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data (Allen CCF files) absent")
def test_ccf_scene_no_runaway(cache_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("COSIM_DATA", str(SHARED_DATA))
    scene = load(SCENES_DIR / "ccf_motor_left.toml").with_run(duration_ms=200.0)
    out = tmp_path / "ccf.h5"
    run_embedded(scene, out, progress=False)
    rates = _rates(out, (50.0, 200.0))
    assert max(rates.values()) < 150.0, max(rates.items(), key=lambda kv: kv[1])
    cortical_e = {k: v for k, v in rates.items() if k.split(".")[-1].endswith("_E")
                  and k.split(".")[0] in ("MOp", "MOs")}
    assert max(cortical_e.values()) < 20.0, cortical_e
    assert min(cortical_e.values()) > 0.2, cortical_e          # and not silent
    assert 20.0 < rates["SIM.PC"] < 120.0, rates["SIM.PC"]
