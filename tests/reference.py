"""Slow, obvious numpy twins of the numba kernels (compared with ``==`` where we promise it)."""
from __future__ import annotations

import math

import numpy as np

MASK = (1 << 64) - 1


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def uniform(seed, stream, a, b) -> float:
    g = 0x9E3779B97F4A7C15
    h = _mix((seed + g * (stream + 1)) & MASK)
    h = _mix(h ^ ((a * g) & MASK))
    h = _mix(h ^ ((b + g) & MASK))
    return (h >> 11) * 2.0 ** -53


def poisson(seed, stream, a, b, lam) -> int:
    if lam <= 0:
        return 0
    u = uniform(seed, stream, a, b)
    p = math.exp(-lam)
    cdf, k = p, 0
    while u > cdf and k < 255:
        k += 1
        p *= lam * (1.0 / k)
        cdf += p
    return k


def deliver(spike_step, spike_gid, indptr, target, weight_nS, delay_steps, receptor_of_source,
            ring_nS):
    """Serial delivery; the ring length is a power of two (modulo == mask)."""
    n_slots = ring_nS.shape[0]
    for step, src in zip(spike_step, spike_gid):
        for s in range(indptr[src], indptr[src + 1]):
            slot = (step + 1 + int(delay_steps[s])) % n_slots
            ring_nS[slot, receptor_of_source[src], target[s]] += np.float64(weight_nS[s])


def exp_neg(a):
    """exp(-a) as the kernel computes it (Taylor polynomial below 0.05)."""
    if a < 0.05:
        return 1.0 - a * (1.0 - a * (0.5 - a * (1.0 / 6.0 - a * (1.0 / 24.0 - a * (
            1.0 / 120.0 - a * (1.0 / 720.0))))))
    return math.exp(-a)


def advance_one_cell(v, refr, x, g, arrived, i_pA, p, E_rev, gain, dt, C, gL, EL, Vth, Vreset,
                     ref_steps, mg_mM=None):
    """One step of one cell in plain Python. p: list of (p11, p21, p22) per receptor."""
    g_sum = gE = 0.0
    for r in range(len(x)):
        xi = x[r] + gain[r] * arrived[r]
        g_new = p[r][2] * g[r] + p[r][1] * xi
        x[r] = p[r][0] * xi
        g_mean = 0.5 * (g[r] + g_new)
        if mg_mM is not None and mg_mM[r] > 0:
            g_mean /= 1.0 + mg_mM[r] / 3.57 * math.exp(-0.062 * v)
        g[r] = g_new
        g_sum += g_mean
        gE += g_mean * E_rev[r]
    if refr > 0:
        return Vreset, refr - 1, False
    g_tot = gL + g_sum
    v_inf = (gL * EL + gE + i_pA) / g_tot
    v = v_inf + (v - v_inf) * exp_neg(g_tot * (dt / C))
    if v >= Vth:
        return Vreset, ref_steps, True
    return v, 0, False
