"""EnKF benchmark: wall time per assimilation window for 16/32/64 members.

For each member count M it runs `cosim assimilate` on the twin scene (scenes/enkf_cortex.toml,
~2,000 cells) embedded (1 rank) and over MPI (--ranks R), and the same M members one after
another as plain brain-only runs (one engine each, built once, run straight through the same
simulated time, no filter). It prints per configuration: wall s per window, members x
simulated s per core-second, and the update step's share of the window.

    .venv/bin/python bench/enkf.py --members 16 32 64 --windows 3 --window 200 --ranks 2
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TRUTH = ["brain.poisson[0].rate_Hz=4000.0", "brain.connections[1].weight_nS=0.8"]


def _cosim(*args):
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], env=env,
                         capture_output=True, text=True, timeout=3600)
    if res.returncode:
        raise RuntimeError(res.stderr)
    return res


def _sequential(members: int, duration_ms: float, seed: int) -> float:
    """Wall s to run ``members`` brain-only members one after another (prior means)."""
    from brain.exchange import LocalExchange
    from cosim.assimilation.members import member_seed
    from cosim.build import build_brain_model, build_engine
    from cosim.scene import load
    scene = load("enkf_cortex")
    t0 = time.perf_counter()
    for m in range(members):
        model = dataclasses.replace(build_brain_model(scene), seed=member_seed(seed, m))
        engine = build_engine(scene, model, 1, 0, LocalExchange())
        engine.run(int(round(duration_ms / scene.run.dt_ms)))
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--windows", type=int, default=3, help="windows per run (default 3)")
    ap.add_argument("--window", type=float, default=200.0, help="window, ms (default 200)")
    ap.add_argument("--ranks", type=int, default=2, help="MPI ranks (default 2 = the cores)")
    ap.add_argument("--json", help="also write the rows as JSON")
    a = ap.parse_args(argv)
    duration = a.windows * a.window
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _cosim("run", "enkf_cortex", *[x for o in TRUTH for x in ("--set", o)],
               "--duration", duration, "-o", tmp / "truth.h5", "--no-figure", "--no-progress")
        _cosim("observe", tmp / "truth.h5", "--bin", 100, "-o", tmp / "obs.h5")
        for m in a.members:
            for ranks in (1, a.ranks):
                out = tmp / f"a{m}_{ranks}.h5"
                _cosim("assimilate", "enkf_cortex", "--observations", tmp / "obs.h5",
                       "--members", m, "--window", a.window, "--ranks", ranks, "-o", out,
                       "--no-progress", "--set", f"run.duration_ms={duration}")
                with h5py.File(out) as f:
                    win = f["timing/window_s"][()]
                    upd = f["timing/update_s"][()]
                    seed = int(f.attrs["seed"])
                rows.append({"members": m, "ranks": ranks, "mode": "EnKF",
                             "window_s": float(win.mean()),
                             "member_sim_s_per_core_s": m * duration * 1e-3 / (win.sum() * ranks),
                             "update_fraction": float(upd.sum() / win.sum())})
            seq = _sequential(m, duration, seed)
            rows.append({"members": m, "ranks": 1, "mode": "one after another",
                         "window_s": seq / a.windows,
                         "member_sim_s_per_core_s": m * duration * 1e-3 / seq,
                         "update_fraction": 0.0})
            print(json.dumps(rows[-3:]), file=sys.stderr, flush=True)
    print(f"{a.windows} windows of {a.window:g} ms, scenes/enkf_cortex.toml; cores = ranks")
    print(f"{'members':>7s} {'ranks':>5s} {'mode':>18s} {'s/window':>9s} "
          f"{'member-sim-s/core-s':>20s} {'update share':>12s}")
    for r in rows:
        print(f"{r['members']:7d} {r['ranks']:5d} {r['mode']:>18s} {r['window_s']:9.2f} "
              f"{r['member_sim_s_per_core_s']:20.3f} {r['update_fraction']:12.2%}")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
