"""Data assimilation: the EnKF update against the analytic Kalman update, the scene's
[assimilation] checks, exact continuation of members, a reduced twin experiment, the same
trajectory embedded and over 2 and 3 MPI ranks, and failures named by member."""
import subprocess
import sys
from unittest import mock

import h5py
import numpy as np
import pytest

from cosim.assimilation import members
from cosim.assimilation.config import load_assimilation
from cosim.assimilation.enkf import enkf_update, update_rng
from cosim.assimilation.observe import observe_run, write_observations
from cosim.assimilation.program import run, setup
from cosim.interrupts import SimulationFault
from cosim.launch import launch_env
from cosim.scene import SceneError
from tests.conftest import SCENES

TRUTH = ["brain.poisson[0].rate_Hz=4000.0", "brain.connections[1].weight_nS=0.8"]
TRUE = {"w_L23E_FS": 0.8, "drive_E_Hz": 4000.0}


def cosim(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "cosim", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=launch_env())


def _scene_copy(tmp_path, name="enkf.toml", **replace):
    text = (SCENES / "enkf_cortex.toml").read_text().replace(
        'mjcf_path = "forelimb.xml"', f'mjcf_path = "{SCENES / "forelimb.xml"}"')
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def twin(tmp_path_factory):
    """A 2 s ground-truth run with the hidden values, and its observations (100 ms bins)."""
    d = tmp_path_factory.mktemp("twin")
    res = cosim("run", "enkf_cortex", *[a for o in TRUTH for a in ("--set", o)],
                "-o", d / "truth.h5", "--no-figure", "--no-progress")
    assert res.returncode == 0, res.stderr
    write_observations(d / "obs.h5", observe_run(d / "truth.h5", 100.0))
    return d


# ------------------------------------------------------------------------- the update

def test_enkf_update_matches_the_kalman_update_on_a_linear_gaussian_problem():
    rng = np.random.default_rng(0)
    h = np.array([[1.0, 0.5], [0.0, 2.0], [1.0, -1.0]])
    mu, p0 = np.array([1.0, -0.5]), np.array([[0.5, 0.1], [0.1, 0.3]])
    r, d = np.array([0.2, 0.1, 0.4]), np.array([1.3, -0.2, 2.0])
    z = rng.multivariate_normal(mu, p0, 40_000)
    u = enkf_update(z, z @ h.T, d, r, np.random.default_rng(1))
    k = p0 @ h.T @ np.linalg.inv(h @ p0 @ h.T + np.diag(r))
    np.testing.assert_allclose(u.z_analysis.mean(axis=0), mu + k @ (d - h @ mu), atol=0.01)
    np.testing.assert_allclose(np.cov(u.z_analysis.T), (np.eye(2) - k @ h) @ p0, atol=0.005)
    np.testing.assert_allclose(u.innovation, d - (z @ h.T).mean(axis=0))


def test_localisation_keeps_a_parameter_away_from_observables_it_must_not_see():
    rng = np.random.default_rng(3)
    z = rng.standard_normal((50, 2))
    y = np.c_[z[:, 0] + 0.1 * rng.standard_normal(50), z[:, 1]]
    loc = np.array([[1.0, 0.0], [0.0, 0.0]])      # parameter 1 sees nothing
    u = enkf_update(z, y, np.array([2.0, 2.0]), np.array([0.1, 0.1]),
                    np.random.default_rng(0), localisation=loc)
    np.testing.assert_allclose(u.z_analysis[:, 1], z[:, 1], rtol=0, atol=1e-12)
    assert u.gain[0, 1] == 0.0 and u.z_analysis[:, 0].mean() > 1.5


def test_inflation_widens_the_forecast_and_the_rng_depends_on_seed_and_window_only():
    z = np.random.default_rng(0).standard_normal((30, 1))
    y, d, r = z.copy(), np.zeros(1), np.ones(1)
    a = enkf_update(z, y, d, r, update_rng(7, 3))
    b = enkf_update(z, y, d, r, update_rng(7, 3))
    c = enkf_update(z, y, d, r, update_rng(7, 3), inflation=1.5)
    np.testing.assert_array_equal(a.z_analysis, b.z_analysis)
    assert c.innovation_var[0] > a.innovation_var[0]
    assert not np.array_equal(update_rng(7, 3).random(3), update_rng(7, 4).random(3))


# ----------------------------------------------------------------------- scene checks

BAD = [
    ("inflation = 1.05 ", "inflaton = 1.05 ", "assimilation.inflaton"),
    ('key = "brain.connections[1].weight_nS"', 'key = "brain.connections[1].weight"',
     "assimilation.parameters[0].key"),
    ('key = "brain.poisson[0].rate_Hz"', 'key = "brain.poisson[7].rate_Hz"',
     "assimilation.parameters[1].key"),
    ("prior_sd = 0.15", "prior_sd = -0.15", "assimilation.parameters[1].prior_sd"),
    ("lower = 0.05", "lower = 0.0", "assimilation.parameters[0].lower"),
    ('transform = "log"\nregions', 'transform = "sqrt"\nregions',
     "assimilation.parameters[0].transform"),
    ("upper = 5.0", "upper = 0.5", "assimilation.parameters[0].prior_mean"),
    # the scene refuses a negative weight at the lower bound
    ('lower = 0.05\nupper = 5.0\ntransform = "log"', 'lower = -1.0\nupper = 5.0\ntransform = "none"',
     "assimilation.parameters[0].lower"),
]


@pytest.mark.parametrize("old,new,key", BAD)
def test_bad_assimilation_section_is_an_error_naming_file_and_key(tmp_path, old, new, key):
    path = _scene_copy(tmp_path, **{old: new})
    with pytest.raises(SceneError) as e:
        load_assimilation(path)
    assert e.value.key == key and str(path) in str(e.value)


def test_cli_refuses_bad_input_before_any_work(tmp_path, twin):
    path = _scene_copy(tmp_path, **{"inflation = 1.05 ": "inflaton = 1.05 "})
    res = cosim("assimilate", path, "--observations", twin / "obs.h5", "--members", 4,
                "--window", 200, "-o", tmp_path / "a.h5")
    assert res.returncode == 2 and "assimilation.inflaton: unknown key; did you mean " \
        "'inflation'?" in res.stderr
    res = cosim("assimilate", "enkf_cortex", "--observations", twin / "obs.h5", "--members",
                4, "--window", 150, "-o", tmp_path / "a.h5")
    assert res.returncode == 2 and "--window 150" in res.stderr
    res = cosim("assimilate", "enkf_cortex", "--observations", twin / "obs.h5", "--members",
                4, "--window", 200, "--brain-ranks-per-member", 2, "--ranks", 3, "-o",
                tmp_path / "a.h5")
    assert res.returncode == 2 and "needs --ranks R, a multiple of 2" in res.stderr
    assert not (tmp_path / "a.h5").exists()


# -------------------------------------------------------------------- members, twin

def test_member_with_the_true_values_and_seed_reproduces_the_recording(twin):
    """Rebuild + set_state continues exactly, and the operator is the recording's."""
    p = setup("enkf_cortex", twin / "obs.h5", 4, 200.0)
    state = None
    with mock.patch.object(members, "member_seed", lambda seed, m: p.scene.run.seed):
        for w in range(3):
            y, state = members.advance_member(p.scene, p.params, 0, [0.8, 4000.0], state,
                                              *p.window(w), p.obs.names, p.obs.bin_ms)
            np.testing.assert_array_equal(y, p.obs.window(*p.window(w))[0])
    assert state["step"] == 6000


def test_non_finite_member_is_reported_by_name(twin):
    p = setup("enkf_cortex", twin / "obs.h5", 4, 200.0)
    _, state = members.advance_member(p.scene, p.params, 3, [0.6, 5000.0], None,
                                      *p.window(0), p.obs.names, p.obs.bin_ms)
    state["v_mV"][17] = np.nan
    with pytest.raises(SimulationFault, match=r"member 3 \(w_L23E_FS=0\.6, drive_E_Hz=5000\)"
                                              r".*non-finite"):
        members.advance_member(p.scene, p.params, 3, [0.6, 5000.0], state, *p.window(1),
                               p.obs.names, p.obs.bin_ms)


def test_reduced_twin_recovers_both_hidden_parameters(twin, tmp_path):
    """16 members, 10 windows of 200 ms: both values within 10 %, spread down >= 2x."""
    p = setup("enkf_cortex", twin / "obs.h5", 16, 200.0)
    res = run(p, tmp_path / "twin.h5")
    with h5py.File(tmp_path / "twin.h5") as f:
        names = [n.decode() for n in f["parameters/names"][()]]
        mean, sd = f["parameters/mean"][()], f["parameters/sd"][()]
        assert f["parameters/members"].shape == (11, 16, 2)
        assert f["observations/predicted"].shape == (10, 16, 2 * 13)
    for i, n in enumerate(names):
        err = abs(mean[-1, i] / TRUE[n] - 1)
        assert err < 0.10, (n, mean[-1, i], TRUE[n])
        assert sd[0, i] / sd[-1, i] >= 2.0, (n, sd[0, i], sd[-1, i])
        # it moved towards the truth from a prior mean 1.4x / 0.8x off
        assert err < abs(mean[0, i] / TRUE[n] - 1)
    assert res["nis"].shape == (10,) and np.all(np.isfinite(res["nis"]))
    from cosim.report.assimilation import write_assimilation_report
    page = write_assimilation_report(tmp_path / "twin.h5", tmp_path / "report")
    assert "w_L23E_FS" in page.read_text()
    for png in ("parameters.png", "fit.png", "innovations.png"):
        assert (tmp_path / "report" / png).stat().st_size > 10_000


# ------------------------------------------------------------------------------- MPI

@pytest.mark.mpi
def test_same_trajectory_embedded_and_on_2_to_4_ranks_and_2_ranks_per_member(twin, tmp_path):
    args = ["enkf_cortex", "--observations", twin / "obs.h5", "--members", 5, "--window",
            200, "--no-progress", "--set", "run.duration_ms=600.0"]
    res = cosim("assimilate", *args, "-o", tmp_path / "emb.h5")
    assert res.returncode == 0, res.stderr
    with h5py.File(tmp_path / "emb.h5") as f:
        ref = f["parameters/members"][()]
        ref_y = f["observations/predicted"][()]
    assert ref.shape == (4, 5, 2)      # 3 windows of 200 ms
    # (ranks, brain ranks per member): members on one rank each, or spread over 2 ranks
    for ranks, per in ((2, 1), (3, 1), (2, 2), (4, 2)):
        out = tmp_path / f"mpi{ranks}_{per}.h5"
        res = cosim("assimilate", *args, "--ranks", ranks, "--brain-ranks-per-member", per,
                    "-o", out, timeout=600)
        assert res.returncode == 0, res.stderr
        with h5py.File(out) as f:
            np.testing.assert_array_equal(f["parameters/members"][()], ref)
            np.testing.assert_array_equal(f["observations/predicted"][()], ref_y)
            assert f.attrs["n_ranks"] == ranks and f.attrs["mode"] == "mpi"


@pytest.mark.mpi
def test_a_failing_member_aborts_the_mpi_job_with_its_message(twin, tmp_path):
    """A threshold prior with no bounds lets some member fall below V_reset: the rank
    that holds it names the member, and the whole job ends (no hang)."""
    path = _scene_copy(tmp_path, **{
        'key = "brain.poisson[0].rate_Hz"\nprior_mean = 5000.0\nprior_sd = 0.15\n'
        'lower = 1000.0\nupper = 10000.0\ntransform = "log"':
        'key = "brain.cell_types.L23_E.V_th_mV"\nprior_mean = -50.0\nprior_sd = 12.0'})
    res = cosim("assimilate", path, "--observations", twin / "obs.h5", "--members", 8,
                "--window", 200, "--ranks", 2, "-o", tmp_path / "fail.h5", timeout=300)
    assert res.returncode != 0
    assert "(assimilate): " in res.stderr and "member " in res.stderr
    assert "V_reset_mV" in res.stderr and "must be < V_th_mV" in res.stderr
    assert not (tmp_path / "fail.h5").exists()


@pytest.mark.mpi
def test_state_update_moves_potentials_and_is_the_same_on_any_rank_layout(twin, tmp_path):
    """``update_state = true``: every cell's potential joins the update; the numbers do not
    depend on how members and their cells are spread over ranks."""
    path = _scene_copy(tmp_path, **{"localise = true ": "update_state = true\nlocalise = true "})
    args = [path, "--observations", twin / "obs.h5", "--members", 5, "--window", 200,
            "--no-progress", "--set", "run.duration_ms=600.0"]
    runs = {}
    for label, extra in (("emb", []), ("r2", ["--ranks", 2]),
                         ("r2x2", ["--ranks", 2, "--brain-ranks-per-member", 2])):
        res = cosim("assimilate", *args, *extra, "-o", tmp_path / f"{label}.h5")
        assert res.returncode == 0, res.stderr
        with h5py.File(tmp_path / f"{label}.h5") as f:
            runs[label] = (f["parameters/members"][()], f["observations/predicted"][()],
                           f["state/v_shift_mV"][()])
    for label in ("r2", "r2x2"):
        for a, b in zip(runs["emb"], runs[label]):
            np.testing.assert_array_equal(a, b)
    shift = runs["emb"][2]
    assert shift.shape == (3,) and np.all(shift > 0.0) and np.all(shift < 20.0), shift
    # the moved potentials change what the members predict next (vs parameters only)
    res = cosim("assimilate", "enkf_cortex", *args[1:], "-o", tmp_path / "params_only.h5")
    assert res.returncode == 0, res.stderr
    with h5py.File(tmp_path / "params_only.h5") as f:
        pred = f["observations/predicted"][()]
        assert "state" not in f
    np.testing.assert_array_equal(pred[0], runs["emb"][1][0])     # same first forecast
    assert not np.array_equal(pred[1:], runs["emb"][1][1:])
