"""ForelimbReach-v0: the body alone, driven by muscle excitations, reaches for a target."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from body import Body, BodyParams
from body.model import joint_indices, muscle_indices
from cosim.scene import SCENES_DIR

from .params import ReachParams, arguments_table, make_params
from .workspace import reachable_positions_m

__all__ = ["ForelimbReachEnv", "DEFAULT_MJCF"]

DEFAULT_MJCF = SCENES_DIR / "forelimb.xml"
_RESET_OPTIONS = ("target_m",)


class ForelimbReachEnv(gym.Env):
    """Reach a target with the paw of a muscle-driven forelimb (the body alone).

    ## Description
    The mouse forelimb of ``scenes/forelimb.xml`` (shoulder flexion and adduction, elbow,
    wrist; 10 muscles on spatial tendons), or any MJCF whose actuators are MuJoCo muscles,
    must bring its end effector (a site or body, ``"paw"`` by default) to a target and hold
    it there. This is the baseline of ``cosim/BrainForelimbReach-v0``, where the same limb is
    moved by a spiking brain model instead. The env wraps the plain `body.Body`; one env
    step is ``control_interval_ms`` (10 ms: 10 MuJoCo steps of the forelimb's 1 ms).

    ## Action Space
    ``Box(0, 1, (n_muscles,), float32)``: the excitation of each muscle, in the model's
    muscle order (``env.unwrapped.muscle_names``), held for one env step. Values outside
    [0, 1] are clipped by the body.

    ## Observation Space
    ``Box(low, high, (n_obs,), float32)``, in physical units (bounds are infinite except for
    the activations, in [0, 1]); ``observation_layout`` gives
    each block's slice:

    =========================== ========== =====================================
    block                       size       content
    =========================== ========== =====================================
    ``qpos``                    n_joints   hinge (rad) and slide (m) joint positions
    ``qvel``                    n_joints   their velocities (rad/s, m/s)
    ``muscle_length_m``         n_muscles  musculotendon length (m)
    ``muscle_velocity_m_per_s`` n_muscles  musculotendon velocity (m/s), + lengthening
    ``muscle_force_N``          n_muscles  muscle tension (N), + pulling
    ``muscle_activation``       n_muscles  activation, unitless in [0, 1]
    ``end_effector_m``          3          end-effector world position (m)
    ``target_m``                3          target world position (m)
    =========================== ========== =====================================

    For the forelimb n_joints = 4 and n_muscles = 10, so n_obs = 54.

    ## Rewards
    ``reward = distance + effort`` with ``distance = -distance_weight_per_m * |paw - target|``
    (m) and ``effort = -effort_weight * mean(excitation ** 2)``. ``_reward`` returns the total
    and the terms; ``info`` carries them as ``reward_distance`` and ``reward_effort``.

    ## Starting State
    The body's settled rest state (zero excitation) with Gaussian noise of standard
    deviation ``init_qpos_noise`` on every joint position. The target is drawn uniformly
    from ``workspace_samples`` positions that the model reaches and holds under random
    constant excitations (sampled once per model with ``workspace_seed``, cached per
    process), or set by ``reset(options={"target_m": xyz})``. ``reset(seed=...)`` fixes
    both, so the episode is fully determined by the seed and the actions.

    ## Episode End
    ``terminated`` when the end effector has stayed within ``target_tolerance_m`` of the
    target for ``hold_ms`` (checked at the end of each env step); ``truncated`` after
    ``episode_ms``.

    ## Info
    ``distance_m``, ``on_target``, ``time_s``, ``end_effector_m``, ``target_m``, the reward
    terms, and the raw per-muscle arrays ``excitation``, ``activation``, ``force_N``,
    ``length_m``, ``velocity_m_per_s`` (float64[n_muscles], model muscle order).

    ## Arguments
    ``gymnasium.make("cosim/ForelimbReach-v0", model_path=None, end_effector="paw",
    render_mode=None, **options)``: ``model_path`` is an MJCF with muscle actuators (default
    the shipped forelimb), ``end_effector`` the name of one of its sites or bodies,
    ``render_mode`` None or ``"rgb_array"`` (offscreen MuJoCo; on a headless machine set
    ``MUJOCO_GL=egl`` or ``osmesa`` before Python imports mujoco). The options and their
    defaults:

    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 100}

    def __init__(self, model_path: str | os.PathLike[str] | None = None,
                 end_effector: str = "paw", render_mode: str | None = None, **options) -> None:
        params = make_params(ReachParams, options)
        path = os.fspath(model_path) if model_path is not None else str(DEFAULT_MJCF)
        body = Body(BodyParams(mjcf_path=path, end_effector=end_effector,
                               init_qpos_noise=params.init_qpos_noise))
        self._setup(body, params, render_mode)
        self.action_space = spaces.Box(0.0, 1.0, (body.n_muscles,), np.float32)

    def _setup(self, body: Body, params: ReachParams, render_mode: str | None) -> None:
        """Task set-up shared with the brain env: body read-outs, layout, workspace."""
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode = {render_mode!r}: must be None or 'rgb_array'")
        self.render_mode = render_mode
        self.params, self.body = params, body
        self.muscle_names, self.joint_names = body.muscle_names, body.joint_names
        self.interval_s = params.control_interval_ms * 1e-3
        _check_multiple("control_interval_ms", params.control_interval_ms,
                        "the body timestep", body.timestep_s * 1e3)
        self.metadata = {**self.metadata, "render_fps": 1000.0 / params.control_interval_ms}
        m = body.model
        joints = joint_indices(m)
        self._qpos_adr, self._qvel_adr = m.jnt_qposadr[joints], m.jnt_dofadr[joints]
        self._muscle_ids = muscle_indices(m)
        self._act_adr = m.actuator_actadr[self._muscle_ids]
        body.end_effector_position_m()  # fails now, with the names it has, if unknown
        self._workspace_m = reachable_positions_m(
            body, params.workspace_samples, params.workspace_hold_ms * 1e-3,
            params.workspace_seed)
        self.observation_layout = _layout(self._blocks())
        n_obs = max(s.stop for s in self.observation_layout.values())
        low, high = np.full(n_obs, -np.inf, np.float32), np.full(n_obs, np.inf, np.float32)
        for name, (lo, hi) in self._bounds().items():
            low[self.observation_layout[name]], high[self.observation_layout[name]] = lo, hi
        self.observation_space = spaces.Box(low, high, (n_obs,), np.float32)
        self._target_m = self._workspace_m[0].copy()
        self._n_steps, self._on_target = 0, 0

    def _blocks(self) -> list[tuple[str, int]]:
        nj, nm = len(self._qpos_adr), len(self._muscle_ids)
        return [("qpos", nj), ("qvel", nj), ("muscle_length_m", nm),
                ("muscle_velocity_m_per_s", nm), ("muscle_force_N", nm),
                ("muscle_activation", nm), ("end_effector_m", 3), ("target_m", 3)]

    def _bounds(self) -> dict[str, tuple[float, float]]:
        """(low, high) of the blocks with physical bounds; the others are unbounded."""
        return {"muscle_activation": (0.0, 1.0)}

    @property
    def workspace_m(self) -> np.ndarray:
        """The positions targets are drawn from (m); float64[workspace_samples, 3], read-only."""
        return self._workspace_m

    def step(self, action):
        self._advance(action)
        self._n_steps += 1
        paw_m = self.body.end_effector_position_m()
        distance_m = float(np.linalg.norm(paw_m - self._target_m))
        reward, terms = self._reward(distance_m)
        on_target = distance_m <= self.params.target_tolerance_m
        self._on_target = self._on_target + 1 if on_target else 0
        terminated = self._on_target >= self.params.hold_steps
        truncated = not terminated and self._n_steps >= self.params.max_steps
        obs = self._observation(paw_m)
        return obs, reward, terminated, truncated, self._info(paw_m, distance_m, terms)

    def _advance(self, action) -> None:
        """Apply ``action`` for one control interval."""
        self.body.step(action, self.interval_s)

    def _observation(self, paw_m: np.ndarray) -> np.ndarray:
        d, ids, lay = self.body.data, self._muscle_ids, self.observation_layout
        obs = np.empty(self.observation_space.shape, dtype=np.float32)
        obs[lay["qpos"]] = d.qpos[self._qpos_adr]
        obs[lay["qvel"]] = d.qvel[self._qvel_adr]
        obs[lay["muscle_length_m"]] = d.actuator_length[ids]
        obs[lay["muscle_velocity_m_per_s"]] = d.actuator_velocity[ids]
        obs[lay["muscle_force_N"]] = 0.0 - d.actuator_force[ids]  # MuJoCo: < 0 pulling
        obs[lay["muscle_activation"]] = d.act[self._act_adr]
        obs[lay["end_effector_m"]] = paw_m
        obs[lay["target_m"]] = self._target_m
        return obs

    def _reward(self, distance_m: float) -> tuple[float, dict[str, float]]:
        p = self.params
        excitation = self.body.data.ctrl[self._muscle_ids]
        terms = {"distance": -p.distance_weight_per_m * distance_m,
                 "effort": -p.effort_weight * float(excitation @ excitation) / len(excitation)}
        return terms["distance"] + terms["effort"], terms

    def _info(self, paw_m: np.ndarray, distance_m: float, terms: dict[str, float]) -> dict:
        d, ids = self.body.data, self._muscle_ids
        info = {"distance_m": distance_m,
                "on_target": distance_m <= self.params.target_tolerance_m,
                "time_s": float(d.time), "end_effector_m": paw_m,
                "target_m": self._target_m.copy(), "excitation": d.ctrl[ids],
                "activation": d.act[self._act_adr], "force_N": 0.0 - d.actuator_force[ids],
                "length_m": d.actuator_length[ids], "velocity_m_per_s": d.actuator_velocity[ids]}
        info.update({f"reward_{k}": v for k, v in terms.items()})
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - set(_RESET_OPTIONS))
        if unknown:
            raise ValueError(f"reset options {unknown}: unknown; allowed: {list(_RESET_OPTIONS)}")
        self._reset_world()
        index = int(self.np_random.integers(len(self._workspace_m)))
        target = options.get("target_m", self._workspace_m[index])
        target = np.array(target, dtype=np.float64)
        if target.shape != (3,) or not np.all(np.isfinite(target)):
            raise ValueError(f"reset option target_m: expected 3 finite numbers (m), got {target}")
        self._target_m = target
        self._n_steps, self._on_target = 0, 0
        paw_m = self.body.end_effector_position_m()
        distance_m = float(np.linalg.norm(paw_m - self._target_m))
        info = self._info(paw_m, distance_m, {"distance": 0.0, "effort": 0.0})
        return self._observation(paw_m), info

    def _reset_world(self) -> None:
        """Reset the body (and, in subclasses, the brain) from ``self.np_random``."""
        self.body.reset(seed=int(self.np_random.integers(2**31 - 1)))

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() without a render_mode; make the env with "
                            'render_mode="rgb_array" to get frames')
            return None
        from body.render import render_frame

        p, m = self.params, self.body.model
        camera = p.camera or (0 if m.ncam > 0 else None)
        return render_frame(self.body, p.render_width, p.render_height, camera)

    def close(self) -> None:
        import sys

        render = sys.modules.get("body.render")  # free GL contexts only if any were made
        if render is not None:
            render.close_renderers(self.body)


def _check_multiple(name: str, value_ms: float, of: str, unit_ms: float) -> None:
    n = value_ms / unit_ms
    if abs(n - round(n)) > 1e-9 * max(1.0, n) or round(n) < 1:
        raise ValueError(f"{name} = {value_ms!r}: must be a whole multiple of {of} "
                         f"({unit_ms!r} ms)")


def _layout(blocks: list[tuple[str, int]]) -> dict[str, slice]:
    layout, start = {}, 0
    for name, size in blocks:
        layout[name] = slice(start, start + size)
        start += size
    return layout


ForelimbReachEnv.__doc__ += arguments_table(ReachParams)
