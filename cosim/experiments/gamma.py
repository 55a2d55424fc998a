"""gamma and phase: DC into the L2/3 cells of one M1 voxel (the scene's brain.dc[0]).

gamma: the population rate of the M1 E cells that are NOT stimulated, during the
stimulus (the first 100 ms after onset left out), against the same scene with
``brain.dc[0].amplitude_pA = 0`` and ``amplitude_pA_per_pF = 0`` (the no-stimulus control).
phase: in the same run, the 30-50 Hz phase of every spike of the non-stimulated M1
cells relative to that population rate, per layer and type (seed fig. 1D); and, recorded
but not checked, the same locking in rings of distance from the stimulated site
(``locking_by_distance``): the per-layer criteria pool every cell of M1, most of them far
from a one-voxel stimulus, so the rings show where the rhythm actually holds.
"""
from __future__ import annotations

import numpy as np

from .. import analysis as an
from ..analysis import figures

__all__ = ["run_gamma", "run_phase", "m1_cells", "m1_rate", "group_phases", "window",
           "LAYERS", "TYPES"]

LAYERS = ("L2/3", "L5A", "L5B", "L6")
TYPES = ("E", "FS", "LTS")
BAND, HIGH = (30.0, 50.0), (60.0, 100.0)
ONSET_MS = 100.0
RINGS_UM = (0.0, 150.0, 300.0, 500.0, 800.0, 1200.0, np.inf)   # along the cortical surface
CONTROL = ("brain.dc[0].amplitude_pA=0.0", "brain.dc[0].amplitude_pA_per_pF=0.0")


def window(run) -> tuple:
    start, stop = run.stim_window_ms
    return start + ONSET_MS, min(stop, run.duration_ms)


def m1_cells(run) -> np.ndarray:
    """The analysed population: M1 E cells that the stimulus does not reach."""
    return run.cells(region="MOp", kind="E", stimulated=False)


def m1_rate(run, t0, t1) -> tuple:
    """(t ms, rate Hz) of ``m1_cells`` in 1 ms bins over [t0, t1): the gamma reference."""
    return run.population_rate(m1_cells(run), t0, t1)


def _spectrum(run, t0, t1):
    return an.welch_psd(m1_rate(run, t0, t1)[1], 1000.0)


def run_gamma(exp) -> None:
    curves = {}
    for seed in exp.seeds:
        stim, ctrl = exp.run("stim", seed), exp.run("control", seed, CONTROL)
        t0, t1 = window(stim)
        f, p = _spectrum(stim, t0, t1)
        fc, pc = _spectrum(ctrl, t0, t1)
        curves[f"stimulus (seed {seed})"], curves[f"control (seed {seed})"] = (f, p), (fc, pc)
        k = f"seed{seed}."
        peak = an.peak_frequency(f, p, 10.0, 150.0)
        exp.check(k + "peak_Hz", peak, "in", (30.0, 50.0))
        exp.check(k + "gamma_to_60_100_ratio", an.band_power(f, p, *BAND)
                  / an.band_power(f, p, *HIGH), ">=", 3.0)
        exp.check(k + "gamma_vs_control", an.band_power(f, p, *BAND)
                  / an.band_power(fc, pc, *BAND), ">=", 5.0)
        cpeak = an.peak_frequency(fc, pc, 10.0, 150.0)
        exp.check(k + "control_peak_outside_30_50", not (30.0 <= cpeak <= 50.0), "==", True,
                  note=f"control peak at {cpeak:.1f} Hz")
        stim_gids = stim.cells(stimulated=True)
        t, g = stim.spikes_of(stim_gids, t0, t1)
        rates = an.cell_rates(g, t, stim_gids, t0, t1)
        exp.check(k + "stimulated_max_type_rate_Hz", _max_type_rate(stim, stim_gids, rates),
                  "<", 60.0)
        exp.record(k + "n_stimulated_cells", len(stim_gids))
        exp.record(k + "m1_E_rate_Hz", {"stimulus": stim.mean_rate(m1_cells(stim), t0, t1),
                                        "control": ctrl.mean_rate(m1_cells(ctrl), t0, t1)})
    exp.figure(figures.spectra_figure(curves, exp.out_dir / "gamma_spectra.png", band=BAND))


def _max_type_rate(run, gids, rates) -> float:
    names = run.type_name[gids]
    return max((float(rates[names == n].mean()) for n in np.unique(names)), default=0.0)


def m1_phase(run, t0, t1) -> tuple:
    """(bin centres ms, 30-50 Hz phase rad) of ``m1_rate``: the phase reference."""
    t, rate = m1_rate(run, t0, t1)
    return t, an.hilbert_phase(rate, 1000.0, *BAND)


def group_phases(run, groups: dict, t0, t1) -> dict:
    """Spike phases (rad) of each group of gids relative to the 30-50 Hz phase of
    ``m1_rate`` (0 at its peaks, later = positive)."""
    t, phase = m1_phase(run, t0, t1)
    ts, gs = run.spikes_of(np.concatenate(list(groups.values())), t0, t1)
    return an.group_spike_phases(ts, gs, groups, t, phase)


def phase_stats(run):
    """{(layer, type): phases rad} and {(layer, type): stats} of the non-stimulated M1
    cells in the analysis window."""
    groups = {(lay, ty): run.cells(region="MOp", layer=lay, kind=ty, stimulated=False)
              for lay in LAYERS for ty in TYPES}
    phases = group_phases(run, groups, *window(run))
    return phases, {k: {"mean_deg": float(np.degrees(an.circular_mean(p))),
                        "vector_strength": an.vector_strength(p), "n_spikes": int(p.size)}
                    for k, p in phases.items()}


def run_phase(exp) -> None:
    for seed in exp.seeds:
        stim = exp.run("stim", seed)
        phases, st = phase_stats(stim)
        k = f"seed{seed}."
        for lay in LAYERS:
            e, fs, lts = (st[(lay, ty)] for ty in TYPES)
            exp.check(k + f"{lay}.E_FS_abs_diff_deg", abs(_diff(fs["mean_deg"], e["mean_deg"])),
                      "<=", 30.0)
            exp.check(k + f"{lay}.LTS_minus_E_deg", _diff(lts["mean_deg"], e["mean_deg"]),
                      "in", (20.0, 120.0))
            exp.check(k + f"{lay}.E_vector_strength", e["vector_strength"], ">=", 0.2)
        e_mean = [st[(lay, "E")]["mean_deg"] for lay in LAYERS]
        steps = [_diff(b, a) for a, b in zip(e_mean[:-1], e_mean[1:])]
        exp.check(k + "E_later_with_depth", all(s > 0 for s in steps), "==", True,
                  note="steps L2/3->L5A->L5B->L6: " + ", ".join(f"{s:+.0f}" for s in steps))
        exp.check(k + "E_total_shift_deg", float(np.sum(steps)), ">=", 30.0)
        exp.record(k + "stats", {f"{a}.{b}": v for (a, b), v in st.items()})
        rings = locking_rings(stim)
        if rings:
            exp.record(k + "locking_by_distance", rings)
            x = np.asarray(RINGS_UM[1:-1])
            exp.figure(figures.profile_figure(
                {g: (x, np.asarray(r["vector_strength"][:-1]))
                 for g, r in rings.items() if g.endswith(".E")},
                exp.out_dir / f"phase_locality_seed{seed}.png",
                xlabel="distance from the stimulated site, outer ring edge (um)",
                ylabel="vector strength", title=f"E locking vs distance (seed {seed})"))
        exp.figure(figures.phase_histograms(
            phases, LAYERS, TYPES, exp.out_dir / f"phase_seed{seed}.png",
            title=f"M1 spike phase vs 30-50 Hz M1 E rate (seed {seed})"))


def locking_rings(run) -> dict:
    """``{"<layer>.<type>": an.locking_by_distance(...)}`` of the non-stimulated M1 cells,
    distances along the cortical surface from the centroid of the stimulated cells; {} for
    a run without surface points or stimulated cells."""
    site = run.cells(stimulated=True)
    if run.sheet_um is None or not len(site):
        return {}
    t0, t1 = window(run)
    t, phase = m1_phase(run, t0, t1)
    centre = run.sheet_um[site].mean(axis=0)
    dist = np.linalg.norm(run.sheet_um - centre, axis=1)
    out = {}
    for lay in LAYERS:
        for ty in TYPES:
            g = run.cells(region="MOp", layer=lay, kind=ty, stimulated=False)
            ts, gs = run.spikes_of(g, t0, t1)
            keep = (ts >= t[0]) & (ts <= t[-1])      # the samples spike_phases keeps
            ph = an.spike_phases(ts[keep], t, phase)
            out[f"{lay}.{ty}"] = an.locking_by_distance(ph, dist[gs[keep]], dist[g],
                                                        RINGS_UM, t1 - t0)
    return out


def _diff(a_deg: float, b_deg: float) -> float:
    """a - b wrapped to (-180, 180]; NaN if either is NaN."""
    if not (np.isfinite(a_deg) and np.isfinite(b_deg)):
        return float("nan")
    return float((a_deg - b_deg + 180.0) % 360.0 - 180.0)
