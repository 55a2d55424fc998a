"""Wiring: distance-dependent rules -> incoming synapses of a rank's cells, as CSR by source.

Synapses are generated on the rank that owns the target, with draws keyed by
(target gid, source gid, rule): every rank count yields the same network, and no
rank ever holds another rank's synapses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.connect import _connect_rule, _fixed_indegree
from .params import BrainParams
from .placement import Cells

__all__ = ["Synapses", "connect"]


@dataclass(frozen=True)
class Synapses:
    """Incoming synapses of one rank's cells, grouped by source (CSR).

    indptr : int64[n_cells_total + 1]; row s lists the synapses from source gid s.
    target : int32[n_syn], local index of the target cell (sorted by gid within a row).
    weight_nS : float32[n_syn].
    delay_steps : uint8[n_syn], whole steps (>= 1).
    """

    indptr: np.ndarray
    target: np.ndarray
    weight_nS: np.ndarray
    delay_steps: np.ndarray

    @property
    def n(self) -> int:
        return len(self.target)

    @property
    def nbytes_per_synapse(self) -> float:
        per_syn = self.target.itemsize + self.weight_nS.itemsize + self.delay_steps.itemsize
        return per_syn + self.indptr.nbytes / max(self.n, 1)


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
    pre_types = [params.type_index(t) for t in rule.pre]
    post_types = [params.type_index(t) for t in rule.post]
    pre = np.flatnonzero(np.isin(cells.type_id, pre_types)).astype(np.int64)
    post = local_gids[np.isin(cells.type_id[local_gids], post_types)].astype(np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if len(pre) == 0 or len(post) == 0:
        return empty, empty
    xy = cells.pos_um[:, :2]
    x0, y0 = xy.min(axis=0)
    nx = int((xy[:, 0].max() - x0) // cell_um) + 1
    ny = int((xy[:, 1].max() - y0) // cell_um) + 1
    pre_sorted, pre_xy, indptr = _buckets(pre, xy[pre], cell_um, x0, y0, nx, ny)
    if rule.indegree > 0:
        # pre may include post cells themselves; one of them is excluded per target
        if rule.indegree > len(pre) - 1:
            raise ValueError(f"connections[{rule_index}]: indegree {rule.indegree} exceeds "
                             f"the {len(pre)} candidate sources")
        out_pre = np.empty(len(post) * rule.indegree, dtype=np.int64)
        _fixed_indegree(post, pre, rule.indegree, seed, rule_index, out_pre)
        return out_pre, np.repeat(post, rule.indegree)
    post_xy = np.ascontiguousarray(xy[post])
    args = (post, post_xy, pre_sorted, pre_xy, indptr, x0, y0, cell_um, nx, ny,
            rule.p_max, rule.sigma_um, rule.cutoff_sigmas * rule.sigma_um, seed, rule_index)
    n = _connect_rule(*args, empty, empty)
    out_pre = np.empty(n, dtype=np.int64)
    out_post = np.empty(n, dtype=np.int64)
    _connect_rule(*args, out_pre, out_post)
    return out_pre, out_post


def connect(params: BrainParams, cells: Cells, local_gids: np.ndarray, dt_ms: float,
            seed: int, grid_um: float = 100.0) -> Synapses:
    """Draw all incoming synapses of ``local_gids`` (sorted global ids).

    Parameters
    ----------
    params : the brain description (rules, delays).
    cells : the global cell table (every rank has it; it is O(n_cells)).
    local_gids : int64[m], sorted ids of the cells this rank owns.
    dt_ms : simulation step (ms), for delays in steps.
    seed : model seed.
    """
    pres, posts, weights, rules, fixed = [], [], [], [], []
    for r, rule in enumerate(params.connections):
        pre, post = _draw_rule(r, rule, params, cells, local_gids, seed, grid_um)
        pres.append(pre)
        posts.append(post)
        weights.append(np.full(len(pre), rule.weight_nS, dtype=np.float32))
        rules.append(np.full(len(pre), r, dtype=np.int64))
        fixed.append(np.full(len(pre), np.nan if rule.delay_ms is None else rule.delay_ms))
    pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
    post = np.concatenate(posts) if posts else np.zeros(0, np.int64)
    weight = np.concatenate(weights) if weights else np.zeros(0, np.float32)
    rule = np.concatenate(rules) if rules else np.zeros(0, np.int64)
    fixed_ms = np.concatenate(fixed) if fixed else np.zeros(0)
    # Row order (source, target gid, rule) fixes the order in which a target's input is
    # summed, so sums are bit-identical whatever the partition.
    order = np.lexsort((rule, post, pre))
    pre, post, weight, fixed_ms = pre[order], post[order], weight[order], fixed_ms[order]
    dist_um = np.linalg.norm(cells.pos_um[pre] - cells.pos_um[post], axis=1)
    d = params.delays
    delay_ms = np.where(np.isnan(fixed_ms), d.base_ms + dist_um / d.velocity_um_per_ms, fixed_ms)
    delay_ms = np.maximum(delay_ms, d.min_ms)
    delay_steps = np.rint(delay_ms / dt_ms).astype(np.int64)
    if delay_steps.size and delay_steps.max() > 255:
        raise ValueError(f"a delay of {delay_steps.max() * dt_ms:.1f} ms exceeds 255 steps; "
                         "raise dt_ms or the conduction velocity")
    indptr = np.zeros(cells.n + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=cells.n), out=indptr[1:])
    target = np.searchsorted(local_gids, post).astype(np.int32)
    return Synapses(indptr=indptr, target=target, weight_nS=weight,
                    delay_steps=delay_steps.astype(np.uint8))
