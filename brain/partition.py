"""Cells -> ranks: a pure function of the cell table and the rank count."""
from __future__ import annotations

import numpy as np

__all__ = ["partition", "local_cells"]


def partition(n_cells: int, voxel: np.ndarray, n_ranks: int) -> np.ndarray:
    """Rank of every cell: contiguous id ranges, balanced by cell count, cut at voxel edges.

    Cells are numbered voxel by voxel, so contiguous ranges are spatially compact.
    Cutting only between voxels keeps a voxel on one rank (when voxels are fewer
    than ranks some ranks own no cell, which is allowed).

    Returns int32[n_cells].
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks = {n_ranks}: must be >= 1")
    rank = np.zeros(n_cells, dtype=np.int32)
    if n_cells == 0 or n_ranks == 1:
        return rank
    # Candidate cut points: where the voxel changes, or anywhere among cells without
    # a voxel (-1, population models).
    starts = np.flatnonzero((np.diff(voxel) != 0) | (voxel[1:] < 0)) + 1
    for r in range(1, n_ranks):
        ideal = r * n_cells / n_ranks
        if len(starts):
            cut = starts[np.argmin(np.abs(starts - ideal))]
        else:
            cut = n_cells
        rank[cut:] = r
    return rank


def local_cells(rank_of_cell: np.ndarray, rank: int) -> np.ndarray:
    """Sorted global ids (int64) of the cells owned by ``rank``."""
    return np.flatnonzero(rank_of_cell == rank).astype(np.int64)
