"""One run file read back for the report: attributes, spikes, cell table, body and bridge.

Times are ms (spikes) or s (body, as written); rates Hz; positions um.  Everything the
figures need is read once here, so the figure functions never open the file.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import h5py
import numpy as np

__all__ = ["RunFile", "read_run", "kind_of"]


def kind_of(type_name: str) -> str:
    """Cell kind of a type name: ``"MOp.L23_FS"`` -> ``"FS"``, ``"TC"`` -> ``"TC"``."""
    base = str(type_name).rpartition(".")[2]
    return base.rpartition("_")[2] if "_" in base else base


def _text(values) -> np.ndarray:
    return np.asarray([v.decode() if isinstance(v, bytes) else str(v) for v in values])


@dataclass
class RunFile:
    """What a report shows of one run.

    Attributes
    ----------
    path : str
    attrs : dict
        Root attributes (str, int, float, ...), e.g. cosim_version, mode, wall_s.
    scene_text : str
        The scene file as run (``/scene``); ``scene`` its resolved form (``scene_resolved``).
    t_ms, gid : ndarray, shape (k,)
        Spike times (ms, float64) and cell indices (int64).
    type_names : ndarray of str, shape (n_types,)
    type_id : ndarray of int, shape (n_cells,)
    region, layer : ndarray of str, shape (n_cells,)
        ``layer`` is ``""`` for cells outside layered regions.
    pos_um : ndarray of float64, shape (n_cells, 3)
    ijk, grid_shape : ndarray or None
        Voxel index per cell and grid shape, for voxel atlases only.
    body : dict
        Name -> array as in ``/body`` (time_s, qpos, excitation, activation, force_N, ...).
    joint_names, muscle_names : list of str
    bridge : dict
        Name -> array as in ``/bridge`` (interval, counts, afferent_rates_Hz, pool_size).
    """

    path: str
    attrs: dict
    scene_text: str
    scene: dict
    t_ms: np.ndarray
    gid: np.ndarray
    type_names: np.ndarray
    type_id: np.ndarray
    region: np.ndarray
    layer: np.ndarray
    pos_um: np.ndarray
    ijk: np.ndarray | None
    grid_shape: tuple | None
    body: dict
    joint_names: list
    muscle_names: list
    bridge: dict

    @property
    def n_cells(self) -> int:
        return len(self.type_id)

    @property
    def duration_ms(self) -> float:
        """Simulated time actually written (a run stopped early is shorter than planned)."""
        t = self.body.get("time_s")
        if t is not None and len(t):
            return float(len(t) * float(self.attrs.get("interval_ms", 1.0)))
        return float(self.attrs.get("duration_ms", 0.0))

    @property
    def kind(self) -> np.ndarray:
        """Kind (E, FS, LTS, TC, ...) of each cell, str, shape (n_cells,)."""
        kinds = np.asarray([kind_of(n) for n in self.type_names])
        return kinds[self.type_id]

    @property
    def layers(self) -> list:
        """Layer names, top layer first: in the scene's ``brain.atlas.layers`` order, then
        any others (e.g. of an Allen atlas) by name; "" (no layer) left out."""
        present = set(np.unique(self.layer)) - {""}
        atlas = self.scene.get("brain", {}).get("atlas", {}) or {}
        listed = [d.get("name") for d in atlas.get("layers", []) if isinstance(d, dict)]
        ordered = [n for n in listed if n in present]
        return ordered + sorted(present - set(ordered))

    @property
    def regions(self) -> list:
        names, first = np.unique(self.region, return_index=True)
        return [n for _, n in sorted(zip(first, names))]


def _attr(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_run(path) -> RunFile:
    """Read ``path`` (a run's HDF5 file, complete or cut short) into a :class:`RunFile`."""
    with h5py.File(path, "r") as f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        scene_text = f["scene"][()] if "scene" in f else b""
        scene_text = scene_text.decode() if isinstance(scene_text, bytes) else str(scene_text)
        scene = json.loads(attrs.pop("scene_resolved", "{}"))
        c = f["cells"]
        has_ijk = "ijk" in c and "grid_shape" in c
        body = {k: f["body"][k][()] for k in f["body"]}
        bridge = {k: f["bridge"][k][()] for k in f["bridge"]}
        from ..output import read_spikes
        t_ms, gid = read_spikes(f)
        return RunFile(
            path=str(path), attrs=attrs, scene_text=scene_text, scene=scene,
            t_ms=t_ms, gid=gid,
            type_names=_text(c["type_names"][()]), type_id=c["type_id"][()].astype(np.int64),
            region=_text(c["region"][()]), layer=_text(c["layer"][()]),
            pos_um=c["pos_um"][()],
            ijk=c["ijk"][()].astype(np.int64) if has_ijk else None,
            grid_shape=tuple(int(x) for x in c["grid_shape"][()]) if has_ijk else None,
            body=body, joint_names=[str(n) for n in f["body"].attrs["joint_names"]],
            muscle_names=[str(n) for n in f["body"].attrs["muscle_names"]], bridge=bridge)
