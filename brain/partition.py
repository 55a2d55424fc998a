"""Cells -> ranks: a pure function of the cell table and the rank count."""
from __future__ import annotations

import numpy as np

__all__ = ["partition", "partition_tiles", "partition_voxels", "partition_areas", "cell_cost",
           "local_cells", "PARTITIONS"]

#: scene values of ``run.partition``: voxel tiles by recursive bisection, or whole areas
PARTITIONS = ("bisection", "area")

# Work of one incoming synapse relative to one neuron: a neuron update costs ~10 ns per
# 0.1 ms step (100 us per simulated second), a synapse ~3 ns per event at ~5 Hz (15 ns).
SYNAPSE_COST = 1.5e-4


def partition(n_cells: int, voxel: np.ndarray, n_ranks: int) -> np.ndarray:
    """Rank of every cell: contiguous id ranges, balanced by cell count, cut at voxel edges.

    Cells are numbered voxel by voxel, so contiguous ranges are spatially compact.
    Cutting only between voxels keeps a voxel on one rank (when voxels are fewer
    than ranks some ranks own no cell, which is allowed). Cells without a voxel (-1,
    population models) may be cut anywhere.

    Returns int32[n_cells].
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks = {n_ranks}: must be >= 1")
    rank = np.zeros(n_cells, dtype=np.int32)
    if n_cells == 0 or n_ranks == 1:
        return rank
    starts = np.flatnonzero((np.diff(voxel) != 0) | (voxel[1:] < 0)) + 1
    for r in range(1, n_ranks):
        ideal = r * n_cells / n_ranks
        cut = starts[np.argmin(np.abs(starts - ideal))] if len(starts) else n_cells
        rank[cut:] = r
    return rank


def _bisect(idx, center, weight, first_rank, n_ranks, out):
    """Recursive coordinate bisection of voxels ``idx`` over ranks [first, first + n)."""
    if n_ranks == 1 or len(idx) <= 1:
        out[idx] = first_rank
        return
    pts = center[idx]
    axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
    # order by the axis, ties by voxel index, so the split is a pure function of inputs
    order = idx[np.lexsort((idx, pts[:, axis]))]
    left_ranks = n_ranks // 2
    cum = np.cumsum(weight[order])
    target = cum[-1] * left_ranks / n_ranks
    cut = int(np.searchsorted(cum, target)) + 1
    cut = min(max(cut, 1), len(order) - 1)
    _bisect(order[:cut], center, weight, first_rank, left_ranks, out)
    _bisect(order[cut:], center, weight, first_rank + left_ranks, n_ranks - left_ranks, out)


def partition_tiles(voxel: np.ndarray, voxel_center_um: np.ndarray, n_ranks: int,
                    cell_weight: np.ndarray | None = None) -> np.ndarray:
    """Rank of every cell from spatially compact voxel tiles (recursive bisection).

    Voxels are split along their longest extent, recursively, so that each rank's
    tile carries the same total weight; ``cell_weight`` (float64[n_cells], default 1)
    lets a caller weigh cells by their expected synapse count too.

    voxel : int32[n_cells] (>= 0); voxel_center_um : float64[n_voxels, 3].
    Returns int32[n_cells].
    """
    n_vox = len(voxel_center_um)
    w = np.bincount(voxel, weights=cell_weight, minlength=n_vox).astype(np.float64)
    return partition_voxels(w, voxel_center_um, n_ranks)[voxel]


def partition_voxels(voxel_weight: np.ndarray, voxel_center_um: np.ndarray,
                     n_ranks: int) -> np.ndarray:
    """Rank of every voxel (int32[n_voxels]) from the voxels' total weight (float64,
    0 where a voxel holds no cell): the bisection of ``partition_tiles``, which needs no
    cell table (a distributed build computes the weights from the layout)."""
    if n_ranks < 1:
        raise ValueError(f"n_ranks = {n_ranks}: must be >= 1")
    w = np.asarray(voxel_weight, dtype=np.float64)
    used = np.flatnonzero(w > 0)
    rank_of_voxel = np.zeros(len(w), dtype=np.int32)
    _bisect(used, np.asarray(voxel_center_um, dtype=np.float64), w, 0, n_ranks, rank_of_voxel)
    return rank_of_voxel


def partition_areas(voxel_weight: np.ndarray, voxel_area: np.ndarray, n_ranks: int,
                    voxel_center_um: np.ndarray | None = None) -> np.ndarray:
    """Rank of every voxel (int32[n_voxels]) from whole areas: each (region, hemisphere)
    unit goes to one rank, or, with more ranks than units, to a group of ranks of its own.

    Up to one rank per unit: greedy longest-processing-time, units by decreasing weight
    (ties by area key), each to the least loaded rank (ties: the lowest rank). More
    ranks than units: each unit gets one rank, the rest go one by one to the unit with
    the largest weight per rank (D'Hondt; ties by area key), and a unit's voxels are
    split among its ranks by the bisection of ``partition_voxels`` (needs
    ``voxel_center_um``). Either way the result is a pure function of the inputs, and no
    two areas share a rank: only inter-area projections cross between areas' ranks (the
    point of ``run.partition = "area"`` with two-level intervals).

    voxel_weight : float64[n_voxels] (0 where a voxel holds no cell);
    voxel_area : int64[n_voxels], area key region * 2 + hemisphere;
    voxel_center_um : float64[n_voxels, 3], for splitting areas.
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks = {n_ranks}: must be >= 1")
    w = np.asarray(voxel_weight, dtype=np.float64)
    area = np.asarray(voxel_area, dtype=np.int64)
    used = w > 0
    keys = np.unique(area[used])
    unit_w = np.array([w[used & (area == k)].sum() for k in keys])
    rank_of_voxel = np.zeros(len(w), dtype=np.int32)
    if n_ranks <= len(keys):
        for k, r in zip(keys, _pack_units(unit_w, keys, n_ranks)):
            rank_of_voxel[area == k] = r
        return rank_of_voxel
    if voxel_center_um is None:
        raise ValueError(f"{n_ranks} ranks for {len(keys)} areas: splitting an area needs "
                         "the voxel centres")
    first = 0
    for k, n in zip(keys, _ranks_per_unit(unit_w, n_ranks)):
        mine = area == k
        sub = partition_voxels(np.where(mine, w, 0.0), voxel_center_um, n)
        rank_of_voxel[mine] = first + sub[mine]
        first += n
    return rank_of_voxel


def _pack_units(unit_w: np.ndarray, keys: np.ndarray, n_ranks: int) -> np.ndarray:
    """Rank of each unit (int64[u]): LPT onto ``n_ranks`` (>= u is not required)."""
    load = np.zeros(n_ranks)
    out = np.zeros(len(keys), dtype=np.int64)
    for i in np.lexsort((keys, -unit_w)):
        out[i] = int(np.argmin(load))
        load[out[i]] += unit_w[i]
    return out


def _ranks_per_unit(unit_w: np.ndarray, n_ranks: int) -> np.ndarray:
    """Ranks of each unit (int64[u], each >= 1, summing to ``n_ranks``): one each, then
    one at a time to the largest weight per rank (the first unit on ties)."""
    count = np.ones(len(unit_w), dtype=np.int64)
    for _ in range(n_ranks - len(unit_w)):
        count[int(np.argmax(unit_w / count))] += 1
    return count


def cell_cost(model, synapse_cost: float = SYNAPSE_COST, sample: int = 64) -> np.ndarray:
    """Relative work of every cell: 1 + synapse_cost * (mean in-degree of its type).

    In-degrees are measured by wiring a fixed, evenly spaced sample of up to ``sample``
    cells of each type (the same sample on every rank), so the cost, and the partition
    built on it, stay pure functions of the model. float64[n_cells].
    """
    from .connectivity import connect

    types = model.cells.type_id
    picks = []
    for t in np.unique(types):
        gids = np.flatnonzero(types == t)
        picks.append(gids[np.unique(np.linspace(0, len(gids) - 1, min(sample, len(gids)))
                                    .astype(np.int64))])
    gids = np.unique(np.concatenate(picks)) if picks else np.zeros(0, np.int64)
    syn = connect(model.params, model.cells, gids, model.dt_ms, model.seed,
                  grid_um=model.atlas.voxel_um)
    indegree = np.bincount(syn.target, minlength=len(gids))
    mean = np.zeros(int(types.max()) + 1 if len(types) else 0)
    np.add.at(mean, types[gids], indegree)
    mean /= np.maximum(np.bincount(types[gids], minlength=len(mean)), 1)
    return 1.0 + synapse_cost * mean[types]


def local_cells(rank_of_cell: np.ndarray, rank: int) -> np.ndarray:
    """Sorted global ids (int64) of the cells owned by ``rank``."""
    return np.flatnonzero(rank_of_cell == rank).astype(np.int64)
