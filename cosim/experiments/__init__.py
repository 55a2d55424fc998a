"""``cosim experiment NAME``: the seed's results, each one command on a shipped scene.

An experiment runs its scene (and the controls it needs, derived with documented scene
keys: ``brain.dc[i].amplitude_pA = 0`` and ``amplitude_pA_per_pF = 0`` for no stimulus,
``brain.cut`` for pathways, ``bridge.motor_output`` / ``bridge.feedback``), keeps every run's HDF5 file in its output
folder, measures from the raw spikes with ``cosim.analysis`` and writes
``metrics.json``: every value next to the criterion it is checked against.
"""
from __future__ import annotations

__all__ = ["run_experiment"]


def _registry():
    from . import ensemble, forelimb, gamma, propagation, topography
    return {"gamma": gamma.run_gamma, "phase": gamma.run_phase,
            "propagation": propagation.run, "forelimb": forelimb.run,
            "topography": topography.run, "ensemble": ensemble.run}


def run_experiment(name: str, out_dir, scale: float = 1.0, atlas: str = "synthetic",
                   seeds=(1,), duration_ms: float | None = None, progress: bool = True) -> dict:
    """Run experiment ``name`` into ``out_dir``; returns the metrics (also metrics.json)."""
    from .runs import Experiment
    reg = _registry()
    if name not in reg:
        raise ValueError(f"unknown experiment {name!r}; choose one of {', '.join(reg)}")
    exp = Experiment(name=name, out_dir=out_dir, scale=scale, atlas=atlas, seeds=tuple(seeds),
                     duration_ms=duration_ms, progress=progress)
    reg[name](exp)
    return exp.write()
