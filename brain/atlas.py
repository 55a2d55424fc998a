"""Voxel atlas: which region and layer each 100 um voxel belongs to.

The walking skeleton ships one synthetic atlas: a flat patch of one cortical area
(layers stacked from the pia down, voxel columns side by side) with a thalamic block
below it.  Region ids are real Allen structure ids so later atlases can replace it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import PatchAtlasSpec

__all__ = ["Atlas", "ALLEN_IDS", "synthetic_patch"]

# Allen CCF structure ids of the regions the synthetic atlases use.
ALLEN_IDS = {"MOp": 985, "MOs": 993, "SSp": 322, "SSs": 378, "VAL": 629, "VM": 685,
             "VPL": 718, "PG": 931, "CP": 672, "GPe": 1022}


@dataclass(frozen=True)
class Atlas:
    """A set of labelled voxels.

    Attributes
    ----------
    voxel_um : edge length of a voxel (um).
    region : str[n_voxels], Allen acronym of each voxel's region.
    layer : str[n_voxels], layer name or "" for unlayered regions.
    center_um : float64[n_voxels, 3], voxel centres (x, y along the surface, z depth).
    column : int64[n_voxels, 2], (ix, iy) surface column of each voxel (-1 if none).
    """

    voxel_um: float
    region: np.ndarray
    layer: np.ndarray
    center_um: np.ndarray
    column: np.ndarray

    @property
    def n_voxels(self) -> int:
        return len(self.region)


def synthetic_patch(spec: PatchAtlasSpec) -> Atlas:
    """Build the flat cortical patch described by ``spec``.

    Layers fill voxels by the depth of the voxel centre, so a layer thinner than a
    voxel may get no voxel; the scene validator warns about that case.
    """
    nx, ny = spec.columns
    vox = spec.voxel_um
    bounds = np.cumsum([0.0] + [layer.thickness_um for layer in spec.layers])
    nz = int(np.ceil(bounds[-1] / vox)) if len(spec.layers) else 0
    regions, layers, centers, columns = [], [], [], []
    for ix in range(nx):
        for iy in range(ny):
            for iz in range(nz):
                depth = (iz + 0.5) * vox
                k = int(np.searchsorted(bounds, depth, side="right")) - 1
                if k >= len(spec.layers):
                    continue
                regions.append(spec.region)
                layers.append(spec.layers[k].name)
                centers.append(((ix + 0.5) * vox, (iy + 0.5) * vox, depth))
                columns.append((ix, iy))
    # Thalamic block: a row of voxels centred under the patch, 1 mm below the cortex.
    for k in range(spec.thalamus_voxels):
        x = (nx * vox) / 2 + (k - (spec.thalamus_voxels - 1) / 2) * vox
        regions.append(spec.thalamus)
        layers.append("")
        centers.append((x, (ny * vox) / 2, nz * vox + 1000.0))
        columns.append((-1, -1))
    return Atlas(voxel_um=vox,
                 region=np.array(regions, dtype=object),
                 layer=np.array(layers, dtype=object),
                 center_um=np.array(centers, dtype=np.float64).reshape(-1, 3),
                 column=np.array(columns, dtype=np.int64).reshape(-1, 2))
