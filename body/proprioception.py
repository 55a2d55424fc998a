"""Proprioceptive afferents: muscle length, velocity and force -> Ia, II, Ib firing rates.

Pure numpy; the model is in `body.params.AfferentParams` (Prochazka & Gorassini 1998 style:
Ia from length and a velocity power law, II from length, Ib from force).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from body.params import AfferentParams

__all__ = ["AFFERENT_TYPES", "MuscleSense", "afferent_rates_Hz"]

AFFERENT_TYPES: tuple[str, ...] = ("Ia", "II", "Ib")
"""Column order of `afferent_rates_Hz`: spindle primary, spindle secondary, Golgi tendon organ."""


@dataclass(frozen=True, kw_only=True)
class MuscleSense:
    """What the muscle receptors see, in MuJoCo's normalised muscle units.

    Attributes
    ----------
    length_norm : numpy.ndarray of float64, shape (n_muscles,)
        Length in optimal lengths L0 (1 = peak of the force-length curve).
    velocity_norm : numpy.ndarray of float64, shape (n_muscles,)
        Velocity in units of the maximum velocity L0 * vmax, positive = lengthening.
    force_norm : numpy.ndarray of float64, shape (n_muscles,)
        Tension in peak isometric forces F0, positive = pulling.
    """

    length_norm: np.ndarray
    velocity_norm: np.ndarray
    force_norm: np.ndarray

    def __post_init__(self) -> None:
        names = ("length_norm", "velocity_norm", "force_norm")
        shapes = {np.shape(getattr(self, k)) for k in names}
        if len(shapes) != 1 or len(next(iter(shapes))) != 1:
            raise ValueError(
                "MuscleSense: length_norm, velocity_norm and force_norm must be 1-D arrays of "
                f"equal length (one value per muscle), got shapes "
                f"{np.shape(self.length_norm)}, {np.shape(self.velocity_norm)}, "
                f"{np.shape(self.force_norm)}"
            )

    @property
    def n_muscles(self) -> int:
        return len(self.length_norm)


def afferent_rates_Hz(sense: MuscleSense, params: AfferentParams) -> np.ndarray:
    """Firing rates of the Ia, II and Ib afferents of each muscle.

    Parameters
    ----------
    sense : MuscleSense
        Normalised length, velocity and force per muscle.
    params : AfferentParams
        Gains, baselines and the rate ceiling.

    Returns
    -------
    numpy.ndarray of float64, shape (n_muscles, 3)
        Rates in Hz, columns in the order of `AFFERENT_TYPES` (Ia, II, Ib), each in
        [0, params.max_rate_Hz].
    """
    p = params
    stretch = np.asarray(sense.length_norm, dtype=np.float64) - 1.0
    v = np.asarray(sense.velocity_norm, dtype=np.float64)
    f = np.asarray(sense.force_norm, dtype=np.float64)
    rates = np.empty((stretch.shape[0], 3), dtype=np.float64)
    velocity_term = np.sign(v) * np.abs(v) ** p.velocity_exponent
    rates[:, 0] = p.r0_Ia_Hz + p.k_length_Ia_Hz * stretch + p.k_velocity_Ia_Hz * velocity_term
    rates[:, 1] = p.r0_II_Hz + p.k_length_II_Hz * stretch
    rates[:, 2] = p.r0_Ib_Hz + p.k_force_Ib_Hz * f
    # np.clip's bits without its Python wrapper (called every co-simulation interval)
    return np.minimum(np.maximum(rates, 0.0, out=rates), p.max_rate_Hz, out=rates)
