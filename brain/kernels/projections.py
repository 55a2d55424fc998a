"""Kernels: atlas wiring (surface Gaussian, parallel fibres, connectome projections) and
the source-grouped CSR with per-rule delays.

Draws are keyed by (target gid, source gid, rule) for pairwise kinds and by
(target gid, draw index, rule) for the fixed-count projection kind, so any partition of
the targets over ranks draws the same synapses.
"""
import math

import numpy as np
from numba import njit

from .rng import uniform

__all__ = ["STREAM_SHEET", "STREAM_PROJ_COUNT", "STREAM_PROJ_PICK", "_connect_sheet",
           "_project", "_count"]

# Stream ids of this module (>= 20, clear of brain.kernels.rng's).
STREAM_SHEET = 20
STREAM_PROJ_COUNT = 21
STREAM_PROJ_PICK = 22


@njit(cache=True)
def _count(seed, stream, a, b, lam):
    """A Poisson(lam) count from keyed draws: inversion for lam < 30, else a rounded
    normal (Box-Muller on two keyed uniforms), never negative."""
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        u = uniform(seed, stream, a, 2 * b)
        p = math.exp(-lam)
        cdf = p
        k = 0
        while u > cdf and k < 1000:
            k += 1
            p *= lam / k
            cdf += p
        return k
    u1 = max(uniform(seed, stream, a, 2 * b), 1e-300)
    u2 = uniform(seed, stream, a, 2 * b + 1)
    z = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return max(0, int(math.floor(lam + math.sqrt(lam) * z + 0.5)))


@njit(cache=True)
def _connect_sheet(post_gid, post_s, post_key, pre_gid, pre_s, pre_key, pre_w, bucket_indptr,
                   grid0, cell_um, dims, half, mode, p_max, sigma_um, seed, rule,
                   out_pre, out_count):
    """Bernoulli draw for every (pre, post) pair of one rule with the same area key.

    post_s, pre_s: float64[., 3] surface points; pre_* sorted by 3-D bucket of pre_s
    (grid origin grid0[3], bucket edge cell_um, dims int64[3]); bucket_indptr into pre.
    half: float64[3] search half-extent per axis (inf: every bucket).
    mode 0: p = p_max exp(-d^2 / 2 sigma^2) for d = |s_pre - s_post| <= half[0]
    (sigma <= 0: p = p_max).  mode 1 (parallel fibre): p = p_max when
    |ds_2| <= half[2] (along the fibre) and |ds_0, ds_1| <= half[0] (across).
    pre_w: float64[n_pre] multiplies each source's p (density compensation), p <= 1.
    The draw is keyed by (post gid, pre gid, rule).  With out_pre.shape[0] == 0 only
    counts; fills out_count[i] and, grouped by post, out_pre. Returns the total.
    """
    n = 0
    fill = out_pre.shape[0] > 0
    inv2s2 = 0.0 if sigma_um <= 0 else 1.0 / (2.0 * sigma_um * sigma_um)
    lo = np.empty(3, np.int64)
    hi = np.empty(3, np.int64)
    for i in range(post_gid.shape[0]):
        n_before = n
        for a in range(3):
            if math.isinf(half[a]):
                lo[a], hi[a] = 0, dims[a] - 1
            else:
                lo[a] = max(0, int(math.floor((post_s[i, a] - half[a] - grid0[a]) / cell_um)))
                hi[a] = min(dims[a] - 1,
                            int(math.floor((post_s[i, a] + half[a] - grid0[a]) / cell_um)))
        for bx in range(lo[0], hi[0] + 1):
            for by in range(lo[1], hi[1] + 1):
                for bz in range(lo[2], hi[2] + 1):
                    b = (bx * dims[1] + by) * dims[2] + bz
                    for j in range(bucket_indptr[b], bucket_indptr[b + 1]):
                        if pre_gid[j] == post_gid[i] or pre_key[j] != post_key[i]:
                            continue
                        d0 = pre_s[j, 0] - post_s[i, 0]
                        d1 = pre_s[j, 1] - post_s[i, 1]
                        d2 = pre_s[j, 2] - post_s[i, 2]
                        p = p_max
                        if mode == 0:
                            r2 = d0 * d0 + d1 * d1 + d2 * d2
                            if r2 > half[0] * half[0]:
                                continue
                            p = p_max * math.exp(-r2 * inv2s2)
                        else:
                            if abs(d2) > half[2] or d0 * d0 + d1 * d1 > half[0] * half[0]:
                                continue
                        p = min(1.0, p * pre_w[j])
                        if uniform(seed, STREAM_SHEET, post_gid[i], pre_gid[j] * 64 + rule) < p:
                            if fill:
                                out_pre[n] = pre_gid[j]
                            n += 1
        out_count[i] = n - n_before
    return n


@njit(cache=True)
def _project(post_gid, post_vox, post_map, pre_gid, pre_vox_indptr, pre_map, pre_vox_w, sigma,
             lam, seed, rule, out_pre, out_count):
    """Fixed-count connectome projection onto each post cell.

    post_vox: int64[m] index of each post cell's voxel into post_map (float64[., 3],
    standardised map positions); pre_gid: int64[k] grouped by pre voxel (pre_vox_indptr
    int64[n_pre_vox + 1]); pre_map: float64[n_pre_vox, 3].  A post cell gets
    Poisson(lam) distinct sources (not itself); each is a pre voxel drawn with weight
    n_cells * pre_vox_w * exp(-d^2 / 2 sigma^2) (sigma <= 0: no Gaussian; pre_vox_w
    float64[n_pre_vox] compensates denser sampled voxels), then a uniform cell in it.
    Draw j of post cell g is keyed by (g, j, rule).  With out_pre.shape[0] == 0 only
    counts.  Returns the total.
    """
    n_pv = pre_vox_indptr.shape[0] - 1
    cdf = np.zeros(n_pv)
    n_pre = pre_gid.shape[0]
    picked = np.empty(max(n_pre, 1), dtype=np.int64)
    fill = out_pre.shape[0] > 0
    n = 0
    last = -1
    acc = 0.0
    for i in range(post_gid.shape[0]):
        if post_vox[i] != last:
            last = post_vox[i]
            acc = 0.0
            for u in range(n_pv):
                w = float(pre_vox_indptr[u + 1] - pre_vox_indptr[u]) * pre_vox_w[u]
                if sigma > 0:
                    r2 = 0.0
                    for a in range(3):
                        d = pre_map[u, a] - post_map[last, a]
                        r2 += d * d
                    w *= math.exp(-r2 / (2.0 * sigma * sigma))
                acc += w
                cdf[u] = acc
        g = post_gid[i]
        k = min(_count(seed, STREAM_PROJ_COUNT, g, rule, lam), n_pre - 1)
        got = 0
        j = 0
        while got < k and j < 20 * k + 100 and acc > 0:
            x = uniform(seed, STREAM_PROJ_PICK, g, (2 * j) * 4096 + rule) * acc
            y = uniform(seed, STREAM_PROJ_PICK, g, (2 * j + 1) * 4096 + rule)
            j += 1
            u = np.searchsorted(cdf, x, side="right")
            if u >= n_pv:
                continue
            m = pre_vox_indptr[u + 1] - pre_vox_indptr[u]
            src = pre_gid[pre_vox_indptr[u] + min(int(y * m), m - 1)]
            if src == g:
                continue
            dup = False
            for q in range(got):
                if picked[q] == src:
                    dup = True
                    break
            if dup:
                continue
            picked[got] = src
            got += 1
        if fill:
            for q in range(got):
                out_pre[n + q] = picked[q]
        out_count[i] = got
        n += got
    return n
