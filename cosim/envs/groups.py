"""Named groups of brain cells, from short spec strings, for stimulation and read-out.

A spec is ``"TYPES"`` (every cell of those types: one group) or ``"TYPES/column"`` (one group
per voxel column of the cortical patch that holds such cells); TYPES is a cell type name or
several joined by ``+``. Examples: ``"TC"``, ``"L23_E/column"``, ``"L23_E+L23_FS/column"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CellGroups", "cell_groups"]


@dataclass(frozen=True)
class CellGroups:
    """Groups of cells, possibly overlapping.

    names : tuple of str, one per group (e.g. ``"L23_E/column(1,0)"``).
    gids : tuple of int64 arrays, the sorted cell ids of each group.
    """

    names: tuple
    gids: tuple

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def size(self) -> np.ndarray:
        """Cells per group; int64[n]."""
        return np.array([len(g) for g in self.gids], dtype=np.int64)

    def member_matrix(self, n_cells: int) -> np.ndarray:
        """bool[n, n_cells]: row g marks the cells of group g."""
        member = np.zeros((self.n, n_cells), dtype=bool)
        for g, gids in enumerate(self.gids):
            member[g, gids] = True
        return member


def cell_groups(model, specs) -> CellGroups:
    """Resolve group ``specs`` against a built brain model (`brain.model.Model`).

    Raises
    ------
    ValueError
        A malformed spec, an unknown cell type (the message lists the defined ones), a split
        other than ``/column``, or a group with no cells.
    """
    names, gids = [], []
    for spec in specs:
        types, _, split = spec.partition("/")
        if split not in ("", "column") or not types:
            raise ValueError(f"group {spec!r}: expected 'TYPES' or 'TYPES/column' "
                             "(TYPES = cell type names joined by '+')")
        try:
            type_ids = [model.params.type_index(t) for t in types.split("+")]
        except ValueError as err:
            raise ValueError(f"group {spec!r}: {err}") from None
        members = np.flatnonzero(np.isin(model.cells.type_id, type_ids)).astype(np.int64)
        if len(members) == 0:
            raise ValueError(f"group {spec!r}: the model has no cells of these types "
                             "(raise the density or the patch size)")
        if not split:
            names.append(spec)
            gids.append(members)
            continue
        column = model.atlas.column[model.cells.voxel[members]]
        keys = sorted({(int(ix), int(iy)) for ix, iy in column if ix >= 0})
        if not keys:
            raise ValueError(f"group {spec!r}: its cells lie in no cortical voxel column")
        for ix, iy in keys:
            names.append(f"{types}/column({ix},{iy})")
            gids.append(members[(column[:, 0] == ix) & (column[:, 1] == iy)])
    return CellGroups(names=tuple(names), gids=tuple(gids))
