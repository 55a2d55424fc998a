"""Kernel: draw the incoming synapses of some target cells for one wiring rule."""
import math

import numpy as np
from numba import njit

from .rng import STREAM_CONNECT, STREAM_INDEGREE, uniform

__all__ = ["_connect_rule", "_fixed_indegree", "_scatter_groups"]


@njit(cache=True)
def _connect_rule(post_gid, post_xy, pre_gid, pre_xy, bucket_indptr, grid_x0, grid_y0,
                  cell_um, nx, ny, p_max, sigma_um, cutoff_um, seed, rule, out_pre, out_count):
    """Bernoulli draw for every (candidate pre, post) pair of one rule.

    post_gid: int64[m]; post_xy: float64[m, 2]; pre_gid: int64[k] sorted by grid bucket;
    pre_xy: float64[k, 2]; bucket_indptr: int64[nx*ny + 1] into pre_gid.
    The draw for a pair is keyed by (post gid, pre gid, rule), never by loop order.
    With ``out_pre.shape[0] == 0`` only counts. Fills out_count[i] (synapses onto
    post i) and, grouped by post, out_pre. Returns the number of synapses.
    """
    n = 0
    fill = out_pre.shape[0] > 0
    inv2s2 = 0.0 if sigma_um <= 0 else 1.0 / (2.0 * sigma_um * sigma_um)
    for i in range(post_gid.shape[0]):
        n_before = n
        px = post_xy[i, 0]
        py = post_xy[i, 1]
        if sigma_um > 0:
            bx0 = max(0, int(math.floor((px - cutoff_um - grid_x0) / cell_um)))
            bx1 = min(nx - 1, int(math.floor((px + cutoff_um - grid_x0) / cell_um)))
            by0 = max(0, int(math.floor((py - cutoff_um - grid_y0) / cell_um)))
            by1 = min(ny - 1, int(math.floor((py + cutoff_um - grid_y0) / cell_um)))
        else:
            bx0, bx1, by0, by1 = 0, nx - 1, 0, ny - 1
        for bx in range(bx0, bx1 + 1):
            for by in range(by0, by1 + 1):
                b = bx * ny + by
                for j in range(bucket_indptr[b], bucket_indptr[b + 1]):
                    if pre_gid[j] == post_gid[i]:
                        continue
                    p = p_max
                    if sigma_um > 0:
                        dx = pre_xy[j, 0] - px
                        dy = pre_xy[j, 1] - py
                        d2 = dx * dx + dy * dy
                        if d2 > cutoff_um * cutoff_um:
                            continue
                        p = p_max * math.exp(-d2 * inv2s2)
                    if uniform(seed, STREAM_CONNECT, post_gid[i], pre_gid[j] * 64 + rule) < p:
                        if fill:
                            out_pre[n] = pre_gid[j]
                        n += 1
        out_count[i] = n - n_before
    return n


@njit(cache=True)
def _fixed_indegree(post_gid, pre_gid, k, seed, rule, out_pre):
    """Draw ``k`` distinct sources (not the target itself) for every target.

    post_gid: int64[m]; pre_gid: int64[n_pre] candidates; out_pre: int64[m * k].
    Draw j of a target is keyed by (target gid, j, rule): independent of ranks.
    """
    n_pre = pre_gid.shape[0]
    used = np.zeros(n_pre, dtype=np.bool_)
    picked = np.empty(k, dtype=np.int64)
    for i in range(post_gid.shape[0]):
        n = 0
        j = 0
        while n < k:
            c = int(uniform(seed, STREAM_INDEGREE, post_gid[i], j * 64 + rule) * n_pre)
            j += 1
            if used[c] or pre_gid[c] == post_gid[i]:
                continue
            used[c] = True
            picked[n] = c
            out_pre[i * k + n] = pre_gid[c]
            n += 1
        for q in range(k):
            used[picked[q]] = False


@njit(cache=True)
def _to_source_csr(n_cells, n_local, pre, rule_start, rule_indptr, code_by_rule,
                   fixed_delay_by_rule, base_by_rule, velocity_by_rule, pos_um, pos_gid,
                   local_gid, min_ms, dt_ms, indptr, target, weight_code, delay_steps):
    """Regroup target-major synapse lists into rows by source (CSR), in one pass each.

    pre: int64[n_syn], rule r's synapses at rule_start[r] + rule_indptr[r, t]...
    rule_indptr[r, t + 1] for local target t. Rows come out ordered by (target, rule):
    the summation order every partition shares. fixed_delay_by_rule < 0 means the
    delay follows from distance: base_by_rule (ms) + distance / velocity_by_rule (um/ms). Fills indptr (int64[n_cells + 1]), target (int32),
    weight_nS (float32), delay_steps (uint8); returns the largest delay in steps.
    pos_gid: int64[k] sorted gids of the rows of pos_um (a partial table), or empty
    (row = gid).
    """
    n_rules = rule_start.shape[0]
    count = np.zeros(n_cells + 1, dtype=np.int64)
    for j in range(pre.shape[0]):
        count[pre[j] + 1] += 1
    for i in range(n_cells):
        count[i + 1] += count[i]
    indptr[:] = count
    cursor = count[:n_cells].copy()
    max_delay = 0
    partial = pos_gid.shape[0] > 0
    for t in range(n_local):
        post = local_gid[t]
        if partial:
            post = np.searchsorted(pos_gid, post)
        for r in range(n_rules):
            for j in range(rule_start[r] + rule_indptr[r, t], rule_start[r] + rule_indptr[r, t + 1]):
                src = pre[j]
                q = cursor[src]
                cursor[src] += 1
                target[q] = t
                weight_code[q] = code_by_rule[r]
                d_ms = fixed_delay_by_rule[r]
                if d_ms < 0:
                    row = np.searchsorted(pos_gid, src) if partial else src
                    dx = pos_um[row, 0] - pos_um[post, 0]
                    dy = pos_um[row, 1] - pos_um[post, 1]
                    dz = pos_um[row, 2] - pos_um[post, 2]
                    d_ms = base_by_rule[r] + math.sqrt(dx * dx + dy * dy + dz * dz) \
                        / velocity_by_rule[r]
                d_ms = max(d_ms, min_ms)
                steps = int(np.rint(d_ms / dt_ms))
                max_delay = max(max_delay, steps)
                delay_steps[q] = min(steps, 255)
    return max_delay


@njit(cache=True)
def _scatter_groups(post_local, count, pre, start, out):
    """Copy the consecutive groups of ``pre`` (count[i] sources of local target
    post_local[i]) to out[start[post_local[i]]...]; targets are disjoint across calls."""
    q = 0
    for i in range(post_local.shape[0]):
        dst = start[post_local[i]]
        for k in range(count[i]):
            out[dst + k] = pre[q]
            q += 1
