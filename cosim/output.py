"""The run's HDF5 file: SONATA spikes, cell table, body and bridge time series.

Everything is appended in chunks and flushed, so a run cut short leaves a readable
file with everything up to the last chunk.  Layout::

    /spikes/brain/timestamps   float64[k] ms     (SONATA; sorted by time, then node id)
    /spikes/brain/node_ids     uint64[k]
    /cells/{type_id, type_names, region, layer, voxel, pos_um, pool, dc_site}; voxel
            atlases add ijk, sheet_um, hemisphere, grid_shape
    /body/{time_s, qpos, qvel, excitation, activation, force_N, length_m, velocity_m_per_s}
    /bridge/{interval, counts, afferent_rates_Hz, pool_size}
    /scene  (the scene file text)

Root attributes: SONATA's ``magic`` (uint32 0x0A7A) and ``version`` (uint32 [0, 1]);
ours: cosim_version (package version), commit (git, if run from a checkout), run_id, seed,
mode, n_brain_ranks, wall_s, complete, created (ISO 8601 local time with its UTC offset,
e.g. 2026-01-31T14:05:00+0100), resumed (JSON list: where a run was continued from a
checkpoint), ...
``/spikes/brain`` has SONATA's ``sorting`` attribute, an HDF5 enum over uint8
(none=0, by_id=1, by_time=2), set to by_time; libsonata's SpikeReader opens the file.
With ``run.spikes = "per_rank"`` the two spike datasets are virtual, the brain ranks'
files one after the other (``cosim.rank_output``; ``spike_files`` attribute), sorted by
time within each rank and ``sorting`` none when more than one rank has spikes;
``read_spikes`` gives either layout in the gathered order.
"""
from __future__ import annotations

import json
import os
import time
import uuid

import h5py
import numpy as np

__all__ = ["RunWriter", "SpikeBuffer", "package_version", "read_spikes", "SORTING",
           "SONATA_MAGIC", "SONATA_VERSION"]

SONATA_MAGIC = 0x0A7A
SONATA_VERSION = (0, 1)
# SONATA's /spikes/<population> "sorting" attribute: an HDF5 enum over uint8.
SORTING = h5py.enum_dtype({"none": 0, "by_id": 1, "by_time": 2}, basetype="u1")


def source_commit() -> str:
    """The git commit of the checkout the package runs from ('' if not a checkout);
    '+dirty' when it has uncommitted changes."""
    import subprocess
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return ""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-uno"],
                               capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return head + ("+dirty" if head and dirty else "")


def package_version() -> str:
    try:
        from importlib.metadata import version
        return version("brain-body-cosim")
    except Exception:  # not installed (running from a checkout)
        return "0+unknown"


class SpikeBuffer:
    """Spikes collected since the last chunk, returned sorted by (step, gid)."""

    def __init__(self):
        self._steps, self._gids = [], []

    def add(self, steps: np.ndarray, gids: np.ndarray) -> None:
        self._steps.append(np.asarray(steps, dtype=np.int64))
        self._gids.append(np.asarray(gids, dtype=np.int64))

    def take(self):
        if not self._steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        steps, gids = np.concatenate(self._steps), np.concatenate(self._gids)
        self._steps, self._gids = [], []
        order = np.lexsort((gids, steps))
        return steps[order], gids[order]


def read_spikes(f) -> tuple:
    """(timestamps float64[k] ms, node_ids int64[k]) of a run file (path or open h5py
    File), sorted by time then node id whatever the file's ``sorting`` (per-rank output
    stores the ranks one after the other, ``cosim.rank_output``)."""
    if not isinstance(f, h5py.File):
        with h5py.File(f, "r") as h:
            return read_spikes(h)
    pop = f["spikes/brain"]
    t, ids = pop["timestamps"][()], pop["node_ids"][()].astype(np.int64)
    if int(pop.attrs.get("sorting", 0)) != 2:
        order = np.lexsort((ids, t))
        t, ids = t[order], ids[order]
    return t, ids


def _appendable(group, name, row_shape, dtype):
    return group.create_dataset(name, shape=(0, *row_shape), maxshape=(None, *row_shape),
                                dtype=dtype, chunks=(max(1, 4096 // max(1, int(np.prod(row_shape)))),
                                                     *row_shape) if row_shape else (4096,))


def _append(ds, rows):
    rows = np.asarray(rows)
    # h5py's low-level calls: each high-level ``ds.shape`` asks HDF5 again (~15 us), and
    # a run appends 13 datasets per chunk (every 100 ms of the demo)
    file_space = ds.id.get_space()
    shape = file_space.shape
    if rows.dtype != ds.id.dtype or rows.shape[1:] != shape[1:]:
        ds.resize(shape[0] + len(rows), axis=0)
        ds[shape[0]:] = rows    # h5py converts, or says why it cannot
        return
    if not len(rows):
        return
    extent = (shape[0] + len(rows), *shape[1:])
    ds.id.set_extent(extent)
    file_space.set_extent_simple(extent)
    file_space.select_hyperslab((shape[0],) + (0,) * (rows.ndim - 1), rows.shape)
    ds.id.write(h5py.h5s.create_simple(rows.shape), file_space, np.ascontiguousarray(rows))


class RunWriter:
    """Writes one run. Create, ``write_chunk`` as the run goes, ``close`` at the end."""

    def __init__(self, path, scene, cells_table: dict, muscle_names, joint_names,
                 pool_size: np.ndarray, nq: int, nv: int, mode: str, n_brain_ranks: int,
                 cell_blocks=None, spike_files=None):
        """``cells_table``: /cells columns; with ``cell_blocks`` (an iterable of dicts of
        per-cell columns, in gid order; ``cosim.build.cell_table_blocks``) the per-cell
        columns are appended block by block and ``cells_table`` holds the others.
        ``spike_files``: the brain ranks' spike files (``cosim.rank_output``): paths, or
        writers of this process, closed first; /spikes then becomes virtual datasets over
        them at ``close``, and chunks carry no spikes."""
        self.spike_files = None if spike_files is None else list(spike_files)
        self.path = str(path)
        self.dt_ms = scene.run.dt_ms
        self.f = h5py.File(self.path, "w")
        f = self.f
        f.attrs.create("magic", SONATA_MAGIC, dtype="u4")
        f.attrs.create("version", SONATA_VERSION, dtype="u4")
        f.attrs.update(cosim_version=package_version(), seed=scene.run.seed, mode=mode,
                       n_brain_ranks=n_brain_ranks, scene_path=scene.path,
                       dt_ms=scene.run.dt_ms, interval_ms=scene.bridge.interval_ms,
                       duration_ms=scene.run.duration_ms, complete=False,
                       created=time.strftime("%Y-%m-%dT%H:%M:%S%z"), run_id=uuid.uuid4().hex,
                       commit=source_commit())
        f.create_dataset("scene", data=scene.text)
        f.attrs["overrides"] = json.dumps(list(scene.overrides))
        f.attrs["scene_resolved"] = json.dumps(_resolved(scene), default=str)
        if self.spike_files is None:
            pop = f.create_group("spikes").create_group("brain")
            pop.attrs.create("sorting", 2, dtype=SORTING)          # by_time
            self.t = _appendable(pop, "timestamps", (), np.float64)
            self.t.attrs["units"] = "ms"
            self.ids = _appendable(pop, "node_ids", (), np.uint64)
        else:
            f.attrs["spike_files"] = [os.path.basename(getattr(p, "path", p))
                                      for p in self.spike_files]
        cells = f.create_group("cells")
        for k, v in cells_table.items():
            v = np.asarray(v)
            if v.dtype == object:
                v = v.astype("S")
            cells.create_dataset(k, data=v)
        for block in cell_blocks or ():
            for k, v in block.items():
                v = np.asarray(v)
                if k not in cells:
                    _appendable(cells, k, v.shape[1:], v.dtype)
                _append(cells[k], v)
        n_m = len(muscle_names)
        body = f.create_group("body")
        body.attrs["muscle_names"] = list(muscle_names)
        body.attrs["joint_names"] = list(joint_names)
        self.body = {"time_s": _appendable(body, "time_s", (), np.float64),
                     "qpos": _appendable(body, "qpos", (nq,), np.float64),
                     "qvel": _appendable(body, "qvel", (nv,), np.float64)}
        for k in ("excitation", "activation", "force_N", "length_m", "velocity_m_per_s"):
            self.body[k] = _appendable(body, k, (n_m,), np.float64)
        bridge = f.create_group("bridge")
        bridge.create_dataset("pool_size", data=np.asarray(pool_size))
        self.bridge = {"interval": _appendable(bridge, "interval", (), np.int64),
                       "counts": _appendable(bridge, "counts", (len(pool_size),), np.int64),
                       "afferent_rates_Hz": _appendable(bridge, "afferent_rates_Hz",
                                                        (n_m, 3), np.float64)}
        self.n_spikes = 0
        f.flush()

    @classmethod
    def reopen(cls, path, n_spikes: int, n_rows: int, note: dict) -> "RunWriter":
        """Continue a run's file from a checkpoint (``Checkpoint.reopen_output`` checks it
        is that run's): keep its first ``n_spikes`` spikes and ``n_rows`` body/bridge rows,
        drop anything written after, mark it incomplete again and add ``note`` to its
        ``resumed`` attribute (a JSON list)."""
        self = cls.__new__(cls)
        self.path, self.spike_files = str(path), None
        self.f = f = h5py.File(self.path, "r+")
        self.dt_ms = float(f.attrs["dt_ms"])
        pop = f["spikes/brain"]
        self.t, self.ids = pop["timestamps"], pop["node_ids"]
        self.body = {k: f["body"][k] for k in ("time_s", "qpos", "qvel", "excitation",
                                              "activation", "force_N", "length_m",
                                              "velocity_m_per_s")}
        self.bridge = {k: f["bridge"][k] for k in ("interval", "counts", "afferent_rates_Hz")}
        for ds in (self.t, self.ids):
            ds.resize(n_spikes, axis=0)
        for ds in (*self.body.values(), *self.bridge.values()):
            ds.resize(n_rows, axis=0)
        self.n_spikes = n_spikes
        for key in ("interrupted", "error"):
            if key in f.attrs:
                del f.attrs[key]
        f.attrs["complete"] = False
        f.attrs["resumed"] = json.dumps(json.loads(f.attrs.get("resumed", "[]")) + [note])
        f.flush()
        return self

    @property
    def n_rows(self) -> int:
        """Body/bridge rows (intervals) written so far."""
        return int(self.body["time_s"].shape[0])

    def write_chunk(self, spike_steps, spike_gids, body_rows: dict, bridge_rows: dict) -> None:
        """Append one chunk and flush. Spikes sorted by (step, gid); rows: name -> array."""
        if self.spike_files is None:
            # A spike found in step m happened in (t_m, t_m+1]; it is stamped t_m+1 (as NEST
            # does).
            _append(self.t, (np.asarray(spike_steps, dtype=np.float64) + 1.0) * self.dt_ms)
            _append(self.ids, np.asarray(spike_gids, dtype=np.uint64))
            self.n_spikes += len(spike_gids)
        elif len(spike_gids):
            raise ValueError("spikes go to the brain ranks' files (run.spikes = 'per_rank')")
        for k, ds in self.body.items():
            _append(ds, body_rows[k])
        for k, ds in self.bridge.items():
            _append(ds, bridge_rows[k])
        self.f.flush()

    def close(self, complete: bool = True, **stats) -> None:
        """Record run statistics (e.g. wall_s) as attributes and close the file;
        ``complete=False`` for a run that stopped early (stats then say why)."""
        self.f.attrs.update(stats)
        if self.spike_files is not None:
            from .rank_output import link_rank_spikes
            for p in self.spike_files:
                if hasattr(p, "close"):
                    p.close()
            try:
                self.n_spikes = link_rank_spikes(self.f, [str(getattr(p, "path", p))
                                                          for p in self.spike_files])
            except OSError as exc:      # a rank file still locked or missing: say so
                self.f.attrs["spike_files_error"] = str(exc)
                complete = False
        self.f.attrs["complete"] = complete
        self.f.close()


def _resolved(scene) -> dict:
    import dataclasses
    return {k: dataclasses.asdict(getattr(scene, k)) for k in
            ("run", "brain", "body", "afferents", "bridge")}
