"""Calibrate the per-type background Poisson rates of a scene to spontaneous targets.

    python calibrate_background.py SCENE [--set KEY=VALUE ...] [--iterations N]

Each iteration runs 400 ms without the stimulus (brain.dc[0].amplitude_pA = 0), measures
the mean rate of every MOp type from 100 ms on, and scales the type's excitatory
background by (target / measured)^0.12 (damped: the types are coupled).  Prints the rates
to write into the scene.  Expects one AMPA [[brain.poisson]] entry per cortical family.
"""
import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from cosim.experiments.runs import RunData
from cosim.runner import run_embedded
from cosim.scene import load

# Hz: awake mouse cortex, L2/3 E sparse, L5 E a few Hz, PV ~10 Hz, SOM ~5 Hz
TARGET_HZ = {"L23_E": 1.0, "L5A_E": 3.0, "L5B_E": 4.0, "L6_E": 2.0, "L23_FS": 10.0,
             "L5A_FS": 10.0, "L5B_FS": 10.0, "L6_FS": 10.0, "L23_LTS": 5.0, "L5A_LTS": 5.0,
             "L5B_LTS": 5.0, "L6_LTS": 5.0, "L1_I": 4.0}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scene")
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--iterations", type=int, default=6)
    args = p.parse_args()
    scene = load(args.scene, overrides=args.overrides)
    entry = {inp.cell_types[0].split(".", 1)[1]: i for i, inp in enumerate(scene.brain.poisson)
             if inp.receptor == "AMPA" and inp.cell_types[0].startswith("MOp.")}
    rates = {k: scene.brain.poisson[entry[k]].rate_Hz for k in TARGET_HZ}
    out = Path(tempfile.mkdtemp()) / "calibrate.h5"
    for it in range(args.iterations):
        ov = [*args.overrides, "brain.dc[0].amplitude_pA=0.0", "run.duration_ms=400.0",
              *(f"brain.poisson[{entry[k]}].rate_Hz={v:.1f}" for k, v in rates.items())]
        run_embedded(load(args.scene, overrides=ov), out, progress=False)
        run = RunData.read(out)
        measured = {k: run.mean_rate(np.flatnonzero(run.type_name == f"MOp.{k}"), 100.0, 400.0)
                    for k in TARGET_HZ}
        print(it, {k: round(v, 1) for k, v in measured.items()}, flush=True)
        for k in rates:
            rates[k] *= (TARGET_HZ[k] / max(measured[k], 0.05)) ** 0.12
    print("RATES", json.dumps({k: round(v, 1) for k, v in rates.items()}))


if __name__ == "__main__":
    main()
