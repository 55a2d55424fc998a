"""An ensemble in one MPI job: M independent members of a scene, each with its own seed
and one perturbed scene key, spread over the job's ranks and run embedded on them.

    mpiexec -n R python -m cosim.ensemble SCENE --members M [--perturb KEY=LO:HI] -o DIR

Member m has seed ``run.seed + m`` and, with ``--perturb``, KEY set to
``LO + (HI - LO) * m / (M - 1)``; rank r runs the members m with m % R == r one after
another (brain, bridge and body in one process, as ``cosim run``) into
``DIR/member_<m>.h5``.  Unlike ``cosim launch --members`` (N brain ranks + 1 body rank
per member) this packs many small members onto few cores.  Rank 0 writes
``DIR/ensemble.json``: per member its seed, value, cells, spikes, rates and wall time,
and the job's wall time.  A member that fails aborts the job with its message.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["member_overrides", "parse_perturb", "main"]


def parse_perturb(text: str | None) -> tuple | None:
    """``"KEY=LO:HI"`` -> (KEY, LO, HI); None stays None."""
    if text is None:
        return None
    key, sep, rng = text.partition("=")
    lo, sep2, hi = rng.partition(":")
    try:
        if not (sep and sep2 and key.strip()):
            raise ValueError
        return key.strip(), float(lo), float(hi)
    except ValueError:
        raise ValueError(f"--perturb {text!r}: expected KEY=LO:HI, e.g. "
                         "brain.poisson[1].rate_Hz=1260:1540") from None


def member_overrides(perturb: tuple | None, member: int, n_members: int) -> tuple:
    """(``--set`` strings, perturbed value or None) of one member."""
    if perturb is None:
        return (), None
    key, lo, hi = perturb
    value = lo + (hi - lo) * (member / (n_members - 1) if n_members > 1 else 0.5)
    return (f"{key}={value!r}",), value


def _member_record(path: Path, member: int, seed: int, value, wall_s: float) -> dict:
    import h5py
    with h5py.File(path, "r") as f:
        n = len(f["cells/type_id"])
        names = f["cells/type_names"][()].astype(str)[f["cells/type_id"][()]]
        gid = f["spikes/brain/node_ids"][()]
        dur_s = float(f.attrs["duration_ms"]) / 1e3
        complete = bool(f.attrs.get("complete"))
    per_type = {}
    counts = np.bincount(gid, minlength=n)
    for t in np.unique(names):
        sel = names == t
        per_type[t] = float(counts[sel].sum() / sel.sum() / dur_s)
    return {"member": member, "seed": seed, "value": value, "file": path.name,
            "complete": complete, "n_cells": n, "n_spikes": int(len(gid)),
            "rate_Hz": float(len(gid) / n / dur_s), "type_rate_Hz": per_type,
            "duration_ms": dur_s * 1e3, "wall_s": round(wall_s, 3)}


def _run(world, argv) -> None:
    from .runner import run_embedded
    from .scene import load
    p = argparse.ArgumentParser(prog="python -m cosim.ensemble",
                                description="M members of SCENE in one MPI job")
    p.add_argument("scene")
    p.add_argument("--members", type=int, required=True, metavar="M")
    p.add_argument("--perturb", metavar="KEY=LO:HI",
                   help="one scene key varied linearly from LO (member 0) to HI (member M-1)")
    p.add_argument("--seed", type=int, help="base seed (default run.seed)")
    p.add_argument("--duration", type=float, metavar="MS")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    args = p.parse_args(argv)
    if args.members < 1:
        raise ValueError(f"--members = {args.members}: must be >= 1")
    perturb = parse_perturb(args.perturb)
    rank, size = world.Get_rank(), world.Get_size()
    out = Path(args.output)
    # every rank validates the scene and the perturbed key (first and last value) before
    # any member runs, so a bad key fails in seconds on all ranks alike
    base = load(args.scene, seed=args.seed, duration_ms=args.duration,
                overrides=args.overrides)
    for m in {0, args.members - 1}:
        load(args.scene, seed=args.seed, duration_ms=args.duration,
             overrides=[*args.overrides, *member_overrides(perturb, m, args.members)[0]])
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    world.Barrier()
    t_job = time.perf_counter()
    records = []
    for m in range(rank, args.members, size):
        ov, value = member_overrides(perturb, m, args.members)
        seed = base.run.seed + m
        scene = load(args.scene, seed=seed, duration_ms=args.duration,
                     overrides=[*args.overrides, *ov])
        path = out / f"member_{m:03d}.h5"
        t = time.perf_counter()
        run_embedded(scene, path, progress=False)
        records.append(_member_record(path, m, seed, value, time.perf_counter() - t))
    rank_wall = time.perf_counter() - t_job
    gathered = world.gather((records, rank_wall), root=0)
    if rank == 0:
        members = sorted((r for recs, _ in gathered for r in recs), key=lambda r: r["member"])
        wall = max(w for _, w in gathered)
        neuron_s = sum(r["n_cells"] * r["duration_ms"] / 1e3 for r in members)
        summary = {"scene": str(args.scene), "members": args.members, "ranks": size,
                   "perturb": args.perturb, "wall_s": round(wall, 2),
                   "neuron_s_per_core_s": neuron_s / (wall * size),
                   "member_s_per_core_s": sum(r["duration_ms"] / 1e3 for r in members)
                   / (wall * size), "member_list": members}
        (out / "ensemble.json").write_text(json.dumps(summary, indent=1))


def main(argv=None) -> None:
    from .ranks import _guard      # it also sets one OpenMP/numba thread per rank
    _guard("member", _run, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
