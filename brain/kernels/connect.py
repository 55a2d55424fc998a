"""Kernel: draw the incoming synapses of some target cells for one wiring rule."""
import math

import numpy as np
from numba import njit

from .rng import STREAM_CONNECT, STREAM_INDEGREE, uniform

__all__ = ["_connect_rule", "_fixed_indegree"]


@njit(cache=True)
def _connect_rule(post_gid, post_xy, pre_gid, pre_xy, bucket_indptr, grid_x0, grid_y0,
                  cell_um, nx, ny, p_max, sigma_um, cutoff_um, seed, rule, out_pre, out_post):
    """Bernoulli draw for every (candidate pre, post) pair of one rule.

    post_gid: int64[m]; post_xy: float64[m, 2]; pre_gid: int64[k] sorted by grid bucket;
    pre_xy: float64[k, 2]; bucket_indptr: int64[nx*ny + 1] into pre_gid.
    The draw for a pair is keyed by (post gid, pre gid, rule), never by loop order.
    With ``out_pre.shape[0] == 0`` only counts. Returns the number of synapses.
    """
    n = 0
    fill = out_pre.shape[0] > 0
    inv2s2 = 0.0 if sigma_um <= 0 else 1.0 / (2.0 * sigma_um * sigma_um)
    for i in range(post_gid.shape[0]):
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
                            out_post[n] = post_gid[i]
                        n += 1
    return n


@njit(cache=True)
def _fixed_indegree(post_gid, pre_gid, k, seed, rule, out_pre):
    """Draw ``k`` distinct sources (not the target itself) for every target.

    post_gid: int64[m]; pre_gid: int64[n_pre] candidates; out_pre: int64[m * k].
    Draw j of a target is keyed by (target gid, j, rule): independent of ranks.
    """
    n_pre = pre_gid.shape[0]
    used = np.zeros(n_pre, dtype=np.bool_)
    for i in range(post_gid.shape[0]):
        n = 0
        j = 0
        while n < k:
            c = int(uniform(seed, STREAM_INDEGREE, post_gid[i], j * 64 + rule) * n_pre)
            j += 1
            if used[c] or pre_gid[c] == post_gid[i]:
                continue
            used[c] = True
            out_pre[i * k + n] = pre_gid[c]
            n += 1
        for q in range(i * k, i * k + k):
            used[np.searchsorted(pre_gid, out_pre[q])] = False
