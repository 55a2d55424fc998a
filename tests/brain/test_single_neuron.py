"""One neuron under a known conductance input, against a fine-step reference (solve_ivp)."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from brain.kernels.neurons import _advance
from brain.propagators import conductance_kernel, propagator

DT = 0.1
C, GL, EL, VTH, VRESET, TREF = 250.0, 12.5, -70.0, -50.0, -60.0, 2.0
RECEPTORS = [("alpha", 1.0, 0.0), ("alpha", 3.0, -80.0)]     # (kind, tau_ms, E_rev_mV)


def run_kernel(arrivals, i_dc_pA, t_end_ms):
    """Drive _advance with input spikes {(step, receptor): weight_nS}; return V trace, spikes."""
    n_r = len(RECEPTORS)
    props = [propagator(k, tau, tau, DT) for k, tau, _ in RECEPTORS]
    tab = {name: np.array([[getattr(p, name) for p in props]]) for name in
           ("p11", "p21", "p22", "gain")}
    E_rev = np.array([[e for _, _, e in RECEPTORS]])
    cell = np.array([[C], [GL], [GL * EL], [VTH], [VRESET]])
    rec = np.stack([np.ascontiguousarray(a.T) for a in
                    (tab["p11"], tab["p21"], tab["p22"], tab["gain"], E_rev)])
    n_steps = int(round(t_end_ms / DT))
    ring = np.zeros((2048, n_r, 1))
    for (step, r), w in arrivals.items():
        ring[step, r, 0] += w
    v = np.array([EL])
    refr = np.zeros(1, np.int64)
    x = np.zeros((n_r, 1))
    g = np.zeros((n_r, 1))
    spike_step = np.zeros(1, np.int64)
    spike_idx = np.zeros(1, np.int64)
    n_spk, bad = np.zeros(1, np.int64), np.zeros(1, np.int64)
    zeros = np.zeros((n_r, 1))
    vs, spikes = [EL], []
    for s in range(n_steps):
        _advance(s, 1, DT, 1, np.array([0], np.int64), cell, rec, np.zeros(n_r),
                 np.array([int(round(TREF / DT))], np.int64), np.array([i_dc_pA]),
                 np.full((n_r, 1), -1),
                 np.zeros((0, 16)), np.zeros((0, 2)), zeros,
                 np.zeros(1), np.ones(1), np.zeros(1), -1, ring, v, refr, x, g, spike_step,
                 spike_idx, n_spk, bad)
        assert bad[0] == 0
        if n_spk[0]:
            spikes.append((spike_step[0] + 1) * DT)
        vs.append(v[0])
    return np.array(vs), np.array(spikes)


def reference(arrivals, i_dc_pA, t_end_ms):
    """V(t) by solve_ivp (rtol 1e-10) with analytic conductances, threshold events, reset."""
    inputs = [(step * DT, r, w) for (step, r), w in arrivals.items()]

    def conductances(t):
        g = np.zeros(len(RECEPTORS))
        for t0, r, w in inputs:
            kind, tau, _ = RECEPTORS[r]
            g[r] += w * conductance_kernel(kind, tau, tau, np.array([t - t0]))[0]
        return g

    def rhs(t, y):
        g = conductances(t)
        E = np.array([e for _, _, e in RECEPTORS])
        return [(-GL * (y[0] - EL) - np.sum(g * (y[0] - E)) + i_dc_pA) / C]

    def crossing(t, y):
        return y[0] - VTH
    crossing.terminal, crossing.direction = True, 1

    t, v0, spikes = 0.0, EL, []
    ts, vs = [], []
    while t < t_end_ms:
        sol = solve_ivp(rhs, (t, t_end_ms), [v0], rtol=1e-10, atol=1e-10, events=crossing,
                        dense_output=True, max_step=0.05)
        ts.append(sol.t), vs.append(sol.y[0])
        if sol.status == 1:
            ts_spk = sol.t_events[0][0]
            spikes.append(ts_spk)
            t, v0 = ts_spk + TREF, VRESET
        else:
            break
    return spikes, sol


def test_subthreshold_voltage_within_half_mV():
    rng = np.random.default_rng(3)
    arrivals = {}
    for step in sorted(rng.choice(900, 40, replace=False)):
        arrivals[(int(step), int(rng.integers(2)))] = float(rng.uniform(0.5, 3.0))
    v, spikes = run_kernel(arrivals, 100.0, 100.0)
    assert len(spikes) == 0
    ref_spikes, sol = reference(arrivals, 100.0, 100.0)
    assert ref_spikes == []
    t = DT * np.arange(len(v))
    v_ref = sol.sol(t)[0]
    err = np.abs(v - v_ref).max()
    assert err < 0.5, err
    assert np.ptp(v) > 5.0   # the input really moved the membrane


def test_spike_times_within_0_2_ms():
    arrivals = {(int(s), 0): 4.0 for s in range(50, 1000, 70)}
    arrivals.update({(int(s), 1): 3.0 for s in range(80, 1000, 130)})
    v, spikes = run_kernel(arrivals, 300.0, 100.0)
    ref_spikes, _ = reference(arrivals, 300.0, 100.0)
    assert len(spikes) >= 3
    assert len(spikes) == len(ref_spikes)
    np.testing.assert_allclose(spikes, ref_spikes, atol=0.2)


def test_refractory_clamp():
    v, spikes = run_kernel({}, 2000.0, 20.0)
    assert len(spikes) >= 2
    first = int(round(spikes[0] / DT))
    assert np.all(v[first:first + int(TREF / DT)] == pytest.approx(VRESET))
    assert np.diff(spikes).min() >= TREF
