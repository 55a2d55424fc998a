"""Spike exchange between brain ranks, once per exchange period (temporal blocking).

Each rank contributes the (step, gid) pairs its cells emitted in the period and gets
back every rank's, sorted by (step, gid) so that delivery order is rank-independent.
On the wire a spike is one int64: ``gid << 8 | (step - period start)`` (8 bytes).
mpi4py is imported only by ``MpiExchange``: the embedded mode never needs MPI.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["LocalExchange", "MpiExchange", "wait"]


def _sorted(steps: np.ndarray, gids: np.ndarray):
    order = np.lexsort((gids, steps))
    return steps[order], gids[order]


class LocalExchange:
    """One process owns every cell: exchange is a sort."""

    n_ranks = 1
    rank = 0

    def exchange(self, steps: np.ndarray, gids: np.ndarray, start: int):
        """Return all spikes of the period from ``start`` as (steps, gids) int64, sorted."""
        return _sorted(steps, gids)


def wait(request, poll_s: float = 2e-5) -> None:
    """Wait for an MPI request without a busy spin.

    With more ranks than cores, a rank spinning inside MPI steals the core of the
    rank it waits for; testing and sleeping yields it.
    """
    while not request.Test():
        time.sleep(poll_s)


class MpiExchange:
    """Exchange over an MPI communicator of brain ranks (non-blocking allgather)."""

    def __init__(self, comm):
        self.comm = comm
        self.n_ranks = comm.Get_size()
        self.rank = comm.Get_rank()

    def exchange(self, steps: np.ndarray, gids: np.ndarray, start: int):
        from mpi4py import MPI

        offset = steps - start
        if len(offset) and (offset.min() < 0 or offset.max() > 255):
            raise ValueError("an exchange period is limited to 256 steps")
        counts = np.zeros(self.n_ranks, dtype=np.int64)
        wait(self.comm.Iallgather(np.array([len(gids)], dtype=np.int64), counts))
        send = (gids.astype(np.int64) << 8) | offset
        recv = np.empty(int(counts.sum()), dtype=np.int64)
        displs = np.zeros(self.n_ranks, dtype=np.int64)
        np.cumsum(counts[:-1], out=displs[1:])
        wait(self.comm.Iallgatherv(send, [recv, counts, displs, MPI.INT64_T]))
        return _sorted((recv & 255) + start, recv >> 8)
