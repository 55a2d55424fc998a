"""External inputs of the local cells: DC current schedules and Poisson rates.

Pure set-up: turns the scene's stimulus descriptions into per-cell arrays and the
steps at which the DC current changes.  The engine applies them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .model import Model

__all__ = ["DCSchedule", "dc_schedule", "poisson_arrays", "afferent_cells",
           "stimulated_cells"]


@dataclass(frozen=True)
class DCSchedule:
    """Piecewise-constant DC per local cell.

    change_steps : int64[k], sorted steps at which the current changes (first is 0).
    current_pA : float64[k, n_local], current from change_steps[j] on.
    """

    change_steps: np.ndarray
    current_pA: np.ndarray

    def at(self, step: int) -> np.ndarray:
        j = int(np.searchsorted(self.change_steps, step, side="right")) - 1
        return self.current_pA[max(j, 0)]

    def next_change(self, step: int) -> int:
        """First change step strictly after ``step`` (a large number if none)."""
        j = int(np.searchsorted(self.change_steps, step, side="right"))
        return int(self.change_steps[j]) if j < len(self.change_steps) else 2**62


def _targets(model: Model, local_gids: np.ndarray, cell_types, columns, voxels=()) -> np.ndarray:
    """Boolean mask over local cells of the given types, in the given voxel columns or
    single voxels (grid index) if any are given."""
    type_ids = [model.params.type_index(t) for t in cell_types]
    rows = model.cells.rows(local_gids)
    mask = np.isin(model.cells.type_id[rows], type_ids)
    if columns or voxels:
        vox = model.cells.voxel[rows]
        where = np.zeros(len(local_gids), dtype=bool)
        col = model.atlas.column[vox]
        for ix, iy in columns:
            where |= (col[:, 0] == ix) & (col[:, 1] == iy)
        if voxels:
            ijk = model.atlas.ijk[vox]
            for v in voxels:
                where |= np.all(ijk == np.asarray(v), axis=1)
        mask &= where
    return mask


def stimulated_cells(model: Model, stim) -> np.ndarray:
    """Sorted gids of the cells a ``DCStimulus`` reaches (for analysis: "not stimulated"),
    among the rows of ``model.cells`` (all cells unless it is a partial table)."""
    gids = model.cells.gids()
    return gids[_targets(model, gids, stim.cell_types, stim.columns, stim.voxels)]


def dc_schedule(model: Model, local_gids: np.ndarray) -> DCSchedule:
    """DC current per local cell over time from the model's DC stimuli."""
    dt = model.dt_ms
    c_m_pF = np.array([t.C_m_pF for t in model.params.cell_types])[
        model.cells.type_id[model.cells.rows(local_gids)]]
    edges = {0}
    stims = []
    for stim in model.params.dc:
        start = int(round(stim.start_ms / dt))
        stop = int(round(stim.stop_ms / dt)) if np.isfinite(stim.stop_ms) else 2**62
        edges.update((start, stop))
        mask = _targets(model, local_gids, stim.cell_types, stim.columns, stim.voxels)
        stims.append((start, stop, mask, stim.amplitude_pA
                      + stim.amplitude_pA_per_pF * c_m_pF[mask]))
    steps = np.array(sorted(edges), dtype=np.int64)
    current = np.zeros((len(steps), len(local_gids)))
    for j, s in enumerate(steps):
        for start, stop, mask, amp in stims:
            if start <= s < stop:
                current[j, mask] += amp
    return DCSchedule(change_steps=steps, current_pA=current)


def poisson_arrays(model: Model, local_gids: np.ndarray):
    """Background Poisson rate (Hz) and weight (nS) per (receptor, local cell).

    Inputs onto the same receptor of the same cell add their rates; they must then
    share one weight (checked when the scene is loaded).
    """
    n_r = len(model.params.receptors)
    rate = np.zeros((n_r, len(local_gids)))
    weight = np.zeros((n_r, len(local_gids)))
    for inp in model.params.poisson:
        r = model.params.receptor_index(inp.receptor)
        mask = _targets(model, local_gids, inp.cell_types, ())
        rate[r, mask] += inp.rate_Hz
        weight[r, mask] = inp.weight_nS
    return rate, weight


def afferent_cells(model: Model) -> np.ndarray:
    """Sorted gids of the cells that receive the body's afferent drive (may be empty)."""
    aff = model.params.afferents
    if aff is None:
        return np.zeros(0, dtype=np.int64)
    return model.cells_of_type(aff.cell_type)
