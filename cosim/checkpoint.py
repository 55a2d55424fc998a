"""Checkpoints: the whole state of a run at an interval boundary, in one HDF5 file.

A checkpoint holds numbers and text only (no pickle, nothing executed when read):

    /brain/{v_mV, refr, stim_pA}        [n_cells]        per cell, in gid order
    /brain/{x, g_nS}                    [n_r, n_cells]   synaptic state per receptor
    /brain/ring_nS                      float32[rows, n_r, n_cells]: input due at
                                        step + row (unrolled from the ring buffer)
    /brain/{pending_steps, pending_gids} int64[k]: with two-level intervals, the spikes
                                        of the long period so far (not yet delivered
                                        to the long synapses), sorted by (step, gid)
    /body/physics                       MuJoCo's integration state (mjSTATE_INTEGRATION)
    /body/{transfer_rate_Hz, rest_Hz}   the bridge's filtered pool rates, rest afferents
    /body/{sent_intervals, sent_rates_Hz}  afferent messages sent but not yet consumed
                                        by the brain (the lag queue)

and, as root attributes, the scene (path, overrides, seed, duration, digest), the
package version, the interval to continue from and how far the run file had got.
The random numbers need no state: they are keyed by (seed, stream, gid, step).

Because the brain state is stored per cell rather than per rank, a checkpoint can be
resumed with any number of brain ranks, embedded or over MPI, and gives the spikes
the uninterrupted run would have given.
"""
from __future__ import annotations

from dataclasses import dataclass
import json
import os
from pathlib import Path
import time

import h5py
import numpy as np

from .output import RunWriter, package_version
from .scene import SceneError, load, scene_digest

__all__ = ["FORMAT", "FORMAT_VERSION", "Schedule", "schedule", "merge_brain_states",
           "write_checkpoint", "Checkpoint", "open_checkpoint", "default_path",
           "CheckpointError"]

FORMAT = "cosim-checkpoint"
FORMAT_VERSION = 1
_PER_CELL = ("v_mV", "refr", "stim_pA")
_PER_RECEPTOR = ("x", "g_nS")
_PENDING = ("pending_steps", "pending_gids")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: names the file and what is wrong."""


@dataclass(frozen=True)
class Schedule:
    """When to checkpoint: after every ``every`` intervals (0: never), to ``path``."""

    every: int = 0
    path: str = ""

    def due(self, k: int, n_intervals: int) -> bool:
        """True after interval k if a checkpoint is taken there (never after the last)."""
        return self.every > 0 and (k + 1) % self.every == 0 and k < n_intervals - 1

    def on_stop(self, k: int, n_intervals: int) -> bool:
        """True if a run stopped by a signal after interval k needs a checkpoint there
        (checkpointing is on and the schedule did not just write one)."""
        return self.every > 0 and not self.due(k, n_intervals) and k < n_intervals - 1


def default_path(output) -> str:
    """``run.h5`` -> ``run.ckpt.h5``."""
    out = Path(output)
    return str(out.with_name(out.stem + ".ckpt.h5"))


def schedule(scene, every_ms: float | None, path=None, output=None) -> Schedule:
    """The checkpoint schedule for ``--checkpoint-every MS`` (None or 0: none).

    Raises ValueError naming the option when MS is not a positive whole multiple of the
    scene's bridge interval (checkpoints fall between intervals).
    """
    if not every_ms:
        return Schedule()
    interval = scene.bridge.interval_ms
    n = round(every_ms / interval)
    if not (every_ms > 0) or n < 1 or abs(n * interval - every_ms) > 1e-9 * every_ms:
        raise ValueError(f"--checkpoint-every {every_ms:g}: must be a positive whole multiple "
                         f"of the scene's bridge.interval_ms = {interval:g} ms "
                         f"(e.g. {interval * max(1, n):g})")
    return Schedule(every=n, path=str(path or default_path(output)))


def merge_brain_states(parts, n_cells: int) -> dict:
    """One state over all cells from the ``Engine.get_state()`` of every rank; ring rows
    are padded with zeros to the longest ring."""
    parts = list(parts)
    steps = {int(p["step"]) for p in parts}
    if len(steps) != 1:
        raise RuntimeError(f"brain ranks are at different steps {sorted(steps)}")
    n_r = parts[0]["x"].shape[0]
    rows = max(p["ring_nS"].shape[0] for p in parts)
    out = {"step": steps.pop(), "ring_nS": np.zeros((rows, n_r, n_cells), np.float32)}
    for k in _PER_CELL:
        out[k] = np.zeros(n_cells, dtype=parts[0][k].dtype)
    for k in _PER_RECEPTOR:
        out[k] = np.zeros((n_r, n_cells))
    seen = np.zeros(n_cells, dtype=np.int64)
    for p in parts:
        g = p["gid"]
        seen[g] += 1
        for k in _PER_CELL:
            out[k][g] = p[k]
        for k in _PER_RECEPTOR:
            out[k][:, g] = p[k]
        out["ring_nS"][: p["ring_nS"].shape[0], :, g] = p["ring_nS"]
    if not np.all(seen == 1):
        raise RuntimeError("brain ranks do not hold every cell exactly once")
    steps = np.concatenate([np.asarray(p.get("pending_steps", []), np.int64) for p in parts])
    gids = np.concatenate([np.asarray(p.get("pending_gids", []), np.int64) for p in parts])
    order = np.lexsort((gids, steps))
    out["pending_steps"], out["pending_gids"] = steps[order], gids[order]
    return out


def write_checkpoint(path, scene, *, next_interval: int, brain: dict, body: dict,
                     output, run_id: str, n_spikes: int, n_rows: int, mode: str,
                     n_brain_ranks: int, every: int = 0) -> str:
    """Write a checkpoint atomically (a temporary file renamed over ``path``), so a kill
    while writing leaves the previous checkpoint intact."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    scene_path = Path(scene.path)
    with h5py.File(tmp, "w") as f:
        f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION,
                       cosim_version=package_version(),
                       scene_path=str(scene_path.resolve()) if scene_path.is_file()
                       else scene.path,
                       overrides=json.dumps(list(scene.overrides)), seed=scene.run.seed,
                       duration_ms=scene.run.duration_ms, scene_digest=scene_digest(scene),
                       next_interval=next_interval, step=int(brain["step"]),
                       time_ms=next_interval * scene.bridge.interval_ms,
                       output=str(Path(output).resolve()), run_id=run_id,
                       n_spikes=n_spikes, n_rows=n_rows, mode=mode,
                       n_brain_ranks=n_brain_ranks, checkpoint_every=every,
                       created=time.strftime("%Y-%m-%dT%H:%M:%S"))
        g = f.create_group("brain")
        for k in (*_PER_CELL, *_PER_RECEPTOR, "ring_nS"):
            g.create_dataset(k, data=brain[k])
        for k in _PENDING:
            if k in brain:
                g.create_dataset(k, data=np.asarray(brain[k], dtype=np.int64))
        b = f.create_group("body")
        for k, v in body.items():
            b.create_dataset(k, data=np.asarray(v))
    os.replace(tmp, path)
    return str(path)


class Checkpoint:
    """A checkpoint file opened for resuming (see ``open_checkpoint``)."""

    def __init__(self, path: str, attrs: dict):
        self.path, self.attrs = path, attrs

    @property
    def next_interval(self) -> int:
        return int(self.attrs["next_interval"])

    @property
    def time_ms(self) -> float:
        return float(self.attrs["time_ms"])

    def scene(self):
        """Load the scene the checkpoint was taken from, refusing one that changed."""
        a = self.attrs
        try:
            scene = load(a["scene_path"], seed=int(a["seed"]),
                         duration_ms=float(a["duration_ms"]),
                         overrides=json.loads(a["overrides"]))
        except SceneError as exc:
            raise CheckpointError(f"{self.path}: its scene {a['scene_path']!r} no longer "
                                  f"loads: {exc}") from None
        self.check_scene(scene)
        return scene

    def check_scene(self, scene) -> None:
        """Refuse a scene other than the one the checkpoint was taken from."""
        if scene_digest(scene) != self.attrs["scene_digest"]:
            raise CheckpointError(
                f"{self.path}: scene_digest: the scene {self.attrs['scene_path']!r} (or its "
                "overrides, seed or MJCF) changed since the checkpoint was taken; resume needs "
                "the very scene it was written from")

    def restore_brain(self, engine) -> None:
        """Put the checkpoint's state of ``engine``'s cells into it."""
        try:
            engine.set_state(self.brain_state(engine.gid))
        except ValueError as exc:
            raise CheckpointError(f"{self.path}: /brain: {exc}") from None

    def brain_state(self, gids: np.ndarray) -> dict:
        """The state of cells ``gids`` (sorted), for ``Engine.set_state``."""
        gids = np.asarray(gids, dtype=np.int64)
        contiguous = len(gids) and gids[-1] - gids[0] + 1 == len(gids)
        sel = slice(int(gids[0]), int(gids[-1]) + 1) if contiguous else gids
        out = {"step": int(self.attrs["step"]), "gid": gids}
        with h5py.File(self.path, "r") as f:
            g = f["brain"]
            n = g["v_mV"].shape[0]
            if len(gids) and gids[-1] >= n:
                raise CheckpointError(f"{self.path}: /brain holds {n} cells, the model has "
                                      f"more (cell {int(gids[-1])})")
            for k in _PER_CELL:
                out[k] = g[k][sel]
            for k in _PER_RECEPTOR:
                out[k] = g[k][:, sel]
            out["ring_nS"] = g["ring_nS"][:, :, sel]
            for k in _PENDING:      # every cell's: the engine keeps what it needs
                if k in g:
                    out[k] = g[k][:]
        return out

    def check_output(self, out_path) -> None:
        """Refuse, before any work, a run file that is not this checkpoint's run or holds
        less than the checkpoint was taken at."""
        try:
            with h5py.File(out_path, "r") as f:
                found = f.attrs.get("run_id")
                rows = f["body/time_s"].shape[0] if "body/time_s" in f else 0
                spikes = f["spikes/brain/timestamps"].shape[0] if "spikes/brain" in f else 0
        except OSError as exc:
            raise CheckpointError(f"{out_path}: cannot read the run file to continue "
                                  f"({exc})") from None
        if found != self.attrs["run_id"]:
            raise CheckpointError(f"{out_path}: run_id {found!r} is not the checkpoint's run "
                                  f"{self.attrs['run_id']!r}: this file is another run's output")
        if rows < int(self.attrs["n_rows"]) or spikes < int(self.attrs["n_spikes"]):
            raise CheckpointError(f"{out_path}: holds {rows} intervals and {spikes} spikes, "
                                  f"fewer than the {int(self.attrs['n_rows'])} and "
                                  f"{int(self.attrs['n_spikes'])} the checkpoint was taken at")

    def reopen_output(self, out_path, mode: str, n_brain_ranks: int) -> RunWriter:
        """The run file of this checkpoint, cut back to where the checkpoint was taken."""
        self.check_output(out_path)
        a = self.attrs
        return RunWriter.reopen(out_path, int(a["n_spikes"]), int(a["n_rows"]),
                                note={"from_ms": self.time_ms,
                                      "checkpoint": str(Path(self.path).resolve()),
                                      "mode": mode, "n_brain_ranks": n_brain_ranks,
                                      "at": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def body_state(self) -> dict:
        with h5py.File(self.path, "r") as f:
            return {k: f["body"][k][()] for k in f["body"]}


def open_checkpoint(path) -> Checkpoint:
    """Open and check a checkpoint: it must be one of ours, of this format version and
    written by this package version (states of other versions may not mean the same)."""
    path = str(path)
    if not Path(path).is_file():
        raise CheckpointError(f"--resume {path}: no such checkpoint file")
    try:
        with h5py.File(path, "r") as f:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            groups = set(f.keys())
    except OSError as exc:
        raise CheckpointError(f"--resume {path}: not an HDF5 checkpoint ({exc})") from None
    if attrs.get("format") != FORMAT or not {"brain", "body"} <= groups:
        raise CheckpointError(f"{path}: format: not a cosim checkpoint (attribute format = "
                              f"{attrs.get('format')!r}, expected {FORMAT!r})")
    if attrs.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: format_version = {attrs.get('format_version')!r}: this "
                              f"cosim reads version {FORMAT_VERSION}")
    if attrs.get("cosim_version") != package_version():
        raise CheckpointError(f"{path}: cosim_version = {attrs.get('cosim_version')!r}: written "
                              f"by another version of cosim (this is {package_version()}); "
                              "resume it with that version")
    return Checkpoint(path, attrs)
