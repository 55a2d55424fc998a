"""Where every cell is, without the cells: the placement's (voxel, type) entries and counts.

Placement draws each (voxel, type) entry from its own keyed stream (``brain.placement``),
and a cell's position from keys (entry, index in entry).  So the count of every entry,
and with its prefix sum the first gid of every entry, cost one draw per entry, and any
subset of cells -- a rank's voxels plus the sources its rules reach -- can be placed on
its own, bit for bit as in the full table.  A ``CellLayout`` is O(entries) = O(voxels x
types present); the full cell table is O(cells).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .atlas import Atlas
from .kernels.rng import STREAM_PLACE, uniform
from .placement import Cells, _place, _with_atlas_columns, placement_entries

__all__ = ["CellLayout", "cell_layout"]


@njit(cache=True)
def _entry_counts(entry_voxel, entry_type, entry_expected, seed, out_count):
    """Cells of each entry: the expected count rounded at random, as ``_place`` does."""
    for e in range(entry_voxel.shape[0]):
        expected = entry_expected[e]
        k = int(expected)
        if uniform(seed, STREAM_PLACE, entry_voxel[e] * 1024 + entry_type[e], 0) < expected - k:
            k += 1
        out_count[e] = k


@njit(cache=True)
def _positions(gids, entry_of, entry_voxel, entry_type, entry_first, center_um, half_um,
               seed, out_pos):
    """Position (um) of each gid from its entry and its index there, as ``_place`` draws it."""
    for i in range(gids.shape[0]):
        e = entry_of[i]
        v = entry_voxel[e]
        key = v * 1024 + entry_type[e]
        j = gids[i] - entry_first[e]
        for axis in range(3):
            u = uniform(seed, STREAM_PLACE, key, 1 + 3 * j + axis)
            out_pos[i, axis] = center_um[v, axis] + (u * 2 - 1) * half_um


@dataclass(frozen=True)
class CellLayout:
    """The cells of a voxel-atlas model as entries (one per (voxel, type) with cells).

    entry_voxel, entry_type : int64[e], in gid order (voxel by voxel, types in order).
    entry_expected : float64[e], the expected count the entry was drawn from.
    entry_first : int64[e + 1], gids of entry i are entry_first[i] ... entry_first[i+1]-1.
    voxel_factor : float64[n_voxels] or None, the voxels' wiring factor (None: all 1).
    """

    atlas: Atlas
    seed: int
    entry_voxel: np.ndarray
    entry_type: np.ndarray
    entry_expected: np.ndarray
    entry_first: np.ndarray
    voxel_factor: np.ndarray | None
    #: derived lookups computed once (e.g. the projections' voxel maps)
    memo: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def n(self) -> int:
        """Cells in the model."""
        return int(self.entry_first[-1])

    @property
    def entry_count(self) -> np.ndarray:
        return np.diff(self.entry_first)

    def entries_of(self, gids: np.ndarray) -> np.ndarray:
        """Entry (int64) of each gid."""
        return np.searchsorted(self.entry_first, np.asarray(gids, np.int64), side="right") - 1

    def type_of(self, gids: np.ndarray) -> np.ndarray:
        """Cell type id (int16) of each gid."""
        return self.entry_type[self.entries_of(gids)].astype(np.int16)

    def gids_of_entries(self, entries: np.ndarray) -> np.ndarray:
        """Sorted gids (int64) of the cells of ``entries`` (sorted entry indices)."""
        entries = np.asarray(entries, dtype=np.int64)
        first, count = self.entry_first[entries], self.entry_count[entries]
        if not len(entries):
            return np.zeros(0, np.int64)
        start = np.repeat(first - np.concatenate(([0], np.cumsum(count)[:-1])), count)
        return start + np.arange(int(count.sum()), dtype=np.int64)

    def entries_of_type(self, type_ids) -> np.ndarray:
        return np.flatnonzero(np.isin(self.entry_type, list(type_ids)) & (self.entry_count > 0))

    def gids_of_type(self, type_ids) -> np.ndarray:
        """Sorted gids of the cells of these types (what ``np.flatnonzero(isin(type_id,
        ...))`` gives on the full table)."""
        return self.gids_of_entries(self.entries_of_type(type_ids))

    def positions(self, gids: np.ndarray) -> np.ndarray:
        """float64[k, 3], pos_um of sorted or unsorted ``gids``."""
        gids = np.ascontiguousarray(gids, dtype=np.int64)
        out = np.empty((len(gids), 3))
        _positions(gids, self.entries_of(gids), self.entry_voxel, self.entry_type,
                   self.entry_first, np.ascontiguousarray(self.atlas.center_um, np.float64),
                   self.atlas.voxel_um / 2, self.seed, out)
        return out

    def take(self, entries: np.ndarray) -> Cells:
        """The partial cell table of ``entries`` (sorted entry indices), rows in gid order,
        equal row for row to the full table's (``place_cells``)."""
        entries = np.asarray(entries, dtype=np.int64)
        ev, et = self.entry_voxel[entries], self.entry_type[entries]
        ee = self.entry_expected[entries]
        center = np.ascontiguousarray(self.atlas.center_um, dtype=np.float64)
        half = self.atlas.voxel_um / 2
        n = int(self.entry_count[entries].sum())
        type_id, voxel, pos = np.empty(n, np.int16), np.empty(n, np.int32), np.empty((n, 3))
        got = _place(ev, et, ee, center, half, self.seed, type_id, voxel, pos)
        assert got == n, (got, n)
        factor = None if self.voxel_factor is None else self.voxel_factor[voxel]
        return _with_atlas_columns(self.atlas, type_id, voxel, pos, factor,
                                   gid=self.gids_of_entries(entries))

    def voxel_counts(self) -> np.ndarray:
        """int64[n_voxels], cells per voxel."""
        return np.bincount(self.entry_voxel, weights=self.entry_count,
                           minlength=self.atlas.n_voxels).astype(np.int64)


def cell_layout(atlas: Atlas, cell_types: tuple, density_scale, seed: int,
                voxel_wiring_factor=None) -> CellLayout:
    """The layout of ``place_cells(atlas, cell_types, density_scale, seed, factor)``
    without placing a cell."""
    ev, et, ee = placement_entries(atlas, cell_types, density_scale)
    count = np.empty(len(ev), dtype=np.int64)
    _entry_counts(ev, et, ee, seed, count)
    first = np.zeros(len(ev) + 1, dtype=np.int64)
    np.cumsum(count, out=first[1:])
    factor = voxel_wiring_factor
    if factor is not None and not np.any(factor != 1.0):
        factor = None
    return CellLayout(atlas=atlas, seed=seed, entry_voxel=ev, entry_type=et, entry_expected=ee,
                      entry_first=first, voxel_factor=factor)
