"""Spontaneous and stimulus-evoked firing rates of the shipped voxel-atlas scenes.

The synthetic M1-M2-TH-PG-CB scene runs embedded for 350 ms: the baseline is taken from
50 ms (after the start-up transient) to the DC onset at 200 ms, the stimulated window from
220 ms on.  Every population's baseline rate must lie in a band around its tuned value
(wide enough for another seed, narrow enough to catch a runaway or a silent population),
and the DC pulse into L2/3 of one MOp column must raise MOp L2/3 and L5B activity and
spread to the pons.  The CCF scene (needs ../shared/data) only gets a short sanity run.
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

# Baseline bands (Hz) per cell type, for both regions of a family.  Tuned values (seed
# 20241; seeds 1 and 2 within ~30 %) in the comments.
BANDS = {
    "L1_I": (2.0, 9.0),        # 4.5
    "L23_E": (0.4, 4.0),       # MOp 1.3, MOs 1.0
    "L23_FS": (4.0, 30.0),     # 11-14
    "L23_LTS": (1.5, 12.0),    # 4-5
    "L5A_E": (0.8, 8.0),       # 2.5-3.5
    "L5A_FS": (3.0, 25.0),     # 8-11
    "L5A_LTS": (0.2, 15.0),    # 1-6 (7-13 cells: noisy)
    "L5B_E": (0.6, 5.0),       # 1.5-2.4
    "L5B_FS": (4.0, 30.0),     # 10-14
    "L5B_LTS": (1.5, 12.0),    # 4-5
    "L6_E": (0.6, 5.0),        # 1.5-2.3
    "L6_FS": (4.0, 30.0),      # 12-14
    "L6_LTS": (0.8, 15.0),     # 2-7 (19-31 cells)
    "TC": (3.0, 30.0),         # VAL 15-19 (forelimb afferents), VM 8-11
    "PG_E": (3.0, 16.0),       # 6-7.5
    "GR": (0.5, 6.0),          # 2
    "GO": (3.0, 25.0),         # 10
    "PC": (40.0, 100.0),       # 62-66
    "MLI": (5.0, 30.0),        # 13
    "DCN": (10.0, 60.0),       # DN/IP 35-40, FN 18
    "D1": (0.3, 5.0),          # 1.6
    "D2": (0.3, 5.0),          # 1.7
    "CPFS": (4.0, 40.0),       # 16
    "GPE": (10.0, 60.0),       # 27
}


def _rates(path, window):
    """Mean rate (Hz) per cell type name over window (ms)."""
    with h5py.File(path) as f:
        ids = f["spikes/brain/node_ids"][:]
        ts = f["spikes/brain/timestamps"][:]
        type_id = f["cells/type_id"][:]
        names = [n.decode() if isinstance(n, bytes) else n for n in f["cells/type_names"][:]]
    count = np.bincount(type_id, minlength=len(names))
    sel = (ts >= window[0]) & (ts < window[1])
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
    return _rates(out, BASE), _rates(out, STIM)


def test_synthetic_spontaneous_rates_in_band(synthetic_run):
    base, _ = synthetic_run
    bad = []
    for name, hz in base.items():
        lo, hi = BANDS[name.split(".", 1)[-1]]
        if not lo <= hz <= hi:
            bad.append(f"{name}: {hz:.1f} Hz not in [{lo}, {hi}]")
    assert not bad, "\n".join(bad)


def test_synthetic_stimulus_raises_mop_and_spreads(synthetic_run):
    base, stim = synthetic_run
    assert stim["MOp.L5B_E"] >= 2.0 * base["MOp.L5B_E"], (base["MOp.L5B_E"], stim["MOp.L5B_E"])
    assert stim["MOp.L23_E"] >= 1.4 * base["MOp.L23_E"], (base["MOp.L23_E"], stim["MOp.L23_E"])
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
