"""brain.traffic against an obvious loop over spikes, periods and ranks (no MPI), and the
sparse exchange's routes against the synapses they come from."""
import numpy as np
import pytest

from brain.exchange import spike_routes
from brain.traffic import rank_traffic, source_targets


def _network(seed=3, n_cells=40, n_ranks=3, n_syn=150):
    rng = np.random.default_rng(seed)
    source = np.sort(rng.integers(0, n_cells, n_syn))
    target = rng.integers(0, n_cells, n_syn)
    indptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(source, minlength=n_cells), out=indptr[1:])
    rank_of_cell = rng.integers(0, n_ranks, n_cells).astype(np.int32)
    return source, target, indptr, rank_of_cell


def _by_loop(steps, gids, source, target, rank_of_cell, n_ranks, period, n_steps):
    P = n_steps // period
    out = {k: np.zeros(n_ranks, dtype=np.int64) for k in (
        "events", "sparse_messages", "sparse_bytes", "allgather_messages", "allgather_bytes",
        "sparse_control_messages")}
    need = {(s, int(rank_of_cell[t])) for s, t in zip(source, target)}
    for r in range(n_ranks):
        mine = [(s, g) for s, g in zip(steps, gids) if rank_of_cell[g] == r]
        for p in range(P):
            now = [g for s, g in mine if s // period == p]
            if now:
                out["allgather_messages"][r] += n_ranks - 1
            for q in range(n_ranks):
                if q != r and any((g, q) in need for g in now):
                    out["sparse_messages"][r] += 1
        out["allgather_bytes"][r] = 8 * len(mine) * (n_ranks - 1)
        out["sparse_bytes"][r] = 8 * sum((g, q) in need for _, g in mine
                                         for q in range(n_ranks) if q != r)
        peers = {q for (s, q) in need if rank_of_cell[s] == r and q != r}
        out["sparse_control_messages"][r] = P * len(peers)
        out["events"][r] = sum(int(np.sum((source == g) & (rank_of_cell[target] == r)))
                               for g in gids)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_rank_traffic_equals_the_loop(seed):
    n_ranks, period, n_steps = 3, 10, 200
    source, target, indptr, rank_of_cell = _network(seed, n_ranks=n_ranks)
    rng = np.random.default_rng(seed + 10)
    steps = rng.integers(0, n_steps, 60)
    gids = rng.integers(0, len(indptr) - 1, 60)
    got = rank_traffic(steps, gids, rank_of_cell, n_ranks,
                       source_targets(indptr, target, rank_of_cell, n_ranks), period, n_steps)
    want = _by_loop(steps, gids, source, target, rank_of_cell, n_ranks, period, n_steps)
    for key, value in want.items():
        assert got[key].tolist() == value.tolist(), key
    assert got["updates"].tolist() == (np.bincount(rank_of_cell, minlength=n_ranks)
                                       * n_steps).tolist()


def test_spike_routes_list_each_needing_rank_once():
    source, target, indptr, rank_of_cell = _network(5, n_ranks=4)
    rank = 1
    local = np.flatnonzero(rank_of_cell == rank).astype(np.int64)
    needed_by = [np.unique(source[(rank_of_cell[target] == r) & (rank_of_cell[source] == rank)])
                 for r in range(4)]
    ptr, dest = spike_routes(rank_of_cell, needed_by, local, rank)
    for i, g in enumerate(local):
        expected = sorted({int(rank_of_cell[t]) for s, t in zip(source, target)
                           if s == g and rank_of_cell[t] != rank})
        assert dest[ptr[i]:ptr[i + 1]].tolist() == expected
    with pytest.raises(ValueError, match="does not own"):
        spike_routes(rank_of_cell, [local[:0], local[:0], np.array([int(np.flatnonzero(
            rank_of_cell == 0)[0])])], local, rank)
