"""Reachable end-effector positions of a muscle body, sampled once per model and cached.

The body is driven from its rest state by random excitation patterns, each held long enough
for the limb to come (nearly) to rest; the end-effector position at the end of each hold is
one sample. Targets drawn from these samples are positions the muscles can reach *and hold*,
whatever the model (our forelimb or any other muscle MJCF).
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["reachable_positions_m"]

# (model path, end effector, timestep, samples, hold, seed, rest state) -> float64[n, 3];
# shared by every env in the process, so a vector env of n copies samples once
_CACHE: dict[tuple, np.ndarray] = {}


def reachable_positions_m(body, n_samples: int, hold_s: float, seed: int) -> np.ndarray:
    """End-effector positions (m) the body reaches under random constant excitations.

    Parameters
    ----------
    body : body.Body
        Reset with ``seed`` before each pattern; left in that reset state afterwards.
    n_samples : int
        Number of excitation patterns (= positions).
    hold_s : float
        How long each pattern is held, from the settled rest state (s); rounded to whole
        body timesteps.
    seed : int
        Seed of the patterns.

    Returns
    -------
    numpy.ndarray of float64, shape (n_samples, 3)
        A read-only array, shared between callers with the same arguments.
    """
    n_steps = max(1, int(round(hold_s / body.timestep_s)))
    body.reset(seed=seed)
    start = body.state()  # the start state (rest excitation, any joint noise) is part of the key
    key = (os.path.realpath(body.params.mjcf_path), body.params.end_effector, body.timestep_s,
           n_samples, n_steps, seed, start.qpos.tobytes(), start.activation.tobytes())
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    rng = np.random.default_rng(seed)
    # squaring makes most muscles weak in each pattern, so the samples spread over
    # postures dominated by a few muscles instead of clustering at full co-contraction
    patterns = rng.uniform(0.0, 1.0, (n_samples, body.n_muscles)) ** 2
    positions = np.empty((n_samples, 3))
    duration_s = n_steps * body.timestep_s
    for i, excitation in enumerate(patterns):
        body.reset(seed=seed)
        body.step(excitation, duration_s)
        positions[i] = body.end_effector_position_m()
    body.reset(seed=seed)
    if not np.all(np.isfinite(positions)):
        raise FloatingPointError(
            f"{body.params.mjcf_path}: the simulation became non-finite while sampling the "
            "workspace with random excitations; check the model's timestep and damping")
    positions.flags.writeable = False
    _CACHE[key] = positions
    return positions
