"""Kernel: deliver spikes into the ring buffer of future arrivals."""
from numba import njit

__all__ = ["_deliver"]


@njit(cache=True)
def _deliver(spike_step, spike_gid, indptr, target, weight_nS, delay_steps,
             receptor_of_source, ring_nS):
    """Add each synapse's weight to the slot of its arrival step.

    A spike stamped at step m with delay d arrives at the start of step m + 1 + d.
    Spikes must come sorted by (step, gid): that order, with the fixed order of
    synapses in a row, fixes the floating-point summation order in every slot.
    receptor_of_source: int64[n_cells_total]. ring_nS: [n_slots, n_r, n_local].
    """
    n_slots = ring_nS.shape[0]
    for k in range(spike_gid.shape[0]):
        src = spike_gid[k]
        r = receptor_of_source[src]
        base = spike_step[k] + 1
        for s in range(indptr[src], indptr[src + 1]):
            ring_nS[(base + delay_steps[s]) % n_slots, r, target[s]] += weight_nS[s]
