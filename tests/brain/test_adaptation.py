"""Spike-triggered adaptation: the engine against a slow per-step twin, and its effect."""
import numpy as np
import pytest

from brain.connectivity import connect
from brain.engine import Engine
from brain.exchange import LocalExchange
from brain.model import build_population_model
from brain.params import BrainParams, CellType, DCStimulus, DelayParams, Receptor
from brain.propagators import propagator
from tests import reference as ref

DT = 0.1
CELL = dict(C_m_pF=200.0, g_L_nS=10.0, E_L_mV=-70.0, V_th_mV=-50.0, V_reset_mV=-65.0,
            t_ref_ms=2.0, receptor="GABA_A", V_init_mV=-70.0)
DC_pA = 400.0
TAU_AHP_MS = 100.0


def _params(adaptation_nS: float) -> BrainParams:
    return BrainParams(
        receptors=(Receptor(name="GABA_A", E_rev_mV=-80.0, tau_ms=3.0),
                   Receptor(name="K_AHP", kind="exp", E_rev_mV=-90.0, tau_ms=TAU_AHP_MS)),
        cell_types=(CellType(name="LTS", adaptation_nS=adaptation_nS,
                             adaptation_receptor="K_AHP" if adaptation_nS else "", **CELL),),
        delays=DelayParams(min_ms=1.0),
        dc=(DCStimulus(cell_types=("LTS",), amplitude_pA=DC_pA),))


def _engine_spikes(adaptation_nS, t_ms, period_steps=10):
    model = build_population_model(_params(adaptation_nS), {"LTS": 2}, DT, seed=3)
    gids = np.arange(model.n_cells, dtype=np.int64)
    syn = connect(model.params, model.cells, gids, DT, 3)
    eng = Engine(model, gids, syn, LocalExchange(), period_steps)
    eng.prepare()
    steps, g = eng.run(int(round(t_ms / DT)))
    return steps[g == 0], eng


def _twin_spikes(adaptation_nS, t_ms, min_delay_steps=10):
    """One cell in plain Python: each spike at step m adds adaptation_nS to the K_AHP
    input that arrives at step m + min_delay_steps."""
    props = [propagator("alpha", 3.0, 3.0, DT), propagator("exp", TAU_AHP_MS, TAU_AHP_MS, DT)]
    p = [(q.p11, q.p21, q.p22) for q in props]
    gain = [q.gain for q in props]
    v, refr, x, g = CELL["V_init_mV"], 0, [0.0, 0.0], [0.0, 0.0]
    due = {}
    out = []
    for n in range(int(round(t_ms / DT))):
        arrived = [0.0, float(np.float32(due.pop(n, 0.0)))]
        v, refr, spiked = ref.advance_one_cell(
            v, refr, x, g, arrived, DC_pA, p, [-80.0, -90.0], gain, DT, CELL["C_m_pF"],
            CELL["g_L_nS"], CELL["E_L_mV"], CELL["V_th_mV"], CELL["V_reset_mV"],
            int(round(CELL["t_ref_ms"] / DT)))
        if spiked:
            out.append(n)
            due[n + min_delay_steps] = due.get(n + min_delay_steps, 0.0) + adaptation_nS
    return np.array(out)


@pytest.mark.parametrize("period_steps", [10, 5, 1])
def test_engine_matches_per_step_twin(period_steps):
    """Same spike steps as the twin whatever the exchange period (the AHP is due one
    minimum delay after the spike, never inside the period that made it)."""
    steps, _ = _engine_spikes(1.5, 300.0, period_steps)
    twin = _twin_spikes(1.5, 300.0)
    assert len(twin) > 10
    np.testing.assert_array_equal(steps, twin)


def test_adaptation_lengthens_intervals_and_lowers_rate():
    plain, _ = _engine_spikes(0.0, 500.0)
    adapted, eng = _engine_spikes(1.5, 500.0)
    isi = np.diff(adapted) * DT
    assert np.all(np.diff(np.diff(plain)) == 0)         # no adaptation: regular
    assert isi[-1] > 2 * isi[0]                          # intervals lengthen
    assert len(adapted) < 0.6 * len(plain)
    # steady state: the AHP conductance sits near increment * rate * tau
    rate_Hz = 1e3 / isi[-5:].mean()
    g_ahp = eng.g_nS[1, 0]
    assert 0.5 < g_ahp / (1.5 * rate_Hz * TAU_AHP_MS * 1e-3) < 1.5


def test_state_round_trip_keeps_pending_ahp():
    """An AHP still in the ring when the state is taken continues after set_state."""
    steps_a, eng = _engine_spikes(1.5, 200.0)
    state = eng.get_state()
    later_a = eng.run(1000)
    _, eng2 = _engine_spikes(1.5, 0.0)
    eng2.set_state(state)
    later_b = eng2.run(1000)
    np.testing.assert_array_equal(later_a[0], later_b[0])
    np.testing.assert_array_equal(later_a[1], later_b[1])
