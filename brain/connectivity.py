"""Wiring: distance-dependent rules -> incoming synapses of a rank's cells, as CSR by source.

Synapses are generated on the rank that owns the target, with draws keyed by
(target gid, source gid, rule): every rank count yields the same network, and no
rank ever holds another rank's synapses.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels.connect import _connect_rule, _fixed_indegree, _to_source_csr
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
        return np.zeros(0, np.int64), count
    if rule.indegree > 0:
        # pre may include post cells themselves; one of them is excluded per target
        if rule.indegree > len(pre) - 1:
            raise ValueError(f"connections[{rule_index}]: indegree {rule.indegree} exceeds "
                             f"the {len(pre)} candidate sources")
        out_pre = np.empty(len(post) * rule.indegree, dtype=np.int64)
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
    out_pre = np.empty(n, dtype=np.int64)
    _connect_rule(*args, out_pre, per_post)
    count[post_local] = per_post
    return out_pre, count


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
    local_gids = np.ascontiguousarray(local_gids, dtype=np.int64)
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
    pre = np.concatenate(pres) if pres else np.zeros(0, np.int64)
    del pres
    d = params.delays
    indptr = np.zeros(cells.n + 1, dtype=np.int64)
    target = np.empty(total, dtype=np.int32)
    weight = np.empty(total, dtype=np.float32)
    delay_steps = np.empty(total, dtype=np.uint8)
    max_delay = _to_source_csr(
        cells.n, n_local, pre, starts, rule_indptr,
        np.array([r.weight_nS for r in params.connections], dtype=np.float32),
        np.array([-1.0 if r.delay_ms is None else r.delay_ms for r in params.connections]),
        np.ascontiguousarray(cells.pos_um), local_gids, d.base_ms, d.velocity_um_per_ms,
        d.min_ms, dt_ms, indptr, target, weight, delay_steps)
    if max_delay > 255:
        raise ValueError(f"a delay of {max_delay * dt_ms:.1f} ms exceeds 255 steps; "
                         "raise dt_ms or the conduction velocity")
    return Synapses(indptr=indptr, target=target, weight_nS=weight, delay_steps=delay_steps)
