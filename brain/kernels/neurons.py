"""Kernel: advance the local neurons over a run of steps (no communication inside)."""
import math

import numpy as np
from numba import njit, prange

from .rng import STREAM_AFFERENT, STREAM_POISSON, _INV_K, poisson_k, stream_key, uniform_k

__all__ = ["_advance", "CHUNK", "POISSON_TABLE_LEN", "CELL_ROWS", "RECEPTOR_ROWS"]

# Rows of the per-cell parameter arrays. Parameters are expanded from the type tables to
# one value per cell so that every pass below is a plain SIMD loop (no gathers).
CELL_ROWS = ("C_m_pF", "g_L_nS", "gL_EL_pA", "V_th_mV", "V_reset_mV")
RECEPTOR_ROWS = ("p11", "p21", "p22", "gain", "E_rev_mV")
_C, _GL, _GLEL, _VTH, _VRESET = range(5)
_P11, _P21, _P22, _GAIN, _EREV = range(5)

# Cells per parallel work item: a chunk's state stays in cache across the steps.
CHUNK = 512
# Entries of a tabulated Poisson CDF; larger counts continue the recurrence (rare).
POISSON_TABLE_LEN = 16
# Below this step/membrane-time ratio exp(-a) is a polynomial (SIMD-friendly).
_POLY_MAX = 0.05


@njit(cache=True, inline="always")
def _exp_neg_poly(a):
    """exp(-a) for 0 <= a < 0.05 by its degree-6 Taylor polynomial (relative error
    < 2e-13, below double-precision noise of the Euler step)."""
    return 1.0 - a * (1.0 - a * (0.5 - a * (1.0 / 6.0 - a * (1.0 / 24.0 - a * (
        1.0 / 120.0 - a * (1.0 / 720.0))))))


@njit(cache=True)
def _exp_neg(a):
    """exp(-a) for a >= 0, as the kernel computes it."""
    return _exp_neg_poly(a) if a < _POLY_MAX else math.exp(-a)


@njit(cache=True, inline="always")
def _poisson_from_table(u, tb, poisson_cdf, poisson_tail):
    """Count of table entries below u; past the table, continue the recurrence."""
    k = 0
    for j in range(POISSON_TABLE_LEN):
        k += u > poisson_cdf[tb, j]
    if k == POISSON_TABLE_LEN:
        k -= 1
        lam = poisson_tail[tb, 0]
        p = poisson_tail[tb, 1]
        cdf = poisson_cdf[tb, POISSON_TABLE_LEN - 1]
        while u > cdf and k < 255:
            k += 1
            p *= lam * _INV_K[k]
            cdf += p
    return k


@njit(cache=True, parallel=True)
def _advance(step0, n_steps, dt_ms, seed, gid, cell, rec, mg_mM, ref_steps, i_dc_pA,
             poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam, aff_p0,
             aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS, spike_step, spike_idx,
             chunk_spikes, chunk_bad):
    """Advance every local cell by ``n_steps`` steps starting at global step ``step0``.

    Cells do not interact within the run (delays >= the exchange period), so chunks of
    ``CHUNK`` cells advance independently in parallel, each over all steps, in passes
    simple enough for the compiler to vectorise.

    Order in a step n: arrivals due at n (ring slot n & (n_slots - 1), Poisson draws)
    are added to x; (x, g) move exactly to t_{n+1}; the membrane takes an
    exponential-Euler step with the step-averaged conductances; V >= V_th emits a spike.

    Background Poisson input of (receptor r, cell i) uses CDF table poisson_table[r, i]
    (-1: none): poisson_cdf[tb, :POISSON_TABLE_LEN] and poisson_tail[tb] = (lam, last
    pmf). Counting the table entries below the draw gives exactly the count of the
    sequential inversion in ``rng.poisson_k``. Afferent Poisson input comes as the mean
    count per step (aff_lam) and exp(-aff_lam) (aff_p0).

    Parameters per cell: cell [len(CELL_ROWS), n] (gL_EL_pA = g_L * E_L), rec
    [len(RECEPTOR_ROWS), n_r, n] (the propagator and reversal potential each cell's
    receptors see), mg_mM float64[n_r] (magnesium block per receptor, 0 = none; the block
    is evaluated at V at the start of the step), ref_steps int64[n]. State: per cell [n]; per (receptor, cell)
    [n_r, n]; ring_nS [n_slots (power of 2), n_r, n]. Chunk c writes its spikes to
    spike_step/spike_idx[c*CHUNK*n_steps ...] and their number to chunk_spikes[c];
    non-finite membrane potentials are counted in chunk_bad[c].
    """
    n = v_mV.shape[0]
    n_r = x.shape[0]
    mask = ring_nS.shape[0] - 1
    n_chunks = (n + CHUNK - 1) // CHUNK
    key_poisson = stream_key(seed, STREAM_POISSON)
    key_afferent = stream_key(seed, STREAM_AFFERENT)
    for c in prange(n_chunks):
        lo = c * CHUNK
        m = min(n, lo + CHUNK) - lo
        g_sum = np.empty(m)
        gE_sum = np.empty(m)
        u = np.empty(m)
        count = np.empty(m, dtype=np.int64)
        aff_add = np.zeros(m)
        v_inf = np.empty(m)
        a_ = np.empty(m)
        decay = np.empty(m)
        spiked = np.empty(m, dtype=np.bool_)
        out = lo * n_steps
        k_out = 0
        bad = 0
        # Input tables are fixed within a call: 0 = no Poisson input on receptor r in this
        # chunk, 1 = one table for all cells (SIMD count), 2 = mixed tables.
        mode = np.zeros(n_r, dtype=np.int64)
        for r in range(n_r):
            tb0 = poisson_table[r, lo]
            has_input = False
            one_table = True
            for j in range(m):
                has_input |= poisson_table[r, lo + j] >= 0
                one_table &= poisson_table[r, lo + j] == tb0
            mode[r] = 0 if not has_input else (1 if one_table else 2)
        has_aff = False
        if aff_receptor >= 0:
            for j in range(m):
                has_aff |= aff_lam[lo + j] > 0.0
        for s in range(n_steps):
            step = step0 + s
            slot = step & mask
            for j in range(m):
                g_sum[j] = 0.0
                gE_sum[j] = 0.0
            for r in range(n_r):
                # 1. this step's Poisson counts (background, then afferent)
                if mode[r] > 0:
                    for j in range(m):
                        u[j] = uniform_k(key_poisson, gid[lo + j], step * n_r + r)
                    if mode[r] == 1:
                        tb0 = poisson_table[r, lo]
                        for j in range(m):
                            k = 0
                            for q in range(POISSON_TABLE_LEN):
                                k += u[j] > poisson_cdf[tb0, q]
                            count[j] = k
                        for j in range(m):
                            if count[j] == POISSON_TABLE_LEN:
                                count[j] = _poisson_from_table(u[j], tb0, poisson_cdf,
                                                               poisson_tail)
                    else:
                        for j in range(m):
                            tb = poisson_table[r, lo + j]
                            count[j] = 0 if tb < 0 else \
                                _poisson_from_table(u[j], tb, poisson_cdf, poisson_tail)
                use_p = mode[r] > 0
                use_a = has_aff and r == aff_receptor
                if use_a:
                    for j in range(m):
                        aff_add[j] = 0.0 if aff_lam[lo + j] <= 0.0 else \
                            aff_w_nS[lo + j] * poisson_k(key_afferent, gid[lo + j], step,
                                                         aff_lam[lo + j], aff_p0[lo + j])
                # 2. arrivals (ring slot, then cleared, + Poisson) and the exact
                #    conductance step; step-averaged conductances for the membrane
                blocked = mg_mM[r] > 0.0
                for j in range(m):
                    i = lo + j
                    arrived = np.float64(ring_nS[slot, r, i])
                    ring_nS[slot, r, i] = 0.0
                    if use_p:
                        arrived += poisson_w_nS[r, i] * count[j]
                    if use_a:
                        arrived += aff_add[j]
                    xi = x[r, i] + rec[_GAIN, r, i] * arrived
                    g_old = g_nS[r, i]
                    g_new = rec[_P22, r, i] * g_old + rec[_P21, r, i] * xi
                    x[r, i] = rec[_P11, r, i] * xi
                    g_nS[r, i] = g_new
                    g_mean = 0.5 * (g_old + g_new)
                    if blocked:
                        u[j] = g_mean
                    else:
                        g_sum[j] += g_mean
                        gE_sum[j] += g_mean * rec[_EREV, r, i]
                if blocked:
                    for j in range(m):
                        g_mean = u[j] / (1.0 + mg_mM[r] / 3.57 * math.exp(-0.062 * v_mV[lo + j]))
                        g_sum[j] += g_mean
                        gE_sum[j] += g_mean * rec[_EREV, r, lo + j]
            # 3. membrane: exponential Euler, exp(-a) by polynomial for every cell (SIMD),
            #    redone with libm for the rare cells with a large a; then threshold/reset
            for j in range(m):
                i = lo + j
                g_tot = cell[_GL, i] + g_sum[j]
                v_inf[j] = (cell[_GLEL, i] + gE_sum[j] + i_dc_pA[i]) / g_tot
                a_[j] = dt_ms * g_tot / cell[_C, i]
                decay[j] = _exp_neg_poly(min(a_[j], _POLY_MAX))
            for j in range(m):
                if a_[j] >= _POLY_MAX:
                    decay[j] = math.exp(-a_[j])
            for j in range(m):
                i = lo + j
                v = v_inf[j] + (v_mV[i] - v_inf[j]) * decay[j]
                free = refr[i] == 0
                spk = free & (v >= cell[_VTH, i])
                spiked[j] = spk
                finite = math.isfinite(v)
                # a non-finite potential is kept (not reset) so the caller can name the cell
                v_mV[i] = v if ((free & (v < cell[_VTH, i])) | (not finite)) else cell[_VRESET, i]
                refr[i] = ref_steps[i] if spk else max(refr[i] - 1, 0)
                bad += not finite
            for j in range(m):
                if spiked[j]:
                    spike_step[out + k_out] = step
                    spike_idx[out + k_out] = lo + j
                    k_out += 1
        chunk_spikes[c] = k_out
        chunk_bad[c] = bad
