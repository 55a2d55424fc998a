"""propagation: gamma started in M1 reaches M2, pons and cerebellum.

Runs: the stimulus run of ``gamma``; the same with the pathways out of M1 cut
(``brain.cut = ["MOp->*"]``); M1 alone (``brain.cut = ["MOp->*", "*->MOp"]``).
Coherence (30-50 Hz, magnitude squared, with a circular-shift surrogate as chance
level) of the non-stimulated M1 E rate with the M2 E, pontine and granule-cell rates;
vector strength of each population's spikes relative to the M1 gamma phase.
"""
from __future__ import annotations

from .. import analysis as an
from ..analysis import figures
from .gamma import BAND, group_phases, m1_cells, m1_rate, window

__all__ = ["run"]

# 128 ms segments (7.8 Hz resolution, still 3 bins in 30-50 Hz): ~27 segments in 1.9 s,
# so two independent signals give ~0.04 rather than ~0.3
SEGMENT_MS = 128.0

CUT_OUT = ('brain.cut=["MOp->*"]',)
M1_ALONE = ('brain.cut=["MOp->*", "*->MOp"]',)


def _targets(run):
    return {"M2 E": run.cells(region="MOs", kind="E"), "pons": run.cells(region="PG"),
            "granule": run.cells(kind="GR"), "Purkinje": run.cells(kind="PC"),
            "M1 E": m1_cells(run)}


def _coherences(run, t0, t1, seed):
    ref = m1_rate(run, t0, t1)[1]
    targets = _targets(run)
    out, curves = {}, {}
    for name in ("M2 E", "pons", "granule"):
        x = run.population_rate(targets[name], t0, t1)[1]
        out[name] = an.coherence_vs_chance(ref, x, 1000.0, *BAND, seed=seed,
                                           segment_ms=SEGMENT_MS)
        curves[name] = an.coherence(ref, x, 1000.0, segment_ms=SEGMENT_MS)
    return out, curves


def _locking(run, t0, t1):
    return {k: an.vector_strength(p)
            for k, p in group_phases(run, _targets(run), t0, t1).items()}


def run(exp) -> None:
    for seed in exp.seeds:
        full = exp.run("stim", seed)
        cut = exp.run("cut_out_of_M1", seed, CUT_OUT)
        alone = exp.run("M1_alone", seed, M1_ALONE)
        t0, t1 = window(full)
        k = f"seed{seed}."
        coh, curves = _coherences(full, t0, t1, seed)
        coh_cut, curves_cut = _coherences(cut, t0, t1, seed)
        for name in coh:
            key = k + f"coherence_M1_{name.replace(' ', '_')}"
            exp.check(key, coh[name].observed, ">=", 0.3)
            exp.check(key + "_above_chance", coh[name].observed, ">",
                      round(coh[name].surrogate_p95, 4),
                      note="chance: 95th percentile of circularly shifted surrogates")
            exp.check(k + f"coherence_M1_{name.replace(' ', '_')}_cut", coh_cut[name].observed,
                      "<", 0.1)
        vs = _locking(full, t0, t1)
        vs_alone = _locking(alone, t0, t1)
        exp.check(k + "vector_strength_pons", vs["pons"], ">=", 0.3)
        exp.check(k + "vector_strength_granule", vs["granule"], ">=", 0.3)
        exp.check(k + "vector_strength_Purkinje_over_granule",
                  vs["Purkinje"] / vs["granule"] if vs["granule"] > 0 else float("nan"),
                  "<=", 0.5)
        exp.check(k + "M1_broader_than_M1_alone", vs["M1 E"] < vs_alone["M1 E"], "==", True,
                  note=f"M1 E vector strength {vs['M1 E']:.3f} with the loop vs "
                  f"{vs_alone['M1 E']:.3f} alone")
        exp.record(k + "vector_strength", vs)
        exp.record(k + "vector_strength_M1_alone", vs_alone)
        both = {f"{n} (connected)": c for n, c in curves.items()}
        both.update({f"{n} (M1 outputs cut)": c for n, c in curves_cut.items()})
        exp.figure(figures.coherence_figure(
            both, exp.out_dir / f"propagation_coherence_seed{seed}.png", band=BAND))
