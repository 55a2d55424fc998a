"""Cell placement: cells per voxel from densities, positions from keyed draws.

Each (voxel, cell type) pair has its own random stream, so the cells of a voxel do
not depend on which other voxels or types exist, nor on the number of ranks.
Cells are numbered voxel by voxel, so contiguous id ranges are spatially compact.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .atlas import Atlas
from .kernels.rng import STREAM_PLACE, uniform
from .params import CellType

__all__ = ["Cells", "place_cells"]


@dataclass(frozen=True)
class Cells:
    """The cell table. Index = global cell id (gid).

    type_id : int16[n], index into the model's cell types.
    voxel : int32[n], index into the atlas voxels.
    pos_um : float64[n, 3], position (x, y along the surface, z depth).
    """

    type_id: np.ndarray
    voxel: np.ndarray
    pos_um: np.ndarray

    @property
    def n(self) -> int:
        return len(self.type_id)


def _expected_count(cell_type: CellType, atlas: Atlas, v: int, scale: float) -> float:
    if atlas.region[v] != cell_type.region:
        return 0.0
    if cell_type.layer and atlas.layer[v] != cell_type.layer:
        return 0.0
    volume_mm3 = (atlas.voxel_um * 1e-3) ** 3
    return cell_type.density_per_mm3 * volume_mm3 * scale


def place_cells(atlas: Atlas, cell_types: tuple, density_scale: float, seed: int) -> Cells:
    """Place cells of every type in every voxel.

    The count in a voxel is the expected count rounded up or down at random
    (stochastic rounding keeps the mean density exact at low scales).
    """
    type_ids, voxels, positions = [], [], []
    half = atlas.voxel_um / 2
    for v in range(atlas.n_voxels):
        for t, cell_type in enumerate(cell_types):
            expected = _expected_count(cell_type, atlas, v, density_scale)
            if expected <= 0:
                continue
            n = int(expected)
            key = v * 1024 + t
            if uniform(seed, STREAM_PLACE, key, 0) < expected - n:
                n += 1
            for i in range(n):
                offset = [uniform(seed, STREAM_PLACE, key, 1 + 3 * i + axis) for axis in range(3)]
                positions.append(atlas.center_um[v] + (np.array(offset) * 2 - 1) * half)
                type_ids.append(t)
                voxels.append(v)
    return Cells(type_id=np.array(type_ids, dtype=np.int16),
                 voxel=np.array(voxels, dtype=np.int32),
                 pos_um=np.array(positions, dtype=np.float64).reshape(-1, 3))
