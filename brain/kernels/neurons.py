"""Kernel: advance the local neurons over a run of steps (no communication inside)."""
import math

import numpy as np
from numba import njit, prange

from .rng import (STREAM_AFFERENT, STREAM_POISSON, _INV_K, cell_key, poisson_k, stream_key,
                  uniform_ck)

__all__ = ["_advance", "CHUNK", "POISSON_TABLE_LEN", "CELL_ROWS", "RECEPTOR_ROWS"]

# Rows of the per-cell parameter arrays. Parameters are expanded from the type tables to
# one value per cell so that every pass below is a plain SIMD loop (no gathers).
CELL_ROWS = ("C_m_pF", "g_L_nS", "gL_EL_pA", "V_th_mV", "V_reset_mV")
RECEPTOR_ROWS = ("p11", "p21", "p22", "gain", "E_rev_mV")
_C, _GL, _GLEL, _VTH, _VRESET = range(5)
_P11, _P21, _P22, _GAIN, _EREV = range(5)

# Cells per parallel work item: a chunk's state, parameters and scratch rows (~30 float64
# rows x 128 cells = 30 KB) stay in the 48 KB L1 across the steps.
CHUNK = 128
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


@njit(cache=True)
def _count_one_table(hk, b, tb, poisson_cdf, poisson_tail, count):
    """Poisson counts of one step for cells that all use CDF table tb: count[j] (float64,
    exact small integers) = number of table entries below the cell's uniform. One SIMD
    pass, then the rare counts that reach the table's end continue the recurrence."""
    cdf_row = poisson_cdf[tb]
    tail = False
    for j in range(hk.shape[0]):
        u = uniform_ck(hk[j], b)
        k = 0
        for q in range(POISSON_TABLE_LEN):
            k += u > cdf_row[q]
        count[j] = k
        tail |= k == POISSON_TABLE_LEN
    if tail:
        for j in range(hk.shape[0]):
            if count[j] == POISSON_TABLE_LEN:
                count[j] = _poisson_from_table(uniform_ck(hk[j], b), tb, poisson_cdf,
                                               poisson_tail)


@njit(cache=True)
def _count_cells(hk, b, cdf_cell, tab, poisson_cdf, poisson_tail, count):
    """Poisson counts of one step for cells with different CDF tables: count[j] (float64)
    = number of entries of the cell's own copy of its table, cdf_cell[:, j], below its
    uniform (a copy of 2.0 for cells without input, tab[j] = -1: count 0). One SIMD pass,
    then the rare counts that reach the table's end continue the recurrence."""
    tail = False
    for j in range(hk.shape[0]):
        u = uniform_ck(hk[j], b)
        k = 0
        for q in range(POISSON_TABLE_LEN):
            k += u > cdf_cell[q, j]
        count[j] = k
        tail |= k == POISSON_TABLE_LEN
    if tail:
        for j in range(hk.shape[0]):
            if count[j] == POISSON_TABLE_LEN:
                count[j] = _poisson_from_table(uniform_ck(hk[j], b), tab[j], poisson_cdf,
                                               poisson_tail)


# nogil: with bridge.lag the embedded run steps the body in a thread meanwhile
@njit(cache=True, parallel=True, nogil=True)
def _advance(step0, n_steps, dt_ms, seed, gid, cell, rec, mg_mM, ref_steps, i_dc_pA,
             poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam, aff_p0,
             aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS, spike_step, spike_idx,
             chunk_spikes, chunk_bad):
    """Advance every local cell by ``n_steps`` steps starting at global step ``step0``.

    Cells do not interact within the run (delays >= the exchange period), so chunks of
    ``CHUNK`` cells advance independently in parallel, each over all steps
    (``_advance_chunk``).

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
    n_chunks = (n + CHUNK - 1) // CHUNK
    keys = np.array([stream_key(seed, STREAM_POISSON), stream_key(seed, STREAM_AFFERENT)])
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        out = lo * n_steps
        chunk_spikes[c], chunk_bad[c] = _advance_chunk(
            lo, hi, step0, n_steps, dt_ms, keys, gid, cell, rec, mg_mM, ref_steps, i_dc_pA,
            poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam, aff_p0,
            aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS,
            spike_step[out:out + (hi - lo) * n_steps], spike_idx[out:out + (hi - lo) * n_steps])


@njit(cache=True, error_model="numpy")
def _advance_chunk(lo, hi, step0, n_steps, dt_ms, keys, gid, cell, rec, mg_mM, ref_steps,
                   i_dc_pA, poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam,
                   aff_p0, aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS, spike_step,
                   spike_idx):
    """Cells lo:hi of ``_advance`` over all its steps. Returns (spikes written to
    spike_step/spike_idx, non-finite potentials).

    Every array is sliced to the chunk first, so each pass indexes from 0 and reads
    contiguous rows: passes without calls or data-dependent branches, which LLVM turns
    into SIMD loops. The rare cases (a Poisson count past its table, exp(-a) with a
    large a) are redone afterwards for the cells that need them. error_model="numpy":
    a division by zero gives inf, counted as a non-finite potential (no exception
    branch in the SIMD loops).
    """
    m = hi - lo
    n_r = x.shape[0]
    mask = ring_nS.shape[0] - 1
    v = v_mV[lo:hi]
    ref = refr[lo:hi]
    ref_n = ref_steps[lo:hi]
    i_pA = i_dc_pA[lo:hi]
    C, gL, gLEL = cell[_C, lo:hi], cell[_GL, lo:hi], cell[_GLEL, lo:hi]
    v_th, v_reset = cell[_VTH, lo:hi], cell[_VRESET, lo:hi]
    g_sum = np.empty(m)
    gE_sum = np.empty(m)
    g_mean = np.empty(m)
    count = np.zeros(m)
    aff_add = np.zeros(m)
    v_inf = np.empty(m)
    a_ = np.empty(m)
    decay = np.empty(m)
    spiked = np.empty(m, dtype=np.bool_)
    # the cell half of every Poisson draw's key, hashed once per call
    hk = np.empty(m, dtype=np.uint64)
    for j in range(m):
        hk[j] = cell_key(keys[0], gid[lo + j])
    # Input tables are fixed within a call. Receptor r of this chunk: no input
    # (n_tables 0), one table for all cells (one_table: its row broadcast), or mixed
    # tables, each cell's copied to cdf_cell[r, :, j] (16 loads a cell, any table count).
    n_tables = np.zeros(n_r, dtype=np.int64)     # 0, 1 or 2 (= more than one)
    cdf_cell = np.empty((n_r, POISSON_TABLE_LEN, m))
    for r in range(n_r):
        tab = poisson_table[r, lo:hi]
        has_input = False
        one_table = True
        for j in range(m):
            has_input |= tab[j] >= 0
            one_table &= tab[j] == tab[0]
        n_tables[r] = 0 if not has_input else (1 if one_table else 2)
        if n_tables[r] == 2:
            for j in range(m):
                for q in range(POISSON_TABLE_LEN):
                    cdf_cell[r, q, j] = 2.0 if tab[j] < 0 else poisson_cdf[tab[j], q]
    has_aff = False
    if aff_receptor >= 0:
        for j in range(m):
            has_aff |= aff_lam[lo + j] > 0.0
    k_out = 0
    bad = 0
    for s in range(n_steps):
        step = step0 + s
        slot = step & mask
        g_sum[:] = 0.0
        gE_sum[:] = 0.0
        for r in range(n_r):
            # 1. this step's Poisson counts (background, then afferent)
            b = step * n_r + r
            if n_tables[r] == 1:
                _count_one_table(hk, b, poisson_table[r, lo], poisson_cdf, poisson_tail,
                                 count)
            elif n_tables[r] == 2:
                _count_cells(hk, b, cdf_cell[r], poisson_table[r, lo:hi], poisson_cdf,
                             poisson_tail, count)
            use_a = has_aff and r == aff_receptor
            if use_a:
                for j in range(m):
                    aff_add[j] = 0.0 if aff_lam[lo + j] <= 0.0 else \
                        aff_w_nS[lo + j] * poisson_k(keys[1], gid[lo + j], step,
                                                     aff_lam[lo + j], aff_p0[lo + j])
            # 2. arrivals (ring slot, then cleared, + Poisson) and the exact
            #    conductance step; step-averaged conductances for the membrane
            _receptor_step(ring_nS[slot, r, lo:hi], n_tables[r] > 0, count,
                           poisson_w_nS[r, lo:hi], use_a, aff_add, rec[_GAIN, r, lo:hi],
                           rec[_P11, r, lo:hi], rec[_P21, r, lo:hi], rec[_P22, r, lo:hi],
                           x[r, lo:hi], g_nS[r, lo:hi], g_mean)
            if mg_mM[r] > 0.0:
                for j in range(m):
                    g_mean[j] = g_mean[j] / (1.0 + mg_mM[r] / 3.57 * math.exp(-0.062 * v[j]))
            E_rev = rec[_EREV, r, lo:hi]
            for j in range(m):
                g_sum[j] += g_mean[j]
                gE_sum[j] += g_mean[j] * E_rev[j]
        # 3. membrane: exponential Euler, exp(-a) by polynomial for every cell (SIMD),
        #    redone with libm for the rare cells with a large a; then threshold/reset
        big = False     # an or-reduction vectorises; a float max would not (NaN order)
        for j in range(m):
            g_tot = gL[j] + g_sum[j]
            v_inf[j] = (gLEL[j] + gE_sum[j] + i_pA[j]) / g_tot
            a = dt_ms * g_tot / C[j]
            a_[j] = a
            big |= not (a < _POLY_MAX)      # also when a is NaN
            decay[j] = _exp_neg_poly(min(a, _POLY_MAX))
        if big:
            for j in range(m):
                if a_[j] >= _POLY_MAX:
                    decay[j] = math.exp(-a_[j])
        n_spk = 0
        for j in range(m):
            vj = v_inf[j] + (v[j] - v_inf[j]) * decay[j]
            free = ref[j] == 0
            spk = free & (vj >= v_th[j])
            spiked[j] = spk
            n_spk += spk
            finite = math.isfinite(vj)
            # a non-finite potential is kept (not reset) so the caller can name the cell
            v[j] = vj if ((free & (vj < v_th[j])) | (not finite)) else v_reset[j]
            ref[j] = ref_n[j] if spk else max(ref[j] - 1, 0)
            bad += not finite
        if n_spk:
            for j in range(m):
                if spiked[j]:
                    spike_step[k_out] = step
                    spike_idx[k_out] = lo + j
                    k_out += 1
    return k_out, bad


@njit(cache=True, inline="always")
def _receptor_step(ring, use_p, count, w_p, use_a, aff_add, gain, p11, p21, p22, x, g,
                   g_mean):
    """One receptor, one step, for a chunk: arrived = ring (then cleared) [+ Poisson
    w_p * count] [+ aff_add] (nS) enters x; (x, g) move exactly by one step;
    g_mean = step-averaged g (nS). One loop per input combination keeps each free of
    branches."""
    if use_a:
        for j in range(ring.shape[0]):
            arrived = np.float64(ring[j])
            if use_p:
                arrived += w_p[j] * count[j]
            arrived += aff_add[j]
            ring[j] = 0.0
            xi = x[j] + gain[j] * arrived
            g_new = p22[j] * g[j] + p21[j] * xi
            x[j] = p11[j] * xi
            g_mean[j] = 0.5 * (g[j] + g_new)
            g[j] = g_new
    elif use_p:
        for j in range(ring.shape[0]):
            arrived = np.float64(ring[j]) + w_p[j] * count[j]
            ring[j] = 0.0
            xi = x[j] + gain[j] * arrived
            g_new = p22[j] * g[j] + p21[j] * xi
            x[j] = p11[j] * xi
            g_mean[j] = 0.5 * (g[j] + g_new)
            g[j] = g_new
    else:
        for j in range(ring.shape[0]):
            arrived = np.float64(ring[j])
            ring[j] = 0.0
            xi = x[j] + gain[j] * arrived
            g_new = p22[j] * g[j] + p21[j] * xi
            x[j] = p11[j] * xi
            g_mean[j] = 0.5 * (g[j] + g_new)
            g[j] = g_new
