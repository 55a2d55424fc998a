"""Which brain cells the bridge reads (motor pools) and writes (afferent channels)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MotorPools", "motor_pools", "afferent_channels"]


@dataclass(frozen=True)
class MotorPools:
    """L5B output cells grouped into one pool per muscle.

    gids : int64[k], sorted ids of the pooled cells; pool : int64[k], pool of each;
    size : int64[n_pools], cells per pool.
    """

    gids: np.ndarray
    pool: np.ndarray
    size: np.ndarray

    @property
    def n_pools(self) -> int:
        return len(self.size)

    def count(self, spike_gids: np.ndarray) -> np.ndarray:
        """Spikes per pool (int64[n_pools]) among ``spike_gids`` (others are ignored)."""
        spike_gids = np.asarray(spike_gids, dtype=np.int64)
        j = np.searchsorted(self.gids, spike_gids)
        j = np.minimum(j, len(self.gids) - 1) if len(self.gids) else j
        hit = (self.gids[j] == spike_gids) if len(self.gids) else np.zeros(0, bool)
        return np.bincount(self.pool[j[hit]], minlength=self.n_pools).astype(np.int64)


def motor_pools(gids: np.ndarray, pos_um: np.ndarray, n_pools: int) -> MotorPools:
    """Split output cells into ``n_pools`` pools of consecutive position along x.

    Cells are ordered by (x, y, gid) and cut into near-equal stripes, so each muscle
    is driven from one strip of the motor-cortex patch (a crude somatotopy).

    gids : int64[k] sorted; pos_um : float64[k, 3].
    """
    if n_pools < 1:
        raise ValueError(f"n_pools = {n_pools}: must be >= 1")
    gids = np.asarray(gids, dtype=np.int64)
    if len(gids) < n_pools:
        raise ValueError(f"{len(gids)} output cells cannot feed {n_pools} motor pools "
                         "(need at least one cell per muscle); raise the density")
    order = np.lexsort((gids, pos_um[:, 1], pos_um[:, 0]))
    pool = np.empty(len(gids), dtype=np.int64)
    pool[order] = (np.arange(len(gids)) * n_pools) // len(gids)
    return MotorPools(gids=gids, pool=pool, size=np.bincount(pool, minlength=n_pools))


def afferent_channels(n_cells: int, n_muscles: int) -> np.ndarray:
    """Channel (muscle * 3 + afferent type) each of ``n_cells`` input cells listens to.

    Round-robin, so every channel gets cells when n_cells >= 3 * n_muscles.
    """
    return np.arange(n_cells, dtype=np.int64) % (3 * n_muscles)
