"""Seeded inhomogeneous Poisson spike trains with a known oscillatory rate, for the tests."""
from __future__ import annotations

import numpy as np

F_GAMMA_HZ = 40.0


def poisson_trains(rng: np.random.Generator, n_cells: int, duration_ms: float, rate_Hz,
                   rate_max_Hz: float, first_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Spikes (ids, times_ms) of ``n_cells`` independent cells with rate ``rate_Hz(t_ms)``.

    Thinning: candidates at ``rate_max_Hz`` are kept with probability rate / rate_max.
    """
    n = rng.poisson(n_cells * rate_max_Hz * duration_ms / 1000.0)
    t = rng.uniform(0.0, duration_ms, n)
    keep = rng.uniform(0.0, rate_max_Hz, n) < rate_Hz(t)
    t = np.sort(t[keep])
    ids = rng.integers(first_id, first_id + n_cells, t.size)
    return ids, t


def cosine_rate(phase_lag_rad: float, r0_Hz: float = 20.0, depth: float = 0.8,
                f_Hz: float = F_GAMMA_HZ):
    """Rate ``r0 (1 + depth cos(2 pi f t - lag))``: peaks ``lag / (2 pi f)`` after lag 0."""
    return lambda t_ms: r0_Hz * (1.0 + depth * np.cos(2 * np.pi * f_Hz * t_ms / 1000.0
                                                      - phase_lag_rad))


def diffusing_drive(rng: np.random.Generator, duration_ms: float, f_Hz: float = F_GAMMA_HZ,
                    diffusion_rad2_per_s: float = 100.0, dt_ms: float = 0.1):
    """``cos(2 pi f t + psi(t))`` with psi a random walk: a 40 Hz rhythm that loses its phase.

    Its correlation time is 2 / D (20 ms for D = 100 rad^2/s), so circular shifts of 100 ms
    or more decorrelate it, unlike a strict cosine.
    """
    t_grid = np.arange(0.0, duration_ms + dt_ms, dt_ms)
    steps = rng.normal(0.0, np.sqrt(diffusion_rad2_per_s * dt_ms / 1000.0), t_grid.size)
    psi = np.cumsum(steps)
    return lambda t_ms: np.cos(2 * np.pi * f_Hz * t_ms / 1000.0 + np.interp(t_ms, t_grid, psi))
