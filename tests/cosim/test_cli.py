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


def test_sbatch_script_runs_brain_body_and_members(tmp_path, small_scene_path):
    # 3 brain ranks x 2 members with 4 threads each, 2 body ranks: the script must ask
    # for 8 tasks of 4 cores and hand srun a multi-prog file that starts them all. It runs
    # here with a stand-in srun that prints its arguments and the file.
    job = tmp_path / "job.sbatch"
    res = cosim("launch", small_scene_path, "--brain-ranks", 3, "--members", 2, "--threads", 4,
                "-o", tmp_path / "x.h5", "--dry-run", "--sbatch", job)
    assert res.returncode == 0, res.stderr
    text = job.read_text()
    assert text.startswith("#!/bin/bash\n")
    directives = dict(line[len("#SBATCH "):].split("=", 1) for line in text.splitlines()
                      if line.startswith("#SBATCH "))
    assert directives["--ntasks"] == "8" and directives["--cpus-per-task"] == "4"
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "srun").write_text('#!/bin/bash\necho "srun $*"\nfor a; do conf="$a"; done\n'
                               'cat "$conf"\n')
    (fake / "srun").chmod(0o755)
    import os
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}",
           "SLURM_SUBMIT_DIR": str(tmp_path), "SLURM_JOB_ID": "42"}
    ran = subprocess.run(["bash", str(job)], capture_output=True, text=True, env=env,
                         timeout=60)
    assert ran.returncode == 0, ran.stderr
    lines = ran.stdout.splitlines()
    assert lines[0] == (f"srun --ntasks=8 --cpus-per-task=4 --multi-prog "
                        f"{tmp_path}/cosim-42.multiprog")
    tasks = {line.split()[0]: line.split()[1:] for line in lines[1:]
             if line and not line.startswith("#")}
    assert set(tasks) == {"0-5", "6-7"}
    brain, body = tasks["0-5"], tasks["6-7"]
    assert brain[:3] == ["env", "OMP_NUM_THREADS=4", "NUMBA_NUM_THREADS=4"]
    assert body[:3] == ["env", "OMP_NUM_THREADS=1", "NUMBA_NUM_THREADS=1"]
    assert brain[4:6] == ["-m", "brain"] and body[4:6] == ["-m", "body"]
    for args in (brain, body):
        assert str(small_scene_path.resolve()) in args
        assert args[args.index("--members") + 1] == "2"
    # brain ranks get the output too: with run.spikes = "per_rank" they write beside it
    assert body[body.index("-o") + 1] == brain[brain.index("-o") + 1]


def test_report_writes_page_and_summary_figure(tmp_path, small_scene_path):
    out = tmp_path / "r.h5"
    assert cosim("run", small_scene_path, "-o", out, "--duration", 50, "--no-progress",
                 "--no-figure").returncode == 0
    assert not out.with_suffix(".png").exists()
    res = cosim("report", out, "--no-video", "--png", out.with_suffix(".png"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "r_report" / "index.html").exists() and out.with_suffix(".png").exists()
