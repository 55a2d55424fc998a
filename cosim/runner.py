"""The embedded run: brain, bridge and body in one process, no MPI."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import time

import numpy as np

from brain.exchange import LocalExchange
from bridge import in_process_pair

from .build import brain_rank_model, build_body, build_engine, run_cells
from .checkpoint import Checkpoint, Schedule
from .interrupts import RunInterrupted, SimulationFault, deferred_signals
from .loop import BodySide, BrainSide
from .output import RunWriter, SpikeBuffer
from .rank_output import RankSpikeWriter, peak_memory_attrs, peak_rss_bytes, rank_path
from .progress import Progress

__all__ = ["RunResult", "run_embedded", "embedded_parts", "run_intervals"]


@dataclass(frozen=True)
class RunResult:
    """What a run produced. wall_s: total; run_wall_s: the loop alone (after building)."""

    path: str
    n_spikes: int
    n_cells: int
    n_synapses: int
    build_s: float
    run_wall_s: float
    simulated_ms: float

    @property
    def real_time_factor(self) -> float:
        """Wall seconds per simulated second of the loop."""
        return self.run_wall_s / (self.simulated_ms * 1e-3)


def embedded_parts(scene, out_path, spikes: SpikeBuffer | None = None,
                   checkpoints: Schedule = Schedule(), resume: Checkpoint | None = None):
    """Everything an embedded run steps, built and started.

    Returns (brain side, body side): run ``brain.interval(k); body.interval(k)`` for
    k < scene.n_intervals (from ``resume.next_interval`` when resuming), then
    ``brain.finish(); body.finish()``. ``spikes`` lets a caller watch the spikes on
    their way to the file; ``resume`` continues ``out_path`` from a checkpoint.
    """
    per_rank = scene.run.spikes == "per_rank"
    if per_rank and (checkpoints.every or resume is not None or spikes is not None):
        raise ValueError("run.spikes = 'per_rank' supports neither checkpoints nor watching "
                         "the spikes; use run.spikes = 'gathered'")
    model, gids = brain_rank_model(scene, 1, 0)
    engine = build_engine(scene, model, 1, 0, LocalExchange(), gids)
    body = build_body(scene)
    brain_end, body_end = in_process_pair()
    if per_rank:        # the embedded brain is rank 0 of 1
        spikes = RankSpikeWriter(rank_path(out_path, 0), scene, 0, 1)
    spikes = spikes if spikes is not None else SpikeBuffer()
    brain = BrainSide(scene, model, engine, brain_end, spikes)

    def spike_chunk():
        if not per_rank:
            return spikes.take()
        spikes.send_chunk()
        return np.zeros(0, np.int64), np.zeros(0, np.int64)

    def writer(pools):
        if resume is not None:
            return resume.reopen_output(out_path, "embedded", 1)
        return RunWriter(out_path, scene, muscle_names=body.muscle_names,
                         joint_names=body.joint_names, pool_size=pools.size, nq=body.model.nq,
                         nv=body.model.nv, mode="embedded", n_brain_ranks=1,
                         spike_files=[spikes] if per_rank else None,
                         **run_cells(model, pools))

    body_side = BodySide(scene, model, body, body_end, spike_chunk, writer, checkpoints,
                         brain_state=engine.get_state)
    body_side.start(resume=None if resume is None else resume.body_state())
    brain.start()
    if resume is not None:
        resume.restore_brain(engine)
    return brain, body_side


def run_embedded(scene, out_path, progress: bool = True,
                 spikes: SpikeBuffer | None = None, checkpoints: Schedule = Schedule(),
                 resume: Checkpoint | None = None, overlap: bool = False) -> RunResult:
    """Run ``scene`` in this process and write ``out_path`` (HDF5).

    ``checkpoints``: when to write a checkpoint (and one is written when a signal stops
    the run); ``resume``: continue the run of that checkpoint (``scene`` must be
    ``resume.scene()``), appending to ``out_path``. ``overlap``: step the body in a
    thread while the brain computes the next interval (needs ``bridge.lag``; see
    `run_intervals`).
    """
    if overlap:
        _check_overlap(scene)                 # before anything is built or written
    t0 = time.perf_counter()
    brain, body_side = embedded_parts(scene, out_path, spikes, checkpoints, resume)
    build_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    k0 = resume.next_interval if resume is not None else 0
    with Progress(scene, enabled=progress) as bar, deferred_signals() as caught:
        def interrupted(k: int) -> RunInterrupted:
            return _interrupt(caught[0], k, scene, checkpoints, body_side, t1)
        run_intervals(brain, body_side, scene, k0, checkpoints=checkpoints, caught=caught,
                      done=bar.update, interrupted=interrupted, overlap=overlap)
    run_s = time.perf_counter() - t1
    n_syn = brain.engine.n_synapses
    brain.finish()
    body_side.finish(build_s=build_s, run_wall_s=run_s,
                     real_time_factor=run_s / (scene.run.duration_ms * 1e-3), n_synapses=n_syn,
                     **peak_memory_attrs([peak_rss_bytes()]))
    n_spikes = body_side.writer.n_spikes          # per-rank output: counted when linked
    return RunResult(path=str(out_path), n_spikes=n_spikes, n_cells=brain.model.n_cells,
                     n_synapses=n_syn, build_s=build_s, run_wall_s=run_s,
                     simulated_ms=scene.run.duration_ms)


def _check_overlap(scene) -> None:
    if not scene.bridge.lag:
        raise ValueError(f"{scene.path}: bridge.lag = false: overlap needs bridge.lag = "
                         "true (without the lag the brain's next interval waits for the "
                         "body's afferents)")


def _interrupt(signum: int, k: int, scene, checkpoints: Schedule, body_side: BodySide,
               t1: float) -> RunInterrupted:
    """Stop after interval k on signal ``signum``: checkpoint if the schedule asks, close
    the file marked interrupted; returns the exception to raise."""
    stop = RunInterrupted(signum, (k + 1) * scene.bridge.interval_ms)
    if checkpoints.on_stop(k, scene.n_intervals):
        stop.checkpoint = body_side.checkpoint(k)
    elif checkpoints.due(k, scene.n_intervals):
        stop.checkpoint = checkpoints.path    # the schedule just wrote it
    body_side.stop(interrupted=str(stop), run_wall_s=time.perf_counter() - t1)
    return stop


def run_intervals(brain: BrainSide, body_side: BodySide, scene, k0: int = 0, *,
                  checkpoints: Schedule = Schedule(), caught=(), done=lambda k: None,
                  interrupted=None, overlap: bool = False) -> None:
    """Step intervals k0 .. scene.n_intervals - 1 of an embedded run.

    ``done(k)`` is called after body interval k; when ``caught`` (the signals caught so
    far) is not empty after an interval k, ``interrupted(k)`` returns the exception
    raised. A `SimulationFault` closes the file (``body_side.stop``) and propagates.

    ``overlap`` steps body interval k in a worker thread while the brain computes
    interval k+1. With ``bridge.lag`` that is the schedule of the MPI run (the brain's
    interval k+1 needs the afferents body interval k-1 sent), and the kernels and
    ``mj_step`` release the GIL, so the two can run at once. The results are those of
    the serial loop bit for bit (see `_run_overlapped`). It is off by default: it only
    pays with a core to spare, and on a shared machine the body thread, descheduled
    while it holds the GIL, stalls the brain (README, Performance).
    """
    if overlap:
        _check_overlap(scene)
    run = _run_overlapped if overlap else _run_serial
    try:
        run(brain, body_side, scene, k0, checkpoints, caught, done, interrupted)
    except SimulationFault as exc:
        # the file keeps every interval before the fault, and says why it ends
        body_side.stop(error=str(exc))
        raise


def _run_serial(brain, body_side, scene, k0, checkpoints, caught, done, interrupted):
    for k in range(k0, scene.n_intervals):
        brain.interval(k)
        body_side.interval(k)
        done(k)
        if caught:
            raise interrupted(k)


def _run_overlapped(brain, body_side, scene, k0, checkpoints, caught, done, interrupted):
    """Brain interval k runs here while the worker steps body interval k-1.

    What the body side reads from the brain side is kept as in the serial loop:

    * the spikes of brain interval k wait in a `_StagedSpikes` until body interval k-1
      has finished, so a chunk the body writes after interval k-1 (or on a fault) holds
      the spikes up to k-1 only;
    * body interval k runs here, not in the worker, when a checkpoint is due after it,
      when a signal was caught, and at the last interval: the brain then has not moved
      past k, so a checkpoint or a stop sees the brain state just after k.
    """
    K = scene.n_intervals
    staged = _StagedSpikes(brain.spikes)
    brain.spikes = staged
    pending = None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cosim-body") as worker:
            for k in range(k0, K):
                try:
                    brain.interval(k)
                finally:        # the body's interval k-1 first, as in the serial loop
                    if pending is not None:
                        pending.result()          # raises the body's fault, if any
                        pending = None
                        done(k - 1)
                staged.commit()
                if caught or checkpoints.due(k, K) or k == K - 1:
                    body_side.interval(k)
                    done(k)
                    if caught:
                        raise interrupted(k)
                else:
                    pending = worker.submit(body_side.interval, k)
    finally:
        brain.spikes = staged.sink


class _StagedSpikes:
    """Holds the spikes of the brain's latest interval until ``commit`` passes them on
    to ``sink`` (a `SpikeBuffer` or a rank's spike file), which the body side reads."""

    def __init__(self, sink):
        self.sink, self._staged = sink, []

    def add(self, steps: np.ndarray, gids: np.ndarray) -> None:
        self._staged.append((steps, gids))

    def commit(self) -> None:
        for steps, gids in self._staged:
            self.sink.add(steps, gids)
        self._staged = []
