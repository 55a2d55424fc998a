"""topography: gamma started at one M1 site reaches the same body part of M2, S1 and S2.

Scene ``scenes/cortex_topography.toml`` (left MOp, MOs, SSp, SSs; topographic projections
between every pair).  Body-part maps run along the rostro-caudal axis: a position is the
cell's surface point standardised per area (centred on the area's centroid, divided by
its spread per axis, exactly as the topographic projections match positions).  Three
stimulation sites in MOp at standardised AP -1, 0, +1 (the L2/3 cells of the MOp column
nearest to each, set through ``brain.dc[0].columns``) and the no-stimulus control.

For each site and each target area, the "mapped" location is the set of the area's E
cells within RADIUS (standardised units) of the site's position, the "other" locations
those around the other two sites' positions.  Measured: the rate increase over the
control and the 30-50 Hz coherence with the site's M1 E rate (non-stimulated MOp E cells
around the site); the mapped location must beat each other location by 2x in both.
"""
from __future__ import annotations

import h5py
import numpy as np

from .. import analysis as an
from ..analysis import figures
from .gamma import BAND, CONTROL, window

__all__ = ["run", "SCENE", "SITES_AP", "TARGETS", "standardised_positions", "site_columns"]

SCENE = "cortex_topography"
SITES_AP = (-1.0, 0.0, 1.0)           # standardised AP positions of the three M1 sites
TARGETS = ("MOs", "SSp", "SSs")
RADIUS = 0.5                          # standardised units around a body-part position
SEGMENT_MS = 128.0                    # as in propagation: chance coherence ~0.04


def _table(path) -> dict:
    with h5py.File(path, "r") as f:
        c = f["cells"]
        return {k: c[k][()] for k in ("ijk", "sheet_um", "grid_shape", "hemisphere")}


def standardised_positions(region: np.ndarray, sheet_um: np.ndarray,
                           hemisphere: np.ndarray | None = None) -> np.ndarray:
    """(AP, LR) of each cell's surface point standardised per area and hemisphere in the
    frame the topographic projections use (``brain.connectivity.area_frame``), float[n, 2]."""
    from brain.connectivity import area_frame
    side = np.zeros(len(region), np.int64) if hemisphere is None else np.asarray(hemisphere)
    out = np.full((len(region), 2), np.nan)
    for r in np.unique(region):
        for h in np.unique(side[region == r]):
            m = (region == r) & (side == h)
            centre, spread = area_frame(sheet_um[m])
            out[m] = ((sheet_um[m] - centre) / spread)[:, (0, 2)]
    return out


def site_columns(run, pos: np.ndarray, ijk: np.ndarray) -> list:
    """The MOp (AP, LR) column whose L2/3 cells sit nearest each of SITES_AP (LR 0)."""
    l23 = run.cells(region="MOp", layer="L2/3")
    cols = {}
    for g in l23:
        cols.setdefault((int(ijk[g, 0]), int(ijk[g, 2])), []).append(g)
    keys = list(cols)
    centre = np.array([pos[cols[k]].mean(axis=0) for k in keys])
    n = np.array([len(cols[k]) for k in keys])
    out = []
    for ap in SITES_AP:
        d = np.hypot(centre[:, 0] - ap, centre[:, 1])
        d[n < 0.5 * n.max()] = np.inf      # a full column, not an edge sliver
        out.append(list(keys[int(np.argmin(d))]))
    return out


def _near(run, pos, region, ap, stimulated=False):
    g = run.cells(region=region, kind="E", stimulated=stimulated)
    return g[np.hypot(pos[g, 0] - ap, pos[g, 1]) < RADIUS]


def run(exp) -> None:
    for seed in exp.seeds:
        ctrl = exp.run("control", seed, CONTROL, scene_name=SCENE)
        tab = _table(ctrl.path)
        pos = standardised_positions(ctrl.region, tab["sheet_um"], tab["hemisphere"])
        columns = site_columns(ctrl, pos, tab["ijk"])
        k = f"seed{seed}."
        exp.record(k + "site_columns", columns)
        maps, profiles = {}, {}
        for s, (ap, col) in enumerate(zip(SITES_AP, columns)):
            stim = exp.run(f"site{s}", seed, (f"brain.dc[0].columns=[{col}]",),
                           scene_name=SCENE)
            t0, t1 = window(stim)
            ref = stim.population_rate(_near(stim, pos, "MOp", ap), t0, t1)[1]
            for area in TARGETS:
                inc, coh = [], []
                for loc_ap in SITES_AP:
                    g = _near(stim, pos, area, loc_ap)
                    inc.append(stim.mean_rate(g, t0, t1) - ctrl.mean_rate(g, t0, t1))
                    x = stim.population_rate(g, t0, t1)[1]
                    f, c = an.coherence(ref, x, 1000.0, segment_ms=SEGMENT_MS)
                    coh.append(an.band_coherence(f, c, *BAND))
                others = [i for i in range(len(SITES_AP)) if i != s]
                key = k + f"site{s}.{area}."
                exp.check(key + "rate_increase_mapped_2x_other", _beats(inc, s), "==", True,
                          note="rate increase (Hz) at AP " + ", ".join(
                              f"{a:+.0f}: {v:.3f}" for a, v in zip(SITES_AP, inc)))
                exp.check(key + "coherence_mapped_2x_other", _beats(coh, s), "==", True,
                          note="30-50 Hz coherence with the site's M1 E at AP "
                          + ", ".join(f"{a:+.0f}: {v:.3f}" for a, v in zip(SITES_AP, coh)))
                exp.record(key + "rate_increase_Hz", inc)
                exp.record(key + "coherence", coh)
            maps[f"site {s} (AP {ap:+.0f}) - control"] = _top_view(stim, ctrl, tab, t0, t1)
            for area in ("MOp", *TARGETS):
                profiles[f"{area}, site {s}"] = _ap_profile(stim, ctrl, pos, area, t0, t1)
        exp.figure(figures.rate_map_figure(maps, exp.out_dir / f"topography_maps_seed{seed}.png",
                                           cmap="magma", shared_scale=True))
        exp.figure(figures.profile_figure(
            profiles, exp.out_dir / f"topography_profiles_seed{seed}.png",
            xlabel="standardised rostro-caudal position (area spread units)",
            ylabel="E rate increase over control (Hz)"))


def _beats(values, s) -> bool:
    """The mapped location's value is positive and >= 2x that of every other location."""
    others = [v for i, v in enumerate(values) if i != s]
    return bool(values[s] > 0 and all(values[s] >= 2.0 * v for v in others))


def _top_view(stim, ctrl, tab, t0, t1) -> np.ndarray:
    e = np.zeros(stim.n, bool)
    e[stim.cells(kind="E")] = True
    args = (tab["ijk"], tuple(tab["grid_shape"]), t0, t1)
    a = an.voxel_rate_map(stim.gid, stim.t_ms, *args, cells_mask=e)[0]
    b = an.voxel_rate_map(ctrl.gid, ctrl.t_ms, *args, cells_mask=e)[0]
    return a - b


def _ap_profile(stim, ctrl, pos, area, t0, t1, n_bins: int = 12):
    g = stim.cells(region=area, kind="E")
    edges = np.linspace(-2.0, 2.0, n_bins + 1)
    which = np.digitize(pos[g, 0], edges) - 1
    ts, gs = stim.spikes_of(g, t0, t1)
    tc, gc = ctrl.spikes_of(g, t0, t1)
    d = (np.bincount(gs, minlength=stim.n) - np.bincount(gc, minlength=stim.n))[g] / (
        (t1 - t0) / 1e3)
    prof = np.array([d[which == b].mean() if (which == b).any() else np.nan
                     for b in range(n_bins)])
    return 0.5 * (edges[1:] + edges[:-1]), prof
