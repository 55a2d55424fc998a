"""``cosim experiment``: runs, controls, metrics.json and recomputation from the raw files.

Reduced scale (``--scale 0.3``: 30 % of the cells, in-degrees unchanged), the default 2 s
protocol, one seed; all experiments share one folder, so the stimulus run is made once.
These tests check the experiment machinery and the criteria that hold at this scale
(measured values in the comments).  At the default scale more of them hold (the README's
Results section); the gamma peak, for one, is at 31 Hz there but 23 Hz at 0.3.
"""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from cosim import analysis as an
from cosim.cli import main
from cosim.experiments.gamma import CONTROL
from cosim.experiments.runs import RunData

pytestmark = pytest.mark.slow

ARGS = ["--seed", "1", "--scale", "0.3", "--no-progress"]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("experiments")


def _metrics(path):
    m = json.loads((path / "metrics.json").read_text())
    for key, v in m["metrics"].items():
        if "pass" in v:
            assert set(v) >= {"value", "criterion", "pass"}, key
    return m


def test_gamma_writes_metrics_runs_and_figures(out_dir):
    code = main(["experiment", "gamma", "-o", str(out_dir / "gamma"), *ARGS])
    m = _metrics(out_dir / "gamma")
    assert code == (0 if m["all_pass"] else 1)
    assert m["n_checks"] == 5 and m["scale"] == 0.3
    assert (out_dir / "gamma" / "gamma_spectra.png").stat().st_size > 1000
    stim = out_dir / "gamma" / "stim_seed1.h5"
    ctrl = out_dir / "gamma" / "control_seed1.h5"
    with h5py.File(ctrl) as f:
        assert json.loads(f.attrs["overrides"])[-len(CONTROL) - 1:] == [*CONTROL,
                                                                  "brain.placement_scale=0.3"]
    # the control is the same scene with the site's DC at 0: it is derived by a scene key
    assert m["runs"]["control_seed1"]["overrides"][2] == CONTROL[0]
    # anyone can recompute a metric from the raw spikes
    ratio = []
    for path in (stim, ctrl):
        run = RunData.read(path)
        gids = run.cells(region="MOp", kind="E", stimulated=False)
        t, _ = run.spikes_of(gids, 300.0, 2000.0)
        f, p = an.welch_psd(an.population_rate(t, len(gids), 300.0, 2000.0)[1], 1000.0)
        ratio.append(an.band_power(f, p, 30, 50))
    assert ratio[0] / ratio[1] == pytest.approx(m["metrics"]["seed1.gamma_vs_control"]["value"],
                                                rel=1e-3)
    # criteria that hold at --scale 0.3 (seed 1): 30-50 vs 60-100 Hz power 3.67, no control
    # peak in 30-50 Hz; the peak itself is at 27 Hz and the gamma power only 2.9x the
    # control's (at the default scale: 31-35 Hz and 57-127x, README Results)
    for name in ("gamma_to_60_100_ratio", "control_peak_outside_30_50"):
        assert m["metrics"][f"seed1.{name}"]["pass"], m["metrics"][f"seed1.{name}"]
    assert m["metrics"]["seed1.gamma_vs_control"]["value"] > 2.0


def test_phase_reuses_the_stimulus_run(out_dir):
    stim = out_dir / "gamma" / "stim_seed1.h5"
    before = stim.stat().st_mtime_ns
    main(["experiment", "phase", "-o", str(out_dir / "gamma"), *ARGS])
    assert stim.stat().st_mtime_ns == before
    m = _metrics(out_dir / "gamma")
    assert m["n_checks"] == 4 * 3 + 2
    stats = m["metrics"]["seed1.stats"]["value"]
    assert all(stats[f"{lay}.E"]["n_spikes"] > 50 for lay in ("L2/3", "L5A", "L5B", "L6"))
    assert (out_dir / "gamma" / "phase_seed1.png").is_file()
    assert (out_dir / "gamma" / "phase_locality_seed1.png").is_file()
    # the rings hold every non-stimulated cell of the group once, and the spikes of the
    # rings add up to the group's own count
    rings = m["metrics"]["seed1.locking_by_distance"]["value"]
    for lay in ("L2/3", "L5B"):
        r = rings[f"{lay}.E"]
        assert len(r["n_cells"]) == len(r["edges_um"]) - 1 == 6
        window_s = (2000.0 - 300.0) / 1e3
        n_spikes = sum(round(n * rate * window_s) for n, rate in zip(r["n_cells"], r["rate_Hz"])
                       if n)
        assert n_spikes == stats[f"{lay}.E"]["n_spikes"]
    # at --scale 0.3: deep-layer E locked to M1 gamma, E later with depth; L2/3 E is not
    # locked (vector strength 0.11) and the LTS lags are off in three layers
    crit = m["metrics"]
    for name in ("L5A.E_vector_strength", "L5B.E_vector_strength", "L6.E_vector_strength",
                 "L2/3.E_FS_abs_diff_deg", "L5B.E_FS_abs_diff_deg", "E_later_with_depth",
                 "E_total_shift_deg"):
        assert crit[f"seed1.{name}"]["pass"], (name, crit[f"seed1.{name}"])


def test_propagation_cut_removes_coherence(out_dir):
    main(["experiment", "propagation", "-o", str(out_dir / "gamma"), *ARGS])
    m = _metrics(out_dir / "gamma")["metrics"]
    for name in ("M2_E", "pons", "granule"):
        assert m[f"seed1.coherence_M1_{name}_cut"]["pass"], m[f"seed1.coherence_M1_{name}_cut"]
    with h5py.File(out_dir / "gamma" / "cut_out_of_M1_seed1.h5") as f:
        resolved = json.loads(f.attrs["scene_resolved"])["brain"]["projections"]
    assert not any(row[0] == "MOp" for r in resolved for row in r["resolved"])


def test_forelimb_moves_only_with_motor_output(out_dir):
    main(["experiment", "forelimb", "-o", str(out_dir / "gamma"), *ARGS])
    m = _metrics(out_dir / "gamma")["metrics"]
    assert m["seed1.max_joint_change_deg_motor_off"]["pass"]
    # the seed's > 10 deg holds at --scale 0.5 (15.9 deg); at 0.3 the limb moves 8.6 deg
    assert m["seed1.max_joint_change_deg"]["value"] > 5.0, m["seed1.max_joint_change_deg"]
    limb = RunData.read(out_dir / "gamma" / "motor_off_seed1.h5")
    assert np.ptp(limb.body["excitation"]) == 0.0


def test_report_of_an_experiment_folder(out_dir):
    """`cosim report EXPDIR`: the claim, each metric with its criterion and verdict (from
    metrics.json, not recomputed), the figures, and a report per run, all linked."""
    import re
    exp = out_dir / "gamma"
    m = _metrics(exp)
    assert main(["report", str(exp), "--no-video"]) == 0
    page = exp / "report" / "index.html"
    text = page.read_text()
    from html import escape
    from cosim.report.experiment import CLAIMS
    # the folder's metrics.json is the last experiment's (forelimb after the tests above)
    assert "The seed&#x27;s claim" in text and escape(CLAIMS[m["experiment"]]) in text
    for key, v in m["metrics"].items():
        assert f"<td>{key}</td>" in text.replace("&#x27;", "'"), key
        if "pass" in v:
            verdict = "ok\">pass" if v["pass"] else "bad\">FAIL"
            row = text[text.index(f"<td>{key}</td>"):].split("</tr>")[0]
            assert verdict in row and v["criterion"].replace(">", "&gt;").replace(
                "<", "&lt;") in row, (key, row)
    for fig in m["figures"]:
        assert (page.parent / fig).is_file() and f'src="{fig}"' in text
    links = re.findall(r'href="(runs/[^"]+/index.html)"', text)
    assert len(links) == len(m["runs"]) > 0
    for link in links:
        sub = (page.parent / link).read_text()
        assert "Run report" in sub and 'src="raster.png"' in sub
