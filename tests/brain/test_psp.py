"""Postsynaptic potentials per receptor kind, and the f-I curve, against analytic solutions."""
import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from brain.connectivity import Synapses
from brain.engine import Engine
from brain.exchange import LocalExchange
from brain.model import build_population_model
from brain.params import BrainParams, CellType, DCStimulus, Receptor
from brain.propagators import conductance_kernel

DT = 0.1
CELL = dict(C_m_pF=200.0, g_L_nS=10.0, E_L_mV=-70.0, V_th_mV=-50.0, V_reset_mV=-60.0,
            t_ref_ms=2.0, V_init_mV=-70.0)


def one_cell_engine(receptor, dc_pA=0.0):
    params = BrainParams(receptors=(receptor,),
                         cell_types=(CellType(name="c", receptor=receptor.name, **CELL),),
                         dc=(DCStimulus(cell_types=("c",), amplitude_pA=dc_pA),) if dc_pA else ())
    model = build_population_model(params, {"c": 1}, DT, seed=1)
    syn = Synapses.from_weights(np.zeros(2, np.int64), np.zeros(0, np.int32),
                                np.zeros(0, np.float32), np.zeros(0, np.uint8))
    eng = Engine(model, np.array([0], np.int64), syn, LocalExchange(), 1)
    eng.prepare()
    return eng


RECEPTORS = [Receptor(name="AMPA", kind="alpha", E_rev_mV=0.0, tau_ms=2.0),
             Receptor(name="GABA_A", kind="alpha", E_rev_mV=-85.0, tau_ms=5.0),
             Receptor(name="NMDA_like", kind="dual_exp", E_rev_mV=0.0, tau_rise_ms=2.0,
                      tau_ms=20.0),
             Receptor(name="exp", kind="exp", E_rev_mV=0.0, tau_ms=5.0),
             Receptor(name="NMDA", kind="dual_exp", E_rev_mV=0.0, tau_rise_ms=2.0, tau_ms=80.0,
                      mg_mM=1.0)]


def mg_block(rec, v_mV):
    """Fraction of the NMDA conductance left by the magnesium block at v_mV."""
    return 1.0 / (1.0 + rec.mg_mM / 3.57 * np.exp(-0.062 * v_mV)) if rec.mg_mM else 1.0


@pytest.mark.parametrize("rec", RECEPTORS, ids=[r.name for r in RECEPTORS])
def test_psp_shape_and_amplitude(rec):
    w = 5.0
    eng = one_cell_engine(rec)
    eng.ring_nS[0, 0, 0] = w           # one spike arriving at t = 0
    v = [eng.v_mV[0]]
    for _ in range(1500):
        eng.run(1)
        v.append(eng.v_mV[0])
    v = np.array(v)
    t = DT * np.arange(len(v))

    def rhs(tt, y):
        g = w * conductance_kernel(rec.kind, rec.tau_rise_ms, rec.tau_ms, np.array([tt]))[0]
        g *= mg_block(rec, y[0])
        return [(-CELL["g_L_nS"] * (y[0] - CELL["E_L_mV"]) - g * (y[0] - rec.E_rev_mV))
                / CELL["C_m_pF"]]
    ref = solve_ivp(rhs, (0, t[-1]), [CELL["E_L_mV"]], t_eval=t, rtol=1e-10, atol=1e-12,
                    max_step=0.05).y[0]
    amp = np.abs(ref - CELL["E_L_mV"]).max()
    assert amp > 0.5                               # a real PSP, mV
    assert np.abs(v - ref).max() < 0.02 * amp      # shape within 2% of the peak everywhere
    assert abs(np.abs(v - CELL["E_L_mV"]).max() - amp) < 0.01 * amp   # amplitude within 1%
    assert abs(t[np.argmax(np.abs(v - CELL["E_L_mV"]))]
               - t[np.argmax(np.abs(ref - CELL["E_L_mV"]))]) <= 2 * DT


@pytest.mark.parametrize("current_pA", [250.0, 400.0, 800.0])
def test_rate_under_constant_current_matches_analytic_lif(current_pA):
    eng = one_cell_engine(RECEPTORS[0], dc_pA=current_pA)
    steps, _ = eng.run(int(2000 / DT))
    tau = CELL["C_m_pF"] / CELL["g_L_nS"]
    v_inf = CELL["E_L_mV"] + current_pA / CELL["g_L_nS"]
    isi = CELL["t_ref_ms"] + tau * math.log((v_inf - CELL["V_reset_mV"]) / (v_inf - CELL["V_th_mV"]))
    # first spike starts from E_L, so measure on the inter-spike intervals
    measured_isi = np.diff(steps).mean() * DT
    assert len(steps) > 10
    assert measured_isi == pytest.approx(isi, rel=0.01)


def test_magnesium_block_is_voltage_dependent():
    """The same NMDA input depolarises less from rest than from -30 mV (relative to the
    unblocked drive), as the block predicts."""
    nmda = RECEPTORS[-1]
    assert mg_block(nmda, -70.0) < 0.1 < 0.5 < mg_block(nmda, 0.0)
    free = Receptor(name="NMDA", kind="dual_exp", E_rev_mV=0.0, tau_rise_ms=2.0, tau_ms=80.0)
    peaks = []
    for rec in (nmda, free):
        eng = one_cell_engine(rec)
        eng.ring_nS[0, 0, 0] = 5.0
        v = [eng.v_mV[0]]
        for _ in range(1000):
            eng.run(1)
            v.append(eng.v_mV[0])
        peaks.append(max(v) - CELL["E_L_mV"])
    assert peaks[0] < 0.2 * peaks[1]
