"""Cell placement: cells per voxel from densities, positions from keyed draws.

Each (voxel, cell type) pair has its own random stream, so the cells of a voxel do
not depend on which other voxels or types exist, nor on the number of ranks.
Cells are numbered voxel by voxel, so contiguous id ranges are spatially compact.

Expected count of type t in voxel v: density x voxel volume x scale, where density is the
type's ``density_per_mm3`` or its ``fraction`` of the voxel's neuron density (voxel
atlases: from the atlas's density table, per Allen structure).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from .atlas import Atlas
from .kernels.rng import STREAM_PLACE, uniform
from .params import CellType

__all__ = ["Cells", "place_cells", "placement_entries", "expected_counts",
           "voxel_density_scale"]


@dataclass(frozen=True)
class Cells:
    """The cell table. Index = global cell id (gid).

    type_id : int16[n], index into the model's cell types.
    voxel : int32[n], index into the atlas voxels.
    pos_um : float64[n, 3], position (patch: x, y along the surface, z depth; voxel
        atlases: AP, DV, LR).
    Voxel atlases only (None on the patch):
    region : int16[n], index into ``region_names``; hemisphere : int8[n] (0 left);
    layer : int8[n], index into ``brain.params.ATLAS_LAYERS``;
    depth_um : float32[n] (NaN where undefined); sheet_um : float64[n, 3], the cell's
    surface point (``brain.atlas``); for the synthetic atlas's sheets it is (u, 0, v);
    wiring_factor : float64[n], how much the cell counts as a source in the wiring rules:
        reference / placed density scale of its voxel (``voxel_density_scale``; None: 1).
    gid : None (row = gid: the whole model), or int64[n] sorted, the global ids of the rows
        of a partial table (``brain.layout``: a rank's cells and the sources it needs).
    """

    type_id: np.ndarray
    voxel: np.ndarray
    pos_um: np.ndarray
    region: np.ndarray | None = None
    hemisphere: np.ndarray | None = None
    layer: np.ndarray | None = None
    depth_um: np.ndarray | None = None
    sheet_um: np.ndarray | None = None
    region_names: tuple = ()
    wiring_factor: np.ndarray | None = None
    gid: np.ndarray | None = None

    @property
    def n(self) -> int:
        """Rows of this table (all cells unless it is a partial table)."""
        return len(self.type_id)

    def gids(self) -> np.ndarray:
        """int64[n], the global id of every row."""
        return np.arange(self.n, dtype=np.int64) if self.gid is None else self.gid

    def rows(self, gids: np.ndarray) -> np.ndarray:
        """Row of each of ``gids`` (int64) in this table; ValueError if one is absent."""
        gids = np.asarray(gids, dtype=np.int64)
        if self.gid is None:
            return gids
        row = np.searchsorted(self.gid, gids)
        ok = row < self.n
        ok[ok] = self.gid[row[ok]] == gids[ok]
        if not ok.all():
            raise ValueError(f"cell {int(gids[~ok][0])} is not in this partial cell table "
                             f"({self.n} of the model's cells)")
        return row


def _type_mask(cell_type: CellType, atlas: Atlas) -> np.ndarray:
    mask = atlas.region == cell_type.region
    if cell_type.layer:
        mask &= atlas.layer == cell_type.layer
    return mask


def voxel_density_scale(atlas: Atlas, params) -> tuple:
    """(placed float64[n_voxels], wiring factor float64[n_voxels]) of a voxel atlas.

    The reference scale of a voxel is its region's (``region_density_scale`` or
    ``density_scale``): what the connection rules are stated for.  Cells are placed at
    the reference raised inside ``Focus`` discs (the larger wins where they overlap),
    times ``placement_scale``; the wiring factor is reference / placed."""
    from .params import ParamError
    ref = np.full(atlas.n_voxels, float(params.density_scale))
    for region, s in params.region_density_scale.items():
        ref[atlas.region == region] = s
    placed = ref.copy()
    for i, f in enumerate(params.focus):
        hit = np.flatnonzero(np.all(atlas.ijk == np.asarray(f.voxel), axis=1))
        if len(hit) == 0:
            raise ParamError(f"brain.focus[{i}].voxel", f"{list(f.voxel)} is not a modelled "
                             f"voxel of the atlas (grid {list(atlas.grid_shape)})")
        c = hit[0]
        d = np.linalg.norm(atlas.sheet_um - atlas.sheet_um[c], axis=1)
        inside = (np.isin(atlas.region, list(f.regions)) & (d <= f.radius_um)
                  & (atlas.hemisphere == atlas.hemisphere[c]))
        placed[inside] = np.maximum(placed[inside], f.density_scale)
    placed *= params.placement_scale
    return placed, ref / placed


def expected_counts(atlas: Atlas, cell_types: tuple, density_scale) -> np.ndarray:
    """float64[n_types, n_voxels] expected cells of each type in each voxel (scaled).

    ``density_scale``: one number, or float64[n_voxels] (``voxel_density_scale``)."""
    density_scale = np.broadcast_to(np.asarray(density_scale, dtype=np.float64),
                                    (atlas.n_voxels,))
    volume_mm3 = (atlas.voxel_um * 1e-3) ** 3
    out = np.zeros((len(cell_types), atlas.n_voxels))
    for t, ct in enumerate(cell_types):
        mask = _type_mask(ct, atlas)
        if ct.fraction > 0:
            if atlas.neurons_per_mm3 is None:
                raise ValueError(f"cell type {ct.name}: 'fraction' needs an atlas with "
                                 "densities (kind 'synthetic' or 'allen')")
            dens = np.nan_to_num(atlas.neurons_per_mm3) * ct.fraction
        else:
            dens = np.full(atlas.n_voxels, ct.density_per_mm3)
        out[t, mask] = dens[mask] * volume_mm3 * density_scale[mask]
    return out


@njit(cache=True)
def _place(entry_voxel, entry_type, entry_expected, center_um, half_um, seed,
           out_type, out_voxel, out_pos):
    """Cells of each (voxel, type) entry, in entry order. With out_type.shape[0] == 0
    only counts. Returns the number of cells."""
    n = 0
    fill = out_type.shape[0] > 0
    for e in range(entry_voxel.shape[0]):
        v = entry_voxel[e]
        t = entry_type[e]
        expected = entry_expected[e]
        key = v * 1024 + t
        k = int(expected)
        if uniform(seed, STREAM_PLACE, key, 0) < expected - k:
            k += 1
        if fill:
            for i in range(k):
                for axis in range(3):
                    u = uniform(seed, STREAM_PLACE, key, 1 + 3 * i + axis)
                    out_pos[n + i, axis] = center_um[v, axis] + (u * 2 - 1) * half_um
                out_type[n + i] = t
                out_voxel[n + i] = v
        n += k
    return n


def placement_entries(atlas: Atlas, cell_types: tuple, density_scale) -> tuple:
    """The (voxel, type) pairs that may hold cells, in gid order (voxel by voxel, types in
    order): (voxel int64[e], type int64[e], expected count float64[e])."""
    if len(cell_types) > 1024:
        raise ValueError(f"{len(cell_types)} cell types: at most 1024 are supported")
    expected = expected_counts(atlas, cell_types, density_scale)
    t_idx, v_idx = np.nonzero(expected > 0)
    order = np.lexsort((t_idx, v_idx))                # voxel by voxel, types in order
    return (np.ascontiguousarray(v_idx[order], dtype=np.int64),
            np.ascontiguousarray(t_idx[order], dtype=np.int64),
            np.ascontiguousarray(expected[t_idx[order], v_idx[order]]))


def place_cells(atlas: Atlas, cell_types: tuple, density_scale, seed: int,
                voxel_wiring_factor=None) -> Cells:
    """Place cells of every type in every voxel.

    The count in a voxel is the expected count rounded up or down at random
    (stochastic rounding keeps the mean density exact at low scales).
    ``density_scale``: one number or one per voxel; ``voxel_wiring_factor``
    (float64[n_voxels], ``voxel_density_scale``) gives each cell's ``wiring_factor``.
    """
    ev, et, ee = placement_entries(atlas, cell_types, density_scale)
    center = np.ascontiguousarray(atlas.center_um, dtype=np.float64)
    half = atlas.voxel_um / 2
    empty = (np.zeros(0, np.int16), np.zeros(0, np.int32), np.zeros((0, 3)))
    n = _place(ev, et, ee, center, half, seed, *empty)
    type_id, voxel, pos = np.empty(n, np.int16), np.empty(n, np.int32), np.empty((n, 3))
    _place(ev, et, ee, center, half, seed, type_id, voxel, pos)
    if not atlas.is_voxel_atlas:
        return Cells(type_id=type_id, voxel=voxel, pos_um=pos)
    factor = None
    if voxel_wiring_factor is not None and np.any(voxel_wiring_factor != 1.0):
        factor = voxel_wiring_factor[voxel]
    return _with_atlas_columns(atlas, type_id, voxel, pos, factor)


def _with_atlas_columns(atlas: Atlas, type_id, voxel, pos, factor, gid=None) -> Cells:
    from .params import ATLAS_LAYERS
    layer_index = {name: i for i, name in enumerate(ATLAS_LAYERS)}
    vox_layer = np.array([layer_index[x] for x in atlas.layer.tolist()], dtype=np.int8)
    offset = pos - atlas.center_um[voxel]
    chart = atlas.chart[voxel]
    offset[chart, 1] = 0.0                    # a chart (u, 0, v) moves along AP and LR only
    return Cells(type_id=type_id, voxel=voxel, pos_um=pos, region=atlas.region_id[voxel],
                 hemisphere=atlas.hemisphere[voxel], layer=vox_layer[voxel],
                 depth_um=atlas.depth_um[voxel], sheet_um=atlas.sheet_um[voxel] + offset,
                 region_names=atlas.region_names, wiring_factor=factor, gid=gid)
