"""The shipped mouse forelimb (scenes/forelimb.xml): anatomy and basic muscle behaviour."""

from pathlib import Path

import mujoco
import numpy as np
import pytest

from body import Body, load_model
from body.model import muscle_indices

# muscle -> (joint it mainly moves, expected sign of the movement, minimum |movement| in degrees)
PRIME_MOVERS = [
    ("biceps", "elbow_flex", +1, 10.0),
    ("brachialis", "elbow_flex", +1, 10.0),
    ("triceps_lateral", "elbow_flex", -1, 10.0),
    ("triceps_long", "elbow_flex", -1, 10.0),
    ("pectoralis", "shoulder_flex", +1, 5.0),
    ("latissimus", "shoulder_flex", -1, 5.0),
    ("deltoid_posterior", "shoulder_flex", -1, 5.0),
    ("wrist_flexor", "wrist_flex", +1, 5.0),
    ("wrist_extensor", "wrist_flex", -1, 5.0),
]


FORELIMB_XML = Path(__file__).resolve().parents[2] / "scenes" / "forelimb.xml"


@pytest.fixture(scope="module")
def model():
    return load_model(FORELIMB_XML)


def _joint_angle_deg(body: Body, joint: str) -> float:
    return float(np.degrees(body.data.qpos[body.model.joint(joint).qposadr[0]]))


def test_has_at_least_eight_muscles_all_on_spatial_tendons(model):
    ids = muscle_indices(model)
    assert len(ids) >= 8
    assert len(ids) == model.nu
    for i in ids:
        assert model.actuator_trntype[i] == mujoco.mjtTrn.mjTRN_TENDON
        tendon = model.actuator_trnid[i, 0]
        adr, num = model.tendon_adr[tendon], model.tendon_num[tendon]
        wraps = model.wrap_type[adr : adr + num]
        # a fixed tendon is made of joint wraps; a spatial one of sites (and wrapping geoms)
        assert mujoco.mjtWrap.mjWRAP_JOINT not in wraps
        assert np.sum(wraps == mujoco.mjtWrap.mjWRAP_SITE) >= 2


def test_muscle_forces_and_lengthranges_are_mouse_sized(model):
    F0 = model.actuator_gainprm[:, 2]
    assert np.all((F0 >= 0.05) & (F0 <= 0.5))
    lengthrange = model.actuator_lengthrange
    assert np.all(lengthrange[:, 0] > 0)
    assert np.all(lengthrange[:, 1] - lengthrange[:, 0] > 1e-4)
    assert np.all(lengthrange[:, 1] < 0.03)


def test_joints_are_limited_hinges(model):
    names = {model.joint(j).name for j in range(model.njnt)}
    assert {"shoulder_flex", "elbow_flex", "wrist_flex"} <= names
    assert np.all(model.jnt_type == mujoco.mjtJoint.mjJNT_HINGE)
    assert np.all(model.jnt_limited)
    assert np.all(model.jnt_range[:, 1] > model.jnt_range[:, 0])
    assert np.all(model.dof_damping > 0) and np.all(model.dof_armature > 0)


def test_paw_site_camera_gravity_and_timestep(model):
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "paw") >= 0
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, "side") >= 0
    np.testing.assert_array_equal(model.opt.gravity, [0.0, 0.0, -9.81])
    assert model.opt.timestep in (1e-3, 5e-4, 2.5e-4, 2e-4, 1e-4)


def test_limb_mass_and_segment_lengths(model):
    moving = model.body_weldid != 0  # bodies not welded to the world
    assert 0.5e-3 <= model.body_mass[moving].sum() <= 2e-3
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    shoulder, elbow, wrist = (data.xpos[model.body(b).id] for b in ("humerus", "forearm", "paw"))
    assert 0.010 <= np.linalg.norm(elbow - shoulder) <= 0.012
    assert 0.012 <= np.linalg.norm(wrist - elbow) <= 0.014
    paw = data.site_xpos[model.site("paw").id]
    assert 0.003 <= np.linalg.norm(paw - wrist) <= 0.008


@pytest.mark.parametrize("muscle, joint, sign", [(m, j, s) for m, j, s, _ in PRIME_MOVERS])
def test_moment_arm_sign_at_the_standing_posture(model, muscle, joint, sign):
    data = mujoco.MjData(model)
    i, adr = model.actuator(muscle).id, model.joint(joint).qposadr[0]

    def length(delta):
        data.qpos[:] = 0.0
        data.qpos[adr] = delta
        mujoco.mj_forward(model, data)
        return data.actuator_length[i]

    moment_arm_m = -(length(1e-4) - length(-1e-4)) / 2e-4
    assert sign * moment_arm_m > 0.3e-3


def test_rest_state_is_still_with_zero_excitation(forelimb):
    q0 = forelimb.state().qpos
    forelimb.step(np.zeros(forelimb.n_muscles), 1.0)
    moved_deg = np.degrees(np.abs(forelimb.state().qpos - q0))
    assert moved_deg.max() < 1.0


@pytest.mark.parametrize("muscle, joint, sign, min_deg", PRIME_MOVERS)
def test_one_muscle_at_half_excitation_moves_its_joint(forelimb, muscle, joint, sign, min_deg):
    u = np.zeros(forelimb.n_muscles)
    u[forelimb.muscle_names.index(muscle)] = 0.5
    before = _joint_angle_deg(forelimb, joint)
    forelimb.step(u, 0.3)
    assert sign * (_joint_angle_deg(forelimb, joint) - before) > min_deg


def test_all_muscles_fully_excited_for_one_second_stay_finite_and_in_range(forelimb):
    forelimb.step(np.ones(forelimb.n_muscles), 1.0)
    state = forelimb.state()
    assert np.all(np.isfinite(state.qpos)) and np.all(np.isfinite(state.qvel))
    assert np.all(np.isfinite(state.force_N))
    lo, hi = forelimb.model.jnt_range.T
    margin = np.radians(2.0)  # joint limits are soft constraints
    assert np.all((state.qpos >= lo - margin) & (state.qpos <= hi + margin))
    assert np.abs(state.qvel).max() < 1.0  # co-contraction holds the limb still
