"""Body: a MuJoCo muscle model stepped by excitation, read out as state and proprioception.

A plain class with no gymnasium dependency; `cosim.envs` wraps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from body import muscles
from body.model import joint_indices, joint_names, load_model, muscle_indices, muscle_names
from body.params import BodyParams
from body.proprioception import MuscleSense

__all__ = ["Body", "BodyState"]

# everything mj_step reads besides the model: time, qpos, qvel, act, solver warm start, ctrl,
# applied forces, mocap, ... Restoring all of it makes reset() bit-exact.
_FULL_STATE = mujoco.mjtState.mjSTATE_INTEGRATION
_REL_TOL = 1e-9


# the warnings MuJoCo counts when it resets a diverged simulation
_RESET_WARNINGS = np.array([int(mujoco.mjtWarning.mjWARN_BADQACC),
                            int(mujoco.mjtWarning.mjWARN_BADQPOS),
                            int(mujoco.mjtWarning.mjWARN_BADQVEL)])


@dataclass(frozen=True, kw_only=True)
class BodyState:
    """A snapshot of the body (arrays are copies).

    Attributes
    ----------
    time_s : float
        Simulated time since the last reset (s).
    qpos, qvel : numpy.ndarray of float64, shape (nq,), (nv,)
        MuJoCo generalised positions (rad or m) and velocities (rad/s or m/s).
    excitation : numpy.ndarray of float64, shape (n_muscles,)
        Excitation currently applied, unitless in [0, 1].
    activation : numpy.ndarray of float64, shape (n_muscles,)
        Muscle activation, unitless in [0, 1].
    force_N : numpy.ndarray of float64, shape (n_muscles,)
        Muscle tension (N), positive when pulling.
    length_m : numpy.ndarray of float64, shape (n_muscles,)
        Musculotendon length (m).
    velocity_m_per_s : numpy.ndarray of float64, shape (n_muscles,)
        Musculotendon velocity (m/s), positive when lengthening.
    """

    time_s: float
    qpos: np.ndarray
    qvel: np.ndarray
    excitation: np.ndarray
    activation: np.ndarray
    force_N: np.ndarray
    length_m: np.ndarray
    velocity_m_per_s: np.ndarray


class Body:
    """A MuJoCo musculoskeletal body driven by muscle excitations.

    Construction loads ``params.mjcf_path`` and settles the model: it runs ``params.settle_s``
    seconds from ``qpos0`` (or from the keyframe named ``rest`` if the MJCF has one) with
    ``rest_excitation`` applied, and keeps the result as the initial state that `reset` restores.
    The same excitation sequence after `reset` gives a bit-identical trajectory.

    Parameters
    ----------
    params : BodyParams
    rest_excitation : array_like of float, shape (n_muscles,), optional
        Excitation held during settling and restored by `reset`, unitless in [0, 1];
        default zeros.

    Attributes
    ----------
    model, data : mujoco.MjModel, mujoco.MjData
    muscle_names : tuple of str
        Names of the muscle actuators, in the order of every per-muscle array.
    joint_names : tuple of str
        Names of the hinge and slide joints.
    n_muscles : int
    timestep_s : float
        MuJoCo timestep (s).
    """

    def __init__(self, params: BodyParams, rest_excitation: np.ndarray | None = None) -> None:
        self.params = params
        self.model = load_model(params.mjcf_path)
        if params.timestep_s is not None:
            self.model.opt.timestep = params.timestep_s
        self.data = mujoco.MjData(self.model)
        self.timestep_s = float(self.model.opt.timestep)
        self._muscle_ids = muscle_indices(self.model)
        self._resets = 0
        self.muscle_names = muscle_names(self.model)
        self.n_muscles = len(self.muscle_names)
        self._joint_ids = joint_indices(self.model)
        self.joint_names = joint_names(self.model)
        self._peak_force_N = muscles.peak_force_N(self.model, self._muscle_ids)
        self._end_effector: tuple[str, int] | None = None

        if rest_excitation is None:
            rest_excitation = np.zeros(self.n_muscles)
        self.settle(rest_excitation)

    def _cache_readouts(self) -> None:
        """Index arrays and muscle constants the per-interval readouts use, gathered once
        (each ``model.actuator_*[ids]`` is a fresh copy, and the co-simulation reads
        them every millisecond); `settle` gathers them again after a model change."""
        m, ids = self.model, self._muscle_ids
        self._act_adr = m.actuator_actadr[ids].copy()
        self._norm = muscles.norm_constants(m, ids)

    def settle(self, rest_excitation: np.ndarray) -> None:
        """Settle again with ``rest_excitation`` (unitless, [0, 1] per muscle) held for
        ``params.settle_s``, make the result the state `reset` restores, and reset."""
        self._cache_readouts()
        m, d = self.model, self.data
        rest_key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "rest")
        if rest_key >= 0:
            mujoco.mj_resetDataKeyframe(m, d, rest_key)
        else:
            mujoco.mj_resetData(m, d)
        # a keyframe may carry ctrl for non-muscle actuators; they are not ours to drive
        d.ctrl[:] = 0.0
        try:
            muscles.set_excitation(m, d, self._muscle_ids, rest_excitation)
        except ValueError as err:
            raise ValueError(f"rest_{err}") from None
        n_steps = round(self.params.settle_s / self.timestep_s)
        if n_steps:
            mujoco.mj_step(m, d, nstep=n_steps)
        d.time = 0.0
        self._settled_state = np.empty(mujoco.mj_stateSize(m, _FULL_STATE))
        mujoco.mj_getState(m, d, self._settled_state, _FULL_STATE)
        self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Restore the settled state at time 0.

        Parameters
        ----------
        seed : int, optional
            Seeds the joint-position noise of ``params.init_qpos_noise``; without noise
            (the default) it has no effect.
        """
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        mujoco.mj_setState(m, d, self._settled_state, _FULL_STATE)
        if self.params.init_qpos_noise > 0:
            self._perturb_joints(np.random.default_rng(seed))
        mujoco.mj_forward(m, d)
        self._resets = self._reset_count()

    def physics_state(self) -> np.ndarray:
        """MuJoCo's integration state (time, qpos, qvel, act, warm start, ctrl, ...) as one
        float64 vector: with `set_physics_state` the run continues bit for bit."""
        m, d = self.model, self.data
        out = np.empty(mujoco.mj_stateSize(m, _FULL_STATE))
        mujoco.mj_getState(m, d, out, _FULL_STATE)
        return out

    def set_physics_state(self, state: np.ndarray) -> None:
        """Continue from a vector of `physics_state` (of this same model)."""
        m, d = self.model, self.data
        state = np.ascontiguousarray(state, dtype=np.float64)
        size = mujoco.mj_stateSize(m, _FULL_STATE)
        if state.shape != (size,):
            raise ValueError(f"physics state: expected {size} values for this model, got "
                             f"shape {state.shape}")
        mujoco.mj_setState(m, d, state, _FULL_STATE)
        mujoco.mj_forward(m, d)
        self._resets = self._reset_count()

    def _perturb_joints(self, rng: np.random.Generator) -> None:
        m = self.model
        adr = m.jnt_qposadr[self._joint_ids]
        q = self.data.qpos[adr] + rng.normal(0.0, self.params.init_qpos_noise, adr.shape)
        limited = m.jnt_limited[self._joint_ids].astype(bool)
        lo, hi = m.jnt_range[self._joint_ids].T
        self.data.qpos[adr] = np.where(limited, np.clip(q, lo, hi), q)

    def step(self, excitation: np.ndarray, duration_s: float) -> None:
        """Apply ``excitation`` and advance the physics by ``duration_s``.

        Parameters
        ----------
        excitation : array_like of float, shape (n_muscles,)
            Excitation per muscle, unitless, clipped to [0, 1]; held for the whole duration.
        duration_s : float
            Simulated time (s); a positive whole multiple of ``timestep_s``.

        Raises
        ------
        ValueError
            Wrong excitation shape or non-finite values; ``duration_s`` not positive or not
            a whole multiple of the timestep.
        """
        n_steps = self._n_steps(duration_s)
        muscles.set_excitation(self.model, self.data, self._muscle_ids, excitation)
        mujoco.mj_step(self.model, self.data, nstep=n_steps)

    def fault(self) -> str | None:
        """What is not finite in the physics state, or None when all is well.

        MuJoCo resets a diverged simulation itself (and only counts a warning), so a
        reset since the last call is reported too: the trajectory is no longer physical.
        """
        d, ids = self.data, self._muscle_ids
        act, force = d.act[self._act_adr], d.actuator_force[ids]
        # one sum per array is the fast path (called every interval); NaN/inf propagate
        if not np.isfinite(act.sum() + force.sum() + d.qpos.sum() + d.qvel.sum()):
            for name, values in (("activation", act),
                                 ("force_N", muscles.force_N(self.model, d, ids))):
                bad = np.flatnonzero(~np.isfinite(values))
                if len(bad):
                    return f"muscle {self.muscle_names[bad[0]]}: {name} is {values[bad[0]]}"
            for name, values in (("qpos", d.qpos), ("qvel", d.qvel)):
                bad = np.flatnonzero(~np.isfinite(values))
                if len(bad):
                    return f"{name}[{int(bad[0])}] is {values[bad[0]]}"
        resets = self._reset_count()
        if resets > self._resets:
            self._resets = resets
            return "MuJoCo found a non-finite or huge qpos/qvel/qacc and reset the state"
        return None

    def _reset_count(self) -> int:
        # one array read instead of a struct per warning (this runs every interval)
        return int(self.data.warning.number[_RESET_WARNINGS].sum())

    def _n_steps(self, duration_s: float) -> int:
        if not (duration_s > 0) or not np.isfinite(duration_s):
            raise ValueError(f"duration_s = {duration_s!r}: must be finite and > 0")
        n = round(duration_s / self.timestep_s)
        if n < 1 or abs(n * self.timestep_s - duration_s) > _REL_TOL * duration_s:
            raise ValueError(
                f"duration_s = {duration_s!r}: must be a whole multiple of the timestep "
                f"{self.timestep_s!r} s"
            )
        return n

    def state(self) -> BodyState:
        """A copy of the current state; see `BodyState`."""
        m, d, ids = self.model, self.data, self._muscle_ids
        return BodyState(
            time_s=float(d.time),
            qpos=d.qpos.copy(),
            qvel=d.qvel.copy(),
            excitation=muscles.excitation(m, d, ids),
            activation=muscles.activation(m, d, ids),
            force_N=muscles.force_N(m, d, ids),
            length_m=muscles.length_m(m, d, ids),
            velocity_m_per_s=muscles.velocity_m_per_s(m, d, ids),
        )

    def proprioception(self) -> MuscleSense:
        """Normalised muscle length, velocity and force (MuJoCo's muscle normalisation)."""
        m, d, ids = self.model, self.data, self._muscle_ids
        return MuscleSense(
            length_norm=muscles.normalised_length(m, d, ids, self._norm),
            velocity_norm=muscles.normalised_velocity(m, d, ids, self._norm),
            force_norm=muscles.force_N(m, d, ids) / self._peak_force_N,
        )

    @property
    def peak_force_N(self) -> np.ndarray:
        """Resolved peak isometric force F0 per muscle (N); float64[n_muscles]."""
        return self._peak_force_N.copy()

    def end_effector_position_m(self) -> np.ndarray:
        """World position (m) of the site, or else body, named ``params.end_effector``.

        Returns
        -------
        numpy.ndarray of float64, shape (3,)

        Raises
        ------
        ValueError
            The model has no site or body of that name (the message lists those it has).
        """
        if self._end_effector is None:
            self._end_effector = self._find_end_effector(self.params.end_effector)
        kind, idx = self._end_effector
        pos = self.data.site_xpos[idx] if kind == "site" else self.data.xpos[idx]
        return pos.copy()

    def _find_end_effector(self, name: str) -> tuple[str, int]:
        m = self.model
        site = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, name)
        if site >= 0:
            return "site", site
        body = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, name)
        if body >= 0:
            return "body", body
        sites = [m.site(i).name for i in range(m.nsite) if m.site(i).name]
        bodies = [m.body(i).name for i in range(m.nbody) if m.body(i).name]
        raise ValueError(
            f"end_effector {name!r}: no site or body of that name in {self.params.mjcf_path}; "
            f"sites: {sites}; bodies: {bodies}"
        )
