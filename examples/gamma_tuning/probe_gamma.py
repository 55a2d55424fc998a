"""One stimulus run of a scene, then what tuning needs to see.

    python probe_gamma.py SCENE [--set KEY=VALUE ...]

Prints the rate of the stimulated cells, of the non-stimulated M1 E cells (all, and
within 200 um of the site) before and during the stimulus, the spectrum peak and the
30-50 / 60-100 Hz ratio of M1 E and of each layer, and the phase locking per layer and type.
"""
import argparse
import tempfile
from pathlib import Path

import h5py
import numpy as np

from cosim import analysis as an
from cosim.experiments.gamma import BAND, HIGH, LAYERS, m1_cells, phase_stats, window
from cosim.experiments.runs import RunData
from cosim.runner import run_embedded
from cosim.scene import load


def spectrum_summary(run, gids, t0, t1):
    f, p = an.welch_psd(run.population_rate(gids, t0, t1)[1], 1000.0)
    return (an.peak_frequency(f, p, 10.0, 150.0),
            an.band_power(f, p, *BAND) / an.band_power(f, p, *HIGH))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scene")
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp()) / "probe.h5"
    run_embedded(load(args.scene, overrides=args.overrides), out, progress=False)
    run = RunData.read(out)
    t0, t1 = window(run)
    start = run.stim_window_ms[0]
    m1 = m1_cells(run)
    stim = run.cells(stimulated=True)
    with h5py.File(out) as f:
        sheet = f["cells/sheet_um"][()]
    near = m1[np.linalg.norm(sheet[m1] - sheet[stim].mean(axis=0), axis=1) < 200.0]
    print(f"stimulated {len(stim)} cells: {run.mean_rate(stim, t0, t1):.1f} Hz")
    for name, g in (("M1 E", m1), ("M1 E < 200 um", near)):
        print(f"{name} ({len(g)}): {run.mean_rate(g, 50.0, start):.2f} Hz before, "
              f"{run.mean_rate(g, t0, t1):.2f} Hz during")
    print("M1 E peak %.1f Hz, 30-50/60-100 %.2f" % spectrum_summary(run, m1, t0, t1))
    for lay in LAYERS:
        g = run.cells(region="MOp", layer=lay, kind="E", stimulated=False)
        print(f"  {lay} E peak %.1f Hz, ratio %.2f" % spectrum_summary(run, g, t0, t1))
    for (lay, ty), s in phase_stats(run)[1].items():
        print(f"  {lay}.{ty}: mean {s['mean_deg']:+.0f} deg, VS {s['vector_strength']:.2f}")


if __name__ == "__main__":
    main()
