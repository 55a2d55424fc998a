"""`cosim export`: the NWB file and the CSV tables hold what the run file holds.

One short embedded run (the small demo variant, 150 ms) is exported once per module; each
test reads the export back (pynwb's NWBHDF5IO, the csv module) and compares it with
what h5py reads from the run file.
"""
import csv
import json
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from types import SimpleNamespace

import h5py
import numpy as np
import pynwb
import pytest

from cosim.export import (FALLBACK_START_TIME, MissingExtraError, session_start_time,
                          to_csv, to_nwb)
from cosim.runner import run_embedded
from cosim.scene import load
from tests.conftest import SMALL, write_scene

SERIES = {"joint_angles": ("qpos", "radians"), "joint_velocities": ("qvel", "radians/s"),
          "muscle_excitation": ("excitation", "unitless"),
          "muscle_activation": ("activation", "unitless"), "muscle_force": ("force_N", "N"),
          "muscle_length": ("length_m", "m"), "muscle_velocity": ("velocity_m_per_s", "m/s")}


def _str(a):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in a]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A ~1000-cell, 150 ms run, its NWB export, and what h5py reads from it."""
    tmp = tmp_path_factory.mktemp("export")
    out = tmp / "run.h5"
    run_embedded(load(write_scene(tmp, "small.toml", **SMALL), duration_ms=150.0), out,
                 progress=False)
    with h5py.File(out, "r") as f:
        names = np.array(_str(f["cells/type_names"][()]))
        h5 = SimpleNamespace(
            t_ms=f["spikes/brain/timestamps"][()], ids=f["spikes/brain/node_ids"][()].astype(int),
            type=names[f["cells/type_id"][()]], region=np.array(_str(f["cells/region"][()])),
            layer=np.array(_str(f["cells/layer"][()])), pos_um=f["cells/pos_um"][()],
            pool=f["cells/pool"][()], dc_site=f["cells/dc_site"][()],
            body={k: f["body"][k][()] for k in f["body"]},
            joints=list(f["body"].attrs["joint_names"]),
            muscles=list(f["body"].attrs["muscle_names"]), attrs=dict(f.attrs))
    n = len(h5.type)
    fired = np.unique(h5.ids)
    assert len(h5.ids) > 100 and 0 < len(fired) < n      # both firing and silent cells
    nwb = to_nwb(out, tmp / "run.nwb")
    return SimpleNamespace(path=out, nwb=nwb, tmp=tmp, h5=h5, n=n)


def _read_nwb(path):
    io = pynwb.NWBHDF5IO(str(path), "r")
    return io, io.read()


def test_units_hold_every_cell_with_its_spike_times_in_seconds(run):
    io, f = _read_nwb(run.nwb)
    with io:
        units = f.units
        assert list(units.id[:]) == list(range(run.n))
        assert units.resolution == pytest.approx(run.h5.attrs["dt_ms"] / 1e3, rel=1e-15)
        total = 0
        for i in range(run.n):
            got = np.asarray(units["spike_times"][i])
            want = run.h5.t_ms[run.h5.ids == i] / 1e3
            assert np.array_equal(got, want), i
            total += len(got)
        assert total == len(run.h5.ids)


def test_unit_columns_are_the_cell_table(run):
    io, f = _read_nwb(run.nwb)
    with io:
        u = f.units
        assert set(u.colnames) >= {"spike_times", "cell_type", "region", "layer", "x_um",
                                   "y_um", "z_um", "motor_pool", "dc_site"}
        assert list(u["cell_type"][:]) == list(run.h5.type)
        assert list(u["region"][:]) == list(run.h5.region)
        assert list(u["layer"][:]) == list(run.h5.layer)
        for k, axis in enumerate("xyz"):
            assert np.array_equal(u[f"{axis}_um"][:], run.h5.pos_um[:, k])
        assert np.array_equal(u["motor_pool"][:], run.h5.pool)
        assert np.array_equal(u["dc_site"][:], run.h5.dc_site)
        assert (np.asarray(u["motor_pool"][:]) >= 0).any()   # the L5B pools are there


def test_body_series_equal_the_run_file(run):
    io, f = _read_nwb(run.nwb)
    with io:
        behavior = f.processing["behavior"]
        assert set(behavior.data_interfaces) == set(SERIES)
        time_s = run.h5.body["time_s"]
        for name, (key, unit) in SERIES.items():
            ts = behavior[name]
            data = ts.data[()]
            assert data.shape == run.h5.body[key].shape and data.shape[0] == len(time_s)
            assert np.array_equal(data, run.h5.body[key]), name
            assert ts.unit == unit
            times = ts.get_timestamps()
            np.testing.assert_allclose(times, time_s, rtol=0, atol=1e-9)
            names = run.h5.joints if key in ("qpos", "qvel") else run.h5.muscles
            assert ", ".join(names) in ts.description
        assert np.ptp(behavior["joint_angles"].data[()], axis=0).max() > 0   # the limb moved


def test_file_metadata(run):
    io, f = _read_nwb(run.nwb)
    with io:
        assert f.identifier == run.h5.attrs["run_id"]
        start = f.session_start_time
        assert start.tzinfo is not None
        assert start == datetime.fromisoformat(run.h5.attrs["created"])
        assert "Simulated" in f.session_description and "150 ms" in f.session_description
        assert f.subject.species == "Mus musculus"
        assert "Simulated" in f.subject.description
        assert f.subject.subject_id == f"simulated-seed{run.h5.attrs['seed']}"
        assert "[run]" in f.notes                     # the scene text


def test_nwbinspector_finds_nothing_critical(run):
    from nwbinspector import Importance, inspect_nwbfile
    messages = list(inspect_nwbfile(nwbfile_path=str(run.nwb)))
    for m in messages:
        print(f"{m.importance.name}: {m.check_function_name} ({m.object_type} "
              f"{m.location}): {m.message}")
    bad = [m for m in messages if m.importance.value >= Importance.CRITICAL.value]
    assert not bad, [m.message for m in bad]


def _rows(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_csv_tables_equal_the_run_file(run):
    out = run.tmp / "csv"
    paths = to_csv(run.path, out)
    assert {p.name for p in paths} >= {"spikes.csv", "cells.csv", "body_qpos.csv",
                                       "body_force_N.csv"}
    header, rows = _rows(out / "spikes.csv")
    assert header == ["time_ms", "node_id", "type", "region", "layer"]
    assert len(rows) == len(run.h5.ids)
    assert np.array_equal([float(r[0]) for r in rows], run.h5.t_ms)       # bit for bit
    assert np.array_equal([int(r[1]) for r in rows], run.h5.ids)
    assert [r[2] for r in rows] == list(run.h5.type[run.h5.ids])
    assert [r[4] for r in rows] == list(run.h5.layer[run.h5.ids])

    header, rows = _rows(out / "cells.csv")
    assert header[:8] == ["node_id", "type", "type_id", "region", "layer", "x_um", "y_um",
                          "z_um"]
    assert [int(r[0]) for r in rows] == list(range(run.n))
    assert [r[1] for r in rows] == list(run.h5.type)
    assert [r[3] for r in rows] == list(run.h5.region)
    assert np.array_equal([[float(x) for x in r[5:8]] for r in rows], run.h5.pos_um)
    assert [int(r[header.index("pool")]) for r in rows] == list(run.h5.pool)

    for key in ("qpos", "qvel", "excitation", "activation", "force_N", "length_m",
                "velocity_m_per_s"):
        header, rows = _rows(out / f"body_{key}.csv")
        names = run.h5.joints if key in ("qpos", "qvel") else run.h5.muscles
        assert header == ["time_s", *names]
        table = np.array([[float(x) for x in r] for r in rows])
        assert np.array_equal(table[:, 0], run.h5.body["time_s"])
        assert np.array_equal(table[:, 1:], run.h5.body[key]), key

    with pytest.raises(FileExistsError, match="spikes.csv"):
        to_csv(run.path, out)


def test_recorded_types_only_are_units(run, tmp_path):
    """With run.record = [L5B_E] only those cells were observed: no empty trains for others."""
    path = tmp_path / "record.h5"
    shutil.copy(run.path, path)
    l5b = run.h5.type == "L5B_E"
    with h5py.File(path, "r+") as f:
        scene = json.loads(f.attrs["scene_resolved"])
        scene["run"]["record"] = ["L5B_E"]
        f.attrs["scene_resolved"] = json.dumps(scene)
        keep = l5b[run.h5.ids]
        assert 0 < keep.sum() < len(keep)
        for name, values in (("timestamps", run.h5.t_ms[keep]), ("node_ids", run.h5.ids[keep])):
            ds = f["spikes/brain"][name]
            ds.resize(int(keep.sum()), axis=0)
            ds[:] = values
    io, f = _read_nwb(to_nwb(path, tmp_path / "record.nwb"))
    with io:
        assert list(f.units.id[:]) == np.flatnonzero(l5b).tolist()
        assert set(f.units["cell_type"][:]) == {"L5B_E"}
        for row, gid in enumerate(np.flatnonzero(l5b)):
            assert np.array_equal(f.units["spike_times"][row],
                                  run.h5.t_ms[run.h5.ids == gid] / 1e3)


def test_session_start_time_is_timezone_aware():
    aware = session_start_time(SimpleNamespace(attrs={"created": "2026-03-01T12:00:00+0100"}))
    assert aware == datetime(2026, 3, 1, 11, 0, tzinfo=timezone.utc)
    naive = session_start_time(SimpleNamespace(attrs={"created": "2026-03-01T12:00:00"}))
    assert naive.tzinfo is not None and naive.replace(tzinfo=None) == datetime(2026, 3, 1, 12)
    assert session_start_time(SimpleNamespace(attrs={})) == FALLBACK_START_TIME


def test_without_pynwb_the_error_says_what_to_install(run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynwb", None)      # import pynwb -> ImportError
    with pytest.raises(MissingExtraError, match=r"pip install brain-body-cosim\[nwb\]"):
        to_nwb(run.path, tmp_path / "x.nwb")
    assert not (tmp_path / "x.nwb").exists()


def cosim(*args):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def test_cli_exports_and_refuses_to_overwrite(run, tmp_path):
    nwb, out = tmp_path / "cli.nwb", tmp_path / "tables"
    res = cosim("export", run.path, "--nwb", nwb, "--csv", out)
    assert res.returncode == 0, res.stderr
    assert f"wrote {nwb}: {run.n} units, {len(run.h5.ids)} spikes" in res.stdout
    assert (out / "spikes.csv").is_file() and nwb.stat().st_size > 10000
    before = nwb.read_bytes()

    res = cosim("export", run.path, "--nwb", nwb)
    assert res.returncode == 2
    assert str(nwb) in res.stderr and "--overwrite" in res.stderr
    assert "Traceback" not in res.stderr and res.stderr.strip().count("\n") == 0
    assert nwb.read_bytes() == before
    res = cosim("export", run.path, "--csv", out)
    assert res.returncode == 2 and str(out / "spikes.csv") in res.stderr

    res = cosim("export", run.path, "--nwb", nwb, "--csv", out, "--overwrite")
    assert res.returncode == 0, res.stderr
    assert not list(tmp_path.glob(".*part*"))          # no partial file left behind


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.h5", "no such run file"),
    (lambda d: (d / "text.h5").write_text("not hdf5") and d / "text.h5", "not an HDF5 file"),
])
def test_cli_bad_input_is_one_line(tmp_path, make, message):
    path = make(tmp_path)
    res = cosim("export", path, "--nwb", tmp_path / "x.nwb")
    assert res.returncode == 2
    assert f"cosim export: error: {path}: {message}" in res.stderr
    assert "Traceback" not in res.stderr and res.stderr.strip().count("\n") == 0
    assert not (tmp_path / "x.nwb").exists()


def test_cli_needs_an_output_and_an_existing_folder(run, tmp_path):
    res = cosim("export", run.path)
    assert res.returncode == 2 and "--nwb" in res.stderr and "--csv" in res.stderr
    res = cosim("export", run.path, "--nwb", tmp_path / "no" / "x.nwb")
    assert res.returncode == 2 and "does not exist" in res.stderr
