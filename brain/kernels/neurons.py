"""Kernel: advance the local neurons over a run of steps (no communication inside)."""
import math

import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import overload

from .rng import (STREAM_AFFERENT, STREAM_POISSON, _INV_K, cell_key, poisson_k, stream_key,
                  uniform_ck)

__all__ = ["_advance", "chunk_layout", "CHUNK", "POISSON_TABLE_LEN", "CELL_ROWS", "RECEPTOR_ROWS"]

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
# The first pass of a Poisson count compares with this many entries; the rest only when
# some cell's uniform lies beyond them (at 1.1 expected inputs a step: 1e-5 of cells).
_FIRST_COMPARES = 8
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


# --- chunk-uniform parameters -------------------------------------------------------
# A chunk whose cells share every parameter (one cell type, the usual case: cells are
# grouped by type) reads them as scalars from its first cell: no per-cell parameter rows
# to stream from memory or to load in the SIMD loops. The same loops serve both cases:
# the helpers below pick the per-cell row or the scalar at compile time.

def _at(a, j):
    """a[j] for an array, a for a scalar (numba only)."""
    raise NotImplementedError


@overload(_at, inline="always")
def _at_ol(a, j):
    if isinstance(a, types.Array):
        return lambda a, j: a[j]
    return lambda a, j: a


def _is_scalar(a):
    """True for a scalar, False for an array (a compile-time constant)."""
    raise NotImplementedError


@overload(_is_scalar, inline="always")
def _is_scalar_ol(a):
    if isinstance(a, types.Array):
        return lambda a: False
    return lambda a: True


def _crow(cellp, k, lo, hi):
    """Row k of the chunk's cell parameters: cellp[k, lo:hi], or the scalar cellp[k]."""
    raise NotImplementedError


@overload(_crow, inline="always")
def _crow_ol(cellp, k, lo, hi):
    if cellp.ndim == 2:
        return lambda cellp, k, lo, hi: cellp[k, lo:hi]
    return lambda cellp, k, lo, hi: cellp[k]


def _rrow(recp, k, r, lo, hi):
    """Receptor r's row k: recp[k, r, lo:hi], or the scalar recp[k, r]."""
    raise NotImplementedError


@overload(_rrow, inline="always")
def _rrow_ol(recp, k, r, lo, hi):
    if recp.ndim == 3:
        return lambda recp, k, r, lo, hi: recp[k, r, lo:hi]
    return lambda recp, k, r, lo, hi: recp[k, r]


def _prow(pw, r, lo, hi):
    """Receptor r's Poisson weights: pw[r, lo:hi], or the scalar pw[r]."""
    raise NotImplementedError


@overload(_prow, inline="always")
def _prow_ol(pw, r, lo, hi):
    if pw.ndim == 2:
        return lambda pw, r, lo, hi: pw[r, lo:hi]
    return lambda pw, r, lo, hi: pw[r]


def _vrow(a, lo, hi):
    """a[lo:hi] for an array, a for a scalar."""
    raise NotImplementedError


@overload(_vrow, inline="always")
def _vrow_ol(a, lo, hi):
    if isinstance(a, types.Array):
        return lambda a, lo, hi: a[lo:hi]
    return lambda a, lo, hi: a


def _same_in_chunks(rows: np.ndarray, n: int) -> np.ndarray:
    """bool[n_chunks]: every row of ``rows`` [k, n] has the same bits in all cells of
    the chunk (bits, not ==: -0.0 and 0.0 differ, NaN equals itself)."""
    n_chunks = (n + CHUNK - 1) // CHUNK
    same = np.ones(n_chunks, dtype=bool)
    if n == 0:
        return same
    chunk = np.arange(n) // CHUNK
    starts = np.arange(n_chunks) * CHUNK
    for row in rows:
        bits = np.ascontiguousarray(row).view(np.int64) if row.dtype.itemsize == 8 else \
            np.ascontiguousarray(row).astype(np.int64)
        ok = bits == bits[starts][chunk]
        same &= np.logical_and.reduceat(ok, starts)
    return same


def chunk_layout(cell, rec, ref_steps, poisson_w_nS, poisson_table):
    """What ``_advance`` may know of its chunks in advance: (layout int64[n_chunks,
    1 + n_r], params float64[n_chunks, n_params]).

    layout[c, 0] is 1 where the chunk's cells share every parameter (cell and receptor
    rows, ref_steps, poisson_w_nS), so the kernel reads them once, as scalars, from
    params[c] = (cell[:, i], rec[:, :, i] row by row, poisson_w_nS[:, i], ref_steps[i])
    of its first cell i (one contiguous row per chunk: no scattered loads). layout[c,
    1 + r] is receptor r's background Poisson table for the chunk: its index when every
    cell uses it, -1 when no cell has input, -2 for mixed tables. Valid while those
    arrays do not change (the engine builds them once, in ``prepare``).
    """
    n = ref_steps.shape[0]
    n_r = poisson_table.shape[0]
    rows = [cell[k] for k in range(cell.shape[0])]
    rows += [rec[k, r] for k in range(rec.shape[0]) for r in range(n_r)]
    rows += [poisson_w_nS[r] for r in range(n_r)] + [ref_steps]
    n_chunks = (n + CHUNK - 1) // CHUNK
    out = np.zeros((n_chunks, 1 + n_r), dtype=np.int64)
    out[:, 0] = _same_in_chunks(rows, n)
    starts = np.arange(n_chunks) * CHUNK
    params = np.ascontiguousarray(np.stack([np.asarray(row, dtype=np.float64)[starts]
                                            for row in rows], axis=1)) if n else \
        np.zeros((0, len(rows)))
    if n:       # ref_steps come back exactly from float64 (small integers)
        out[:, 0] &= params[:, -1] == np.asarray(ref_steps)[starts]
    for r in range(n_r if n else 0):
        tab = np.asarray(poisson_table[r], dtype=np.int64)
        one = _same_in_chunks([tab], n)
        any_input = np.logical_or.reduceat(tab >= 0, starts)
        out[:, 1 + r] = np.where(~any_input, -1, np.where(one, tab[starts], -2))
    return out, params


@njit(cache=True, inline="always")
def _count_one_table(hk, b, tb, poisson_cdf, poisson_tail, count):
    """Poisson counts of one step for cells that all use CDF table tb: count[j] (float64,
    exact small integers) = number of table entries below the cell's uniform. One SIMD
    pass over the first entries; only if some uniform lies beyond them (rare) a second
    pass counts the rest, and counts that reach the table's end continue the recurrence.
    The CDF is non-decreasing, so a uniform <= entry _FIRST_COMPARES - 1 is below none of
    the later entries: the count is that of all POISSON_TABLE_LEN compares."""
    cdf_row = poisson_cdf[tb]
    c_last = cdf_row[_FIRST_COMPARES - 1]
    tail = False
    for j in range(hk.shape[0]):
        u = uniform_ck(hk[j], b)
        k = 0
        for q in range(_FIRST_COMPARES):
            k += u > cdf_row[q]
        count[j] = k
        tail |= u > c_last
    if tail:
        for j in range(hk.shape[0]):
            u = uniform_ck(hk[j], b)
            if u > c_last:
                k = 0
                for q in range(POISSON_TABLE_LEN):
                    k += u > cdf_row[q]
                if k == POISSON_TABLE_LEN:
                    k = _poisson_from_table(u, tb, poisson_cdf, poisson_tail)
                count[j] = k


@njit(cache=True, inline="always")
def _count_cells(hk, b, cdf_cell, tab, poisson_cdf, poisson_tail, count):
    """Poisson counts of one step for cells with different CDF tables: count[j] (float64)
    = number of entries of the cell's own copy of its table, cdf_cell[:, j], below its
    uniform (a copy of 2.0 for cells without input, tab[j] = -1: count 0). First and
    second pass as in ``_count_one_table``."""
    tail = False
    for j in range(hk.shape[0]):
        u = uniform_ck(hk[j], b)
        k = 0
        for q in range(_FIRST_COMPARES):
            k += u > cdf_cell[q, j]
        count[j] = k
        tail |= u > cdf_cell[_FIRST_COMPARES - 1, j]
    if tail:
        for j in range(hk.shape[0]):
            u = uniform_ck(hk[j], b)
            if u > cdf_cell[_FIRST_COMPARES - 1, j]:
                k = 0
                for q in range(POISSON_TABLE_LEN):
                    k += u > cdf_cell[q, j]
                if k == POISSON_TABLE_LEN:
                    k = _poisson_from_table(u, tab[j], poisson_cdf, poisson_tail)
                count[j] = k


# nogil: with bridge.lag the embedded run steps the body in a thread meanwhile
@njit(cache=True, parallel=True, nogil=True)
def _advance(step0, n_steps, dt_ms, seed, gid, cell, rec, mg_mM, ref_steps, i_dc_pA,
             poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam, aff_p0,
             aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS, spike_step, spike_idx,
             chunk_spikes, chunk_bad, layout=None, chunk_params=None):
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

    layout, chunk_params: ``chunk_layout(cell, rec, ref_steps, poisson_w_nS,
    poisson_table)``, or None to work the tables out per chunk and call (every chunk then
    reads per-cell rows). Both give the same bits.
    """
    n = v_mV.shape[0]
    n_r = x.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    keys = np.array([stream_key(seed, STREAM_POISSON), stream_key(seed, STREAM_AFFERENT)])
    if layout is None:
        lay = np.full((n_chunks, 1 + n_r), -3, dtype=np.int64)
        par = np.zeros((n_chunks, 1))
    else:
        lay = layout
        par = chunk_params
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(n, lo + CHUNK)
        out = lo * n_steps
        chunk_spikes[c], chunk_bad[c] = _advance_chunk(
            lo, hi, step0, n_steps, dt_ms, keys, gid, cell, rec, mg_mM, ref_steps, i_dc_pA,
            poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam, aff_p0,
            aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS,
            spike_step[out:out + (hi - lo) * n_steps], spike_idx[out:out + (hi - lo) * n_steps],
            lay[c], par[c])


@njit(cache=True, error_model="numpy")
def _advance_chunk(lo, hi, step0, n_steps, dt_ms, keys, gid, cell, rec, mg_mM, ref_steps,
                   i_dc_pA, poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam,
                   aff_p0, aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS, spike_step,
                   spike_idx, lay, par):
    """Cells lo:hi of ``_advance`` over all its steps. Returns (spikes written to
    spike_step/spike_idx, non-finite potentials). lay, par: the chunk's rows of
    ``chunk_layout`` (lay all -3: unknown, work it out here).
    """
    m = hi - lo
    n_r = x.shape[0]
    # Input tables are fixed within a call. Receptor r of this chunk: no input
    # (tables[r] = -1), one table for all cells (its index), or mixed tables (-2), each
    # cell's copied to cdf_cell[r, :, j] (16 loads a cell, any table count).
    tables = np.empty(n_r, dtype=np.int64)
    uniform = lay[0] == 1
    if lay[0] == -3:
        for r in range(n_r):
            tab = poisson_table[r, lo:hi]
            has_input = False
            one_table = True
            for j in range(m):
                has_input |= tab[j] >= 0
                one_table &= tab[j] == tab[0]
            tables[r] = -1 if not has_input else (tab[0] if one_table else -2)
    else:
        for r in range(n_r):
            tables[r] = lay[1 + r]
    mixed = False
    for r in range(n_r):
        mixed |= tables[r] == -2
    cdf_cell = np.empty((n_r if mixed else 0, POISSON_TABLE_LEN, m))
    for r in range(n_r):
        if tables[r] == -2:
            tab = poisson_table[r, lo:hi]
            for j in range(m):
                for q in range(POISSON_TABLE_LEN):
                    cdf_cell[r, q, j] = 2.0 if tab[j] < 0 else poisson_cdf[tab[j], q]
    if uniform:
        n_c, n_k = cell.shape[0], rec.shape[0]
        return _chunk_steps(lo, hi, step0, n_steps, dt_ms, keys, gid, par[:n_c],
                            par[n_c:n_c + n_k * n_r].reshape((n_k, n_r)), mg_mM,
                            np.int64(par[n_c + n_k * n_r + n_r]), i_dc_pA, poisson_table,
                            poisson_cdf, poisson_tail,
                            par[n_c + n_k * n_r:n_c + n_k * n_r + n_r], aff_lam, aff_p0,
                            aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS,
                            spike_step, spike_idx, tables, cdf_cell)
    return _chunk_steps(lo, hi, step0, n_steps, dt_ms, keys, gid, cell, rec, mg_mM,
                        ref_steps, i_dc_pA, poisson_table, poisson_cdf, poisson_tail,
                        poisson_w_nS, aff_lam, aff_p0, aff_w_nS, aff_receptor, ring_nS,
                        v_mV, refr, x, g_nS, spike_step, spike_idx, tables, cdf_cell)


@njit(cache=True, error_model="numpy")
def _chunk_steps(lo, hi, step0, n_steps, dt_ms, keys, gid, cellp, recp, mg_mM, refp,
                 i_dc_pA, poisson_table, poisson_cdf, poisson_tail, pwp, aff_lam, aff_p0,
                 aff_w_nS, aff_receptor, ring_nS, v_mV, refr, x, g_nS, spike_step,
                 spike_idx, tables, cdf_cell):
    """The steps of ``_advance_chunk``. cellp, recp, refp, pwp are the whole per-cell
    arrays (a mixed chunk) or the chunk's one value of each (cell[:, lo], rec[:, :, lo],
    ref_steps[lo], poisson_w_nS[:, lo]); the code is the same, compiled for each.

    Every array is sliced to the chunk first, so each pass indexes from 0 and reads
    contiguous rows: passes without calls or data-dependent branches, which LLVM turns
    into SIMD loops. The rare cases (a Poisson count past its first entries, exp(-a)
    with a large a) are redone afterwards for the cells that need them. error_model=
    "numpy": a division by zero gives inf, counted as a non-finite potential (no
    exception branch in the SIMD loops).
    """
    m = hi - lo
    n_r = x.shape[0]
    mask = ring_nS.shape[0] - 1
    v = v_mV[lo:hi]
    ref = refr[lo:hi]
    ref_n = _vrow(refp, lo, hi)
    i_pA = i_dc_pA[lo:hi]
    C, gL, gLEL = _crow(cellp, _C, lo, hi), _crow(cellp, _GL, lo, hi), _crow(cellp, _GLEL, lo, hi)
    v_th, v_reset = _crow(cellp, _VTH, lo, hi), _crow(cellp, _VRESET, lo, hi)
    # dt/C once per call: one division per cell-step fewer in the membrane pass
    dt_C = dt_ms / C
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
            tb = tables[r]
            if tb >= 0:
                _count_one_table(hk, b, tb, poisson_cdf, poisson_tail, count)
            elif tb == -2:
                _count_cells(hk, b, cdf_cell[r], poisson_table[r, lo:hi], poisson_cdf,
                             poisson_tail, count)
            use_a = has_aff and r == aff_receptor
            if use_a:
                for j in range(m):
                    aff_add[j] = 0.0 if aff_lam[lo + j] <= 0.0 else \
                        aff_w_nS[lo + j] * poisson_k(keys[1], gid[lo + j], step,
                                                     aff_lam[lo + j], aff_p0[lo + j])
            # 2. arrivals (ring slot, then cleared, + Poisson) and the exact
            #    conductance step; the step-averaged conductance goes into the sums
            #    (or, under a magnesium block, to g_mean first)
            # (fused on uniform chunks only: on per-cell rows, the loop has too many
            # arrays for LLVM's alias checks and would not vectorise)
            fuse = mg_mM[r] == 0.0 and _is_scalar(C)
            E_rev = _rrow(recp, _EREV, r, lo, hi)
            _receptor_step(ring_nS[slot, r, lo:hi], tb != -1, count, _prow(pwp, r, lo, hi),
                           use_a, aff_add, _rrow(recp, _GAIN, r, lo, hi),
                           _rrow(recp, _P11, r, lo, hi), _rrow(recp, _P21, r, lo, hi),
                           _rrow(recp, _P22, r, lo, hi), x[r, lo:hi], g_nS[r, lo:hi],
                           fuse, E_rev, g_mean, g_sum, gE_sum)
            if not fuse:
                if mg_mM[r] > 0.0:
                    for j in range(m):
                        g_mean[j] = g_mean[j] / (1.0 + mg_mM[r] / 3.57 * math.exp(-0.062 * v[j]))
                for j in range(m):
                    g_sum[j] += g_mean[j]
                    gE_sum[j] += g_mean[j] * _at(E_rev, j)
        # 3. membrane: exponential Euler, exp(-a) by polynomial for every cell (SIMD),
        #    redone with libm for the rare cells with a large a; then threshold/reset
        big = False     # an or-reduction vectorises; a float max would not (NaN order)
        for j in range(m):
            g_tot = _at(gL, j) + g_sum[j]
            v_inf[j] = (_at(gLEL, j) + gE_sum[j] + i_pA[j]) / g_tot
            a = g_tot * _at(dt_C, j)
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
            spk = free & (vj >= _at(v_th, j))
            spiked[j] = spk
            n_spk += spk
            finite = math.isfinite(vj)
            # a non-finite potential is kept (not reset) so the caller can name the cell
            v[j] = vj if ((free & (vj < _at(v_th, j))) | (not finite)) else _at(v_reset, j)
            ref[j] = _at(ref_n, j) if spk else max(ref[j] - 1, 0)
            bad += not finite
        if n_spk:
            for j in range(m):
                if spiked[j]:
                    spike_step[k_out] = step
                    spike_idx[k_out] = lo + j
                    k_out += 1
    return k_out, bad


@njit(cache=True, inline="always")
def _rstep(j, ring, use_p, count, w_p, use_a, aff_add, gain, p11, p21, p22, x, g, fuse,
           E_rev, g_mean, g_sum, gE_sum):
    """Cell j of ``_receptor_step``."""
    arrived = np.float64(ring[j])
    if use_p:
        arrived += _at(w_p, j) * count[j]
    if use_a:
        arrived += aff_add[j]
    ring[j] = 0.0
    xi = x[j] + _at(gain, j) * arrived
    g_new = _at(p22, j) * g[j] + _at(p21, j) * xi
    x[j] = _at(p11, j) * xi
    gm = 0.5 * (g[j] + g_new)
    g[j] = g_new
    if fuse:
        g_sum[j] += gm
        gE_sum[j] += gm * _at(E_rev, j)
    else:
        g_mean[j] = gm


@njit(cache=True, inline="always")
def _receptor_step(ring, use_p, count, w_p, use_a, aff_add, gain, p11, p21, p22, x, g,
                   fuse, E_rev, g_mean, g_sum, gE_sum):
    """One receptor, one step, for a chunk: arrived = ring (then cleared) [+ Poisson
    w_p * count] [+ aff_add] (nS) enters x; (x, g) move exactly by one step; the
    step-averaged g (nS) is added to g_sum (and times E_rev to gE_sum), or with
    fuse=False (a magnesium block follows) written to g_mean. One loop per combination
    of the flags (constants in each call of ``_rstep``) keeps each free of branches."""
    m = ring.shape[0]
    if use_a:
        if use_p:
            if fuse:
                for j in range(m):
                    _rstep(j, ring, True, count, w_p, True, aff_add, gain, p11, p21, p22,
                           x, g, True, E_rev, g_mean, g_sum, gE_sum)
            else:
                for j in range(m):
                    _rstep(j, ring, True, count, w_p, True, aff_add, gain, p11, p21, p22,
                           x, g, False, E_rev, g_mean, g_sum, gE_sum)
        else:
            if fuse:
                for j in range(m):
                    _rstep(j, ring, False, count, w_p, True, aff_add, gain, p11, p21, p22,
                           x, g, True, E_rev, g_mean, g_sum, gE_sum)
            else:
                for j in range(m):
                    _rstep(j, ring, False, count, w_p, True, aff_add, gain, p11, p21, p22,
                           x, g, False, E_rev, g_mean, g_sum, gE_sum)
    else:
        if use_p:
            if fuse:
                for j in range(m):
                    _rstep(j, ring, True, count, w_p, False, aff_add, gain, p11, p21, p22,
                           x, g, True, E_rev, g_mean, g_sum, gE_sum)
            else:
                for j in range(m):
                    _rstep(j, ring, True, count, w_p, False, aff_add, gain, p11, p21, p22,
                           x, g, False, E_rev, g_mean, g_sum, gE_sum)
        else:
            if fuse:
                for j in range(m):
                    _rstep(j, ring, False, count, w_p, False, aff_add, gain, p11, p21, p22,
                           x, g, True, E_rev, g_mean, g_sum, gE_sum)
            else:
                for j in range(m):
                    _rstep(j, ring, False, count, w_p, False, aff_add, gain, p11, p21, p22,
                           x, g, False, E_rev, g_mean, g_sum, gE_sum)
