"""ensemble: 100 members of a small bilateral cortex model in one ``mpiexec`` job.

The seed ran 100 cortex members at once (100 members x 10 s in 250 s on 5,200 CPUs) as
the first step toward ensemble data assimilation.  Here: ``scenes/bilateral_cortex.toml``
(MOp + MOs, both hemispheres, 1 % density), member m with seed ``run.seed + m`` and the
L2/3 E background rate varied by +-10 % across the members (the one perturbed
parameter), ``python -m cosim.ensemble`` on all cores.  ``--scale S`` runs round(100 S)
members (at least 4).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from ..analysis import figures

__all__ = ["run", "SCENE", "PERTURB", "N_MEMBERS"]

SCENE = "bilateral_cortex"
N_MEMBERS = 100
DURATION_MS = 1000.0
PERTURB = "brain.poisson[1].rate_Hz=1260.0:1540.0"      # L2/3 E background, 1400 Hz +-10 %
RATE_TYPE = "MOp.L23_E"                                 # the perturbed cells


def _ranks() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def run(exp) -> None:
    from ..launch import mpiexec_path
    from ..scene import SCENES_DIR
    n = max(4, round(N_MEMBERS * exp.scale))
    duration = exp.duration_ms or DURATION_MS
    ranks = _ranks()
    seed = exp.seeds[0]
    out = exp.out_dir / "members"
    cmd = [mpiexec_path(), "-n", str(ranks), sys.executable, "-m", "cosim.ensemble",
           str(SCENES_DIR / f"{SCENE}.toml"), "--members", str(n), "--perturb", PERTURB,
           "--seed", str(seed), "--duration", repr(duration), "-o", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"the ensemble job failed (exit {proc.returncode}):\n"
                           f"{proc.stderr.strip()[-2000:]}")
    summary = json.loads((out / "ensemble.json").read_text())
    members = summary["member_list"]
    exp.record("command", " ".join(["mpiexec", *cmd[1:]]))
    for m in members:
        exp.runs[f"member_{m['member']:03d}"] = {
            "file": f"members/{m['file']}", "seed": m["seed"],
            "overrides": [f"run.duration_ms={duration!r}",
                          f"{PERTURB.partition('=')[0]}={m['value']!r}"]}
    done = [m for m in members if m["complete"] and (out / m["file"]).is_file()]
    exp.check("members_finished", len(done), "==", n,
              note=f"{n} members on {ranks} ranks, {duration:g} ms each")
    exp.check("members_with_spikes", sum(m["n_spikes"] > 0 for m in members), "==", n)
    exp.record("ranks", ranks)
    exp.record("wall_s", summary["wall_s"])
    exp.record("member_seconds_per_core_second", summary["member_s_per_core_s"])
    exp.record("neuron_seconds_per_core_second", summary["neuron_s_per_core_s"])
    exp.record("cells_per_member", members[0]["n_cells"])
    # the seed: 100 members x 10 s in 250 s on 5,200 CPUs, as member-seconds per core-s
    exp.record("seed_member_seconds_per_core_second", 100 * 10.0 / (250.0 * 5200))
    rates = np.array([m["rate_Hz"] for m in members])
    perturbed = np.array([m["type_rate_Hz"][RATE_TYPE] for m in members])
    values = np.array([m["value"] for m in members])
    exp.record("rate_Hz", {"mean": rates.mean(), "sd": rates.std(ddof=1),
                           "min": rates.min(), "max": rates.max()})
    exp.record(f"{RATE_TYPE}_rate_Hz", {"mean": perturbed.mean(), "sd": perturbed.std(ddof=1),
                                        "min": perturbed.min(), "max": perturbed.max()})
    # the perturbation must show in the members (a check that the key reached the model)
    r = float(np.corrcoef(values, perturbed)[0, 1]) if perturbed.std() > 0 else float("nan")
    exp.check(f"{RATE_TYPE}_rate_vs_perturbed_background_r", r, ">=", 0.8,
              note="Pearson r over members: their rate follows the perturbed parameter")
    order = np.argsort(values)
    exp.figure(figures.profile_figure(
        {f"{RATE_TYPE}": (values[order], perturbed[order]),
         "all cells": (values[order], rates[order])},
        exp.out_dir / "ensemble_rates.png",
        xlabel="L2/3 E background rate (Hz)", ylabel="member mean rate (Hz)"))
