"""Muscle excitation and readouts: pure functions of (model, data, muscle ids).

Normalisation follows MuJoCo's own muscle model (``mju_muscleGain``), so that a normalised
length of 1 is exactly where MuJoCo's force-length curve peaks:

- optimal length ``L0 = (lengthrange[1] - lengthrange[0]) / (range[1] - range[0])``, with
  ``range = gainprm[0:2]`` (default 0.75, 1.05);
- normalised length ``range[0] + (L - lengthrange[0]) / L0``;
- normalised velocity ``V / (L0 * vmax)``, ``vmax = gainprm[6]`` in L0 per second;
- normalised force ``force / F0``, with ``F0 = gainprm[2]`` when the MJCF gives ``force``, and
  ``F0 = scale / acc0`` (``scale = gainprm[3]``) when it leaves ``force = -1``: MuJoCo keeps the
  -1 in the compiled model and resolves it on every call of ``mju_muscleGain``.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

__all__ = [
    "NormConstants",
    "norm_constants",
    "set_excitation",
    "excitation",
    "activation",
    "force_N",
    "length_m",
    "velocity_m_per_s",
    "peak_force_N",
    "optimal_length_m",
    "normalised_length",
    "normalised_velocity",
    "normalised_force",
]


def set_excitation(
    model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray, excitation: np.ndarray
) -> None:
    """Write muscle excitations into ``data.ctrl``.

    Parameters
    ----------
    model, data : mujoco.MjModel, mujoco.MjData
    muscle_ids : numpy.ndarray of int, shape (n_muscles,)
        Actuator ids of the muscles (`body.model.muscle_indices`).
    excitation : array_like of float, shape (n_muscles,)
        Neural excitation, unitless; values outside [0, 1] are clipped to it.

    Raises
    ------
    ValueError
        Wrong shape or a non-finite value.
    """
    u = np.asarray(excitation, dtype=np.float64)
    expected = (len(muscle_ids),)
    if u.shape != expected:
        raise ValueError(
            f"excitation: expected shape {expected} (one value per muscle), got shape {u.shape}"
        )
    if not np.all(np.isfinite(u)):
        bad = np.flatnonzero(~np.isfinite(u))
        raise ValueError(f"excitation: must be finite, got {u[bad]} at muscle index {bad}")
    # np.clip's bits without its Python wrapper (called every co-simulation interval)
    data.ctrl[muscle_ids] = np.minimum(np.maximum(u, 0.0), 1.0)


def excitation(model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray) -> np.ndarray:
    """Current excitation (``data.ctrl``), unitless in [0, 1]; float64[n_muscles]."""
    return data.ctrl[muscle_ids].copy()


def activation(model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray) -> np.ndarray:
    """Muscle activation state (``data.act``), unitless in [0, 1]; float64[n_muscles]."""
    # each muscle owns one activation slot; actuator_actadr maps actuator -> slot in data.act
    return data.act[model.actuator_actadr[muscle_ids]].copy()


def force_N(model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray) -> np.ndarray:
    """Muscle tension in newtons, positive when pulling; float64[n_muscles].

    MuJoCo's ``actuator_force`` is negative for a pulling muscle (it acts to shorten the
    tendon), so the sign is flipped here.
    """
    # 0.0 - x rather than -x: idle muscles read 0.0, not -0.0
    return 0.0 - data.actuator_force[muscle_ids]


def length_m(model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray) -> np.ndarray:
    """Musculotendon length (``actuator_length``) in metres; float64[n_muscles]."""
    return data.actuator_length[muscle_ids].copy()


def velocity_m_per_s(
    model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray
) -> np.ndarray:
    """Musculotendon velocity in m/s, positive when lengthening; float64[n_muscles]."""
    return data.actuator_velocity[muscle_ids].copy()


def peak_force_N(model: mujoco.MjModel, muscle_ids: np.ndarray) -> np.ndarray:
    """Resolved peak isometric force F0 in newtons; float64[n_muscles].

    ``gainprm[2]`` when the MJCF gave ``force``; otherwise (``force = -1``) MuJoCo uses
    ``scale / acc0``, with ``acc0`` floored at ``mjMINVAL`` exactly as ``mju_muscleGain`` does.
    """
    force = model.actuator_gainprm[muscle_ids, 2]
    scale = model.actuator_gainprm[muscle_ids, 3]
    acc0 = np.maximum(model.actuator_acc0[muscle_ids], mujoco.mjMINVAL)
    return np.where(force < 0, scale / acc0, force)


def optimal_length_m(model: mujoco.MjModel, muscle_ids: np.ndarray) -> np.ndarray:
    """Optimal length L0 in metres as MuJoCo defines it; float64[n_muscles]."""
    lengthrange = model.actuator_lengthrange[muscle_ids]
    operating = model.actuator_gainprm[muscle_ids, 0:2]
    return (lengthrange[:, 1] - lengthrange[:, 0]) / (operating[:, 1] - operating[:, 0])


@dataclass(frozen=True)
class NormConstants:
    """The model constants of MuJoCo's muscle normalisation, per muscle (float64):
    ``range_lo`` (gainprm[0]), ``length_lo_m`` (lengthrange[0]), ``L0_m`` (optimal
    length) and ``v_scale`` (L0 * vmax, m/s). Gather once where the readouts run often."""

    range_lo: np.ndarray
    length_lo_m: np.ndarray
    L0_m: np.ndarray
    v_scale: np.ndarray


def norm_constants(model: mujoco.MjModel, muscle_ids: np.ndarray) -> NormConstants:
    """`NormConstants` of ``muscle_ids`` (copies: independent of later model edits)."""
    L0 = optimal_length_m(model, muscle_ids)
    return NormConstants(range_lo=model.actuator_gainprm[muscle_ids, 0].copy(),
                         length_lo_m=model.actuator_lengthrange[muscle_ids, 0].copy(),
                         L0_m=L0, v_scale=L0 * model.actuator_gainprm[muscle_ids, 6])


def normalised_length(
    model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray,
    constants: NormConstants | None = None,
) -> np.ndarray:
    """Length in optimal lengths (1 = peak of MuJoCo's force-length curve); float64[n_muscles].
    ``constants``: `norm_constants` gathered before (the same values, not looked up again)."""
    c = norm_constants(model, muscle_ids) if constants is None else constants
    return c.range_lo + (data.actuator_length[muscle_ids] - c.length_lo_m) / c.L0_m


def normalised_velocity(
    model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray,
    constants: NormConstants | None = None,
) -> np.ndarray:
    """Velocity in units of the maximum velocity L0 * vmax, + = lengthening; float64[n_muscles].
    ``constants`` as in `normalised_length`."""
    c = norm_constants(model, muscle_ids) if constants is None else constants
    return data.actuator_velocity[muscle_ids] / c.v_scale


def normalised_force(
    model: mujoco.MjModel, data: mujoco.MjData, muscle_ids: np.ndarray
) -> np.ndarray:
    """Tension (active + passive) in units of F0, positive when pulling; float64[n_muscles]."""
    return force_N(model, data, muscle_ids) / peak_force_N(model, muscle_ids)
