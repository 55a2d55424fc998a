"""A run file as NWB (for NWB tools and DANDI) or as plain CSV tables.

`to_nwb` needs the optional extra ``nwb`` (pynwb), imported only when it is called, so the
rest of the package works without it.  What goes where:

========================  =================================================================
run file                  NWB
========================  =================================================================
spikes/brain              ``units``: one row per recorded cell, ``id`` = node id (cell gid);
                          ``spike_times`` in s (the file's ms / 1000), ``resolution`` = dt
                          in s; columns cell_type, region, layer, x_um, y_um, z_um, voxel,
                          motor_pool, dc_site (+ hemisphere on voxel atlases)
body/qpos, qvel           ``processing/behavior``: TimeSeries joint_angles (rad),
                          joint_velocities (rad/s), one column per joint
body/excitation, ...      muscle_excitation, muscle_activation (unitless), muscle_force (N),
                          muscle_length (m), muscle_velocity (m/s), one column per muscle
root attributes           session description, identifier (run_id), session_start_time
                          (``created``), notes (the scene text and overrides)
========================  =================================================================

Every cell is a unit, also one that never fired (an empty train), because a silent cell
is a result.  With ``run.record`` set, only the cells of the recorded types are units (and
any other cell the file has spikes of): the others were not observed, and empty trains
would say they were silent.  The subject is simulated;
NWB requires an age, so it is the nominal `NOMINAL_AGE`.  The body series share the
spikes' clock: time 0 is the start of the run, a row is written at the end of each bridge
interval.  The bridge's pool counts and afferent rates are not exported.

CSV (`to_csv`): ``spikes.csv`` (time_ms, node_id, type, region, layer; the file's order,
by time then node id), ``cells.csv`` (one row per cell) and ``body_<key>.csv`` for each
/body array (time_s, then one column per joint or muscle, units as in the run file:
qpos rad, qvel rad/s, force_N N, length_m m, velocity_m_per_s m/s, excitation and
activation unitless).  Floats are written with ``repr``, so they read back bit for bit.
"""
from __future__ import annotations

import csv
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

__all__ = ["to_nwb", "to_csv", "read_run", "RunFile", "unit_mask", "require_nwb",
           "MissingExtraError", "check_nwb_output", "check_csv_output", "session_start_time",
           "NOMINAL_AGE", "FALLBACK_START_TIME", "BODY_KEYS"]

# NWB requires a subject age (nwbinspector: CRITICAL without one).  The model has no age;
# this says "adult" (P56, the age of the Allen CCF reference mice, or older).
NOMINAL_AGE = "P56D/"
# session_start_time of a run file without a ``created`` attribute.
FALLBACK_START_TIME = datetime(2000, 1, 1, tzinfo=timezone.utc)
# /body arrays with one column per muscle (the rest, qpos and qvel, have one per joint)
MUSCLE_KEYS = ("excitation", "activation", "force_N", "length_m", "velocity_m_per_s")
BODY_KEYS = ("qpos", "qvel", *MUSCLE_KEYS)
CSV_FILES = ("spikes.csv", "cells.csv", *(f"body_{k}.csv" for k in BODY_KEYS))


class MissingExtraError(ImportError):
    """An optional dependency of the export is not installed."""


@dataclass(frozen=True)
class RunFile:
    """What the export reads from a run file, in the file's units.

    Attributes
    ----------
    spike_t_ms : float64 (k,) ms; spike_ids : int64 (k,) node ids (file order: by time, id)
    cells : dict of arrays over cells (n,): type (str), type_id, region (str), layer (str),
        pos_um (n, 3) um, voxel, pool, dc_site, and hemisphere if the file has it
    recorded : bool (n,): the cell's type was recorded (``run.record``; all if empty)
    body : dict key -> float64 (rows, columns): time_s (rows,) s and `BODY_KEYS`
    joint_names, muscle_names : list of str; attrs : dict of root attributes
    """

    path: str
    attrs: dict
    spike_t_ms: np.ndarray
    spike_ids: np.ndarray
    cells: dict
    recorded: np.ndarray
    body: dict
    joint_names: list
    muscle_names: list
    scene_text: str

    @property
    def dt_ms(self) -> float:
        return float(self.attrs["dt_ms"])

    @property
    def n_cells(self) -> int:
        return len(self.cells["type_id"])


def _strings(a) -> np.ndarray:
    return np.asarray([x.decode() if isinstance(x, bytes) else str(x) for x in a], dtype=object)


def read_run(path) -> RunFile:
    """Read a run file written by `cosim.output.RunWriter`; FileNotFoundError if it is
    missing, ValueError (naming the file) if it is not a run file."""
    import h5py
    path = str(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such run file" if not os.path.isdir(path)
                                else f"{path}: is a folder, not a run file")
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path}: not an HDF5 file (expected a cosim run file)")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:          # e.g. locked by a run still writing it
        raise OSError(f"{path}: cannot open the run file ({exc})") from None
    with f:
        for name in ("spikes/brain/timestamps", "spikes/brain/node_ids", "cells/type_id",
                     "cells/type_names", "body/time_s", *(f"body/{k}" for k in BODY_KEYS)):
            if name not in f:
                raise ValueError(f"{path}: not a cosim run file (no /{name})")
        if "dt_ms" not in f.attrs:
            raise ValueError(f"{path}: not a cosim run file (no dt_ms attribute)")
        attrs = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.attrs.items()}
        c = f["cells"]
        type_id = c["type_id"][()].astype(np.int64)
        type_names = _strings(c["type_names"][()])
        cells = {"type": type_names[type_id], "type_id": type_id,
                 "region": _strings(c["region"][()]), "layer": _strings(c["layer"][()]),
                 "pos_um": c["pos_um"][()].astype(np.float64),
                 "voxel": c["voxel"][()].astype(np.int64), "pool": c["pool"][()].astype(np.int64),
                 "dc_site": c["dc_site"][()].astype(np.int64)}
        if "hemisphere" in c and c["hemisphere"].ndim == 1:
            h = c["hemisphere"][()]
            cells["hemisphere"] = _strings(h) if h.dtype.kind in "SUO" else h.astype(np.int64)
        record = json.loads(attrs.get("scene_resolved", "{}")).get("run", {}).get("record", [])
        recorded = (np.isin(cells["type"], list(record)) if record
                    else np.ones(len(type_id), bool))
        body = {k: f["body"][k][()] for k in ("time_s", *BODY_KEYS)}
        scene = f["scene"][()] if "scene" in f else b""
        from .output import read_spikes
        spike_t_ms, spike_ids = read_spikes(f)
        return RunFile(path=path, attrs=attrs, spike_t_ms=spike_t_ms, spike_ids=spike_ids,
                       cells=cells,
                       recorded=recorded, body=body,
                       joint_names=[str(x) for x in f["body"].attrs["joint_names"]],
                       muscle_names=[str(x) for x in f["body"].attrs["muscle_names"]],
                       scene_text=scene.decode() if isinstance(scene, bytes) else str(scene))


def check_nwb_output(out_nwb, overwrite: bool = False) -> Path:
    """The NWB path, checked before any work: its folder exists, it is not a folder, and
    it does not exist unless ``overwrite``."""
    out = Path(out_nwb)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise FileNotFoundError(f"--nwb {out}: folder {str(parent)!r} does not exist "
                                "(create it first)")
    if out.is_dir():
        raise IsADirectoryError(f"--nwb {out}: is a folder, not a file")
    if out.exists() and not overwrite:
        raise FileExistsError(f"--nwb {out}: {out} exists; pass --overwrite to replace it")
    return out


def check_csv_output(out_dir, overwrite: bool = False) -> Path:
    """The CSV folder, checked before any work: not a file, and none of the files the
    export writes exists in it unless ``overwrite``.  A missing folder is created later."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"--csv {out}: exists and is not a folder")
    if not overwrite:
        there = [name for name in CSV_FILES if (out / name).exists()]
        if there:
            raise FileExistsError(f"--csv {out}: {out / there[0]} exists"
                                  f"{f' (and {len(there) - 1} more)' if len(there) > 1 else ''}"
                                  "; pass --overwrite to replace them")
    return out


def require_nwb():
    """The pynwb module; MissingExtraError (with the pip command) if it is not installed."""
    try:
        import pynwb
    except ImportError:
        raise MissingExtraError("NWB export needs pynwb: pip install "
                                "brain-body-cosim[nwb]") from None
    return pynwb


def session_start_time(run: RunFile) -> datetime:
    """The run file's ``created`` attribute as an aware datetime.  Files written before it
    carried a UTC offset hold the writer's local time: read in this machine's time zone.
    Without the attribute (or if it does not parse): `FALLBACK_START_TIME`."""
    try:
        t = datetime.fromisoformat(str(run.attrs["created"]))
    except (KeyError, ValueError):
        return FALLBACK_START_TIME
    return t if t.tzinfo is not None else t.astimezone()


def _describe(run: RunFile) -> str:
    a = run.attrs
    text = (f"Simulated session, no animal: brain-body-cosim run of scene "
            f"{a.get('scene_path', '?')} (seed {a.get('seed', '?')}, {a.get('mode', '?')} "
            f"mode, {float(a.get('duration_ms', 0.0)):g} ms at dt {run.dt_ms:g} ms): a "
            f"spiking model of mouse motor cortex ({run.n_cells} cells) driving a MuJoCo "
            f"musculoskeletal forelimb.")
    if not a.get("complete", False):
        why = a.get("interrupted") or a.get("error") or "the file is not marked complete"
        text += f" The run stopped early: {why}."
    return text


def _body_timing(time_s: np.ndarray, interval_ms: float | None) -> dict:
    """starting_time + rate when the rows are regular to 1 ns (nwbinspector asks for that
    form), else the timestamps themselves."""
    n = len(time_s)
    if interval_ms and n >= 2:
        rate_Hz = 1e3 / interval_ms
        if np.allclose(time_s, time_s[0] + np.arange(n) / rate_Hz, rtol=0.0, atol=1e-9):
            return {"starting_time": float(time_s[0]), "rate": rate_Hz}
    return {"timestamps": time_s}


def unit_mask(run: RunFile) -> np.ndarray:
    """bool (n_cells,): the cells that are NWB units: the recorded ones, and any other cell
    the file has spikes of."""
    mask = run.recorded.copy()
    mask[run.spike_ids] = True
    return mask


def _units_table(run: RunFile):
    from hdmf.common import VectorData, VectorIndex
    from pynwb.misc import Units
    is_unit = unit_mask(run)
    gids = np.flatnonzero(is_unit)
    # a stable sort by node id keeps each cell's spikes in time order; every spike is a
    # unit's, so unit u's spikes end where the first node id > gids[u] starts
    order = np.argsort(run.spike_ids, kind="stable")
    times_s = run.spike_t_ms[order] / 1e3
    index = np.searchsorted(run.spike_ids[order], gids, side="right")
    c = run.cells
    spike_times = VectorData(name="spike_times", description="spike times (s) from the start "
                             "of the run; a spike in step (t, t + dt] is stamped t + dt",
                             data=times_s)
    cols = [spike_times,
            VectorIndex(name="spike_times_index", data=index, target=spike_times),
            VectorData(name="cell_type", description="cell type name (scene "
                       "brain.cell_types)", data=c["type"][gids].astype(str)),
            VectorData(name="region", description="brain region of the cell's voxel (Allen "
                       "acronym)", data=c["region"][gids].astype(str)),
            VectorData(name="layer", description="cortical layer of the cell's voxel (empty "
                       "outside the cortex)", data=c["layer"][gids].astype(str))]
    for k, axis in enumerate("xyz"):
        cols.append(VectorData(name=f"{axis}_um", description=f"{axis} position of the "
                               "soma (um, atlas coordinates)", data=c["pos_um"][gids, k]))
    cols += [VectorData(name="voxel", description="atlas voxel index of the cell",
                        data=c["voxel"][gids]),
             VectorData(name="motor_pool", description="index of the muscle whose motor "
                        "pool the cell drives, -1 if none", data=c["pool"][gids]),
             VectorData(name="dc_site", description="index of the brain.dc entry that "
                        "selects the cell by voxel or column, -1 if none",
                        data=c["dc_site"][gids])]
    if "hemisphere" in c:
        h = c["hemisphere"][gids]
        cols.append(VectorData(name="hemisphere", description="hemisphere of the cell's "
                               "voxel", data=h.astype(str) if h.dtype == object else h))
    recorded = ("all cells" if is_unit.all() else "the cells of the recorded types "
                "(run.record)")
    return Units(name="units", id=gids, columns=cols, resolution=run.dt_ms / 1e3,
                            description=f"simulated point neurons: {recorded}, one unit per "
                            "cell, id = node id in the run file; cells that never fired have "
                            "empty spike trains")


def _body_module(run: RunFile, pynwb):
    from pynwb.base import TimeSeries
    b = run.body
    timing = _body_timing(b["time_s"], run.attrs.get("interval_ms"))
    module = pynwb.ProcessingModule(name="behavior", description="MuJoCo forelimb, one row "
                                    "at the end of each bridge interval (same clock as the "
                                    "spikes)")
    joints_named = b["qpos"].shape[1] == len(run.joint_names) == b["qvel"].shape[1]
    joint_cols = (", ".join(run.joint_names) if joints_named else
                  f"MuJoCo qpos/qvel entries 0..{b['qpos'].shape[1] - 1}")
    muscle_cols = ", ".join(run.muscle_names)
    series = [("joint_angles", "qpos", "radians", f"joint angles (rad; m for a slide joint), "
               f"columns: {joint_cols}"),
              ("joint_velocities", "qvel", "radians/s", "joint angular velocities (rad/s; m/s "
               f"for a slide joint), columns: {joint_cols}"),
              ("muscle_excitation", "excitation", "unitless", "neural excitation applied to "
               f"each muscle, unitless in [0, 1], columns: {muscle_cols}"),
              ("muscle_activation", "activation", "unitless", "muscle activation, unitless "
               f"in [0, 1], columns: {muscle_cols}"),
              ("muscle_force", "force_N", "N", "muscle tension (N), positive when pulling, "
               f"columns: {muscle_cols}"),
              ("muscle_length", "length_m", "m", f"musculotendon length (m), columns: "
               f"{muscle_cols}"),
              ("muscle_velocity", "velocity_m_per_s", "m/s", "musculotendon velocity (m/s), "
               f"positive when lengthening, columns: {muscle_cols}")]
    for name, key, unit, description in series:
        module.add(TimeSeries(name=name, data=b[key], unit=unit, description=description,
                              **timing))
    return module


def to_nwb(run_h5, out_nwb, *, overwrite: bool = False) -> Path:
    """Write the run file ``run_h5`` (a path, or a `RunFile` already read) as an NWB file
    ``out_nwb`` (see the module docstring).

    The file is written next to ``out_nwb`` and moved there when complete, so a failed
    export leaves no partial file (and with ``overwrite`` the old file stays).  Raises
    FileExistsError if ``out_nwb`` exists and not ``overwrite``; MissingExtraError without
    pynwb.  Returns the path written.
    """
    pynwb = require_nwb()
    from pynwb.file import Subject
    out = check_nwb_output(out_nwb, overwrite)
    run = run_h5 if isinstance(run_h5, RunFile) else read_run(run_h5)
    a = run.attrs
    nwb = pynwb.NWBFile(
        session_description=_describe(run),
        identifier=str(a.get("run_id") or uuid.uuid4().hex),
        session_start_time=session_start_time(run),
        experiment_description="Brain-body co-simulation: spiking brain model and MuJoCo "
                               "forelimb; every value is simulated.",
        keywords=["simulation", "spiking neural network", "motor cortex", "forelimb",
                  "musculoskeletal model"],
        data_collection=f"simulated with brain-body-cosim {a.get('cosim_version', '?')}, "
                        f"{a.get('mode', '?')} mode, {a.get('n_brain_ranks', '?')} brain "
                        "rank(s)",
        notes=f"scene file ({a.get('scene_path', '?')}):\n{run.scene_text}\noverrides: "
              f"{a.get('overrides', '[]')}",
        subject=Subject(
            subject_id=f"simulated-seed{a.get('seed', 'unknown')}", species="Mus musculus",
            sex="U", age=NOMINAL_AGE,
            description="Simulated, not an animal: a spiking model of mouse motor cortex "
                        "and a MuJoCo model of the mouse forelimb. The age is nominal "
                        "(adult); the model has no age."))
    nwb.units = _units_table(run)
    nwb.add_processing_module(_body_module(run, pynwb))
    # the partial file ends in .nwb too: pynwb warns about any other suffix
    part = out.with_name(f".{out.stem}.part.nwb")
    try:
        with pynwb.NWBHDF5IO(str(part), "w") as io:
            io.write(nwb)
        os.replace(part, out)
    finally:
        if part.exists():
            part.unlink()
    return out


def _write_csv(path: Path, header, rows) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def to_csv(run_h5, out_dir, *, overwrite: bool = False) -> list[Path]:
    """Write the run file ``run_h5`` (a path or a `RunFile`) as CSV tables in ``out_dir``
    (created if missing; see
    the module docstring).  Raises FileExistsError if one of them exists and not
    ``overwrite``.  Returns the paths written."""
    out = check_csv_output(out_dir, overwrite)
    run = run_h5 if isinstance(run_h5, RunFile) else read_run(run_h5)
    out.mkdir(parents=True, exist_ok=True)
    c = run.cells
    ids = run.spike_ids
    written = [out / name for name in CSV_FILES]
    # tolist() gives Python floats, which csv writes with repr: they read back exactly
    _write_csv(written[0], ["time_ms", "node_id", "type", "region", "layer"],
               zip(run.spike_t_ms.tolist(), ids.tolist(), c["type"][ids], c["region"][ids],
                   c["layer"][ids]))
    extra = ["hemisphere"] if "hemisphere" in c else []
    pos = c["pos_um"].tolist()
    _write_csv(written[1], ["node_id", "type", "type_id", "region", "layer", "x_um", "y_um",
                            "z_um", "voxel", "pool", "dc_site", "recorded", *extra],
               ([i, c["type"][i], int(c["type_id"][i]), c["region"][i], c["layer"][i],
                 *pos[i], int(c["voxel"][i]), int(c["pool"][i]), int(c["dc_site"][i]),
                 int(run.recorded[i]), *(c[k][i] for k in extra)]
                for i in range(run.n_cells)))
    for path, key in zip(written[2:], BODY_KEYS):
        data = run.body[key]
        names = run.muscle_names if key in MUSCLE_KEYS else run.joint_names
        if len(names) != data.shape[1]:    # qpos of a model with free or ball joints
            names = [f"{key}[{j}]" for j in range(data.shape[1])]
        _write_csv(path, ["time_s", *names],
                   ([t, *row] for t, row in zip(run.body["time_s"].tolist(), data.tolist())))
    return written
