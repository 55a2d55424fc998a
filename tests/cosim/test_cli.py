"""The command line as a user runs it: help texts, info, run, report, launch --dry-run."""
import subprocess
import sys

import h5py
import pytest

from cosim.cli import _parser


def cosim(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def _options(subcommand):
    parser = _parser()
    sub = parser._subparsers._group_actions[0].choices[subcommand]
    return [opt for a in sub._actions for opt in a.option_strings if opt.startswith("--")]


@pytest.mark.parametrize("sub", [None, "run", "launch", "report", "export", "info", "observe",
                                 "assimilate"])
def test_help_describes_every_option(sub):
    res = cosim(*([sub] if sub else []), "--help")
    assert res.returncode == 0
    if sub is None:
        for name in ("run", "launch", "report", "export", "info"):
            assert name in res.stdout
        return
    for opt in _options(sub):
        assert opt in res.stdout, opt
    # every option has a help sentence (argparse prints it after the flag)
    sub_parser = _parser()._subparsers._group_actions[0].choices[sub]
    assert all(a.help for a in sub_parser._actions)


def test_info_prints_versions():
    res = cosim("info")
    assert res.returncode == 0
    for name in ("numpy", "numba", "mujoco", "mpi4py", "MPI library"):
        assert name in res.stdout
    assert "MPICH" in res.stdout or "Open MPI" in res.stdout


def test_run_writes_h5_and_figure(tmp_path, small_scene_path):
    out = tmp_path / "out.h5"
    res = cosim("run", small_scene_path, "-o", out, "--duration", 100, "--seed", 5,
                "--no-progress")
    assert res.returncode == 0, res.stderr
    assert f"wrote {out}" in res.stdout and out.with_suffix(".png").stat().st_size > 10000
    with h5py.File(out) as f:
        assert f.attrs["seed"] == 5 and f["body/time_s"].shape == (100,)


def test_bad_scene_is_one_line_and_exit_2(tmp_path, small_scene_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(small_scene_path.read_text().replace("C_m_pF = 250.0", "C_m_pF = -1.0", 1))
    res = cosim("run", bad)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert "brain.cell_types.L23_E.C_m_pF" in res.stderr and "Traceback" not in res.stderr


def test_launch_dry_run_and_slurm_file(tmp_path, small_scene_path):
    slurm = tmp_path / "job.conf"
    res = cosim("launch", small_scene_path, "--brain-ranks", 3, "-o", tmp_path / "x.h5",
                "--dry-run", "--slurm", slurm)
    assert res.returncode == 0, res.stderr
    line = res.stdout.strip().splitlines()[-1]
    assert "mpiexec -n 3" in line and "-m brain" in line and ": -n 1" in line and "-m body" in line
    text = slurm.read_text()
    assert "0-2 " in text and "\n3 " in text


def test_report_writes_page_and_summary_figure(tmp_path, small_scene_path):
    out = tmp_path / "r.h5"
    assert cosim("run", small_scene_path, "-o", out, "--duration", 50, "--no-progress",
                 "--no-figure").returncode == 0
    assert not out.with_suffix(".png").exists()
    res = cosim("report", out, "--no-video", "--png", out.with_suffix(".png"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r_report" / "index.html").exists() and out.with_suffix(".png").exists()
