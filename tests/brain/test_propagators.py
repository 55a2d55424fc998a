"""Exact synaptic propagators against the matrix exponential and the analytic kernel."""
import math

import numpy as np
import pytest
from scipy.linalg import expm

from brain.propagators import conductance_kernel, propagator


@pytest.mark.parametrize("kind,tr,td", [("alpha", 2.0, 2.0), ("alpha", 0.5, 0.5),
                                        ("dual_exp", 0.5, 3.0), ("exp", 0.0, 5.0)])
def test_single_spike_matches_analytic_kernel(kind, tr, td):
    dt, w = 0.1, 1.7
    prop = propagator(kind, tr, td, dt)
    x, g = prop.gain * w, 0.0
    gs = []
    for _ in range(400):
        g = prop.p22 * g + prop.p21 * x
        x = prop.p11 * x
        gs.append(g)
    t = dt * np.arange(1, 401)
    expected = w * conductance_kernel(kind, tr, td, t)
    np.testing.assert_allclose(gs, expected, rtol=1e-6, atol=1e-12)


def test_alpha_peak_is_weight_at_tau():
    tau, w = 2.0, 0.8
    assert conductance_kernel("alpha", tau, tau, np.array([tau]))[0] * w == pytest.approx(w)
    t = np.linspace(0, 20, 20001)
    g = conductance_kernel("dual_exp", 0.5, 3.0, t)
    assert g.max() == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("tr,td", [(1.0, 1.0), (0.5, 3.0)])
def test_propagator_is_matrix_exponential(tr, td):
    dt = 0.1
    kind = "alpha" if tr == td else "dual_exp"
    prop = propagator(kind, tr, td, dt)
    # x' = -x/tr ; g' = c x - g/td  with c = 1/tau (alpha) or 1 (dual_exp)
    c = 1.0 / td if kind == "alpha" else 1.0
    A = np.array([[-1.0 / tr, 0.0], [c, -1.0 / td]])
    P = expm(A * dt)
    np.testing.assert_allclose([prop.p11, prop.p21, prop.p22], [P[0, 0], P[1, 0], P[1, 1]],
                               rtol=1e-12)


@pytest.mark.parametrize("args,match", [(("beta", 1, 1, 0.1), "unknown receptor kind"),
                                        (("alpha", 1, 0, 0.1), "must be > 0"),
                                        (("dual_exp", 3, 1, 0.1), "tau_rise_ms < tau_decay_ms")])
def test_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        propagator(*args)
    assert math.isfinite(propagator("alpha", 1, 1, 0.1).gain)
