"""Parameters of the body rank: frozen, keyword-only dataclasses in SI units.

Every default lives in its field here and nowhere else; docstrings read it from the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["BodyParams", "AfferentParams"]


def _require_positive(obj: object, name: str) -> None:
    value = getattr(obj, name)
    # `not (x > 0)` also rejects NaN, which `x <= 0` would let through
    if not (value > 0) or math.isinf(value):
        raise ValueError(f"{type(obj).__name__}.{name} = {value!r}: must be finite and > 0")


def _require_non_negative(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not (value >= 0) or math.isinf(value):
        raise ValueError(f"{type(obj).__name__}.{name} = {value!r}: must be finite and >= 0")


def _require_finite(obj: object, name: str) -> None:
    value = getattr(obj, name)
    if not math.isfinite(value):
        raise ValueError(f"{type(obj).__name__}.{name} = {value!r}: must be finite")


@dataclass(frozen=True, kw_only=True)
class BodyParams:
    """How to load and prepare a MuJoCo muscle body.

    Attributes
    ----------
    mjcf_path : str
        Path of the MJCF file. Its actuators must be MuJoCo ``<muscle>`` actuators (others are
        left at ctrl 0 and not exposed).
    timestep_s : float or None
        MuJoCo timestep in seconds; None keeps the model's ``<option timestep>``.
    settle_s : float
        Seconds simulated at construction, from ``qpos0`` (or the keyframe named ``rest``) with
        the rest excitation, to reach the initial state that ``Body.reset`` restores. 0 = none.
    end_effector : str
        Name of the site (looked up first) or body whose position
        ``Body.end_effector_position_m`` returns.
    init_qpos_noise : float
        Standard deviation of the Gaussian noise that ``Body.reset(seed)`` adds to each
        hinge/slide joint position, in the joint's own unit (rad for hinges, m for slides);
        0 = deterministic resets.
    """

    mjcf_path: str
    timestep_s: float | None = None
    settle_s: float = 0.5
    end_effector: str = "paw"
    init_qpos_noise: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.mjcf_path, str) or not self.mjcf_path:
            raise ValueError(f"BodyParams.mjcf_path = {self.mjcf_path!r}: must be a non-empty str")
        if self.timestep_s is not None:
            _require_positive(self, "timestep_s")
        _require_non_negative(self, "settle_s")
        if not isinstance(self.end_effector, str) or not self.end_effector:
            raise ValueError(
                f"BodyParams.end_effector = {self.end_effector!r}: must be a non-empty str"
            )
        _require_non_negative(self, "init_qpos_noise")


@dataclass(frozen=True, kw_only=True)
class AfferentParams:
    """Constants of the proprioceptive afferent model (Prochazka & Gorassini 1998 style).

    Rates are computed from MuJoCo's own normalised muscle quantities: length ``l`` in optimal
    lengths L0 (1 = optimal), velocity ``v`` in units of the maximum velocity L0 * vmax
    (positive = lengthening) and force ``f`` in peak isometric forces F0::

        Ia = r0_Ia_Hz + k_length_Ia_Hz * (l - 1)
             + k_velocity_Ia_Hz * sign(v) * |v|**velocity_exponent
        II = r0_II_Hz + k_length_II_Hz * (l - 1)
        Ib = r0_Ib_Hz + k_force_Ib_Hz * f

    each clipped to [0, max_rate_Hz]. Prochazka & Gorassini fitted cat spindles with a
    velocity power of 0.6; the gains are scaled so that MuJoCo's default operating range
    l in [0.75, 1.05] spans roughly 10-60 Hz of Ia and 0-35 Hz of II, in the range of rodent
    spindle recordings, and a fully active isometric muscle drives Ib to ~200 Hz.

    Attributes
    ----------
    r0_Ia_Hz : float
        Ia rate at optimal length and zero velocity (Hz).
    k_length_Ia_Hz : float
        Ia rate per unit normalised length (Hz per L0).
    k_velocity_Ia_Hz : float
        Ia rate per unit of (normalised velocity)**velocity_exponent (Hz).
    velocity_exponent : float
        Power of the velocity term (unitless).
    r0_II_Hz : float
        II rate at optimal length (Hz).
    k_length_II_Hz : float
        II rate per unit normalised length (Hz per L0).
    r0_Ib_Hz : float
        Ib rate at zero force (Hz).
    k_force_Ib_Hz : float
        Ib rate per unit normalised force (Hz per F0).
    max_rate_Hz : float
        Upper clip of every rate (Hz).
    """

    r0_Ia_Hz: float = 50.0
    k_length_Ia_Hz: float = 150.0
    k_velocity_Ia_Hz: float = 100.0
    velocity_exponent: float = 0.6
    r0_II_Hz: float = 30.0
    k_length_II_Hz: float = 120.0
    r0_Ib_Hz: float = 0.0
    k_force_Ib_Hz: float = 200.0
    max_rate_Hz: float = 250.0

    def __post_init__(self) -> None:
        for f in fields(self):
            _require_finite(self, f.name)
        _require_positive(self, "velocity_exponent")
        _require_positive(self, "max_rate_Hz")
