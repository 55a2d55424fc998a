"""``cosim assimilate`` itself: set-up checked before any work, the embedded run, and the
MPI rank program ``mpiexec -n R python -m cosim.assimilation SCENE ...``.

Under MPI any exception on any rank prints ``rank R (assimilate): message`` and aborts
the whole job (``cosim.ranks`` guard), so a failing member never leaves the others
waiting.
"""
from __future__ import annotations

import argparse
import sys
import time

__all__ = ["setup", "run", "rank_main", "command"]


def setup(scene_path, observations, members: int, window_ms: float, overrides=(),
          brain_ranks_per_member: int = 1):
    """The checked Plan: scene and [assimilation], observation file, window."""
    from .config import load_assimilation
    from .driver import plan
    from .observe import read_observations
    scene, params = load_assimilation(scene_path, overrides=overrides)
    obs = read_observations(observations)
    return plan(scene, params, obs, members, window_ms, brain_ranks_per_member)


def _printer(enabled: bool):
    if not enabled:
        return None

    def show(w, n, out):
        mean = out["members"][-1].mean(axis=0)
        print(f"window {w + 1}/{n}: {out['window_s'][-1]:.2f} s, NIS "
              f"{out['nis'][-1]:.2f}, mean " + ", ".join(f"{v:.4g}" for v in mean),
              file=sys.stderr, flush=True)
    return show


def run(p, output, comm=None, progress: bool = False, mode: str = "embedded"):
    """Assimilate and write ``output`` (rank 0). Returns the results on rank 0."""
    from .driver import LocalComm, assimilate
    from .results import write_results
    comm = comm or LocalComm()
    t0 = time.perf_counter()
    res = assimilate(p, comm, _printer(progress and comm.rank == 0))
    if comm.rank == 0:
        write_results(output, p, res, comm.size, mode)
        res["wall_s"] = time.perf_counter() - t0
    return res


def _parser():
    ap = argparse.ArgumentParser(prog="python -m cosim.assimilation",
                                 description="The rank program of `cosim assimilate --ranks R`.")
    ap.add_argument("scene")
    ap.add_argument("--observations", required=True)
    ap.add_argument("--members", type=int, required=True)
    ap.add_argument("--window", type=float, required=True)
    ap.add_argument("--brain-ranks-per-member", type=int, default=1)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--set", action="append", default=[], dest="overrides")
    ap.add_argument("--no-progress", action="store_true")
    return ap


def _rank(world, argv):
    from .driver import MpiComm
    a = _parser().parse_args(argv)
    p = setup(a.scene, a.observations, a.members, a.window, a.overrides,
              a.brain_ranks_per_member)
    res = run(p, a.output, MpiComm(world), progress=not a.no_progress, mode="mpi")
    if res is not None:
        print(f"wrote {a.output}: {p.n_members} members x {p.n_windows} windows on "
              f"{world.Get_size()} ranks in {res['wall_s']:.1f} s", flush=True)


def rank_main(argv=None) -> None:
    from ..ranks import _guard
    _guard("assimilate", _rank, sys.argv[1:] if argv is None else argv)


def command(scene, observations, members, window_ms, output, ranks: int, overrides=(),
            brain_ranks_per_member: int = 1, progress: bool = True) -> list:
    """The mpiexec command line of an R-rank assimilation."""
    from ..launch import mpiexec_path
    cmd = [mpiexec_path(), "-n", str(ranks), sys.executable, "-m", "cosim.assimilation",
           str(scene), "--observations", str(observations), "--members", str(members),
           "--window", repr(float(window_ms)), "-o", str(output),
           "--brain-ranks-per-member", str(brain_ranks_per_member)]
    for o in overrides:
        cmd += ["--set", o]
    return cmd + ([] if progress else ["--no-progress"])
