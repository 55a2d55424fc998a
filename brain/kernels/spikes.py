"""Kernel: gather the spikes the neuron chunks wrote into one (step, gid)-sorted list."""
import numpy as np
from numba import njit

__all__ = ["_collect_spikes"]


# nogil: with bridge.lag the embedded run steps the body in a thread meanwhile
@njit(cache=True, nogil=True)
def _collect_spikes(chunk_spikes, chunk_stride, spike_step, spike_idx, step0, n_steps, gid,
                    out_step, out_gid):
    """Counting sort by step of the spikes of every chunk (``neurons._advance``'s output).

    Chunk c holds chunk_spikes[c] spikes at spike_step/spike_idx[c * chunk_stride ...],
    sorted by (step, local index); chunks cover increasing index ranges, so placing
    them chunk by chunk within each step gives (step, gid) order (gid is sorted).
    Steps lie in [step0, step0 + n_steps). Writes out_step, out_gid (int64, each at
    least the total long) and returns the number of spikes.
    """
    start = np.zeros(n_steps + 1, dtype=np.int64)
    for c in range(chunk_spikes.shape[0]):
        base = c * chunk_stride
        for k in range(chunk_spikes[c]):
            start[spike_step[base + k] - step0 + 1] += 1
    for s in range(n_steps):
        start[s + 1] += start[s]
    for c in range(chunk_spikes.shape[0]):
        base = c * chunk_stride
        for k in range(chunk_spikes[c]):
            s = spike_step[base + k]
            p = start[s - step0]
            out_step[p] = s
            out_gid[p] = gid[spike_idx[base + k]]
            start[s - step0] = p + 1
    return start[n_steps]
