"""Kernel: advance the local neurons over a run of steps (no communication inside)."""
import math

from numba import njit, prange

from .rng import STREAM_AFFERENT, STREAM_POISSON, _INV_K, poisson_k, stream_key, uniform_k

__all__ = ["_advance", "CHUNK", "POISSON_TABLE_LEN"]

# Entries of a tabulated Poisson CDF; larger counts continue the recurrence (rare).
POISSON_TABLE_LEN = 16

# Cells per parallel work item: a chunk's state stays in cache across the steps.
CHUNK = 512


@njit(cache=True, inline="always")
def _exp_neg(a):
    """exp(-a) for a >= 0; a degree-6 Taylor polynomial where a < 0.05 (relative error
    < 2e-13, below double-precision noise of the Euler step), the libm call elsewhere."""
    if a < 0.05:
        return 1.0 - a * (1.0 - a * (0.5 - a * (1.0 / 6.0 - a * (1.0 / 24.0 - a * (
            1.0 / 120.0 - a * (1.0 / 720.0))))))
    return math.exp(-a)


@njit(cache=True, parallel=True)
def _advance(step0, n_steps, dt_ms, seed, gid, type_of, C_m_pF, g_L_nS, E_L_mV, V_th_mV,
             V_reset_mV, ref_steps, E_rev_mV, p11, p21, p22, gain, i_dc_pA,
             poisson_table, poisson_cdf, poisson_tail, poisson_w_nS, aff_lam, aff_p0, aff_w_nS, aff_receptor,
             ring_nS, v_mV, refr, x, g_nS, spike_step, spike_idx, chunk_spikes, chunk_bad):
    """Advance every local cell by ``n_steps`` steps starting at global step ``step0``.

    Cells do not interact within the run (delays >= the exchange period), so chunks of
    ``CHUNK`` cells advance independently in parallel, each over all steps.

    Order in a step n: arrivals due at n (ring slot n & (n_slots - 1), Poisson draws)
    are added to x; (x, g) move exactly to t_{n+1}; the membrane takes an
    exponential-Euler step with the step-averaged conductances; V >= V_th emits a spike.

    Background Poisson input of (receptor r, cell i) uses CDF table poisson_table[r, i]
    (-1: none): poisson_cdf[tb, :POISSON_TABLE_LEN] and poisson_tail[tb] = (lam, last
    pmf). Counting the table entries below the draw (no data-dependent branches) gives
    exactly the count of the sequential inversion in ``rng.poisson_k``.

    Shapes: per cell [n]; per (receptor, cell) [n_r, n]; ring_nS [n_slots (power of 2),
    n_r, n]; per-type tables [n_types] or [n_types, n_r]. Afferent Poisson input comes
    as the mean count per step (aff_lam) and exp(-aff_lam) (aff_p0). Chunk c writes its spikes to
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
        hi = min(n, lo + CHUNK)
        out = lo * n_steps
        k = 0
        bad = 0
        for s in range(n_steps):
            step = step0 + s
            slot = step & mask
            for i in range(lo, hi):
                t = type_of[i]
                g_sum = 0.0
                gE_sum = 0.0
                for r in range(n_r):
                    arrived = ring_nS[slot, r, i]
                    ring_nS[slot, r, i] = 0.0
                    tb = poisson_table[r, i]
                    if tb >= 0:
                        u = uniform_k(key_poisson, gid[i], step * n_r + r)
                        k_in = 0
                        for j in range(POISSON_TABLE_LEN):
                            k_in += u > poisson_cdf[tb, j]
                        if k_in == POISSON_TABLE_LEN:
                            k_in -= 1
                            lam = poisson_tail[tb, 0]
                            p = poisson_tail[tb, 1]
                            cdf = poisson_cdf[tb, POISSON_TABLE_LEN - 1]
                            while u > cdf and k_in < 255:
                                k_in += 1
                                p *= lam * _INV_K[k_in]
                                cdf += p
                        arrived += poisson_w_nS[r, i] * k_in
                    if r == aff_receptor and aff_lam[i] > 0.0:
                        arrived += aff_w_nS[i] * poisson_k(
                            key_afferent, gid[i], step, aff_lam[i], aff_p0[i])
                    xi = x[r, i] + gain[t, r] * arrived
                    g_old = g_nS[r, i]
                    g_new = p22[t, r] * g_old + p21[t, r] * xi
                    x[r, i] = p11[t, r] * xi
                    g_nS[r, i] = g_new
                    g_mean = 0.5 * (g_old + g_new)
                    g_sum += g_mean
                    gE_sum += g_mean * E_rev_mV[t, r]
                if refr[i] > 0:
                    refr[i] -= 1
                    v_mV[i] = V_reset_mV[t]
                    continue
                g_tot = g_L_nS[t] + g_sum
                v_inf = (g_L_nS[t] * E_L_mV[t] + gE_sum + i_dc_pA[i]) / g_tot
                v = v_inf + (v_mV[i] - v_inf) * _exp_neg(dt_ms * g_tot / C_m_pF[t])
                if not math.isfinite(v):
                    bad += 1
                if v >= V_th_mV[t]:
                    spike_step[out + k] = step
                    spike_idx[out + k] = i
                    k += 1
                    v = V_reset_mV[t]
                    refr[i] = ref_steps[t]
                v_mV[i] = v
        chunk_spikes[c] = k
        chunk_bad[c] = bad
