"""Kernel: deliver spikes into the ring buffer of future arrivals."""
import numpy as np
from numba import njit, prange

__all__ = ["_deliver", "_deliver_rows", "row_delays", "row_splits"]


@njit(cache=True)
def row_delays(indptr, delay_steps):
    """int16[n_rows]: the delay (steps) of row s if all its synapses share it, else -1
    (an empty row: 0). ``_deliver_rows`` then adds a row's weights into one ring slot
    without reading the per-synapse delays."""
    n = indptr.shape[0] - 1
    out = np.zeros(n, dtype=np.int16)
    for src in range(n):
        a, b = indptr[src], indptr[src + 1]
        if b > a:
            d = delay_steps[a]
            for s in range(a + 1, b):
                if delay_steps[s] != d:
                    out[src] = -1
                    break
            else:
                out[src] = d
    return out


@njit(cache=True, parallel=True)
def row_splits(indptr, target, n_local, n_parts):
    """int64[n_parts - 1, n_rows]: where part p >= 1 of ``_deliver``'s target split
    starts in each row (the first synapse with target >= p * n_local // n_parts), so
    that delivery need not search every spike's row for it."""
    n = indptr.shape[0] - 1
    out = np.empty((max(n_parts - 1, 0), n), dtype=np.int64)
    for src in prange(n):
        a, b = indptr[src], indptr[src + 1]
        for p in range(1, n_parts):
            out[p - 1, src] = a + np.searchsorted(target[a:b], p * n_local // n_parts)
    return out


# nogil: with bridge.lag the embedded run steps the body in a thread meanwhile
@njit(cache=True, parallel=True, nogil=True)
def _deliver(spike_step, spike_gid, indptr, target, weight_code, weight_table_nS,
             delay_steps, receptor_of_source, ring_nS, n_parts):
    """Add each synapse's weight to the slot of its arrival step.

    A spike stamped at step m with delay d arrives at the start of step m + 1 + d.
    Spikes must come sorted by (step, gid): that order, with the fixed order of
    synapses in a row (sorted by target), fixes the floating-point summation order of
    every slot. Work is split by *target* range (``n_parts`` parts, each its own
    thread), so no two threads touch one cell and every sum keeps that order.
    The weight of synapse s is weight_table_nS[weight_code[s]] (nS).
    receptor_of_source: int64[n_cells_total]; ring_nS: [n_slots (power of 2), n_r, n_local].
    """
    for p in prange(n_parts):
        _deliver_part(p, n_parts, spike_step, spike_gid, indptr, target, weight_code,
                      weight_table_nS, delay_steps, receptor_of_source, ring_nS)


@njit(cache=True, parallel=True, nogil=True)
def _deliver_rows(spike_step, spike_gid, indptr, target, weight_code, weight_table_nS,
                  delay_steps, row_delay, split, receptor_of_source, ring_nS):
    """``_deliver`` (same sums, bit for bit) given ``row_delay = row_delays(indptr,
    delay_steps)`` and ``split = row_splits(indptr, target, n_local, n_parts)``
    (n_parts = len(split) + 1): a row whose synapses share one delay is a bare
    scatter-add into one slot, and each part finds its share of a row without a search."""
    n_parts = split.shape[0] + 1
    for p in prange(n_parts):
        _deliver_part_rows(p, n_parts, spike_step, spike_gid, indptr, target, weight_code,
                           weight_table_nS, delay_steps, row_delay, split,
                           receptor_of_source, ring_nS)


@njit(cache=True)
def _deliver_part(p, n_parts, spike_step, spike_gid, indptr, target, weight_code,
                  weight_table_nS, delay_steps, receptor_of_source, ring_nS):
    """The targets of part p (of n_parts) in ``_deliver``. The ring is addressed as one
    flat array with offsets built from non-negative parts, so the inner loop is a bare
    load-add-store (no per-index wraparound of a 3-d subscript)."""
    n_slots, n_r, n_local = ring_nS.shape
    mask = n_slots - 1
    slot_len = n_r * n_local
    flat = ring_nS.reshape(n_slots * slot_len)
    lo = p * n_local // n_parts
    hi = (p + 1) * n_local // n_parts
    for k in range(spike_gid.shape[0]):
        src = spike_gid[k]
        row = receptor_of_source[src] * n_local
        base = spike_step[k] + 1
        a = indptr[src]
        b = indptr[src + 1]
        if n_parts > 1:
            a, b = a + np.searchsorted(target[a:b], lo), a + np.searchsorted(target[a:b], hi)
        for s in range(a, b):
            slot = (base + np.int64(delay_steps[s])) & mask
            flat[slot * slot_len + row + np.int64(target[s])] += \
                weight_table_nS[weight_code[s]]


@njit(cache=True)
def _deliver_part_rows(p, n_parts, spike_step, spike_gid, indptr, target, weight_code,
                       weight_table_nS, delay_steps, row_delay, split, receptor_of_source,
                       ring_nS):
    """The targets of part p (of n_parts) in ``_deliver_rows``."""
    n_slots, n_r, n_local = ring_nS.shape
    mask = n_slots - 1
    slot_len = n_r * n_local
    flat = ring_nS.reshape(n_slots * slot_len)
    for k in range(spike_gid.shape[0]):
        src = spike_gid[k]
        row = receptor_of_source[src] * n_local
        base = spike_step[k] + 1
        a = indptr[src] if p == 0 else split[p - 1, src]
        b = indptr[src + 1] if p == n_parts - 1 else split[p, src]
        d = row_delay[src]
        if d >= 0:
            off = ((base + np.int64(d)) & mask) * slot_len + row
            for s in range(a, b):
                flat[off + np.int64(target[s])] += weight_table_nS[weight_code[s]]
        else:
            for s in range(a, b):
                slot = (base + np.int64(delay_steps[s])) & mask
                flat[slot * slot_len + row + np.int64(target[s])] += \
                    weight_table_nS[weight_code[s]]
