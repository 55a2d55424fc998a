"""Firing rates from spike lists: population rate over time, per-cell and per-voxel means.

Spike lists are the SONATA pair ``(node_ids, timestamps)``: ids are cell indices (gids
``0 .. n_cells-1``) and times are in ms.  Every window is half-open, ``[t_start, t_stop)``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["population_rate", "cell_rates", "voxel_rate_map", "rate_profile"]


def _window_s(t_start_ms: float, t_stop_ms: float) -> float:
    if not t_stop_ms > t_start_ms:
        raise ValueError(f"empty window: t_start_ms={t_start_ms}, t_stop_ms={t_stop_ms}")
    return (t_stop_ms - t_start_ms) / 1000.0


def _in_window(spike_times_ms, t_start_ms, t_stop_ms) -> np.ndarray:
    t = np.asarray(spike_times_ms, dtype=np.float64)
    return (t >= t_start_ms) & (t < t_stop_ms)


def population_rate(spike_times_ms, n_cells: int, t_start_ms: float, t_stop_ms: float,
                    bin_ms: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Mean firing rate of a population in time bins.

    Parameters
    ----------
    spike_times_ms : array_like, shape (k,), float
        Spike times of all cells of the population, ms.
    n_cells : int
        Number of cells in the population (silent cells included).  0 gives a rate of zeros.
    t_start_ms, t_stop_ms : float
        Window, ms.  Only whole bins are kept: a trailing partial bin is dropped.
    bin_ms : float
        Bin width, ms.

    Returns
    -------
    t_centres_ms : ndarray, shape (n_bins,), float64
        Bin centres, ms.
    rate_Hz : ndarray, shape (n_bins,), float64
        Spike count per bin / (n_cells * bin width in s), Hz per cell.
    """
    _window_s(t_start_ms, t_stop_ms)
    if bin_ms <= 0:
        raise ValueError(f"bin_ms must be > 0, got {bin_ms}")
    # The small tolerance keeps a window that is an exact multiple of bin_ms from losing
    # its last bin to rounding.
    n_bins = int(np.floor((t_stop_ms - t_start_ms) / bin_ms + 1e-9))
    edges = t_start_ms + bin_ms * np.arange(n_bins + 1)
    t = np.asarray(spike_times_ms, dtype=np.float64).ravel()
    idx = np.searchsorted(edges, t, side="right") - 1
    counts = np.bincount(idx[(idx >= 0) & (idx < n_bins)], minlength=n_bins).astype(np.float64)
    centres = edges[:-1] + 0.5 * bin_ms
    if n_cells <= 0:
        return centres, np.zeros(n_bins)
    return centres, counts / (n_cells * bin_ms / 1000.0)


def cell_rates(spike_ids, spike_times_ms, cell_ids, t_start_ms: float,
               t_stop_ms: float) -> np.ndarray:
    """Mean firing rate of each listed cell in a window.

    Parameters
    ----------
    spike_ids : array_like, shape (k,), int
        Cell id of each spike.
    spike_times_ms : array_like, shape (k,), float
        Time of each spike, ms.
    cell_ids : array_like, shape (n,), int
        Cells to report, in the order wanted; any ids (need not be contiguous or unique).
    t_start_ms, t_stop_ms : float
        Window, ms.

    Returns
    -------
    rate_Hz : ndarray, shape (n,), float64
        Spikes of each cell in the window / window length in s.
    """
    dur_s = _window_s(t_start_ms, t_stop_ms)
    ids = np.asarray(spike_ids).ravel()[_in_window(spike_times_ms, t_start_ms, t_stop_ms)]
    uniq, inverse = np.unique(np.asarray(cell_ids).ravel(), return_inverse=True)
    if uniq.size == 0:
        return np.zeros(0)
    pos = np.searchsorted(uniq, ids)
    pos_c = np.minimum(pos, uniq.size - 1)
    hit = uniq[pos_c] == ids
    counts = np.bincount(pos_c[hit], minlength=uniq.size)
    return counts[inverse].astype(np.float64) / dur_s


def _per_cell_rates(spike_ids, spike_times_ms, n_cells, t_start_ms, t_stop_ms) -> np.ndarray:
    dur_s = _window_s(t_start_ms, t_stop_ms)
    ids = np.asarray(spike_ids).ravel()[_in_window(spike_times_ms, t_start_ms, t_stop_ms)]
    ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= n_cells):
        # A silent drop would hide a gid/index mix-up between the spike file and the cell table.
        raise ValueError(f"spike ids must be cell indices in [0, {n_cells}), "
                         f"got range [{ids.min()}, {ids.max()}]")
    return np.bincount(ids, minlength=n_cells).astype(np.float64) / dur_s


def _cell_selection(cell_voxel_ijk, grid_shape, cells_mask):
    ijk = np.asarray(cell_voxel_ijk, dtype=np.int64)
    if ijk.ndim != 2 or ijk.shape[1] != 3:
        raise ValueError(f"cell_voxel_ijk must have shape (n_cells, 3), got {ijk.shape}")
    shape = tuple(int(s) for s in grid_shape)
    if len(shape) != 3:
        raise ValueError(f"grid_shape must have 3 entries, got {grid_shape}")
    if ijk.size and ((ijk < 0).any() or (ijk >= np.array(shape)).any()):
        raise ValueError("cell_voxel_ijk has indices outside grid_shape")
    mask = np.ones(len(ijk), bool) if cells_mask is None else np.asarray(cells_mask, bool)
    if mask.shape != (len(ijk),):
        raise ValueError(f"cells_mask must have shape ({len(ijk)},), got {mask.shape}")
    return ijk, shape, mask


def voxel_rate_map(spike_ids, spike_times_ms, cell_voxel_ijk, grid_shape, t_start_ms: float,
                   t_stop_ms: float, cells_mask=None,
                   project_axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Mean firing rate per voxel column, projected along one grid axis.

    With the default ``project_axis=1`` and voxel indices in (AP, DV, LR) order this is the
    map seen from the top (dorsal view): each pixel is an (AP, LR) column through all depths.

    Parameters
    ----------
    spike_ids : array_like, shape (k,), int
        Cell index of each spike, in ``[0, n_cells)``.
    spike_times_ms : array_like, shape (k,), float
        Time of each spike, ms.
    cell_voxel_ijk : array_like, shape (n_cells, 3), int
        Voxel index of each cell.
    grid_shape : sequence of 3 int
        Shape of the voxel grid.
    t_start_ms, t_stop_ms : float
        Window, ms.
    cells_mask : array_like, shape (n_cells,), bool, optional
        Cells to include (e.g. one cell type or layer); default all.
    project_axis : int
        Grid axis collapsed by the projection.

    Returns
    -------
    rate_map_Hz : ndarray, 2-D, float64
        Mean rate of the included cells in each column, Hz; NaN where a column has no cells.
        Shape is ``grid_shape`` without ``project_axis``, remaining axes in grid order.
    n_cells_map : ndarray, 2-D, int64
        Number of included cells in each column.
    """
    ijk, shape, mask = _cell_selection(cell_voxel_ijk, grid_shape, cells_mask)
    rates = _per_cell_rates(spike_ids, spike_times_ms, len(ijk), t_start_ms, t_stop_ms)
    keep_axes = [a for a in range(3) if a != project_axis % 3]
    map_shape = (shape[keep_axes[0]], shape[keep_axes[1]])
    flat = np.ravel_multi_index((ijk[mask, keep_axes[0]], ijk[mask, keep_axes[1]]), map_shape)
    size = map_shape[0] * map_shape[1]
    n_map = np.bincount(flat, minlength=size)
    sum_map = np.bincount(flat, weights=rates[mask], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate_map = np.where(n_map > 0, sum_map / n_map, np.nan)
    return rate_map.reshape(map_shape), n_map.reshape(map_shape).astype(np.int64)


def rate_profile(spike_ids, spike_times_ms, cell_voxel_ijk, grid_shape, t_start_ms: float,
                 t_stop_ms: float, cells_mask=None, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean firing rate per slice of the voxel grid along one axis.

    With voxel indices in (AP, DV, LR) order, ``axis=0`` gives the rostro-caudal profile.

    Parameters
    ----------
    spike_ids, spike_times_ms, cell_voxel_ijk, grid_shape, t_start_ms, t_stop_ms, cells_mask
        As in :func:`voxel_rate_map`.
    axis : int
        Grid axis along which slices are taken.

    Returns
    -------
    rate_Hz : ndarray, shape (grid_shape[axis],), float64
        Mean rate of the included cells in each slice, Hz; NaN where a slice has no cells.
    n_cells : ndarray, shape (grid_shape[axis],), int64
        Number of included cells in each slice.
    """
    ijk, shape, mask = _cell_selection(cell_voxel_ijk, grid_shape, cells_mask)
    rates = _per_cell_rates(spike_ids, spike_times_ms, len(ijk), t_start_ms, t_stop_ms)
    n = shape[axis]
    idx = ijk[mask, axis]
    counts = np.bincount(idx, minlength=n)
    sums = np.bincount(idx, weights=rates[mask], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = np.where(counts > 0, sums / counts, np.nan)
    return profile, counts.astype(np.int64)
