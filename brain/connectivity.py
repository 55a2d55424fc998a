"""Wiring: distance-dependent rules -> incoming synapses of a rank's cells, as CSR by source.

Synapses are generated on the rank that owns the target, with draws keyed by
(target gid, source gid, rule) (fixed-count kinds: (target gid, draw index, rule)):
every rank count yields the same network, and no rank ever holds another rank's synapses.

On the patch atlas, rules use the distance in the (x, y) plane.  On a voxel atlas
(``cells.sheet_um`` set) ``connections`` wire cells of the same region and hemisphere by
the distance between their surface points (or as parallel fibres), and ``projections``
wire areas from connectome strengths (``brain.kernels.projections``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.connect import _connect_rule, _fixed_indegree, _scatter_groups, _to_source_csr
from .kernels.projections import _connect_sheet, _project
from .params import BrainParams
from .placement import Cells

__all__ = ["Synapses", "connect", "TableSources", "area_frame"]


@dataclass(frozen=True)
class Synapses:
    """Incoming synapses of one rank's cells, grouped by source (CSR).

    indptr : int64[n_cells_total + 1]; row s lists the synapses from source gid s.
    target : int32[n_syn], local index of the target cell (sorted by gid within a row).
    weight_code : uint8 or uint16[n_syn], index into weight_table_nS. Weights come from
        rules, so a model has few distinct values: a code takes 1 byte instead of 4.
    weight_table_nS : float32[k], the distinct weights (nS).
    delay_steps : uint8[n_syn], whole steps (>= 1).
    """

    indptr: np.ndarray
    target: np.ndarray
    weight_code: np.ndarray
    weight_table_nS: np.ndarray
    delay_steps: np.ndarray

    @classmethod
    def from_weights(cls, indptr, target, weight_nS, delay_steps) -> "Synapses":
        """Synapses from one weight (nS) per synapse, coded against their distinct values."""
        table, code = np.unique(np.asarray(weight_nS, dtype=np.float32), return_inverse=True)
        return cls(indptr=np.asarray(indptr, dtype=np.int64),
                   target=np.asarray(target, dtype=np.int32),
                   weight_code=code.astype(code_dtype(len(table))),
                   weight_table_nS=table.astype(np.float32),
                   delay_steps=np.asarray(delay_steps, dtype=np.uint8))

    @property
    def weight_nS(self) -> np.ndarray:
        """float32[n_syn], the weight of each synapse (materialised on request)."""
        return self.weight_table_nS[self.weight_code]

    @property
    def n(self) -> int:
        return len(self.target)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.indptr, self.target, self.weight_code,
                                      self.weight_table_nS, self.delay_steps))

    @property
    def nbytes_per_synapse(self) -> float:
        return self.nbytes / max(self.n, 1)


def code_dtype(n_values: int):
    """Smallest unsigned type that indexes ``n_values`` distinct weights."""
    if n_values > 65536:
        raise ValueError(f"{n_values} distinct synaptic weights: at most 65536 are supported")
    return np.uint8 if n_values <= 256 else np.uint16


def _buckets(gids: np.ndarray, xy: np.ndarray, cell_um: float, x0: float, y0: float,
             nx: int, ny: int):
    bx = np.clip(((xy[:, 0] - x0) // cell_um).astype(np.int64), 0, nx - 1)
    by = np.clip(((xy[:, 1] - y0) // cell_um).astype(np.int64), 0, ny - 1)
    bucket = bx * ny + by
    order = np.lexsort((gids, bucket))
    indptr = np.zeros(nx * ny + 1, dtype=np.int64)
    np.cumsum(np.bincount(bucket, minlength=nx * ny), out=indptr[1:])
    return gids[order], np.ascontiguousarray(xy[order]), indptr


def _draw_rule(rule_index, rule, params, cells, local_gids, seed, cell_um):
    """Sources of one rule's synapses onto the local cells, grouped by target.

    Returns (pre int64[n_syn], count int64[n_local]): count[t] synapses onto local
    cell t, their sources consecutive in ``pre``, targets in ascending order.
    """
    pre_types = [params.type_index(t) for t in rule.pre]
    post_types = [params.type_index(t) for t in rule.post]
    pre = np.flatnonzero(np.isin(cells.type_id, pre_types)).astype(np.int64)
    post_local = np.flatnonzero(np.isin(cells.type_id[local_gids], post_types))
    post = local_gids[post_local]
    count = np.zeros(len(local_gids), dtype=np.int64)
    if len(pre) == 0 or len(post) == 0:
        return np.zeros(0, gid_dtype(cells.n)), count
    if rule.indegree > 0:
        # pre may include post cells themselves; one of them is excluded per target
        if rule.indegree > len(pre) - 1:
            raise ValueError(f"connections[{rule_index}]: indegree {rule.indegree} exceeds "
                             f"the {len(pre)} candidate sources")
        out_pre = np.empty(len(post) * rule.indegree, dtype=gid_dtype(cells.n))
        _fixed_indegree(post, pre, rule.indegree, seed, rule_index, out_pre)
        count[post_local] = rule.indegree
        return out_pre, count
    xy = cells.pos_um[:, :2]
    x0, y0 = xy.min(axis=0)
    nx = int((xy[:, 0].max() - x0) // cell_um) + 1
    ny = int((xy[:, 1].max() - y0) // cell_um) + 1
    pre_sorted, pre_xy, indptr = _buckets(pre, xy[pre], cell_um, x0, y0, nx, ny)
    post_xy = np.ascontiguousarray(xy[post])
    args = (post, post_xy, pre_sorted, pre_xy, indptr, x0, y0, cell_um, nx, ny,
            rule.p_max, rule.sigma_um, rule.cutoff_sigmas * rule.sigma_um, seed, rule_index)
    per_post = np.zeros(len(post), dtype=np.int64)
    n = _connect_rule(*args, np.zeros(0, np.int64), per_post)
    out_pre = np.empty(n, dtype=gid_dtype(cells.n))
    _connect_rule(*args, out_pre, per_post)
    count[post_local] = per_post
    return out_pre, count


def connect(params: BrainParams, cells: Cells, local_gids: np.ndarray, dt_ms: float,
            seed: int, grid_um: float = 100.0, sources=None) -> Synapses:
    """Draw all incoming synapses of ``local_gids`` (sorted global ids).

    Parameters
    ----------
    params : the brain description (rules, delays).
    cells : the global cell table, or (voxel atlases, with ``layout``) a partial table
        (``cells.gid`` set) holding the local cells and every source cell the
        ``connections`` rules can reach from them (``brain.distributed``).
    local_gids : int64[m], sorted ids of the cells this rank owns.
    dt_ms : simulation step (ms), for delays in steps.
    seed : model seed.
    sources : where a partial table's missing sources come from (the projections' source
        lists, voxel maps and the positions for delays): ``brain.distributed.LayoutSources``.
        None: the full table (``TableSources``).
    """
    local_gids = np.ascontiguousarray(local_gids, dtype=np.int64)
    if cells.gid is not None and (sources is None or cells.sheet_um is None):
        raise ValueError("a partial cell table needs a voxel atlas and its sources")
    if cells.sheet_um is not None:
        return _connect_atlas(params, cells, local_gids, dt_ms, seed, grid_um, sources)
    n_local, n_rules = len(local_gids), len(params.connections)
    pres, starts = [], np.zeros(n_rules, dtype=np.int64)
    rule_indptr = np.zeros((n_rules, n_local + 1), dtype=np.int64)
    total = 0
    for r, rule in enumerate(params.connections):
        pre, count = _draw_rule(r, rule, params, cells, local_gids, seed, grid_um)
        np.cumsum(count, out=rule_indptr[r, 1:])
        starts[r] = total
        total += len(pre)
        pres.append(pre)
    d = params.delays
    rules = params.connections
    return _assemble(cells.n, cells.pos_um, np.zeros(0, np.int64), local_gids, pres, starts,
                     rule_indptr, total, [r.weight_nS for r in rules],
                     [-1.0 if r.delay_ms is None else r.delay_ms for r in rules],
                     [d.base_ms] * len(rules), [d.velocity_um_per_ms] * len(rules),
                     d.min_ms, dt_ms)


def gid_dtype(n_cells: int):
    """Narrowest integer type for cell ids: int32 halves the build's temporary memory."""
    return np.int32 if n_cells < 2**31 else np.int64


def _assemble(n_cells, pos_um, pos_gid, local_gids, pres, starts, rule_indptr, total, weight,
              fixed, base, velocity, min_ms, dt_ms) -> Synapses:
    """Regroup the rules' target-major draws into the source-grouped CSR (one kernel).

    pos_um: positions of the cells ``pos_gid`` (sorted int64; empty: of every gid).
    Empties ``pres`` so that the per-rule arrays are freed before the CSR is allocated.
    """
    # one buffer filled rule by rule, each rule's array freed once copied: np.empty
    # touches no page, so the draws and the buffer never both sit in memory (and an
    # empty int64 piece cannot widen every id to 8 bytes, as np.concatenate would)
    pre = np.empty(sum(len(p) for p in pres), dtype=gid_dtype(n_cells))
    at = 0
    pres.reverse()
    while pres:
        piece = pres.pop()
        pre[at:at + len(piece)] = piece
        at += len(piece)
        del piece
    table, code_by_rule = np.unique(np.array(weight, dtype=np.float32), return_inverse=True)
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    target = np.empty(total, dtype=np.int32)
    weight_code = np.empty(total, dtype=code_dtype(len(table)))
    delay_steps = np.empty(total, dtype=np.uint8)
    max_delay = _to_source_csr(
        n_cells, len(local_gids), pre, starts, rule_indptr,
        code_by_rule.astype(weight_code.dtype),
        np.array(fixed, dtype=np.float64), np.array(base, dtype=np.float64),
        np.array(velocity, dtype=np.float64), np.ascontiguousarray(pos_um),
        np.ascontiguousarray(pos_gid, dtype=np.int64), local_gids,
        min_ms, dt_ms, indptr, target, weight_code, delay_steps)
    if max_delay > 255:
        raise ValueError(f"a delay of {max_delay * dt_ms:.1f} ms exceeds 255 steps; "
                         "raise dt_ms or the conduction velocity")
    return Synapses(indptr=indptr, target=target, weight_code=weight_code,
                    weight_table_nS=table.astype(np.float32), delay_steps=delay_steps)


# ------------------------------------------------------------------ voxel atlases

def _merge(n_local: int, parts) -> tuple:
    """Join target-grouped pieces [(post_local int64[m], count int64[m], pre), ...] with
    disjoint targets into one list grouped by local target, in target order."""
    count = np.zeros(n_local, dtype=np.int64)
    for post_local, c, _ in parts:
        count[post_local] += c
    if len(parts) == 1 and np.all(np.diff(parts[0][0]) > 0):
        return parts[0][2], count          # already in target order: no copy
    start = np.zeros(n_local + 1, dtype=np.int64)
    np.cumsum(count, out=start[1:])
    out = np.empty(start[-1], dtype=parts[0][2].dtype if parts else np.int64)
    for post_local, c, pre in parts:
        _scatter_groups(post_local.astype(np.int64), c.astype(np.int64), pre, start, out)
    return out, count


def _sheet_buckets(gids, s, cell_um):
    grid0 = s.min(axis=0) if len(s) else np.zeros(3)
    dims = (np.floor((s.max(axis=0) - grid0) / cell_um).astype(np.int64) + 1) if len(s) \
        else np.ones(3, np.int64)
    b3 = np.floor((s - grid0) / cell_um).astype(np.int64)
    bucket = (b3[:, 0] * dims[1] + b3[:, 1]) * dims[2] + b3[:, 2]
    order = np.lexsort((gids, bucket))
    indptr = np.zeros(int(np.prod(dims)) + 1, dtype=np.int64)
    np.cumsum(np.bincount(bucket, minlength=int(np.prod(dims))), out=indptr[1:])
    return gids[order], np.ascontiguousarray(s[order]), indptr, grid0, dims, order


def _area_key(cells: Cells) -> np.ndarray:
    return cells.region.astype(np.int64) * 2 + cells.hemisphere


def _draw_sheet_rule(r, rule, params, cells, local_gids, local_rows, seed, grid_um, n_cells):
    """One ``connections`` rule on a voxel atlas: (pre, count[n_local]).

    ``cells`` may be a partial table (rows != gids): ``local_rows`` are the local cells'
    rows, and sources are looked up by row but drawn and returned by gid."""
    key = _area_key(cells)
    pre_rows = np.flatnonzero(np.isin(cells.type_id, [params.type_index(t) for t in rule.pre]))
    pre = cells.gids()[pre_rows]
    post_local = np.flatnonzero(np.isin(cells.type_id[local_rows],
                                        [params.type_index(t) for t in rule.post]))
    post, post_rows = local_gids[post_local], local_rows[post_local]
    if len(pre) == 0 or len(post) == 0:
        return np.zeros(0, gid_dtype(n_cells)), np.zeros(len(local_gids), np.int64)
    if rule.indegree > 0:
        parts = []
        for k in np.unique(key[post_rows]):
            pk, mine = pre[key[pre_rows] == k], post_local[key[post_rows] == k]
            if rule.indegree > len(pk) - 1:
                raise ValueError(f"connections[{r}]: indegree {rule.indegree} exceeds the "
                                 f"{len(pk)} candidate sources in {cells.region_names[k // 2]}")
            out = np.empty(len(mine) * rule.indegree, dtype=gid_dtype(n_cells))
            _fixed_indegree(local_gids[mine], pk.astype(np.int64), rule.indegree, seed, r, out)
            parts.append((mine, np.full(len(mine), rule.indegree), out))
        return _merge(len(local_gids), parts)
    if rule.kind == "parallel_fibre":
        half = np.array([rule.fibre_width_um / 2, rule.fibre_width_um / 2,
                         rule.fibre_length_um / 2])
        mode, cell_um = 1, max(grid_um, rule.fibre_width_um)
    elif rule.sigma_um > 0:
        half = np.full(3, rule.cutoff_sigmas * rule.sigma_um)
        mode, cell_um = 0, max(grid_um, half[0])
    else:
        half, mode, cell_um = np.full(3, np.inf), 0, 1e12
    pre_g, pre_s, indptr, grid0, dims, order = _sheet_buckets(pre.astype(np.int64),
                                                              cells.sheet_um[pre_rows], cell_um)
    pre_r = pre_rows[order]
    factor = cells.wiring_factor
    pre_w = np.ones(len(pre_g)) if factor is None else np.ascontiguousarray(factor[pre_r])
    args = (post, np.ascontiguousarray(cells.sheet_um[post_rows]), key[post_rows], pre_g,
            pre_s, key[pre_r], pre_w, indptr, grid0, float(cell_um), dims, half, mode,
            rule.p_max, rule.sigma_um, seed, r)
    per_post = np.zeros(len(post), dtype=np.int64)
    n = _connect_sheet(*args, np.zeros(0, gid_dtype(n_cells)), per_post)
    out = np.empty(n, dtype=gid_dtype(n_cells))
    _connect_sheet(*args, out, per_post)
    return _merge(len(local_gids), [(post_local, per_post, out)])


class TableSources:
    """Source lookups of a wiring on the full cell table (row = gid)."""

    def __init__(self, cells: Cells):
        self.cells = cells
        self._maps = None

    def projection_sources(self, pre_types, region: int, hemisphere: int) -> tuple:
        """(pre int64[k] sorted gids of ``pre_types`` in one area, pre_vox int64[u] their
        voxels, first int64[u] index of each voxel's first cell in pre, vox_w float64[u]
        the voxels' wiring factors)."""
        c = self.cells
        pre = np.flatnonzero(np.isin(c.type_id, pre_types) & (c.region == region)
                             & (c.hemisphere == hemisphere)).astype(np.int64)
        pre_vox, first = np.unique(c.voxel[pre], return_index=True)
        factor = c.wiring_factor
        vox_w = np.ones(len(pre_vox)) if factor is None else factor[pre[first]]
        return pre, pre_vox, first, vox_w

    def maps(self):
        """Per voxel: mean surface point; per area key (region * 2 + hemisphere): centroid
        and spread (``area_frame``). Returns (vox_sheet float64[n_vox, 3], centre {key:
        [3]}, scale {key: [3]})."""
        if self._maps is None:
            c = self.cells
            n_vox = int(c.voxel.max()) + 1 if c.n else 0
            cnt = np.maximum(np.bincount(c.voxel, minlength=n_vox), 1)
            vox = np.stack([np.bincount(c.voxel, c.sheet_um[:, a], n_vox) / cnt
                            for a in range(3)], axis=1)
            centre, scale = {}, {}
            key = _area_key(c)
            for k in np.unique(key):
                centre[k], scale[k] = area_frame(c.sheet_um[key == k])
            self._maps = (vox, centre, scale)
        return self._maps

    def positions_for(self, pres, local_gids) -> tuple:
        """(pos_um, pos_gid) the CSR's delays read: the whole table (pos_gid empty)."""
        return self.cells.pos_um, np.zeros(0, np.int64)


def area_frame(sheet_um: np.ndarray) -> tuple:
    """(centroid, spread) um [3] of one area's surface points: the frame in which
    topographic projections match positions, (x - centroid) / spread.  The spread is
    floored at 50 um so a one-voxel-thin axis does not blow up."""
    return sheet_um.mean(axis=0), np.maximum(sheet_um.std(axis=0), 50.0)


def _draw_projection(key, rule, row, params, cells, local_gids, local_rows, seed, sources,
                     n_cells):
    """One (source A, target B, side, W) row of a projection rule: (pre, count)."""
    src, dst, side, strength = row
    names = list(cells.region_names)
    a, b = names.index(src), names.index(dst)
    pre_t = [params.type_index(t) for t in rule.pre]
    post_t = [params.type_index(t) for t in rule.post]
    lam = rule.indegree_per_strength * strength
    post_mask = np.isin(cells.type_id[local_rows], post_t) & (cells.region[local_rows] == b)
    parts = []
    vox_sheet, centre, scale = sources.maps()
    for h in (0, 1):
        post_local = np.flatnonzero(post_mask & (cells.hemisphere[local_rows] == h))
        hp = h if side == "ipsi" else 1 - h
        if len(post_local) == 0 or not (lam > 0):
            continue
        pre, pre_vox, first, vox_w = sources.projection_sources(pre_t, a, hp)
        if len(pre) < 2:
            continue
        post = local_gids[post_local]
        indptr = np.append(first, len(pre)).astype(np.int64)
        post_vox, post_idx = np.unique(cells.voxel[local_rows[post_local]], return_inverse=True)
        mirror = np.array([1.0, 1.0, -1.0 if side == "contra" else 1.0])
        pre_map = (vox_sheet[pre_vox] - centre[a * 2 + hp]) / scale[a * 2 + hp] * mirror
        post_map = (vox_sheet[post_vox] - centre[b * 2 + h]) / scale[b * 2 + h]
        sigma = rule.map_sigma if rule.topographic else 0.0
        args = (post, post_idx.astype(np.int64), np.ascontiguousarray(post_map), pre, indptr,
                np.ascontiguousarray(pre_map), np.ascontiguousarray(vox_w, dtype=np.float64),
                sigma, lam, seed, key)
        per_post = np.zeros(len(post), dtype=np.int64)
        n = _project(*args, np.zeros(0, gid_dtype(n_cells)), per_post)
        out = np.empty(n, dtype=gid_dtype(n_cells))
        _project(*args, out, per_post)
        parts.append((post_local, per_post, out))
    return _merge(len(local_gids), parts)


def _connect_atlas(params, cells, local_gids, dt_ms, seed, grid_um, sources) -> Synapses:
    if len(params.connections) > 64:
        raise ValueError(f"{len(params.connections)} connection rules: at most 64 are "
                         "supported on a voxel atlas")
    sources = TableSources(cells) if sources is None else sources
    n_cells = cells.n if cells.gid is None else sources.n_cells
    local_rows = cells.rows(local_gids)
    d = params.delays
    drawn, weight, fixed, base, velocity = [], [], [], [], []
    for r, rule in enumerate(params.connections):
        drawn.append(_draw_sheet_rule(r, rule, params, cells, local_gids, local_rows, seed,
                                      grid_um, n_cells))
        weight.append(rule.weight_nS)
        fixed.append(-1.0 if rule.delay_ms is None else rule.delay_ms)
        base.append(d.base_ms)
        velocity.append(d.velocity_um_per_ms)
    key = 64
    for rule in params.projections:
        for row in rule.resolved:
            drawn.append(_draw_projection(key, rule, row, params, cells, local_gids, local_rows,
                                          seed, sources, n_cells))
            key += 1
            weight.append(rule.weight_nS)
            fixed.append(-1.0 if rule.delay_ms is None else rule.delay_ms)
            base.append(d.base_ms)
            velocity.append(rule.velocity_um_per_ms or d.velocity_um_per_ms)
    if key > 4096:
        raise ValueError(f"{key - 64} projection pathways: at most 4032 are supported")
    n_local, n_rules = len(local_gids), len(drawn)
    starts = np.zeros(n_rules, dtype=np.int64)
    rule_indptr = np.zeros((n_rules, n_local + 1), dtype=np.int64)
    total = 0
    for r, (pre, count) in enumerate(drawn):
        np.cumsum(count, out=rule_indptr[r, 1:])
        starts[r] = total
        total += len(pre)
    pres = [p for p, _ in drawn]
    drawn.clear()
    pos_um, pos_gid = sources.positions_for(pres, local_gids)
    return _assemble(n_cells, pos_um, pos_gid, local_gids, pres, starts, rule_indptr, total,
                     weight, fixed, base, velocity, d.min_ms, dt_ms)
