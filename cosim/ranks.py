"""MPMD roles: ``python -m brain SCENE`` (N ranks) and ``python -m body SCENE`` (1 rank).

Each program knows its role; ranks learn everyone's role with one allgather on
``COMM_WORLD`` (the MPI app number is checked where the launcher sets it), split
off a brain communicator, and then run the same loops as the embedded runner.
With ``--members M`` the job holds M independent models (M * N brain ranks, M body
ranks): ``COMM_WORLD`` is split into one communicator per member, member m runs with
seed ``run.seed + m`` (or the m-th of ``--member-seeds``) and writes its own file.
Any exception on any rank prints ``rank R (role): message`` and aborts the whole
job, so an error never leaves the others hanging.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback

import numpy as np

from .interrupts import RunInterrupted, deferred_signals
from .rank_output import RankSpikeWriter, peak_memory_attrs, peak_rss_bytes, rank_path

__all__ = ["brain_main", "body_main"]

TAG_SPIKES = 21
TAG_CHECKPOINT = 24


def _parser(prog: str, role: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description=f"The {role} program of an MPMD "
                                "co-simulation (see `cosim launch`).")
    p.add_argument("scene", help="scene file (TOML)")
    p.add_argument("--seed", type=int, help="override run.seed")
    p.add_argument("--duration", type=float, metavar="MS", help="override run.duration_ms")
    p.add_argument("-o", "--output", default="run.h5",
                   help="output HDF5 (written by the body rank; with run.spikes = \"per_rank\" "
                   "each brain rank writes OUT.rankNNN.h5 next to it)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--members", type=int, default=1, metavar="M",
                   help="independent ensemble members in this job (default 1)")
    p.add_argument("--member-seeds", metavar="S1,S2,...",
                   help="seed of each member (default: run.seed + member index)")
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="override a scene key (as `cosim run --set`)")
    p.add_argument("--checkpoint-every", type=float, metavar="MS",
                   help="write a checkpoint every MS simulated ms (as `cosim run`)")
    p.add_argument("--checkpoint", metavar="CKPT.h5",
                   help="checkpoint file (default: OUT.ckpt.h5; written by the body rank)")
    p.add_argument("--resume", metavar="CKPT.h5",
                   help="continue from this checkpoint (its scene must be SCENE)")
    return p


def _checkpointing(args, scene):
    """(schedule, checkpoint to resume or None) of the rank program's options."""
    from .checkpoint import open_checkpoint, schedule
    if args.members > 1 and (args.resume or args.checkpoint_every):
        raise ValueError("checkpoints are not supported with --members > 1")
    if scene.run.spikes == "per_rank" and (args.resume or args.checkpoint_every):
        raise ValueError("checkpoints are not supported with run.spikes = 'per_rank'; use "
                         "run.spikes = 'gathered'")
    sched = schedule(scene, args.checkpoint_every, args.checkpoint, args.output)
    if not args.resume:
        return sched, None
    ckpt = open_checkpoint(args.resume)
    ckpt.check_scene(scene)
    return sched, ckpt


def _scene(args):
    from .scene import load
    return load(args.scene, seed=args.seed, duration_ms=args.duration,
                overrides=args.overrides)


def _roles(world, role: str, n_members: int = 1):
    """(brain world ranks, body world ranks); checks app numbers and the rank counts."""
    from mpi4py import MPI
    appnum = world.Get_attr(MPI.APPNUM)
    roles = world.allgather(role)
    apps = world.allgather(appnum)
    if None not in apps:
        expected = {"brain": 0, "body": 1}
        for r, (ro, a) in enumerate(zip(roles, apps)):
            if expected[ro] != a:
                raise RuntimeError(f"rank {r} runs the {ro} program as MPI app {a}; "
                                   "launch brain first: mpiexec -n N python -m brain SCENE "
                                   ": -n 1 python -m body SCENE")
    brains = [r for r, ro in enumerate(roles) if ro == "brain"]
    bodies = [r for r, ro in enumerate(roles) if ro == "body"]
    if len(bodies) != n_members or not brains or len(brains) % n_members:
        raise RuntimeError(f"{n_members} member(s) need a multiple of {n_members} brain ranks "
                           f"and exactly {n_members} body rank(s), got {len(brains)} brain and "
                           f"{len(bodies)} body ranks")
    return brains, bodies


def _member(world, role: str, args, scene):
    """Split COMM_WORLD by ensemble member.

    Returns (scene with the member's seed, member index, member communicator, brain
    ranks and body rank within it).
    """
    brains, bodies = _roles(world, role, args.members)
    _check_same_scene(world, scene)
    me = world.Get_rank()
    per = len(brains) // args.members
    member = brains.index(me) // per if role == "brain" else bodies.index(me)
    comm = world.Split(member, me)
    roles = comm.allgather(role)
    seeds = [scene.run.seed + m for m in range(args.members)]
    if args.member_seeds:
        seeds = [int(x) for x in args.member_seeds.split(",")]
        if len(seeds) != args.members:
            raise ValueError(f"--member-seeds gives {len(seeds)} seeds for {args.members} members")
    if args.members > 1:
        scene = scene.with_run(seed=seeds[member])
    return (scene, member, comm, [r for r, ro in enumerate(roles) if ro == "brain"],
            roles.index("body"))


def member_output(path: str, member: int, n_members: int) -> str:
    """Output file of one member: ``run.h5`` -> ``run_member003.h5`` when M > 1."""
    if n_members == 1:
        return str(path)
    root, ext = os.path.splitext(str(path))
    return f"{root}_member{member:03d}{ext or '.h5'}"


def _check_same_scene(world, scene) -> None:
    from .scene import scene_digest
    digests = world.allgather(scene_digest(scene))
    if len(set(digests)) != 1:
        raise RuntimeError("ranks loaded different scenes or overrides; give every program "
                           "the same SCENE, --seed and --duration")


_RANK_PIDS: list = []


def _guard(role: str, fn, argv):
    """Run ``fn`` with MPI; on any error print it with the rank and abort the job."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("NUMBA_NUM_THREADS", "1")
    from mpi4py import MPI
    world = MPI.COMM_WORLD
    global _RANK_PIDS
    try:
        # mpiexec names a dead process by pid only; the file maps pids to ranks
        _RANK_PIDS = [[r, rl, pid] for r, (rl, pid) in
                      enumerate(world.allgather((role, os.getpid())))]
        fn(world, argv)
    except RunInterrupted as exc:   # a clean stop on SIGINT/SIGTERM: no abort
        if role == "body":          # the body rank decided the stop and wrote the file
            print(f"rank {world.Get_rank()} ({role}): {exc}", file=sys.stderr, flush=True)
        if exc.checkpoint:
            print(f"wrote checkpoint {exc.checkpoint}; continue with: cosim launch --resume "
                  f"{exc.checkpoint}", file=sys.stderr, flush=True)
        sys.exit(exc.exit_code)
    except BaseException as exc:  # noqa: BLE001 - any failure must abort the whole job
        from .scene import SceneError
        msg = str(exc) if isinstance(exc, (SceneError, RuntimeError, ValueError)) else \
            traceback.format_exc()
        print(f"rank {world.Get_rank()} ({role}): {msg}", file=sys.stderr, flush=True)
        # MPICH tears the job's stdio down on Abort, and a message still in the proxy's
        # pipe is lost (CI saw an empty stderr): give it a moment to be forwarded
        time.sleep(0.3)
        world.Abort(1)


class _SpikeForwarder:
    """Brain rank: buffer local spikes, send them to the body rank once per chunk."""

    def __init__(self, world, body_rank):
        from .output import SpikeBuffer
        self.world, self.body_rank, self.buf = world, body_rank, SpikeBuffer()
        self._req, self._data = None, None

    def add(self, steps, gids):
        self.buf.add(steps, gids)

    def send_chunk(self):
        from brain.exchange import wait
        if self._req is not None:
            wait(self._req)
        steps, gids = self.buf.take()
        self._data = np.ascontiguousarray(np.stack([steps, gids], axis=1).ravel())
        self._req = self.world.Isend(self._data, dest=self.body_rank, tag=TAG_SPIKES)

    def close(self):
        from brain.exchange import wait
        if self._req is not None:
            wait(self._req)


class _SpikeCollector:
    """Body rank: one chunk from every brain rank, merged and sorted by (step, gid)."""

    def __init__(self, world, brain_ranks):
        self.world, self.brain_ranks = world, brain_ranks

    def take(self):
        from mpi4py import MPI
        from .output import SpikeBuffer
        buf = SpikeBuffer()
        status = MPI.Status()
        for r in self.brain_ranks:
            while not self.world.Iprobe(source=r, tag=TAG_SPIKES, status=status):
                time.sleep(2e-5)
            data = np.empty(status.Get_count(MPI.INT64_T), dtype=np.int64)
            self.world.Recv(data, source=r, tag=TAG_SPIKES)
            pairs = data.reshape(-1, 2)
            buf.add(pairs[:, 0], pairs[:, 1])
        return buf.take()


def _brain(world, argv):
    from brain.exchange import mpi_exchange
    from bridge import MpiBrainEnd
    from .build import brain_rank_model, build_engine
    from .loop import BrainSide, chunk_ends

    args = _parser("python -m brain", "brain").parse_args(argv)
    scene, member, world, _, body_rank = _member(world, "brain", args, _scene(args))
    checkpoints, resume = _checkpointing(args, scene)
    comm = world.Split(0, world.Get_rank())
    t_build = time.perf_counter()
    model, gids = brain_rank_model(scene, comm.Get_size(), comm.Get_rank())
    engine = build_engine(scene, model, comm.Get_size(), comm.Get_rank(),
                          mpi_exchange(scene.run.exchange, comm), gids)
    if scene.run.spikes == "per_rank":      # this rank's own file; the body sees no spike
        spikes = RankSpikeWriter(rank_path(member_output(args.output, member, args.members),
                                           comm.Get_rank()), scene, comm.Get_rank(),
                                 comm.Get_size())
    else:
        spikes = _SpikeForwarder(world, body_rank)
    k0, K = 0, scene.n_intervals
    if resume is not None:
        resume.restore_brain(engine)
        k0 = resume.next_interval
    t_loop = time.perf_counter()
    with deferred_signals() as caught:      # the body rank decides when to stop
        side = BrainSide(scene, model, engine, MpiBrainEnd(world, body_rank), spikes, caught)
        side.start()
        for k in range(k0, K):
            if not side.interval(k):
                # stopped before k: the last chunk, and a checkpoint where it stops
                if not chunk_ends(scene, k - 1, checkpoints):
                    spikes.send_chunk()
                if checkpoints.on_stop(k - 1, K):
                    world.send(engine.get_state(), dest=body_rank, tag=TAG_CHECKPOINT)
                spikes.close()
                side.finish()
                raise RunInterrupted(side.stop_signal, k * scene.bridge.interval_ms)
            if chunk_ends(scene, k, checkpoints):
                spikes.send_chunk()
            if checkpoints.due(k, K):       # the body rank writes it
                world.send(engine.get_state(), dest=body_rank, tag=TAG_CHECKPOINT)
    spikes.close()
    side.finish()
    # after every rank closed its spike file (the reduce waits for all of them)
    n_syn = comm.reduce(engine.n_synapses, root=0)
    # per brain rank, for the file: what its exchange sent, and its compute
    stats = comm.gather((engine.exchange_stats(), {"n_local": engine.n_local,
                                                 "n_synapses": int(engine.n_synapses),
                                                 **engine.timing}), root=0)
    peaks = comm.gather(peak_rss_bytes(), root=0)
    # the brain's own build and loop walls (the body's clock starts before the brain
    # finishes building, so its run_wall_s includes the wait)
    times = comm.gather((t_loop - t_build, time.perf_counter() - t_loop), root=0)
    if comm.Get_rank() == 0:
        world.send((n_syn, stats, peaks, times), dest=body_rank, tag=TAG_SPIKES + 1)


def _body(world, argv):
    from bridge import MpiBodyEnd
    from .build import body_rank_model, build_body, run_cells
    from .checkpoint import merge_brain_states
    from .loop import BodySide
    from .output import RunWriter
    from .progress import Progress

    args = _parser("python -m body", "body").parse_args(argv)
    scene, member, world, brains, _ = _member(world, "body", args, _scene(args))
    checkpoints, resume = _checkpointing(args, scene)
    world.Split(1, world.Get_rank())
    output = member_output(args.output, member, args.members)
    t0 = time.perf_counter()
    model = body_rank_model(scene)
    body = build_body(scene)
    end = MpiBodyEnd(world, brains, n_pools=body.n_muscles)

    def writer(pools):
        if resume is not None:
            return resume.reopen_output(output, "mpi", len(brains))
        return RunWriter(output, scene, muscle_names=body.muscle_names,
                         joint_names=body.joint_names, pool_size=pools.size, nq=body.model.nq,
                         nv=body.model.nv, mode="mpi", n_brain_ranks=len(brains),
                         spike_files=spike_files, **run_cells(model, pools))

    def brain_state():
        return merge_brain_states([world.recv(source=r, tag=TAG_CHECKPOINT) for r in brains],
                                  model.n_cells)

    spike_files, chunks = None, _SpikeCollector(world, brains).take
    if scene.run.spikes == "per_rank":      # the brain ranks write them
        spike_files = [rank_path(output, r) for r in range(len(brains))]

        def chunks():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
    side = BodySide(scene, model, body, end, chunks, writer, checkpoints, brain_state)
    side.start(resume=None if resume is None else resume.body_state())
    side.writer.f.attrs["rank_pids"] = json.dumps(_RANK_PIDS)
    side.writer.f.flush()
    t1 = time.perf_counter()
    k0 = 0 if resume is None else resume.next_interval
    with Progress(scene, enabled=not args.no_progress and member == 0) as bar, \
            deferred_signals() as caught:
        for k in range(k0, scene.n_intervals):
            side.stop_signal = side.stop_signal or (caught[0] if caught else 0)
            side.interval(k)
            bar.update(k)
            if side.stop_at is not None and k == side.stop_at - 1:
                break
    run_s = time.perf_counter() - t1
    if side.stop_at is not None:
        _stop(side, scene, k, checkpoints, run_s)
    n_syn, exchange_stats, peaks, times = world.recv(source=brains[0], tag=TAG_SPIKES + 1)
    side.finish(build_s=t1 - t0, run_wall_s=run_s, n_synapses=n_syn,
                exchange=scene.run.exchange,
                exchange_stats=json.dumps([s for s, _ in exchange_stats]),
                rank_timing=json.dumps([t for _, t in exchange_stats]),
                real_time_factor=run_s / (scene.run.duration_ms * 1e-3),
                brain_build_s=max(b for b, _ in times), brain_loop_s=max(w for _, w in times),
                **peak_memory_attrs(peaks, peak_rss_bytes()))
    n_spikes = side.writer.n_spikes       # per-rank output: counted when linked
    print(f"wrote {output}: {n_spikes} spikes, {scene.run.duration_ms:.0f} ms simulated "
          f"in {run_s:.2f} s ({run_s / (scene.run.duration_ms * 1e-3):.2f} s wall / s sim, "
          f"{len(brains)} brain ranks)", flush=True)


def _stop(side, scene, k, checkpoints, run_s):
    """End after interval k on a signal: last chunk and checkpoint (the brain ranks send
    theirs in the same order), file marked interrupted."""
    stop = RunInterrupted(side.stop_signal, (k + 1) * scene.bridge.interval_ms)
    if checkpoints.on_stop(k, scene.n_intervals):
        stop.checkpoint = side.checkpoint(k)      # ends the chunk first
    elif checkpoints.due(k, scene.n_intervals):
        stop.checkpoint = checkpoints.path        # the schedule just wrote it
    side.stop(interrupted=str(stop), run_wall_s=run_s)
    raise stop


def brain_main(argv=None) -> None:
    """Entry point of ``python -m brain``."""
    _guard("brain", _brain, sys.argv[1:] if argv is None else argv)


def body_main(argv=None) -> None:
    """Entry point of ``python -m body``."""
    _guard("body", _body, sys.argv[1:] if argv is None else argv)
