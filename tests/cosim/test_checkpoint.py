"""Checkpoint and resume: a run killed (SIGKILL) or stopped (SIGINT) and resumed from its
checkpoint gives the spikes, body trajectory and bridge traffic of the uninterrupted run,
bit for bit, embedded and over real mpiexec, also with another number of brain ranks;
checkpoints of another scene or version, or used with the wrong file, are refused."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from cosim.checkpoint import merge_brain_states
from cosim.runner import embedded_parts
from cosim.scene import load
from tests.conftest import SMALL, write_scene

KEYS = ("spikes/brain/timestamps", "spikes/brain/node_ids", "body/time_s", "body/qpos",
        "body/qvel", "body/activation", "body/force_N", "bridge/interval", "bridge/counts",
        "bridge/afferent_rates_Hz")
DURATION = "600"        # ms; the stimulus of the small scene runs 50-150 ms
ENV = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")


def _cosim(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def _same_run(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert fb.attrs["complete"]
        for k in KEYS:
            assert np.array_equal(fa[k][:], fb[k][:]), k
        return fa["spikes/brain/timestamps"].shape[0]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The scene (stimulus 50-150 ms, 600 ms) and its uninterrupted embedded run."""
    d = tmp_path_factory.mktemp("ckpt")
    scene = write_scene(d, "small.toml", **SMALL)
    ref = d / "ref.h5"
    r = _cosim("run", scene, "--duration", DURATION, "-o", ref, "--quiet", "--no-figure")
    assert r.returncode == 0, r.stderr
    return d, scene, ref


def _ranks_of(scene) -> str:
    r = subprocess.run(["pgrep", "-f", f"-m (brain|body) {scene}"], capture_output=True,
                       text=True)
    return r.stdout.strip()


def _kill_after_checkpoint(cmd, ckpt, scene=None):
    """Start ``cmd``; once ``ckpt`` exists SIGKILL it (and, for `cosim launch`, its
    mpiexec, whose proxies then kill the ranks; wait until they are gone)."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 240
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                      text=True).stdout.split()
            for pid in children:
                os.kill(int(pid), signal.SIGKILL)
            proc.kill()
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if scene is not None:
        deadline = time.monotonic() + 20
        while _ranks_of(scene) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _ranks_of(scene), "ranks left behind"
    return proc.returncode, err


def test_engine_state_round_trip_and_merge(tmp_path, small_scene_path):
    """The state of two half engines merged by gid equals the whole engine's state."""
    from brain.exchange import LocalExchange
    from cosim.build import build_engine
    scene = load(small_scene_path)
    brain, side = embedded_parts(scene, tmp_path / "run.h5")
    for k in range(30):
        brain.interval(k)
        side.interval(k)
    whole = brain.engine.get_state()
    assert np.any(whole["ring_nS"]) and whole["step"] == 30 * scene.interval_steps
    halves = [build_engine(scene, brain.model, 2, r, LocalExchange()) for r in range(2)]
    for e in halves:
        part = {k: whole[k][..., e.gid] for k in ("v_mV", "refr", "stim_pA", "x", "g_nS",
                                                  "ring_nS")}
        e.set_state({**part, "step": whole["step"], "gid": e.gid})
    merged = merge_brain_states([e.get_state() for e in halves], brain.model.n_cells)
    for k in ("v_mV", "refr", "x", "g_nS", "stim_pA"):
        assert np.array_equal(merged[k], whole[k]), k
    rows = min(len(merged["ring_nS"]), len(whole["ring_nS"]))
    assert np.array_equal(merged["ring_nS"][:rows], whole["ring_nS"][:rows])
    assert not np.any(whole["ring_nS"][rows:]) and not np.any(merged["ring_nS"][rows:])
    side.stop()


def test_sigkill_then_resume_gives_the_uninterrupted_run(setup):
    d, scene, ref = setup
    out, ckpt = d / "killed.h5", d / "killed.ckpt.h5"
    code, err = _kill_after_checkpoint(
        [sys.executable, "-m", "cosim", "run", str(scene), "--duration", DURATION, "-o",
         str(out), "--quiet", "--no-figure", "--checkpoint-every", "100"], ckpt)
    assert ckpt.exists(), err
    with h5py.File(ckpt, "r") as f:
        t_ckpt = float(f.attrs["time_ms"])
        assert f.attrs["format"] == "cosim-checkpoint" and t_ckpt % 100 == 0
    if code == -signal.SIGKILL:          # killed mid-run: the file stays readable
        with h5py.File(out, "r") as f:
            assert not f.attrs["complete"] and f["body/time_s"].shape[0] >= t_ckpt
    r = _cosim("run", "--resume", ckpt, "--quiet", "--no-figure")
    assert r.returncode == 0, r.stderr
    assert _same_run(ref, out) > 100
    with h5py.File(out, "r") as f:
        assert f'"from_ms": {t_ckpt}' in f.attrs["resumed"]


def _rows(path) -> int:
    try:
        with h5py.File(path, "r", locking=False) as f:
            return f["body/time_s"].shape[0]
    except (OSError, KeyError):
        return 0                            # being created


def _interrupt(cmd, out, at_rows, sig=signal.SIGINT):
    """Start ``cmd``; once ``out`` holds ``at_rows`` intervals send ``sig``."""
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 240
        while _rows(out) < at_rows and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    return proc.returncode, err


def _same_prefix(ref, path):
    """The first ``ref`` intervals of ``path`` (a longer run) are ``ref``'s, bit for bit."""
    with h5py.File(ref, "r") as fa, h5py.File(path, "r") as fb:
        n = fa["body/time_s"].shape[0]
        assert fb["body/time_s"].shape[0] >= n
        for k in KEYS[2:]:
            assert np.array_equal(fa[k][:], fb[k][:n]), k
        t = fb["spikes/brain/timestamps"][:]
        keep = t <= fa.attrs["duration_ms"]
        assert np.array_equal(fa["spikes/brain/timestamps"][:], t[keep])
        assert np.array_equal(fa["spikes/brain/node_ids"][:],
                              fb["spikes/brain/node_ids"][:][keep])


def test_sigint_writes_a_checkpoint_where_it_stops(setup):
    """SIGINT writes a checkpoint at the interval it stops after (not only on the
    schedule); the run resumed from it, stopped again and resumed again, still follows
    the uninterrupted run."""
    d, scene, ref = setup
    out, ckpt = d / "stopped.h5", d / "stopped.ckpt.h5"
    run = [sys.executable, "-m", "cosim", "run", str(scene), "--duration", "60000", "-o",
           str(out), "--quiet", "--no-figure", "--checkpoint-every", "250"]
    code, err = _interrupt(run, out, 100)
    assert code == 130, err
    assert f"wrote checkpoint {ckpt}" in err and "Traceback" not in err, err
    with h5py.File(out, "r") as f, h5py.File(ckpt, "r") as c:
        n = f["body/time_s"].shape[0]
        assert "SIGINT" in f.attrs["interrupted"]
        assert c.attrs["n_rows"] == n and c.attrs["time_ms"] == n * 1.0   # where it stopped
    resume = [sys.executable, "-m", "cosim", "run", "--resume", str(ckpt), "--quiet",
              "--no-figure"]
    code, err = _interrupt(resume, out, n + 150, signal.SIGTERM)
    assert code == 143, err
    code, err = _interrupt(resume, out, 700)
    assert code == 130, err
    with h5py.File(out, "r") as f:
        assert f["body/time_s"].shape[0] >= 700 and len(json.loads(f.attrs["resumed"])) == 2
    _same_prefix(ref, out)


@pytest.mark.mpi
def test_mpi_kill_and_resume_with_other_rank_counts(setup):
    """A 2+1-rank job killed after a checkpoint, resumed over MPI with 2 brain ranks and
    with 3, and embedded: all three equal the uninterrupted embedded run."""
    d, scene, ref = setup
    out, ckpt = d / "mpi.h5", d / "mpi.ckpt.h5"
    code, err = _kill_after_checkpoint(
        [sys.executable, "-m", "cosim", "launch", str(scene), "--duration", DURATION,
         "--brain-ranks", "2", "-o", str(out), "--quiet", "--checkpoint-every", "100"], ckpt,
        scene)
    assert ckpt.exists(), err
    copies = {}
    for name in ("ranks3", "embedded"):
        copies[name] = (d / f"mpi_{name}.h5", d / f"mpi_{name}.ckpt.h5")
        shutil.copy(out, copies[name][0])
        shutil.copy(ckpt, copies[name][1])
    r = _cosim("launch", "--resume", ckpt, "--brain-ranks", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    _same_run(ref, out)
    o3, c3 = copies["ranks3"]
    r = _cosim("launch", "--resume", c3, "-o", o3, "--brain-ranks", "3", "--quiet")
    assert r.returncode == 0, r.stderr
    _same_run(ref, o3)
    oe, ce = copies["embedded"]
    r = _cosim("run", "--resume", ce, "-o", oe, "--quiet", "--no-figure")
    assert r.returncode == 0, r.stderr
    _same_run(ref, oe)


def _checkpoint_of(d, scene, name):
    out, ckpt = d / f"{name}.h5", d / f"{name}.ckpt.h5"
    r = _cosim("run", scene, "--duration", "300", "-o", out, "--quiet", "--no-figure",
               "--checkpoint-every", "100")
    assert r.returncode == 0 and ckpt.exists(), r.stderr
    return out, ckpt


def test_refusals(setup, tmp_path):
    d, scene, _ = setup
    # a scene of its own, edited after the checkpoint
    edited = write_scene(tmp_path, "edited.toml", **SMALL)
    out, ckpt = _checkpoint_of(tmp_path, edited, "a")
    edited.write_text(edited.read_text().replace("stop_ms = 150.0", "stop_ms = 160.0"))
    r = _cosim("run", "--resume", ckpt)
    assert r.returncode == 2 and "scene_digest" in r.stderr and "changed" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    # another package version
    out, ckpt = _checkpoint_of(tmp_path, scene, "b")
    other = tmp_path / "other_version.h5"
    shutil.copy(ckpt, other)
    with h5py.File(other, "r+") as f:
        f.attrs["cosim_version"] = "0.0.1"
    r = _cosim("run", "--resume", other)
    assert r.returncode == 2 and "cosim_version = '0.0.1'" in r.stderr, r.stderr
    # not a checkpoint: a run file
    r = _cosim("run", "--resume", out)
    assert r.returncode == 2 and "not a cosim checkpoint" in r.stderr, r.stderr
    # the scene comes from the checkpoint
    r = _cosim("run", scene, "--resume", ckpt)
    assert r.returncode == 2 and "SCENE cannot be combined with --resume" in r.stderr, r.stderr
    r = _cosim("run", "--resume", ckpt, "--seed", "3")
    assert r.returncode == 2 and "--seed cannot be combined" in r.stderr, r.stderr
    # continuing into another run's file
    other_run, _ = _checkpoint_of(tmp_path, scene, "c")
    r = _cosim("run", "--resume", ckpt, "-o", other_run, "--quiet")
    assert r.returncode == 2 and "another run's output" in r.stderr, r.stderr
    # a checkpoint interval that is not a multiple of the bridge interval (1 ms)
    r = _cosim("run", scene, "-o", tmp_path / "x.h5", "--checkpoint-every", "2.5")
    assert r.returncode == 2 and "--checkpoint-every 2.5: must be a positive whole " \
        "multiple of the scene's bridge.interval_ms = 1 ms" in r.stderr, r.stderr
    assert not (tmp_path / "x.h5").exists()
    r = _cosim("run", "--resume", tmp_path / "missing.ckpt.h5")
    assert r.returncode == 2 and "no such checkpoint file" in r.stderr, r.stderr


@pytest.mark.mpi
def test_mpi_sigterm_stops_cleanly_and_resumes(setup):
    """SIGTERM to `cosim launch` reaches every rank once: the body rank stops the brain
    ranks at an interval boundary, writes the last chunk and a checkpoint there, and the
    job exits 143 with no rank left; resumed (and stopped with SIGINT, 130), the file
    still follows the uninterrupted run."""
    d, scene, ref = setup
    out, ckpt = d / "mpi_term.h5", d / "mpi_term.ckpt.h5"
    launch = [sys.executable, "-m", "cosim", "launch", str(scene), "--duration", "60000",
              "--brain-ranks", "2", "-o", str(out), "--quiet", "--checkpoint-every", "250"]
    code, err = _interrupt(launch, out, 100, signal.SIGTERM)
    assert code == 143, err
    assert "rank 2 (body): SIGTERM at t = " in err and "BAD TERMINATION" not in err, err
    assert f"wrote checkpoint {ckpt}" in err, err
    with h5py.File(out, "r") as f, h5py.File(ckpt, "r") as c:
        n = f["body/time_s"].shape[0]
        assert "SIGTERM" in f.attrs["interrupted"] and not f.attrs["complete"]
        assert c.attrs["n_rows"] == n and c.attrs["time_ms"] == n * 1.0
        t = f["spikes/brain/timestamps"][:]
        assert t.max() <= n and np.all(np.diff(f["bridge/interval"][:]) == 1)
    assert _ranks_of(scene) == "", "ranks left behind"
    resume = [sys.executable, "-m", "cosim", "launch", "--resume", str(ckpt),
              "--brain-ranks", "3", "--quiet"]
    code, err = _interrupt(resume, out, 700, signal.SIGINT)
    assert code == 130, err
    _same_prefix(ref, out)


def test_a_signal_on_a_scheduled_checkpoint_names_that_checkpoint(setup, monkeypatch):
    """A SIGINT that lands on the interval the schedule has just checkpointed writes no
    second checkpoint, but the stop still names the scheduled one to resume from."""
    from cosim import runner
    from cosim.checkpoint import schedule
    from cosim.interrupts import RunInterrupted
    d, scene_path, _ = setup
    scene = load(scene_path, overrides=["run.duration_ms=100"])
    out = d / "on_schedule.h5"
    sched = schedule(scene, 20.0, output=out)

    class SignalAt(runner.Progress):
        def update(self, k):
            if k == 39:                     # the interval that ends at the 2nd checkpoint
                os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(runner, "Progress", SignalAt)
    with pytest.raises(RunInterrupted) as exc:
        runner.run_embedded(scene, out, progress=False, checkpoints=sched)
    assert exc.value.checkpoint == sched.path
    with h5py.File(out, "r") as f, h5py.File(sched.path, "r") as c:
        assert c.attrs["n_rows"] == f["body/time_s"].shape[0] == 40
