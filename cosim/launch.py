"""Build the MPMD command line (mpiexec, or a SLURM ``srun --multi-prog`` file and the
``sbatch`` script that runs it)."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["mpiexec_path", "mpmd_command", "slurm_multiprog", "sbatch_script", "launch_env"]


def mpiexec_path() -> str:
    """The ``mpiexec`` next to this Python (from the mpich wheel), else the one on PATH."""
    local = Path(sys.executable).parent / "mpiexec"
    if local.exists():
        return str(local)
    found = shutil.which("mpiexec")
    if not found:
        raise FileNotFoundError("no mpiexec found; install one with: pip install mpich mpi4py")
    return found


def _program_args(scene, output, seed, duration_ms, progress: bool, members: int = 1,
                  overrides=(), extra=()):
    common = [str(scene)] + (["--members", str(members)] if members > 1 else []) + list(extra)
    for o in overrides:
        common += ["--set", o]
    if seed is not None:
        common += ["--seed", str(seed)]
    if duration_ms is not None:
        common += ["--duration", str(duration_ms)]
    # both programs get the output: with run.spikes = "per_rank" the brain ranks write
    # OUT.rankNNN.h5 next to it
    common += ["-o", str(output)]
    body = common + ([] if progress else ["--no-progress"])
    return common, body


def mpmd_command(scene, brain_ranks: int, output, seed=None, duration_ms=None,
                 progress: bool = True, python: str | None = None, members: int = 1,
                 overrides=(), extra=()) -> list:
    """``mpiexec -n N python -m brain SCENE : -n 1 python -m body SCENE -o OUT``.

    With ``members`` = M > 1: M * N brain ranks and M body ranks, one model each.
    ``extra``: more options for both programs (e.g. ``--checkpoint-every 100``).
    """
    if brain_ranks < 1:
        raise ValueError(f"--brain-ranks = {brain_ranks}: must be >= 1")
    if members < 1:
        raise ValueError(f"--members = {members}: must be >= 1")
    py = python or sys.executable
    brain, body = _program_args(scene, output, seed, duration_ms, progress, members, overrides,
                                extra)
    return [mpiexec_path(), "-n", str(brain_ranks * members), py, "-m", "brain", *brain,
            ":", "-n", str(members), py, "-m", "body", *body]


def _threads(n: int) -> str:
    return f"env OMP_NUM_THREADS={n} NUMBA_NUM_THREADS={n}"


def slurm_multiprog(scene, brain_ranks: int, output, seed=None, duration_ms=None,
                    python: str = "python", members: int = 1, overrides=(),
                    threads: int = 1) -> str:
    """Contents of a ``srun --multi-prog`` file: brain tasks first, then body tasks.

    Brain ranks run ``threads`` numba/OpenMP threads each, body ranks one (MuJoCo steps
    one small model; more threads would only wait).
    """
    import shlex
    if threads < 1:
        raise ValueError(f"threads = {threads}: must be >= 1")
    brain, body = _program_args(scene, output, seed, duration_ms, False, members, overrides)
    brain, body = [shlex.quote(a) for a in brain], [shlex.quote(a) for a in body]
    nb = brain_ranks * members
    first = "0" if nb == 1 else f"0-{nb - 1}"
    last = f"{nb}" if members == 1 else f"{nb}-{nb + members - 1}"
    return (f"# srun -n {nb + members} --multi-prog THIS_FILE\n"
            f"{first} {_threads(threads)} {python} -m brain {' '.join(brain)}\n"
            f"{last} {_threads(1)} {python} -m body {' '.join(body)}\n")


def sbatch_script(scene, brain_ranks: int, output, seed=None, duration_ms=None,
                  python: str = "python", members: int = 1, overrides=(),
                  threads: int = 1) -> str:
    """An ``sbatch`` script for the whole job: brain ranks x members + one body rank per
    member, ``threads`` cores per task; it writes its ``srun --multi-prog`` file (the
    one ``slurm_multiprog`` gives) next to itself at start and runs it.

    SLURM gives every task the same ``--cpus-per-task``, so each body rank holds
    ``threads`` cores and uses one. Site settings (time, account, partition) are left
    as comments to fill in.
    """
    from pathlib import Path
    n_tasks = (brain_ranks + 1) * members
    conf = slurm_multiprog(scene, brain_ranks, output, seed, duration_ms, python, members,
                           overrides, threads)
    name = Path(str(scene)).stem
    return ("#!/bin/bash\n"
            f"#SBATCH --job-name=cosim-{name}\n"
            f"#SBATCH --ntasks={n_tasks}\n"
            f"#SBATCH --cpus-per-task={threads}\n"
            f"#SBATCH --output=cosim-{name}-%j.log\n"
            "##SBATCH --time=01:00:00\n##SBATCH --account=...\n##SBATCH --partition=...\n"
            f"# {brain_ranks} brain rank(s) x {members} member(s) with {threads} thread(s) "
            f"each, {members} body rank(s)\n"
            "set -euo pipefail\n"
            'conf="${SLURM_SUBMIT_DIR:-.}/cosim-${SLURM_JOB_ID:-local}.multiprog"\n'
            "cat > \"$conf\" <<'COSIM_MULTIPROG'\n"
            f"{conf}"
            "COSIM_MULTIPROG\n"
            f"srun --ntasks={n_tasks} --cpus-per-task={threads} --multi-prog \"$conf\"\n")


def launch_env() -> dict:
    """Environment for the ranks: one thread each, so N ranks share the cores fairly."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("NUMBA_NUM_THREADS", "1")
    return env


def name_dead_rank(mpiexec_output: str, outputs) -> str | None:
    """'rank R (role, pid P)' for the process mpiexec reports as badly terminated, looked
    up in the ``rank_pids`` attribute of the run files; None if it cannot tell."""
    import json
    import re

    import h5py
    found = re.search(r"PID (\d+) RUNNING AT", mpiexec_output)
    if not found:
        return None
    pid = int(found.group(1))
    for path in outputs:
        try:
            with h5py.File(path, "r", locking=False) as f:
                table = json.loads(f.attrs.get("rank_pids", "[]"))
        except (OSError, ValueError):
            continue
        for rank, role, p in table:
            if p == pid:
                return f"rank {rank} ({role}, pid {pid})"
    return f"pid {pid} (rank unknown: the run file has no rank table yet)"
