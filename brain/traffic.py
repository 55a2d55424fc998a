"""What a partition costs each rank: the counts that the exchanges' ``stats`` and
``Engine.timing['events']`` measure, predicted from the model, the partition and a
spike raster (no MPI).

The counts are exact, not estimates: the same spikes (any rank count gives the same)
in the same exchange periods give the same messages, bytes and delivered events.
``expected_traffic`` is the estimate from rates alone, for models too big to run.
"""
from __future__ import annotations

import numpy as np

from .exchange import WIRE_BYTES

__all__ = ["source_targets", "rank_traffic", "expected_traffic"]


def source_targets(indptr: np.ndarray, target_gid: np.ndarray, rank_of_cell: np.ndarray,
                   n_ranks: int):
    """Synapses per (source, target rank), from the synapses of every cell.

    indptr : int64[n_cells + 1], the CSR by source gid (``Synapses.indptr``);
    target_gid : int64[n_syn], the global id of each synapse's target.
    Returns (source int64[k], rank int64[k], n_syn int64[k]), sorted by (source, rank):
    source ``s`` has ``n_syn`` synapses onto cells of ``rank``.
    """
    source = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    key = source * n_ranks + rank_of_cell[target_gid].astype(np.int64)
    pairs, n_syn = np.unique(key, return_counts=True)
    return pairs // n_ranks, pairs % n_ranks, n_syn.astype(np.int64)


def rank_traffic(steps: np.ndarray, gids: np.ndarray, rank_of_cell: np.ndarray,
                 n_ranks: int, pairs, period_steps: int, n_steps: int,
                 long_pairs=None, long_period_steps: int = 0) -> dict:
    """Per rank counts of a run of ``n_steps`` with exchange period ``period_steps``.

    steps, gids : the run's spikes (int64[k], any order); pairs : ``source_targets``.
    With two-level intervals (``brain.engine``), ``pairs`` are the short table's and
    ``long_pairs`` the long table's, exchanged every ``long_period_steps``: the sparse
    exchange's counts are then those of both exchanges added, the allgather's are
    unchanged (it already gives every rank every spike each period).
    Returns {name: int64[n_ranks]} with the keys of an exchange's ``stats`` for each
    exchange ("sparse_messages", "allgather_bytes", ...), plus "periods", "long_periods",
    "updates" (neuron updates, n_local * n_steps) and "events" (synaptic events delivered).
    """
    steps, gids = np.asarray(steps, np.int64), np.asarray(gids, np.int64)
    n_periods = n_steps // period_steps
    own = rank_of_cell[gids].astype(np.int64)
    out = {"periods": np.full(n_ranks, n_periods, dtype=np.int64),
           "long_periods": np.full(n_ranks, n_steps // long_period_steps
                                   if long_period_steps else 0, dtype=np.int64),
           "updates": np.bincount(rank_of_cell, minlength=n_ranks).astype(np.int64) * n_steps}
    peers = n_ranks - 1
    spikes_per_rank = np.bincount(own, minlength=n_ranks)
    active = np.unique(own * n_periods + steps // period_steps)     # (rank, period) with a spike
    out["allgather_messages"] = peers * np.bincount(active // n_periods, minlength=n_ranks)
    out["allgather_bytes"] = WIRE_BYTES * peers * spikes_per_rank
    out["allgather_control_messages"] = np.full(n_ranks, peers * n_periods, dtype=np.int64)
    out["allgather_control_bytes"] = WIRE_BYTES * out["allgather_control_messages"]
    tables = [(pairs, period_steps)]
    if long_pairs is not None:
        tables.append((long_pairs, long_period_steps))
    for k in ("events", "sparse_messages", "sparse_bytes", "sparse_control_messages"):
        out[k] = np.zeros(n_ranks, dtype=np.int64)
    for table, period in tables:
        for k, v in _sparse_counts(steps, gids, own, rank_of_cell, n_ranks, table, period,
                                   n_steps // period).items():
            out[k] += v
    out["sparse_control_bytes"] = WIRE_BYTES * out["sparse_control_messages"]
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def _sparse_counts(steps, gids, own, rank_of_cell, n_ranks, pairs, period_steps, n_periods):
    """Delivered events and a sparse exchange's messages, bytes and control messages per
    rank for one synapse table (``pairs``) exchanged every ``period_steps``."""
    src, dst, n_syn = pairs
    # a long period cut off by the end of the run is never exchanged nor delivered
    keep = steps < n_periods * period_steps
    steps, gids, own = steps[keep], gids[keep], own[keep]
    period = steps // period_steps
    # every spike is delivered on each rank holding its synapses (own rank included)
    first = np.searchsorted(src, gids, side="left")
    deg = np.searchsorted(src, gids, side="right") - first
    run = np.repeat(first - (np.cumsum(deg) - deg), deg) + np.arange(int(deg.sum()))
    spike = np.repeat(np.arange(len(gids)), deg)
    out = {"events": np.bincount(dst[run], weights=n_syn[run], minlength=n_ranks)}
    remote = dst[run] != own[spike]
    s_own, s_dst, s_per = own[spike][remote], dst[run][remote], period[spike][remote]
    sent = np.unique((s_own * n_periods + s_per) * n_ranks + s_dst)
    out["sparse_messages"] = np.bincount(sent // (n_periods * n_ranks), minlength=n_ranks)
    out["sparse_bytes"] = WIRE_BYTES * np.bincount(s_own, minlength=n_ranks)
    edges = np.unique(rank_of_cell[src].astype(np.int64) * n_ranks + dst)
    edges = edges[edges // n_ranks != edges % n_ranks]
    out["sparse_control_messages"] = n_periods * np.bincount(edges // n_ranks,
                                                             minlength=n_ranks)
    return {k: np.asarray(v, dtype=np.int64) for k, v in out.items()}


def expected_traffic(n_local: float, rate_Hz: float, peers_per_spike: float, n_peers: float,
                     period_ms: float) -> dict:
    """Expected sparse-exchange traffic of one rank per exchange period, from rates.

    n_local cells firing at rate_Hz each; a spike goes to ``peers_per_spike`` other ranks
    on average, spread evenly over the rank's ``n_peers`` graph neighbours; a peer gets a
    message in a period when at least one spike is due to it (Poisson).
    Returns {"spikes", "messages", "bytes", "control_messages"} per period (floats).
    """
    spikes = n_local * rate_Hz * period_ms * 1e-3
    per_peer = spikes * peers_per_spike / max(n_peers, 1e-300)
    return {"spikes": spikes, "messages": n_peers * -np.expm1(-per_peer),
            "bytes": WIRE_BYTES * spikes * peers_per_spike, "control_messages": n_peers}
