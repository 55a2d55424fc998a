"""The ensemble experiment: many members of a small cortex model in one real `mpiexec` job."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from cosim.cli import main
from cosim.ensemble import member_overrides, parse_perturb
from cosim.launch import mpiexec_path
from cosim.scene import SCENES_DIR

pytestmark = pytest.mark.slow


def test_perturbed_values_span_the_range():
    p = parse_perturb("brain.poisson[1].rate_Hz=1260:1540")
    vals = [member_overrides(p, m, 5)[1] for m in range(5)]
    assert vals == pytest.approx([1260, 1330, 1400, 1470, 1540])
    assert member_overrides(p, 2, 5)[0] == ("brain.poisson[1].rate_Hz=1400.0",)
    with pytest.raises(ValueError, match="KEY=LO:HI"):
        parse_perturb("brain.poisson[1].rate_Hz=1260")


def test_ensemble_experiment_runs_every_member(tmp_path):
    out = tmp_path / "ensemble"
    rc = main(["experiment", "ensemble", "--scale", "0.06", "--duration", "300", "--seed", "1",
               "-o", str(out), "--no-progress"])
    m = json.loads((out / "metrics.json").read_text())
    assert rc == 0 and m["all_pass"], m["metrics"]
    assert m["metrics"]["members_finished"]["value"] == 6 == len(m["runs"])
    summary = json.loads((out / "members" / "ensemble.json").read_text())
    assert summary["ranks"] >= 2
    # each member: its own seed and perturbed value, recorded in its own file; the rate in
    # the summary is recomputed here from the raw spikes
    seeds = set()
    for rec in summary["member_list"]:
        with h5py.File(out / "members" / rec["file"]) as f:
            assert f.attrs["complete"]
            seeds.add(int(f.attrs["seed"]))
            ov = json.loads(f.attrs["overrides"])
            assert f"brain.poisson[1].rate_Hz={rec['value']!r}" in ov
            n, gid = len(f["cells/type_id"]), f["spikes/brain/node_ids"][()]
            assert rec["rate_Hz"] == pytest.approx(len(gid) / n / 0.3)
    assert seeds == {1 + k for k in range(6)}
    rates = [r["type_rate_Hz"]["MOp.L23_E"] for r in summary["member_list"]]
    assert np.all(np.diff(rates) > 0) or m["metrics"][
        "MOp.L23_E_rate_vs_perturbed_background_r"]["value"] >= 0.8
    assert main(["report", str(out), "--no-video"]) == 0
    assert "100 ensemble members" in (out / "report" / "index.html").read_text()


def test_a_bad_perturbed_key_aborts_every_rank_with_its_name(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [mpiexec_path(), "-n", "2", sys.executable, "-m", "cosim.ensemble",
           str(SCENES_DIR / "bilateral_cortex.toml"), "--members", "4",
           "--perturb", "brain.poisson[1].rate_Hz=1260:-5", "--duration", "100",
           "-o", str(tmp_path / "ens")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "rate_Hz" in proc.stderr and "rank" in proc.stderr, proc.stderr
    assert not list((tmp_path / "ens").glob("member_*.h5"))
