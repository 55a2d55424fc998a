"""The two halves of the co-simulation loop, shared by the embedded and MPI runs.

``BrainSide.interval(k)`` and ``BodySide.interval(k)`` do the same work whether they
run in one process (embedded) or on different ranks (MPI): only the bridge ends and
the spike transport differ, so both modes give the same numbers.

Schedule (interval k, K intervals): the brain receives afferents A_k, runs, sends
motor counts C_k; the body receives C_k, steps, and sends A_{k+2} (with lag) or
A_{k+1} (lockstep).  With lag the body sends A_0 = A_1 (rest state) at start, so
the brain computes interval k+1 while the body computes interval k.
"""
from __future__ import annotations

import numpy as np

from body import afferent_rates_Hz
from bridge import Afferents, Hello, MotorCounts, afferent_drive_Hz

from .build import afferent_map, build_pools, make_transfer
from .checkpoint import Schedule, write_checkpoint
from .interrupts import SimulationFault

__all__ = ["BrainSide", "BodySide", "SimulationFault", "flush_points", "chunk_ends"]


def flush_points(scene) -> int:
    """Intervals per output chunk."""
    return max(1, int(round(scene.run.flush_every_ms / scene.bridge.interval_ms)))


def chunk_ends(scene, k: int, checkpoints: Schedule = Schedule()) -> bool:
    """True if an output chunk ends after interval k: every ``flush_points`` intervals,
    at the end, and where a checkpoint is taken (so the file holds all before it)."""
    return ((k + 1) % flush_points(scene) == 0 or k == scene.n_intervals - 1
            or checkpoints.due(k, scene.n_intervals))


class BrainSide:
    """One brain rank's part: afferents in, engine run, motor counts out."""

    def __init__(self, scene, model, engine, end, spikes, caught=()):
        self.scene, self.model, self.engine, self.end, self.spikes = \
            scene, model, engine, end, spikes
        self.caught = caught        # signals caught on this rank (reported to the body)
        self.stop_signal = 0        # set when the body stops the run

    def start(self) -> None:
        hello = self.end.recv_hello()
        n_m = len(hello.muscle_names)
        self.pools = build_pools(self.scene, self.model, n_m)
        gids, channel = afferent_map(self.model, n_m)
        local = np.isin(self.engine.gid, gids)
        self._aff_local = np.flatnonzero(local)
        self._aff_channel = channel[np.searchsorted(gids, self.engine.gid[local])]
        aff = self.scene.brain.afferents
        self._fibres = aff.fibres_per_cell if aff else 0.0
        record = self.scene.run.record
        self._recorded = None if not record else np.array(
            [self.model.params.type_index(t) for t in record], dtype=np.int64)

    def interval(self, k: int) -> bool:
        """Compute interval k; False (nothing computed) if the body stops the run here."""
        msg = self.end.recv_afferents(k)
        if msg.stop_signal:
            self.stop_signal = msg.stop_signal
            return False
        # only the afferent cells: the others have no afferent input (rate 0) from start
        self.engine.set_afferent_rates(
            afferent_drive_Hz(msg.rates_Hz, self._aff_channel, self._fibres), self._aff_local)
        try:
            steps, gids = self.engine.run(self.scene.interval_steps)
        except FloatingPointError as exc:     # the engine names the time and the cell
            raise SimulationFault(f"{exc}; the run stops here") from None
        self.end.send_counts(MotorCounts(interval=k, counts=self.pools.count(gids),
                                         stop_signal=self.caught[0] if self.caught else 0))
        if self._recorded is not None:
            keep = np.isin(self.model.type_of(gids), self._recorded)
            steps, gids = steps[keep], gids[keep]
        self.spikes.add(steps, gids)
        return True

    def finish(self) -> None:
        self.end.close()


class BodySide:
    """The body's part: counts in, excitation, MuJoCo steps, afferents out; writes output."""

    def __init__(self, scene, model, body, end, spike_chunks, writer_factory,
                 checkpoints: Schedule = Schedule(), brain_state=None):
        self.scene, self.model, self.body, self.end = scene, model, body, end
        self.spike_chunks = spike_chunks          # callable -> (steps, gids) of the chunk
        self.writer_factory = writer_factory      # callable(pools) -> RunWriter
        self.checkpoints = checkpoints
        self.brain_state = brain_state            # callable -> state of all brain cells
        self.K = scene.n_intervals
        self.lead = 2 if scene.bridge.lag else 1
        #: a signal that stops the run (caught here, or reported by a brain rank), and the
        #: first interval the brain was told not to compute; the body runs until just before
        self.stop_signal, self.stop_at = 0, None

    def start(self, resume: dict | None = None) -> None:
        """Open the output and send the first afferents; ``resume``: the body part of a
        checkpoint (``Checkpoint.body_state()``) to continue from instead."""
        names = self.body.muscle_names
        self.pools = build_pools(self.scene, self.model, len(names))
        self.transfer = make_transfer(self.scene.bridge, names, self.pools)
        self.writer = self.writer_factory(self.pools)
        self.end.send_hello(Hello(muscle_names=names, interval_ms=self.scene.bridge.interval_ms))
        self.sent = {}
        if resume is None:
            self.rest = self._afferents()
            for j in range(min(self.lead, self.K)):
                self._send(j, self.rest)
        else:
            self.body.set_physics_state(resume["physics"])
            self.transfer.rate_Hz = np.array(resume["transfer_rate_Hz"], dtype=np.float64)
            self.rest = np.array(resume["rest_Hz"])
            # the afferents the brain had not yet consumed when the checkpoint was taken
            for j, rates in zip(resume["sent_intervals"], resume["sent_rates_Hz"]):
                self._send(int(j), np.array(rates))
        self._rows = []

    def _afferents(self) -> np.ndarray:
        return afferent_rates_Hz(self.body.proprioception(), self.scene.afferents)

    def _send(self, j: int, rates: np.ndarray) -> None:
        self.sent[j] = rates
        self.end.send_afferents(Afferents(interval=j, rates_Hz=rates))

    def interval(self, k: int) -> None:
        msg = self.end.recv_counts(k)
        counts = msg.counts
        self.stop_signal = self.stop_signal or msg.stop_signal
        drive = counts if self.scene.bridge.motor_output else np.zeros_like(counts)
        excitation = self.transfer(drive)
        self.body.step(excitation, self.scene.bridge.interval_ms * 1e-3)
        state = self.body.state()
        j = k + self.lead
        if j < self.K:
            rates = self._afferents() if self.scene.bridge.feedback else self.rest
            if self.stop_at is None and not self.stop_signal:
                self._send(j, rates)
            else:       # stopping: kept for a checkpoint, not sent
                if self.stop_at is None:
                    self.stop_at = j
                    self.end.send_afferents(Afferents(interval=j, rates_Hz=rates,
                                                      stop_signal=self.stop_signal))
                self.sent[j] = rates
        self._rows.append((k, counts, self.sent.pop(k), state))
        fault = self.body.fault()
        if fault:   # the faulty interval is written too, so the file shows what went wrong
            raise SimulationFault(f"t = {(k + 1) * self.scene.bridge.interval_ms:g} ms: body "
                                  f"{fault}; the run stops here")
        if chunk_ends(self.scene, k, self.checkpoints):
            self._flush()
        if self.checkpoints.due(k, self.K):
            self.checkpoint(k)

    def checkpoint(self, k: int) -> str:
        """Write a checkpoint after interval k; returns its path."""
        if self._rows:
            self._flush()
        a = self.writer.f.attrs
        sent = sorted(self.sent)
        body = {"physics": self.body.physics_state(), "transfer_rate_Hz": self.transfer.rate_Hz,
                "rest_Hz": self.rest, "sent_intervals": np.array(sent, dtype=np.int64),
                "sent_rates_Hz": np.array([self.sent[j] for j in sent]).reshape(
                    len(sent), *np.shape(self.rest))}
        return write_checkpoint(self.checkpoints.path, self.scene, next_interval=k + 1,
                                brain=self.brain_state(), body=body, output=self.writer.path,
                                run_id=str(a["run_id"]), n_spikes=self.writer.n_spikes,
                                n_rows=self.writer.n_rows, mode=str(a["mode"]),
                                n_brain_ranks=int(a["n_brain_ranks"]),
                                every=self.checkpoints.every)

    def _flush(self) -> None:
        steps, gids = self.spike_chunks()
        rows = self._rows
        body_rows = {key: np.array([getattr(r[3], key) for r in rows]) for key in
                     ("time_s", "qpos", "qvel", "excitation", "activation", "force_N",
                      "length_m", "velocity_m_per_s")}
        bridge_rows = {"interval": np.array([r[0] for r in rows], dtype=np.int64),
                       "counts": np.array([r[1] for r in rows], dtype=np.int64),
                       "afferent_rates_Hz": np.array([r[2] for r in rows])}
        self.writer.write_chunk(steps, gids, body_rows, bridge_rows)
        self._rows = []

    def finish(self, **stats) -> None:
        self.end.close()
        self.writer.close(**stats)

    def stop(self, **reason) -> None:
        """End early: write the intervals not yet flushed, close the file marked
        incomplete with ``reason`` (e.g. interrupted=..., error=...) as attributes."""
        if self._rows:
            self._flush()
        self.end.close()
        self.writer.close(complete=False, **reason)
