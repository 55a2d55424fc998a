"""The stochastic ensemble Kalman filter update, a pure function on arrays.

Given the forecast ensemble of (transformed) parameters ``Z[m, p]`` and what each member
predicts for the observables ``Y[m, k]``, the observed values ``d[k]`` with noise
variances ``r[k]`` (independent), each member is moved by the Kalman gain computed from the
ensemble covariances (Evensen 1994; Burgers, van Leeuwen & Evensen 1998, perturbed
observations)::

    K = C_zy (C_yy + R)^-1
    Z_a[m] = Z[m] + K (d + e_m - Y[m]),   e_m ~ N(0, R)

with, under localisation, each parameter's row of K computed from the observables its
mask row allows only (domain localisation, the mask's values weighting C_zy), and the anomalies of Z and Y first scaled
by the inflation factor (equivalent to inflating the forecast covariance by its square).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Update", "enkf_update", "update_rng"]


@dataclass(frozen=True)
class Update:
    """z_analysis[m, p]; innovation[k] = d - mean(Y); innovation_var[k] = var(Y) + r
    (forecast spread plus noise: the expected squared innovation); gain[p, k]."""

    z_analysis: np.ndarray
    innovation: np.ndarray
    innovation_var: np.ndarray
    gain: np.ndarray

    @property
    def normalised_innovation_sq(self) -> float:
        """Mean of innovation^2 / innovation_var over the observables: about 1 when the
        ensemble spread and the noise explain the misfit."""
        return float(np.mean(self.innovation ** 2 / self.innovation_var))


def update_rng(seed: int, window: int) -> np.random.Generator:
    """The Generator of the perturbed observations of one window: a function of the
    assimilation seed and the window index only (so not of the rank count)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), 1, int(window)]))


def enkf_update(z, y, d, r, rng: np.random.Generator, inflation: float = 1.0,
                localisation=None) -> Update:
    """One stochastic EnKF analysis.

    Parameters
    ----------
    z : float64[m, p], forecast ensemble of (transformed) parameters.
    y : float64[m, k], the observables each member predicts (e.g. rates, Hz).
    d : float64[k], observed values (same unit as y).
    r : float64[k], observation noise variances (unit of y squared), > 0.
    rng : Generator for the observation perturbations (drawn in member order).
    inflation : >= 1, multiplies the anomalies of z and y about their means.
    localisation : float64[p, k] in [0, 1] or None (no localisation).
    """
    z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    m, k = y.shape
    if z.ndim != 2 or z.shape[0] != m:
        raise ValueError(f"z: expected shape ({m}, p), got {z.shape}")
    if d.shape != (k,) or r.shape != (k,):
        raise ValueError(f"d and r: expected shape ({k},), got {d.shape} and {r.shape}")
    if m < 2:
        raise ValueError(f"an ensemble needs >= 2 members, got {m}")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(z))):
        raise FloatingPointError("non-finite values in the forecast ensemble")
    if not np.all(r > 0):
        raise ValueError("observation noise variances must be > 0")
    z_mean, y_mean = z.mean(axis=0), y.mean(axis=0)
    za = inflation * (z - z_mean)
    ya = inflation * (y - y_mean)
    c_zy = za.T @ ya / (m - 1)                    # [p, k]
    c_yy = ya.T @ ya / (m - 1)                    # [k, k]
    s = c_yy + np.diag(r)
    if localisation is None:
        gain = np.linalg.solve(s, c_zy.T).T       # S is symmetric: K = C_zy S^-1
    else:
        loc = np.asarray(localisation, dtype=np.float64)
        if loc.shape != c_zy.shape:
            raise ValueError(f"localisation: expected shape {c_zy.shape}, got {loc.shape}")
        gain = np.zeros_like(c_zy)
        for i in range(len(gain)):
            # domain localisation: parameter i is regressed on its own observables only.
            # (A Schur product on the gain of the full regression would drop the terms by
            # which the other observables cancel sampling noise, and overshoot.)
            near = np.flatnonzero(loc[i] > 0)
            if len(near):
                gain[i, near] = np.linalg.solve(s[np.ix_(near, near)],
                                                loc[i, near] * c_zy[i, near])
    e = rng.standard_normal((m, k)) * np.sqrt(r)
    innovations = d + e - (y_mean + ya)           # per member, against inflated forecasts
    z_a = z_mean + za + innovations @ gain.T
    return Update(z_analysis=z_a, innovation=d - y_mean,
                  innovation_var=np.diag(c_yy) + r, gain=gain)
