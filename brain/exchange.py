"""Spike exchange between brain ranks, once per exchange period (temporal blocking).

Each rank contributes the (step, gid) pairs its cells emitted in the period and gets
back the spikes it must deliver, sorted by (step, gid) so that delivery order is
rank-independent. On the wire a spike is one int64: ``gid << 8 | (step - period
start)`` (8 bytes). Two MPI exchanges give the same spikes to deliver, bit for bit:

* ``MpiExchange`` ("allgather"): every spike to every rank (Iallgather of the counts,
  Iallgatherv of the spikes);
* ``SparseMpiExchange`` ("sparse"): a spike only to the ranks holding a target of its
  source, over a neighbourhood graph of ranks (Ineighbor_alltoall of the counts,
  Ineighbor_alltoallv of the spikes). A spike of a source without a local target is
  not delivered at all, which is the same as delivering it to no synapse.

Each exchange counts what it sends to *other* ranks (``stats``): ``messages`` (peers
given a non-empty spike payload, summed over periods), ``bytes`` (spike payload, 8 per
spike per peer), ``control_messages`` / ``control_bytes`` (the counts: one int64 per
peer per period) and ``periods``. These are logical counts, payload per destination;
what an MPI library's allgather algorithm forwards on behalf of others is not counted.
mpi4py is imported only by the MPI exchanges: the embedded mode never needs MPI.

``complete`` says whether ``exchange`` returns every spike of the model (local and
allgather) or only those this rank has synapses of (sparse). Two-level intervals
(``brain.engine``) reuse a complete exchange's spikes for the long table, and give a
sparse one a second exchange of its own (``spawn``) with the long table's routes.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["LocalExchange", "MpiExchange", "SparseMpiExchange", "EXCHANGES", "mpi_exchange",
           "wait"]

#: scene values of ``run.exchange`` -> MPI exchange class (see ``mpi_exchange``)
EXCHANGES = ("sparse", "allgather")

WIRE_BYTES = 8      # one int64 per spike


def _sorted(steps: np.ndarray, gids: np.ndarray):
    order = np.lexsort((gids, steps))
    return steps[order], gids[order]


def _wire(steps: np.ndarray, gids: np.ndarray, start: int) -> np.ndarray:
    offset = steps - start
    if len(offset) and (offset.min() < 0 or offset.max() > 255):
        raise ValueError("an exchange period is limited to 256 steps")
    return (gids.astype(np.int64) << 8) | offset


def _unwire(recv: np.ndarray, start: int):
    """(steps, gids) of wire spikes, sorted by (step, gid).

    One int64 sort of ``offset << 55 | gid`` gives the order of a lexsort by (step, gid)
    (~20x faster: 11 vs 200 ns per spike here); gids stay below 2**55.
    """
    key = ((recv & 255) << 55) | (recv >> 8)
    key.sort()
    return (key >> 55) + start, key & ((1 << 55) - 1)


def _new_stats() -> dict:
    return {"periods": 0, "messages": 0, "bytes": 0, "control_messages": 0,
            "control_bytes": 0}


class LocalExchange:
    """One process owns every cell: exchange is a sort."""

    n_ranks = 1
    rank = 0
    complete = True

    def __init__(self):
        self.stats = _new_stats()

    def prepare(self, local_gids: np.ndarray, indptr: np.ndarray) -> None:
        """Nothing to set up (every spike is local)."""

    def exchange(self, steps: np.ndarray, gids: np.ndarray, start: int):
        """Return all spikes of the period from ``start`` as (steps, gids) int64, sorted."""
        self.stats["periods"] += 1
        return _sorted(steps, gids)

    def close(self) -> None:
        """Nothing to release."""


def wait(request, poll_s: float = 2e-5) -> None:
    """Wait for an MPI request without a busy spin.

    With more ranks than cores, a rank spinning inside MPI steals the core of the
    rank it waits for; testing and sleeping yields it.
    """
    while not request.Test():
        time.sleep(poll_s)


def _displs(counts: np.ndarray) -> np.ndarray:
    displs = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=displs[1:])
    return displs


def _allgatherv(comm, send: np.ndarray):
    """(every rank's int64 ``send`` laid end to end in rank order, count per rank)."""
    from mpi4py import MPI

    counts = np.zeros(comm.Get_size(), dtype=np.int64)
    wait(comm.Iallgather(np.array([len(send)], dtype=np.int64), counts))
    recv = np.empty(int(counts.sum()), dtype=np.int64)
    wait(comm.Iallgatherv(send, [recv, counts, _displs(counts), MPI.INT64_T]))
    return recv, counts


class MpiExchange:
    """Exchange over an MPI communicator of brain ranks (non-blocking allgather)."""

    kind = "allgather"
    complete = True

    def __init__(self, comm):
        self.comm = comm
        self.n_ranks = comm.Get_size()
        self.rank = comm.Get_rank()
        self.stats = _new_stats()

    def prepare(self, local_gids: np.ndarray, indptr: np.ndarray) -> None:
        """Nothing to set up: every rank gets every spike."""

    def close(self) -> None:
        """Nothing to release (the communicator is the caller's)."""

    def exchange(self, steps: np.ndarray, gids: np.ndarray, start: int):
        """Every rank's spikes of the period from ``start``, sorted by (step, gid)."""
        send = _wire(steps, gids, start)
        recv, _ = _allgatherv(self.comm, send)
        peers = self.n_ranks - 1
        st = self.stats
        st["periods"] += 1
        st["control_messages"] += peers
        st["control_bytes"] += WIRE_BYTES * peers
        if len(send):
            st["messages"] += peers
            st["bytes"] += WIRE_BYTES * len(send) * peers
        return _unwire(recv, start)


def spike_routes(owner: np.ndarray, needed_by: list, local_gids: np.ndarray, rank: int):
    """Where each local cell's spikes must go: a CSR over the local cells.

    owner : int32[n_cells], the rank of every cell.
    needed_by : per rank r, the sorted gids owned here that r holds a target of
        (r = ``rank`` included or not: this rank keeps its own spikes anyway).
    Returns (indptr int64[n_local + 1], dest int64[k]): the ranks (other than ``rank``)
    that need local cell i are ``dest[indptr[i]:indptr[i + 1]]``, ascending.
    """
    pairs_cell, pairs_rank = [], []
    for r, gids in enumerate(needed_by):
        if r == rank or not len(gids):
            continue
        if np.any(owner[gids] != rank):
            raise ValueError(f"rank {r} asked rank {rank} for cells it does not own")
        pairs_cell.append(np.searchsorted(local_gids, gids))
        pairs_rank.append(np.full(len(gids), r, dtype=np.int64))
    cell = np.concatenate(pairs_cell) if pairs_cell else np.zeros(0, np.int64)
    dest = np.concatenate(pairs_rank) if pairs_rank else np.zeros(0, np.int64)
    order = np.lexsort((dest, cell))
    indptr = np.zeros(len(local_gids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(cell, minlength=len(local_gids)), out=indptr[1:])
    return indptr, dest[order]


class SparseMpiExchange:
    """Each spike only to the ranks that hold a synapse of its source.

    ``prepare`` learns the routes once (collective): every rank gathers every rank's
    cell list to know the owner of each gid (int32 per cell, the same order of memory
    as the synapses' source index, int64[n_cells + 1]), tells each owner which of its
    cells it needs (an Ialltoallv of gid lists: the bytes are the number of distinct
    remote sources this rank needs, 8 each), and builds a distributed graph
    communicator with an edge owner -> rank wherever one is needed. Each period then
    sends counts and spikes to those neighbours only.
    """

    kind = "sparse"
    complete = False

    def __init__(self, comm):
        self.comm = comm
        self.n_ranks = comm.Get_size()
        self.rank = comm.Get_rank()
        self.stats = _new_stats()
        self.graph = None

    def spawn(self) -> "SparseMpiExchange":
        """A new exchange over the same ranks, for another synapse table's routes."""
        return SparseMpiExchange(self.comm)

    def prepare(self, local_gids: np.ndarray, indptr: np.ndarray) -> None:
        """Learn the routes from ``local_gids`` (sorted int64, the cells owned here) and
        ``indptr`` (int64[n_cells + 1], the local synapses' CSR by source gid)."""
        from mpi4py import MPI

        self.close()                    # prepared again: new routes
        comm, n, me = self.comm, self.n_ranks, self.rank
        self.local_gids = np.ascontiguousarray(local_gids, dtype=np.int64)
        n_cells = len(indptr) - 1
        every, counts = _allgatherv(comm, self.local_gids)
        owner = np.full(n_cells, -1, dtype=np.int32)
        owner[every] = np.repeat(np.arange(n, dtype=np.int32), counts)
        del every
        needed = np.flatnonzero(np.diff(indptr) > 0)
        needed = needed[owner[needed] != me]        # own spikes stay here anyway
        by_owner = np.argsort(owner[needed], kind="stable")
        ask = needed[by_owner]
        ask_counts = np.bincount(owner[ask], minlength=n).astype(np.int64)
        got_counts = np.zeros(n, dtype=np.int64)
        wait(comm.Ialltoall(ask_counts, got_counts))
        got = np.empty(int(got_counts.sum()), dtype=np.int64)
        wait(comm.Ialltoallv([ask, ask_counts, _displs(ask_counts), MPI.INT64_T],
                             [got, got_counts, _displs(got_counts), MPI.INT64_T]))
        needed_by = np.split(got, np.cumsum(got_counts)[:-1])
        self.route_indptr, route_rank = spike_routes(owner, needed_by, self.local_gids, me)
        self.sources = [int(r) for r in np.flatnonzero(ask_counts)]
        self.destinations = [int(r) for r in np.flatnonzero(got_counts) if r != me]
        # the graph's destinations are numbered 0..k-1 in the order given here
        slot = np.full(n, -1, dtype=np.int64)
        slot[self.destinations] = np.arange(len(self.destinations))
        self.route_slot = slot[route_rank]
        self.graph = comm.Create_dist_graph_adjacent(self.sources, self.destinations,
                                                     reorder=False)

    def close(self) -> None:
        """Free the graph communicator (collective). MPI frees none by itself, and an
        MPICH process has 2,048 communicators: code that builds an engine per window
        (``cosim.assimilation``) must close each."""
        if self.graph is not None:
            self.graph.Free()
            self.graph = None

    def exchange(self, steps: np.ndarray, gids: np.ndarray, start: int):
        """The spikes of the period from ``start`` that this rank may deliver: its own
        and those of remote sources it holds synapses of, sorted by (step, gid)."""
        from mpi4py import MPI

        if self.graph is None:
            raise RuntimeError("SparseMpiExchange.exchange() before prepare()")
        wire = _wire(steps, gids, start)
        send, send_counts = self._route(wire, gids)
        recv_counts = np.zeros(len(self.sources), dtype=np.int64)
        wait(self.graph.Ineighbor_alltoall(send_counts, recv_counts))
        recv = np.empty(int(recv_counts.sum()), dtype=np.int64)
        wait(self.graph.Ineighbor_alltoallv(
            [send, send_counts, _displs(send_counts), MPI.INT64_T],
            [recv, recv_counts, _displs(recv_counts), MPI.INT64_T]))
        st = self.stats
        st["periods"] += 1
        st["control_messages"] += len(self.destinations)
        st["control_bytes"] += WIRE_BYTES * len(self.destinations)
        st["messages"] += int(np.count_nonzero(send_counts))
        st["bytes"] += WIRE_BYTES * len(send)
        return _unwire(np.concatenate([wire, recv]), start)

    def _route(self, wire: np.ndarray, gids: np.ndarray):
        """(send buffer grouped by destination, count per destination int64[k])."""
        cell = np.searchsorted(self.local_gids, gids)
        first = self.route_indptr[cell]
        deg = self.route_indptr[cell + 1] - first
        total = int(deg.sum())
        # position of every (spike, destination) pair in route_slot: the run of each
        # spike's destinations, laid end to end
        run_start = np.repeat(first - (np.cumsum(deg) - deg), deg)
        slot = self.route_slot[run_start + np.arange(total)]
        order = np.argsort(slot, kind="stable")     # keeps (step, gid) order per peer
        send = np.repeat(wire, deg)[order]
        return send, np.bincount(slot, minlength=len(self.destinations)).astype(np.int64)


def mpi_exchange(kind: str, comm):
    """The MPI exchange named by a scene's ``run.exchange`` (one of `EXCHANGES`)."""
    classes = {cls.kind: cls for cls in (SparseMpiExchange, MpiExchange)}
    if kind not in classes:
        raise ValueError(f"exchange {kind!r}: must be one of {', '.join(EXCHANGES)}")
    return classes[kind](comm)
