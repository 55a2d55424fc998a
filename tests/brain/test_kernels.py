"""Each numba kernel against its slow twin in tests/reference.py (== where promised)."""
import numpy as np
import pytest

from brain.kernels.delivery import _deliver
from brain.kernels.neurons import CHUNK, _advance
from brain.connectivity import Synapses
from brain.engine import _poisson_tables
from brain.kernels.rng import STREAM_POISSON, poisson, uniform
from brain.propagators import propagator
from tests import reference as ref


def test_rng_matches_python_twin_bit_for_bit():
    for key in [(0, 0, 0, 0), (1, 2, 3, 4), (2**40, 5, 123456789, 2**33), (7, 1, 0, 99)]:
        assert uniform(*key) == ref.uniform(*key)
        assert poisson(*key, 1.1) == ref.poisson(*key, 1.1)


def test_rng_streams_are_uniform_and_independent():
    u = np.array([uniform(11, 3, i, 0) for i in range(20000)])
    v = np.array([uniform(11, 4, i, 0) for i in range(20000)])
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.03
    k = np.array([poisson(11, 3, i, 1, 2.5) for i in range(20000)])
    assert abs(k.mean() - 2.5) < 0.05 and abs(k.var() - 2.5) < 0.1


def test_deliver_matches_twin():
    rng = np.random.default_rng(0)
    n_cells, n_local, n_syn = 50, 20, 400
    pre = np.sort(rng.integers(0, n_cells, n_syn))
    indptr = np.zeros(n_cells + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=n_cells), out=indptr[1:])
    target = rng.integers(0, n_local, n_syn).astype(np.int32)
    weight = rng.uniform(0.1, 2, n_syn).astype(np.float32)
    delay = rng.integers(1, 15, n_syn).astype(np.uint8)
    rec = rng.integers(0, 2, n_cells).astype(np.int64)
    steps = np.sort(rng.integers(0, 10, 60)).astype(np.int64)
    gids = rng.integers(0, n_cells, 60).astype(np.int64)
    # rows sorted by target, as connect() builds them
    for s in range(n_cells):
        row = slice(indptr[s], indptr[s + 1])
        order = np.argsort(target[row], kind="stable")
        target[row], weight[row], delay[row] = target[row][order], weight[row][order], delay[row][order]
    b = np.zeros((32, 2, n_local))
    ref.deliver(steps, gids, indptr, target, weight, delay, rec, b)
    syn = Synapses.from_weights(indptr, target, weight, delay)
    assert np.array_equal(syn.weight_nS, weight)         # the coding is lossless
    for n_parts in (1, 2, 3, 7):     # any split over threads gives the same bits
        a = np.zeros((32, 2, n_local))
        _deliver(steps, gids, indptr, target, syn.weight_code, syn.weight_table_nS, delay, rec,
                 a, n_parts)
        assert np.array_equal(a, b)


@pytest.mark.parametrize("rates,mg", [((1.1, 3.0, 19.0), 0.0), ((1.1,), 0.0), ((19.0,), 0.0),
                                      ((1.1, 3.0), 1.2)])
def test_advance_matches_twin(rates, mg):
    rng = np.random.default_rng(1)
    n, n_r, dt, steps = 1100, 2, 0.1, 300    # > 2 chunks of cells
    props = [propagator("alpha", 1.0, 1.0, dt), propagator("alpha", 3.0, 3.0, dt)]
    tab = {k: np.array([[getattr(p, k) for p in props]] * 2) for k in ("p11", "p21", "p22", "gain")}
    E_rev = np.array([[0.0, -80.0]] * 2)
    C, gL = np.array([250.0, 100.0]), np.array([12.5, 10.0])
    EL, Vth, Vr = np.array([-70.0, -70.0]), np.array([-50.0, -50.0]), np.array([-60.0, -60.0])
    ref_steps = np.array([20, 10])
    type_of = rng.integers(0, 2, n).astype(np.int64)
    i_dc = rng.uniform(-300, 200, n)
    ring = rng.uniform(0, 2, (512, n_r, n)) * (rng.random((512, n_r, n)) < 0.05)
    v0 = rng.uniform(-65, -51, n)
    v, refr, x, g = v0.copy(), np.zeros(n, np.int64), np.zeros((n_r, n)), np.zeros((n_r, n))
    spk_s, spk_i = np.zeros(n * steps, np.int64), np.zeros(n * steps, np.int64)
    n_chunks = (n + CHUNK - 1) // CHUNK
    chunk_spikes, chunk_bad = np.zeros(n_chunks, np.int64), np.zeros(n_chunks, np.int64)
    # background Poisson on receptor 0: three rates, one far into the table's tail
    lam = np.zeros((n_r, n))
    lam[0] = np.array(rates)[np.arange(n) % len(rates)]   # one table per chunk, or mixed
    w_in = np.where(lam > 0, 0.3, 0.0)
    table, cdf, tail = _poisson_tables(lam)
    cell = np.stack([C[type_of], gL[type_of], (gL * EL)[type_of], Vth[type_of], Vr[type_of]])
    rec = np.stack([np.ascontiguousarray(a[type_of].T)
                    for a in (tab["p11"], tab["p21"], tab["p22"], tab["gain"], E_rev)])
    mg_mM = np.array([mg, 0.0])     # magnesium block on receptor 0 (NMDA-like) or none
    _advance(0, steps, dt, 1, np.arange(n, dtype=np.int64), cell, rec, mg_mM,
             ref_steps[type_of].astype(np.int64), i_dc, table, cdf, tail, w_in, np.zeros(n), np.ones(n), np.zeros(n), -1,
             ring.copy(), v, refr, x, g, spk_s, spk_i, chunk_spikes, chunk_bad)
    assert chunk_bad.sum() == 0 and chunk_spikes.sum() > 10
    got = []
    for c in range(n_chunks):
        base = c * CHUNK * steps
        got += zip(spk_s[base:base + chunk_spikes[c]].tolist(),
                   spk_i[base:base + chunk_spikes[c]].tolist())
    twin_spikes = []
    for i in range(n):
        t = type_of[i]
        vi, ri, xi, gi = v0[i], 0, [0.0, 0.0], [0.0, 0.0]
        p = [(tab["p11"][t, r], tab["p21"][t, r], tab["p22"][t, r]) for r in range(n_r)]
        for s in range(steps):
            arrived = ring[s, :, i].copy()
            for r in range(n_r):
                if lam[r, i] > 0:
                    arrived[r] += w_in[r, i] * ref.poisson(1, STREAM_POISSON, i, s * n_r + r,
                                                           lam[r, i])
            vi, ri, spiked = ref.advance_one_cell(
                vi, ri, xi, gi, arrived, i_dc[i], p, E_rev[t], tab["gain"][t], dt, C[t],
                gL[t], EL[t], Vth[t], Vr[t], ref_steps[t], mg_mM)
            if spiked:
                twin_spikes.append((s, i))
        assert vi == v[i]
    assert sorted(twin_spikes) == sorted(got)


def test_exp_neg_polynomial_is_exp_to_rounding():
    from brain.kernels.neurons import _exp_neg
    a = np.concatenate([np.linspace(0, 0.05, 2001), [0.0499999, 0.05, 0.3, 5.0]])
    got = np.array([_exp_neg(x) for x in a])
    np.testing.assert_allclose(got, np.exp(-a), rtol=3e-13, atol=0)


def test_split_key_draws_equal_full_key_draws():
    from brain.kernels.rng import cell_key, stream_key, uniform_ck, uniform_k
    key = np.uint64(stream_key(5, STREAM_POISSON))     # as the kernels hold it
    for a, b in [(0, 0), (7, 123456), (2**40 + 3, 2**31 - 1)]:
        assert uniform_ck(np.uint64(cell_key(key, a)), b) == uniform_k(key, a, b) == uniform(5, STREAM_POISSON, a, b)


def test_collect_spikes_gives_step_gid_order():
    from brain.kernels.spikes import _collect_spikes
    rng = np.random.default_rng(3)
    n_chunks, stride, step0, n_steps = 5, 40, 100, 8
    gid = np.sort(rng.choice(10_000, n_chunks * 8, replace=False)).astype(np.int64)
    counts = rng.integers(0, stride, n_chunks)
    spike_step = np.zeros(n_chunks * stride, np.int64)
    spike_idx = np.zeros(n_chunks * stride, np.int64)
    expected = []
    for c in range(n_chunks):     # each chunk: its own cells 8c..8c+7, sorted by (step, idx)
        pairs = sorted((int(s), int(i)) for s, i in zip(rng.integers(step0, step0 + n_steps, counts[c]),
                                                         rng.integers(8 * c, 8 * c + 8, counts[c])))
        for k, (s, i) in enumerate(pairs):
            spike_step[c * stride + k], spike_idx[c * stride + k] = s, i
        expected += [(s, int(gid[i])) for s, i in pairs]
    out_s, out_g = np.zeros(counts.sum(), np.int64), np.zeros(counts.sum(), np.int64)
    k = _collect_spikes(counts, stride, spike_step, spike_idx, step0, n_steps, gid, out_s, out_g)
    assert k == counts.sum()
    assert list(zip(out_s.tolist(), out_g.tolist())) == sorted(expected)


def test_deliver_rows_matches_deliver_bit_for_bit():
    """The engine's delivery (rows of one delay as a bare scatter, precomputed thread
    splits) adds the same float32 values in the same order as ``_deliver``."""
    from brain.kernels.delivery import _deliver_rows, row_delays, row_splits
    rng = np.random.default_rng(5)
    n_cells, n_local, n_syn = 60, 37, 900
    pre = np.sort(rng.integers(0, n_cells, n_syn))
    indptr = np.zeros(n_cells + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=n_cells), out=indptr[1:])
    target = rng.integers(0, n_local, n_syn).astype(np.int32)
    weight = rng.uniform(0.1, 2, n_syn).astype(np.float32)
    delay = rng.integers(1, 15, n_syn).astype(np.uint8)
    for s in range(n_cells):
        row = slice(indptr[s], indptr[s + 1])
        target[row] = np.sort(target[row])
        if s % 3:                       # two rows in three share one delay
            delay[row] = 1 + s % 14
    rd = row_delays(indptr, delay)
    assert (rd >= 0).sum() > n_cells // 2 and (rd == -1).sum() > 5
    rec = rng.integers(0, 2, n_cells).astype(np.int64)
    steps = np.sort(rng.integers(0, 10, 200)).astype(np.int64)
    gids = rng.integers(0, n_cells, 200).astype(np.int64)
    syn = Synapses.from_weights(indptr, target, weight, delay)
    b = np.zeros((32, 2, n_local), np.float32)
    _deliver(steps, gids, indptr, target, syn.weight_code, syn.weight_table_nS, delay, rec, b, 1)
    for n_parts in (1, 2, 3, 7):
        a = np.zeros((32, 2, n_local), np.float32)
        _deliver_rows(steps, gids, indptr, target, syn.weight_code, syn.weight_table_nS, delay,
                      rd, row_splits(indptr, target, n_local, n_parts), rec, a)
        assert np.array_equal(a.view(np.int32), b.view(np.int32))


@pytest.mark.parametrize("mg", [0.0, 1.2])
def test_advance_chunk_layout_gives_the_same_bits(mg):
    """Chunks whose cells share their parameters read them as scalars (the engine's
    ``chunk_layout``); every bit of the state and the spikes equals the per-cell path.
    Cells grouped by type, so most chunks are uniform and some mixed; Poisson input with
    one table, mixed tables (incl. a rate past the table's end) and none."""
    from brain.kernels.neurons import chunk_layout
    rng = np.random.default_rng(2)
    n, n_r, dt, steps = 1000, 2, 0.1, 200
    props = [propagator("exp", 2.0, 2.0, dt), propagator("alpha", 5.0, 5.0, dt)]
    type_of = np.repeat([0, 1, 0, 2], [300, 200, 70, 430]).astype(np.int64)
    C, gL = np.array([250.0, 100.0, 180.0]), np.array([12.5, 10.0, 9.0])
    EL, Vth, Vr = np.array([-70.0, -65.0, -72.0]), np.array([-50.0, -52.0, -50.0]), \
        np.array([-60.0, -60.0, -58.0])
    ref_steps = np.array([20, 10, 5])
    cell = np.stack([C[type_of], gL[type_of], (gL * EL)[type_of], Vth[type_of], Vr[type_of]])
    one = np.array([[getattr(p, k) for p in props] for k in ("p11", "p21", "p22", "gain")])
    rec = np.stack([np.repeat(one[k][:, None], n, axis=1) for k in range(4)]
                   + [np.array([[0.0] * n, [-80.0] * n])])
    rec[3, 1, 900:] *= 1.5              # a few cells differ in one receptor parameter
    lam = np.zeros((n_r, n))
    lam[0, :500] = 1.1
    lam[0, 500:800] = np.where(np.arange(300) % 2, 3.0, 19.0)
    lam[1, 256:384] = 0.4
    table, cdf, tail = _poisson_tables(lam)
    w_in = np.where(lam > 0, 0.4, 0.0)
    lay, par = chunk_layout(cell, rec, ref_steps[type_of], w_in, table)
    assert 0 < lay[:, 0].sum() < len(lay) and (lay[:, 1] == -2).any() and (lay[:, 2] == -1).any()
    i_dc = rng.uniform(-100, 300, n)
    ring0 = (rng.uniform(0, 3, (256, n_r, n)) * (rng.random((256, n_r, n)) < 0.05)).astype(np.float32)
    v0 = rng.uniform(-65, -51, n)
    n_chunks = (n + CHUNK - 1) // CHUNK
    out = []
    for layout in (None, lay):
        v, refr = v0.copy(), np.zeros(n, np.int64)
        x, g, ring = np.zeros((n_r, n)), np.zeros((n_r, n)), ring0.copy()
        spk_s, spk_i = np.zeros(n * steps, np.int64), np.zeros(n * steps, np.int64)
        cs, cb = np.zeros(n_chunks, np.int64), np.zeros(n_chunks, np.int64)
        args = (0, steps, dt, 3, np.arange(n, dtype=np.int64), cell, rec, np.array([mg, 0.0]),
                ref_steps[type_of].astype(np.int64), i_dc, table, cdf, tail, w_in, np.zeros(n),
                np.ones(n), np.zeros(n), -1, ring, v, refr, x, g, spk_s, spk_i, cs, cb)
        _advance(*args) if layout is None else _advance(*args, layout, par)
        assert cb.sum() == 0 and cs.sum() > 100
        out.append([a.view(np.uint8).tobytes() for a in (v, refr, x, g, ring, cs, spk_s, spk_i)])
    assert out[0] == out[1]
