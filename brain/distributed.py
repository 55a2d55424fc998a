"""Distributed build: each rank places only its own cells and the sources it wires from.

A rank starts from the model's ``CellLayout`` (``brain.layout``: one row per (voxel, type)
entry, no cell).  From it, every rank computes the same partition (recursive bisection of
voxels weighted by the cells' cost, ``brain.partition``; the cost's in-degree sample is
wired from the layout too), then places the entries of its own voxels plus, for every
``connections`` rule, the entries of source types in the voxels the rule can reach (a
halo).  Projections draw their sources from whole areas, but need only their gids (prefix
sums of the entry counts), per-voxel maps and, for delays, the positions of the drawn
sources: all come from the layout.  The synapses are those of the replicated build, bit
for bit (draws are keyed by gids, which are the same).
"""
from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from .connectivity import area_frame, connect
from .model import Model
from .partition import SYNAPSE_COST, partition_areas, partition_voxels

__all__ = ["LayoutSources", "source_entries", "rank_of_voxels", "local_model", "connect_local",
           "type_cost", "voxel_areas"]


def voxel_areas(atlas) -> np.ndarray:
    """int64[n_voxels], area key (region * 2 + hemisphere) of every voxel, as
    ``brain.connectivity`` keys cells."""
    return atlas.region_id.astype(np.int64) * 2 + atlas.hemisphere


class LayoutSources:
    """What ``brain.connectivity.connect`` needs beyond a partial table, from the layout."""

    def __init__(self, layout):
        self.layout = layout
        self.n_cells = layout.n

    def projection_sources(self, pre_types, region: int, hemisphere: int) -> tuple:
        """As ``TableSources.projection_sources``: (pre, pre_vox, first, vox_w)."""
        L, atlas = self.layout, self.layout.atlas
        ev = L.entry_voxel
        e = np.flatnonzero(np.isin(L.entry_type, pre_types) & (L.entry_count > 0)
                           & (atlas.region_id[ev] == region) & (atlas.hemisphere[ev] == hemisphere))
        pre = L.gids_of_entries(e)
        pre_vox, first_entry = np.unique(ev[e], return_index=True)
        offset = np.concatenate(([0], np.cumsum(L.entry_count[e])))[first_entry]
        vox_w = np.ones(len(pre_vox)) if L.voxel_factor is None else L.voxel_factor[pre_vox]
        return pre, pre_vox, offset.astype(np.int64), vox_w

    def maps(self):
        """As ``TableSources.maps``, placing one area at a time (the same sums in the same
        order, so the same bits as on the full table)."""
        L = self.layout
        if "maps" not in L.memo:
            counts = L.voxel_counts()
            used = np.flatnonzero(counts)
            n_vox = int(used[-1]) + 1 if len(used) else 0
            cnt = np.maximum(counts[:n_vox], 1)
            total = np.zeros((3, n_vox))
            centre, scale = {}, {}
            area_of_entry = voxel_areas(L.atlas)[L.entry_voxel]
            for k in np.unique(area_of_entry[L.entry_count > 0]):
                part = L.take(np.flatnonzero((area_of_entry == k) & (L.entry_count > 0)))
                for a in range(3):
                    total[a] += np.bincount(part.voxel, part.sheet_um[:, a], n_vox)
                centre[k], scale[k] = area_frame(part.sheet_um)
                del part
            vox = np.stack([total[a] / cnt for a in range(3)], axis=1)
            L.memo["maps"] = (vox, centre, scale)
        return L.memo["maps"]

    def positions_for(self, pres, local_gids) -> tuple:
        """(pos_um, pos_gid) of every drawn source and local cell (for the delays)."""
        mark = np.zeros(self.n_cells, dtype=bool)
        for p in pres:
            mark[p] = True
        mark[local_gids] = True
        gids = np.flatnonzero(mark).astype(np.int64)
        del mark
        return self.layout.positions(gids), gids


def _reach(rule) -> np.ndarray:
    """Half-extent (um, per surface axis) within which a rule's draw can accept a source;
    inf where it reaches the whole area (as ``brain.connectivity._draw_sheet_rule``)."""
    if rule.indegree > 0:
        return np.full(3, np.inf)
    if rule.kind == "parallel_fibre":
        return np.array([rule.fibre_width_um / 2, rule.fibre_width_um / 2,
                         rule.fibre_length_um / 2])
    if rule.sigma_um > 0:
        return np.full(3, rule.cutoff_sigmas * rule.sigma_um)
    return np.full(3, np.inf)


def source_entries(layout, params, post_entries: np.ndarray) -> np.ndarray:
    """Sorted entries of the cells that the ``connections`` rules can wire onto the cells
    of ``post_entries`` (a superset: voxel distances, widened by a voxel, decide).

    A cell's surface point lies within half a voxel (per axis) of its voxel's, so two
    cells are at most |voxel difference| + one voxel apart on each axis."""
    from scipy.spatial import cKDTree
    atlas = layout.atlas
    area = voxel_areas(atlas)
    has = layout.entry_count > 0
    post_entries = np.asarray(post_entries, dtype=np.int64)
    need = np.zeros(len(layout.entry_voxel), dtype=bool)
    margin = atlas.voxel_um * 1.001
    for rule in params.connections:
        post_t = [params.type_index(t) for t in rule.post]
        pv = np.unique(layout.entry_voxel[post_entries[np.isin(
            layout.entry_type[post_entries], post_t)]])
        if not len(pv):
            continue
        cand = np.flatnonzero(has & np.isin(layout.entry_type, [params.type_index(t)
                                                               for t in rule.pre])
                              & np.isin(area[layout.entry_voxel], np.unique(area[pv])))
        reach = _reach(rule)
        if np.isinf(reach).any():
            need[cand] = True
            continue
        # the area key as a 4th coordinate, far apart: a rule never wires across areas
        def points(v):
            return np.column_stack([atlas.sheet_um[v] / (reach + margin), area[v] * 1e3])
        tree = cKDTree(points(pv))
        cv = layout.entry_voxel[cand]
        uv, inv = np.unique(cv, return_inverse=True)
        d, _ = tree.query(points(uv), k=1, p=np.inf, distance_upper_bound=1.0 + 1e-9)
        need[cand[np.isfinite(d)[inv]]] = True
    need[post_entries] = True
    return np.flatnonzero(need)


@njit(cache=True)
def _voxel_weight(entry_voxel, entry_type, entry_count, cost_of_type, out_weight):
    """Sum of cell costs per voxel, cell by cell in gid order: the additions ``np.bincount``
    makes over the full table, so the same bits."""
    for e in range(entry_voxel.shape[0]):
        c = cost_of_type[entry_type[e]]
        for _ in range(entry_count[e]):
            out_weight[entry_voxel[e]] += c


def _sample_gids(layout, t: int, sample: int) -> np.ndarray:
    """``brain.partition.cell_cost``'s evenly spaced sample of type ``t``, from the layout."""
    e = layout.entries_of_type([t])
    count = layout.entry_count[e]
    n = int(count.sum())
    idx = np.unique(np.linspace(0, n - 1, min(sample, n)).astype(np.int64))
    cum = np.concatenate(([0], np.cumsum(count)))
    j = np.searchsorted(cum, idx, side="right") - 1
    return layout.entry_first[e[j]] + idx - cum[j]


def type_cost(model: Model, synapse_cost: float = SYNAPSE_COST, sample: int = 64) -> np.ndarray:
    """float64[n_types]: ``brain.partition.cell_cost`` per type (1 + synapse_cost x mean
    in-degree of a sample of up to ``sample`` cells), wired from the layout."""
    L, params = model.layout, model.params
    n_t = len(params.cell_types)
    total, count = np.zeros(n_t), np.zeros(n_t, dtype=np.int64)
    present = np.unique(L.entry_type[L.entry_count > 0])
    gids = np.unique(np.concatenate([_sample_gids(L, int(t), sample) for t in present])) \
        if len(present) else np.zeros(0, np.int64)
    sources = LayoutSources(L)
    table = L.take(source_entries(L, params, np.unique(L.entries_of(gids))))
    syn = connect(params, table, gids, model.dt_ms, model.seed, grid_um=model.atlas.voxel_um,
                  sources=sources)
    del table
    indegree = np.bincount(syn.target, minlength=len(gids))
    types = L.type_of(gids)
    np.add.at(total, types, indegree)
    count[:] = np.bincount(types, minlength=n_t)
    return 1.0 + synapse_cost * (total / np.maximum(count, 1))


def rank_of_voxels(model: Model, n_ranks: int, kind: str = "bisection") -> np.ndarray:
    """int32[n_voxels], the rank owning each voxel: ``brain.partition.partition_tiles``
    with ``cell_cost`` weights (or, ``kind = "area"``, ``partition_areas`` with the same
    weights), computed from the layout (the same partition as the replicated build's
    ``cosim.build.rank_of_cells``)."""
    L = model.layout
    if n_ranks == 1:
        return np.zeros(L.atlas.n_voxels, dtype=np.int32)
    weight = np.zeros(L.atlas.n_voxels)
    _voxel_weight(L.entry_voxel, L.entry_type, L.entry_count, type_cost(model), weight)
    if kind == "area":
        return partition_areas(weight, voxel_areas(L.atlas), n_ranks, L.atlas.center_um)
    return partition_voxels(weight, L.atlas.center_um, n_ranks)


def local_model(model: Model, n_ranks: int, rank: int, kind: str = "bisection") -> tuple:
    """(Model whose partial table holds rank ``rank``'s cells and their sources, sorted
    local gids int64) from a layout model (``brain.model.build_layout_model``); ``kind``
    is the partition (``run.partition``)."""
    L = model.layout
    if L is None:
        raise ValueError("local_model needs a layout model (brain.model.build_layout_model)")
    if not (0 <= rank < n_ranks):
        raise ValueError(f"rank {rank} of {n_ranks}: must be in [0, {n_ranks})")
    mine = rank_of_voxels(model, n_ranks, kind)[L.entry_voxel] == rank
    local_entries = np.flatnonzero(mine & (L.entry_count > 0))
    gids = L.gids_of_entries(local_entries)
    cells = L.take(source_entries(L, model.params, local_entries))
    return dataclasses.replace(model, cells=cells), gids


def connect_local(model: Model, gids: np.ndarray):
    """Incoming synapses of ``gids`` on a distributed model (``local_model``)."""
    return connect(model.params, model.cells, gids, model.dt_ms, model.seed,
                   grid_um=model.atlas.voxel_um, sources=LayoutSources(model.layout))
