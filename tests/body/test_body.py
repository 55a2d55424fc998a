"""Body: generic loading, stepping, state readouts, determinism, errors, rendering."""

import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from body import Body, BodyParams, load_model
from body.render import render_frame


def _params(path, **kw) -> BodyParams:
    return BodyParams(mjcf_path=str(path), **kw)


# ---------------------------------------------------------------- generic muscle models


def test_any_muscle_mjcf_loads_with_its_own_muscle_names(tiny_arm_path):
    body = Body(_params(tiny_arm_path, end_effector="tip"))
    assert body.muscle_names == ("flexor_a", "extensor_b")
    assert body.n_muscles == 2
    assert body.joint_names == ("hinge",)
    assert body.timestep_s == 5e-4
    body.step(np.array([1.0, 0.0]), 0.05)
    state = body.state()
    assert state.force_N[0] > 0 and state.activation[0] > 0
    assert state.qpos[0] > 0  # the front muscle flexes the hinge (axis -y)
    motor = body.model.actuator("torque_motor").id
    assert body.data.ctrl[motor] == 0.0  # non-muscle actuators are not ours to drive
    assert body.end_effector_position_m().shape == (3,)


def test_peak_force_is_resolved_when_force_is_left_to_scale(tiny_arm_path):
    body = Body(_params(tiny_arm_path))
    m = body.model
    extensor = m.actuator("extensor_b").id
    assert m.actuator_gainprm[extensor, 2] == -1  # MuJoCo keeps -1; F0 = scale / acc0
    np.testing.assert_allclose(
        body.peak_force_N, [2.0, 50.0 / m.actuator_acc0[extensor]], rtol=1e-12
    )


def test_timestep_override_and_whole_step_durations(tiny_arm_path):
    body = Body(_params(tiny_arm_path, timestep_s=2.5e-4, settle_s=0.0))
    assert body.timestep_s == 2.5e-4 and body.model.opt.timestep == 2.5e-4
    body.step(np.zeros(2), 1e-3)
    assert body.state().time_s == pytest.approx(1e-3, rel=1e-12)
    body.step(np.zeros(2), 0.003)  # 12 steps; 0.003 / 2.5e-4 is not exact in binary
    assert body.state().time_s == pytest.approx(4e-3, rel=1e-12)


def test_rest_keyframe_is_the_settling_start(tiny_arm_path, tmp_path):
    xml = tiny_arm_path.read_text().replace(
        "</mujoco>", '<keyframe><key name="rest" qpos="0.5"/></keyframe></mujoco>'
    )
    path = tmp_path / "keyed.xml"
    path.write_text(xml)
    body = Body(_params(path, settle_s=0.0))
    assert body.state().qpos[0] == 0.5


# ---------------------------------------------------------------- state and readouts


def test_state_shapes_units_and_clipping(forelimb):
    n = forelimb.n_muscles
    u = np.full(n, 0.3)
    u[0], u[1] = 1.7, -0.2
    forelimb.step(u, 0.05)
    s = forelimb.state()
    assert s.time_s == pytest.approx(0.05)
    assert s.qpos.shape == (forelimb.model.nq,) and s.qvel.shape == (forelimb.model.nv,)
    for name in ("excitation", "activation", "force_N", "length_m", "velocity_m_per_s"):
        assert getattr(s, name).shape == (n,) and getattr(s, name).dtype == np.float64
    assert s.excitation[0] == 1.0 and s.excitation[1] == 0.0
    assert np.all((s.activation >= 0) & (s.activation <= 1))
    assert np.all(s.force_N >= 0) and s.force_N[0] > 0.01
    assert np.all((s.length_m > 0.001) & (s.length_m < 0.03))
    s.qpos[:] = 99.0  # a copy: the simulation is untouched
    assert np.all(forelimb.data.qpos != 99.0)


def test_end_effector_is_the_paw_site(forelimb):
    pos = forelimb.end_effector_position_m()
    np.testing.assert_array_equal(pos, forelimb.data.site_xpos[forelimb.model.site("paw").id])
    assert 0.015 < np.linalg.norm(pos) < 0.035


def test_missing_end_effector_lists_sites_and_bodies(forelimb_path):
    body = Body(_params(forelimb_path, end_effector="hand"))
    with pytest.raises(ValueError, match=r"'hand'.*sites: \[.*'paw'.*bodies: \[.*'forearm'"):
        body.end_effector_position_m()


# ---------------------------------------------------------------- determinism


def _run(body: Body, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    qpos, force = [], []
    for _ in range(50):
        body.step(rng.uniform(0, 1, body.n_muscles) * (rng.uniform() < 0.7), 0.004)
        qpos.append(body.state().qpos)
        force.append(body.state().force_N)
    return np.array(qpos), np.array(force)


def test_same_excitation_gives_bit_identical_trajectories(forelimb_path):
    first, second = Body(_params(forelimb_path)), Body(_params(forelimb_path))
    np.testing.assert_array_equal(first.state().qpos, second.state().qpos)
    a = _run(first, seed=7)
    b = _run(second, seed=7)
    first.reset()
    c = _run(first, seed=7)
    for x, y, z in zip(a, b, c):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    assert not np.array_equal(a[0], _run(second, seed=8)[0])


def test_reset_restores_the_settled_state_at_time_zero(forelimb):
    initial = forelimb.state()
    forelimb.step(np.ones(forelimb.n_muscles), 0.1)
    forelimb.reset()
    again = forelimb.state()
    assert again.time_s == 0.0
    for name in ("qpos", "qvel", "excitation", "activation", "force_N", "length_m"):
        np.testing.assert_array_equal(getattr(again, name), getattr(initial, name))


def test_rest_excitation_is_held_while_settling(forelimb_path):
    rest = np.full(10, 0.1)
    body = Body(_params(forelimb_path), rest_excitation=rest)
    s = body.state()
    np.testing.assert_array_equal(s.excitation, rest)
    np.testing.assert_allclose(s.activation, rest, rtol=1e-3)


def test_seeded_initial_noise(forelimb_path):
    body = Body(_params(forelimb_path, init_qpos_noise=0.05))
    body.reset(seed=1)
    a = body.state().qpos
    body.reset(seed=1)
    np.testing.assert_array_equal(body.state().qpos, a)
    body.reset(seed=2)
    assert not np.array_equal(body.state().qpos, a)
    lo, hi = body.model.jnt_range.T
    assert np.all((a >= lo) & (a <= hi))


# ---------------------------------------------------------------- errors

NO_MUSCLE_XML = """<mujoco><worldbody><body><joint name="j" type="hinge"/>
<geom size="0.01" mass="0.01"/></body></worldbody>
<actuator><motor name="m" joint="j"/></actuator></mujoco>"""


@pytest.mark.parametrize(
    "content, error, expected",
    [
        (None, FileNotFoundError, r"MJCF file not found: .*missing\.xml"),
        ("<mujoco><worldbody>", ValueError, r"broken\.xml: MuJoCo could not compile"),
        ("<mujoco><worldbody><geom size='-'/></worldbody></mujoco>", ValueError, "broken.xml"),
        (NO_MUSCLE_XML, ValueError, r"broken\.xml: .*no muscle actuators.*<muscle>"),
    ],
    ids=["missing", "bad-xml", "bad-attribute", "no-muscles"],
)
def test_load_errors_name_the_file(tmp_path, content, error, expected):
    path = tmp_path / ("missing.xml" if content is None else "broken.xml")
    if content is not None:
        path.write_text(content)
    with pytest.raises(error, match=expected):
        load_model(path)
    with pytest.raises(error, match=expected):
        Body(_params(path))


@pytest.mark.parametrize(
    "excitation, expected",
    [
        (np.zeros(9), r"expected shape \(10,\).*got shape \(9,\)"),
        (np.zeros((10, 1)), r"expected shape \(10,\).*got shape \(10, 1\)"),
        (np.full(10, np.nan), "must be finite"),
    ],
)
def test_bad_excitation(forelimb, excitation, expected):
    with pytest.raises(ValueError, match=expected):
        forelimb.step(excitation, 0.001)
    assert forelimb.state().time_s == 0.0  # nothing was stepped


def test_bad_rest_excitation(forelimb_path):
    with pytest.raises(ValueError, match=r"rest_excitation: expected shape \(10,\)"):
        Body(_params(forelimb_path), rest_excitation=np.zeros(3))


@pytest.mark.parametrize("duration_s", [0.0, -0.001, float("nan"), float("inf"), 0.0015, 1e-4])
def test_bad_duration(forelimb, duration_s):
    with pytest.raises(ValueError, match="duration_s"):
        forelimb.step(np.zeros(forelimb.n_muscles), duration_s)


@pytest.mark.parametrize(
    "field, value",
    [
        ("timestep_s", 0.0),
        ("timestep_s", float("nan")),
        ("settle_s", -1.0),
        ("settle_s", float("nan")),
        ("end_effector", ""),
        ("init_qpos_noise", -0.1),
        ("mjcf_path", ""),
    ],
)
def test_body_params_validation_names_field_and_value(field, value):
    kw = {"mjcf_path": "x.xml", field: value}
    with pytest.raises(ValueError, match=re.escape(f"BodyParams.{field} = {value!r}")):
        BodyParams(**kw)


def test_body_params_are_keyword_only_and_frozen():
    with pytest.raises(TypeError):
        BodyParams("x.xml")  # type: ignore[misc]
    params = BodyParams(mjcf_path="x.xml")
    with pytest.raises(AttributeError):
        params.settle_s = 1.0  # type: ignore[misc]


def test_body_package_imports_no_other_package():
    code = (
        "import sys, body, body.render; "
        "bad = [m for m in ('brain', 'bridge', 'cosim', 'gymnasium') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- rendering


def test_render_rejects_unknown_camera_and_oversized_frames(forelimb):
    with pytest.raises(ValueError, match=r"camera 'top'.*cameras: \['side'\]"):
        render_frame(forelimb, camera="top")
    with pytest.raises(ValueError, match="offscreen buffer 640x480"):
        render_frame(forelimb, width=4000)


RENDER_SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    from body import Body, BodyParams
    from body.render import render_frame
    body = Body(BodyParams(mjcf_path=sys.argv[1]))
    frame = render_frame(body, width=160, height=120)
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8, (frame.shape, frame.dtype)
    u = np.zeros(body.n_muscles); u[body.muscle_names.index("biceps")] = 1.0
    body.step(u, 0.2)
    moved = render_frame(body, width=160, height=120)
    print("OK", float(frame.std()), int(np.abs(moved.astype(int) - frame).sum()))
    """
)


# a missing backend fails either in our wrapper or while mujoco/PyOpenGL import their GL library
GL_MARKERS = ("cannot render", "OpenGL", "EGL", "OSMesa", "osmesa", "glGetError", "mjr_makeContext")


def _render_in_subprocess(path, backend: str) -> subprocess.CompletedProcess:
    # MuJoCo reads MUJOCO_GL when it first sets up GL, so each backend needs a fresh process
    env = {**os.environ, "MUJOCO_GL": backend}
    if backend == "osmesa":
        env["PYOPENGL_PLATFORM"] = "osmesa"
    return subprocess.run(
        [sys.executable, "-c", RENDER_SCRIPT, str(path)],
        env=env, capture_output=True, text=True, timeout=120,
    )


@pytest.mark.render
def test_render_frame_with_a_headless_backend(forelimb_path):
    failures = []
    for backend in ("egl", "osmesa"):
        result = _render_in_subprocess(forelimb_path, backend)
        if result.returncode == 0 and result.stdout.startswith("OK"):
            _, std, changed = result.stdout.split()
            assert float(std) > 5.0  # not a blank frame
            assert int(changed) > 0  # the limb moved in the picture
            return
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        if "AssertionError" in result.stderr or not any(m in result.stderr for m in GL_MARKERS):
            pytest.fail(f"MUJOCO_GL={backend}: unexpected failure:\n{result.stderr}")
        failures.append(f"MUJOCO_GL={backend}: {last}")
    pytest.skip("no OpenGL backend: " + " | ".join(failures))


@pytest.mark.render
def test_render_without_gl_says_how_to_get_one(forelimb_path):
    code = (
        "from body import Body, BodyParams; from body.render import render_frame; "
        f"render_frame(Body(BodyParams(mjcf_path={str(forelimb_path)!r})))"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["MUJOCO_GL"] = "glfw"  # needs a display, which a headless test machine lacks
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    if result.returncode == 0:
        pytest.skip("a display is available, so glfw rendering works here")
    assert "RuntimeError" in result.stderr
    assert "MUJOCO_GL=egl" in result.stderr and "libosmesa6" in result.stderr
