"""Muscle normalisation (checked against MuJoCo's own muscle curves) and afferent rates."""

import mujoco
import numpy as np
import pytest

from body import AFFERENT_TYPES, AfferentParams, Body, BodyParams, MuscleSense, afferent_rates_Hz
from body import muscles


def _sense(length, velocity, force) -> MuscleSense:
    return MuscleSense(
        length_norm=np.asarray(length, float),
        velocity_norm=np.asarray(velocity, float),
        force_norm=np.asarray(force, float),
    )


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize("which", ["forelimb", "tiny_arm"])
def test_normalisation_matches_mujocos_muscle_gain(which, forelimb, tiny_arm_path):
    """At normalised length 1 and velocity 0 MuJoCo's active force is exactly -F0, and at
    velocity -1 (shortening at vmax) it is 0: so L0, vmax and F0 are read as MuJoCo reads them."""
    body = forelimb if which == "forelimb" else Body(BodyParams(mjcf_path=str(tiny_arm_path)))
    m = body.model
    ids = np.flatnonzero(m.actuator_gaintype == mujoco.mjtGain.mjGAIN_MUSCLE)
    L0 = muscles.optimal_length_m(m, ids)
    F0 = muscles.peak_force_N(m, ids)
    for k, i in enumerate(ids):
        lr, prm = m.actuator_lengthrange[i], m.actuator_gainprm[i, :9]
        optimal = lr[0] + (1.0 - prm[0]) * L0[k]
        gain = mujoco.mju_muscleGain(optimal, 0.0, lr, m.actuator_acc0[i], prm)
        assert gain == pytest.approx(-F0[k], rel=1e-9)
        vmax = prm[6]
        assert mujoco.mju_muscleGain(optimal, -L0[k] * vmax, lr, m.actuator_acc0[i], prm) == (
            pytest.approx(0.0, abs=1e-12)
        )


def test_normalised_length_spans_the_operating_range_over_the_lengthrange(forelimb):
    m, d = forelimb.model, forelimb.data
    ids = np.arange(m.nu)
    saved = d.actuator_length.copy()
    for end in (0, 1):
        d.actuator_length[:] = m.actuator_lengthrange[:, end]
        np.testing.assert_allclose(
            muscles.normalised_length(m, d, ids), m.actuator_gainprm[:, end], rtol=1e-12
        )
    d.actuator_length[:] = saved


def test_sense_of_the_settled_forelimb(forelimb):
    sense = forelimb.proprioception()
    assert sense.n_muscles == forelimb.n_muscles
    assert np.all((sense.length_norm > 0.7) & (sense.length_norm < 1.1))
    assert np.abs(sense.velocity_norm).max() < 1e-3  # settled
    assert np.all(sense.force_norm >= 0) and sense.force_norm.max() < 0.05  # idle


def _set_joint(body: Body, joint: str, angle_deg: float) -> None:
    body.data.qpos[body.model.joint(joint).qposadr[0]] = np.radians(angle_deg)
    mujoco.mj_forward(body.model, body.data)


def test_stretching_a_muscle_raises_its_length_and_spindle_rates(forelimb):
    triceps = forelimb.muscle_names.index("triceps_lateral")
    params = AfferentParams()
    _set_joint(forelimb, "elbow_flex", 0.0)
    short = forelimb.proprioception()
    _set_joint(forelimb, "elbow_flex", 60.0)  # flexing the elbow stretches the triceps
    long = forelimb.proprioception()
    assert long.length_norm[triceps] > short.length_norm[triceps] + 0.05
    before, after = afferent_rates_Hz(short, params), afferent_rates_Hz(long, params)
    assert after[triceps, 0] > before[triceps, 0]  # Ia
    assert after[triceps, 1] > before[triceps, 1]  # II


def test_lengthening_velocity_raises_ia(forelimb):
    triceps = forelimb.muscle_names.index("triceps_lateral")
    u = np.zeros(forelimb.n_muscles)
    u[forelimb.muscle_names.index("biceps")] = 1.0
    forelimb.step(u, 0.02)  # the elbow flexes, so the triceps lengthens
    sense = forelimb.proprioception()
    assert sense.velocity_norm[triceps] > 0.01
    still = _sense(sense.length_norm, np.zeros(forelimb.n_muscles), sense.force_norm)
    params = AfferentParams()
    moving_ia = afferent_rates_Hz(sense, params)[triceps, 0]
    assert moving_ia > afferent_rates_Hz(still, params)[triceps, 0]


def test_more_force_raises_ib(forelimb):
    biceps = forelimb.muscle_names.index("biceps")
    ib = []
    for level in (0.2, 0.8):
        forelimb.reset()
        u = np.zeros(forelimb.n_muscles)
        u[biceps] = level
        forelimb.step(u, 0.05)
        sense = forelimb.proprioception()
        ib.append((sense.force_norm[biceps], afferent_rates_Hz(sense, AfferentParams())[biceps, 2]))
    assert ib[1][0] > ib[0][0] > 0
    assert ib[1][1] > ib[0][1] > 0


# ---------------------------------------------------------------- afferent model


def test_afferent_types_and_shape():
    assert AFFERENT_TYPES == ("Ia", "II", "Ib")
    rates = afferent_rates_Hz(_sense([1.0, 0.9, 1.02], [0.0, 0.1, -0.1], [0, 0.5, 1]),
                              AfferentParams())
    assert rates.shape == (3, 3) and rates.dtype == np.float64


def test_rates_follow_the_formula_at_rest_and_with_velocity():
    p = AfferentParams()
    rates = afferent_rates_Hz(_sense([1.0, 1.0], [0.0, 0.2], [0.0, 0.3]), p)
    np.testing.assert_allclose(rates[0], [p.r0_Ia_Hz, p.r0_II_Hz, p.r0_Ib_Hz])
    expected_ia = p.r0_Ia_Hz + p.k_velocity_Ia_Hz * 0.2**p.velocity_exponent
    expected_ib = p.r0_Ib_Hz + p.k_force_Ib_Hz * 0.3
    np.testing.assert_allclose(rates[1], [expected_ia, p.r0_II_Hz, expected_ib])


def test_rates_are_monotonic_in_length_velocity_and_force():
    p = AfferentParams()
    grid = np.linspace(0.7, 1.1, 9)
    by_length = afferent_rates_Hz(_sense(grid, np.zeros(9), np.zeros(9)), p)
    assert np.all(np.diff(by_length[:, 0]) >= 0) and np.all(np.diff(by_length[:, 1]) >= 0)
    assert np.diff(by_length[:, 0]).sum() > 0 and np.diff(by_length[:, 1]).sum() > 0
    v = np.linspace(-0.5, 0.5, 11)
    by_velocity = afferent_rates_Hz(_sense(np.ones(11), v, np.zeros(11)), p)
    assert np.all(np.diff(by_velocity[:, 0]) >= 0)  # flat only where clipped at 0
    assert np.all(np.diff(by_velocity[4:, 0]) > 0)
    np.testing.assert_array_equal(by_velocity[:, 1], p.r0_II_Hz)  # II ignores velocity
    f = np.linspace(0, 1.2, 7)
    by_force = afferent_rates_Hz(_sense(np.ones(7), np.zeros(7), f), p)
    assert np.all(np.diff(by_force[:, 2]) > 0)


def test_rates_are_clipped_to_zero_and_the_ceiling():
    p = AfferentParams(max_rate_Hz=100.0)
    rates = afferent_rates_Hz(_sense([0.0, 5.0], [-10.0, 10.0], [-1.0, 10.0]), p)
    np.testing.assert_array_equal(rates[0], 0.0)
    np.testing.assert_array_equal(rates[1], 100.0)


def test_muscle_sense_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"equal length.*\(3,\), \(2,\), \(3,\)"):
        _sense(np.ones(3), np.ones(2), np.ones(3))


@pytest.mark.parametrize(
    "field, value",
    [("max_rate_Hz", 0.0), ("max_rate_Hz", float("nan")), ("r0_Ia_Hz", float("inf")),
     ("velocity_exponent", -0.6), ("k_force_Ib_Hz", float("nan"))],
)
def test_afferent_params_validation(field, value):
    with pytest.raises(ValueError, match=rf"AfferentParams\.{field} = {value!r}"):
        AfferentParams(**{field: value})
