"""Known answers for cosim.analysis.phases, including the sign convention (later = positive)."""
from __future__ import annotations

import numpy as np
import pytest
from analysis_trains import F_GAMMA_HZ, cosine_rate, poisson_trains

from cosim.analysis.phases import (bandpass, circular_mean, group_phase_stats, hilbert_phase,
                                   phase_difference_deg, rayleigh_p, spike_phases,
                                   vector_strength, wrap_phase)
from cosim.analysis.rates import population_rate

FS = 1000.0


def test_circular_stats_hand_built():
    assert vector_strength(np.full(7, 1.3)) == pytest.approx(1.0)
    assert circular_mean(np.full(7, 1.3)) == pytest.approx(1.3)
    grid = np.linspace(-np.pi, np.pi, 12, endpoint=False)
    assert vector_strength(grid) == pytest.approx(0.0, abs=1e-12)
    assert rayleigh_p(grid) == pytest.approx(1.0)
    assert circular_mean(np.radians([350.0, 10.0])) == pytest.approx(0.0, abs=1e-12)
    # 170 and -170 deg average to 180 deg, reported as -pi in [-pi, pi).
    assert phase_difference_deg(circular_mean(np.radians([170.0, -170.0])), np.pi) == \
        pytest.approx(0.0, abs=1e-9)
    assert -np.pi <= circular_mean(np.radians([170.0, -170.0])) < np.pi
    assert vector_strength(np.radians([0.0, 90.0])) == pytest.approx(np.sqrt(0.5))


def test_empty_phases():
    assert np.isnan(circular_mean([])) and np.isnan(vector_strength([]))
    assert rayleigh_p([]) == 1.0


def test_rayleigh_p_matches_zar_formula_and_is_small_when_locked():
    p = np.radians([10.0, 20.0, 30.0, 40.0, 200.0])
    n, Rn = 5, 5 * vector_strength(p)
    expected = np.exp(np.sqrt(1 + 4 * n + 4 * (n**2 - Rn**2)) - (1 + 2 * n))
    assert rayleigh_p(p) == pytest.approx(expected)
    assert rayleigh_p(np.full(30, 0.5)) < 1e-10


def test_phase_difference_wraps_to_half_open_interval():
    assert phase_difference_deg(np.radians(10.0), np.radians(350.0)) == pytest.approx(20.0)
    assert phase_difference_deg(np.radians(350.0), np.radians(10.0)) == pytest.approx(-20.0)
    assert phase_difference_deg(np.pi, 0.0) == pytest.approx(180.0)
    assert phase_difference_deg(-np.pi, 0.0) == pytest.approx(180.0)
    out = phase_difference_deg(np.radians([0.0, 540.0, -190.0]), 0.0)
    np.testing.assert_allclose(out, [0.0, 180.0, 170.0])


def test_wrap_phase_range():
    w = wrap_phase(np.array([np.pi, -np.pi, 3 * np.pi, 0.1]))
    np.testing.assert_allclose(w, [-np.pi, -np.pi, -np.pi, 0.1])


def test_bandpass_keeps_band_without_phase_shift():
    t = np.arange(0.0, 2.0, 1.0 / FS)
    inband = np.cos(2 * np.pi * 40.0 * t)
    out = bandpass(inband + np.cos(2 * np.pi * 5.0 * t) + np.cos(2 * np.pi * 150.0 * t), FS,
                   30.0, 50.0)
    middle = slice(200, -200)
    np.testing.assert_allclose(out[middle], inband[middle], atol=0.05)
    with pytest.raises(ValueError):
        bandpass(inband, FS, 50.0, 30.0)


def test_hilbert_phase_zero_at_peaks_and_later_is_positive():
    t_ms = np.arange(0.0, 2000.0, 1.0)
    ref = np.cos(2 * np.pi * F_GAMMA_HZ * t_ms / 1000.0)
    phase = hilbert_phase(ref, FS)
    peaks_ms = np.arange(100.0, 1900.0, 25.0)
    assert np.all(np.abs(spike_phases(peaks_ms, t_ms, phase)) < np.radians(3))
    # Spikes 5 ms after each peak are 5/25 of a cycle = +72 deg later.
    late = spike_phases(peaks_ms + 5.0, t_ms, phase)
    assert np.degrees(circular_mean(late)) == pytest.approx(72.0, abs=3.0)
    assert np.degrees(circular_mean(spike_phases(peaks_ms - 5.0, t_ms, phase))) == \
        pytest.approx(-72.0, abs=3.0)


def test_spike_phases_interpolates_and_drops_outside():
    t_ms = np.arange(0.0, 10.0, 1.0)
    phase = wrap_phase(np.linspace(0.0, 9 * 1.0, 10))  # 1 rad per ms, wrapping past pi
    out = spike_phases([-1.0, 0.5, 3.5, 9.0, 12.0], t_ms, phase)
    np.testing.assert_allclose(out, wrap_phase([0.5, 3.5, 9.0]))


LAGS_DEG = (0.0, 30.0, 60.0, 90.0)
N_CELLS = 200
DURATION_MS = 5000.0


def _lagged_groups(seed=0):
    rng = np.random.default_rng(seed)
    ids, times, groups = [], [], {}
    for g, lag in enumerate(LAGS_DEG):
        i, t = poisson_trains(rng, N_CELLS, DURATION_MS, cosine_rate(np.radians(lag)), 36.0,
                              first_id=g * N_CELLS)
        ids.append(i)
        times.append(t)
        groups[lag] = np.arange(g * N_CELLS, (g + 1) * N_CELLS)
    return np.concatenate(ids), np.concatenate(times), groups


def test_group_phase_lags_recovered_with_positive_sign_for_later_groups():
    ids, times, groups = _lagged_groups()
    ref_t, ref_rate = population_rate(times[np.isin(ids, groups[0.0])], N_CELLS, 0.0,
                                      DURATION_MS)
    phase = hilbert_phase(ref_rate, FS, 30.0, 50.0)
    inner = (ref_t > 200.0) & (ref_t < DURATION_MS - 200.0)  # away from filter edge effects
    stats = group_phase_stats(times, ids, groups, ref_t[inner], phase[inner])
    for lag in LAGS_DEG:
        s = stats[lag]
        assert s["n_spikes"] > 15000
        assert s["mean_deg"] == pytest.approx(lag, abs=10.0)
        # Depth m = 0.8 gives R = m / 2 = 0.4; a noisy reference phase lowers it a little.
        assert 0.32 < s["vector_strength"] < 0.45
        assert s["rayleigh_p"] < 1e-100


def test_homogeneous_poisson_is_not_locked():
    ids, times, groups = _lagged_groups()
    ref_t, ref_rate = population_rate(times[np.isin(ids, groups[0.0])], N_CELLS, 0.0,
                                      DURATION_MS)
    phase = hilbert_phase(ref_rate, FS)
    rng = np.random.default_rng(11)
    flat_ids, flat_t = poisson_trains(rng, N_CELLS, DURATION_MS, lambda t: np.full(t.shape, 20.0),
                                      20.0, first_id=10_000)
    s = group_phase_stats(flat_t, flat_ids, {"flat": np.arange(10_000, 10_000 + N_CELLS)},
                          ref_t[200:-200], phase[200:-200])["flat"]
    assert s["vector_strength"] < 0.03
    assert s["rayleigh_p"] > 0.01


def test_locking_by_distance_separates_locked_near_cells_from_unlocked_far_ones():
    from cosim.analysis.phases import locking_by_distance
    rng = np.random.default_rng(3)
    # 40 near cells (50-150 um) spike at phase 0.8 +- 0.3 rad, 60 far cells (600-900 um)
    # at uniform phases; 2 spikes per cell in a 500 ms window -> 4 Hz
    cell_d = np.concatenate([rng.uniform(50, 150, 40), rng.uniform(600, 900, 60)])
    spike_d = np.repeat(cell_d, 2)
    ph = np.concatenate([rng.normal(0.8, 0.3, 80), rng.uniform(-np.pi, np.pi, 120)])
    out = locking_by_distance(ph, spike_d, cell_d, [0.0, 300.0, 500.0, 1000.0], 500.0)
    assert out["n_cells"] == [40, 0, 60]
    assert out["rate_Hz"][0] == pytest.approx(4.0) and out["rate_Hz"][2] == pytest.approx(4.0)
    assert np.isnan(out["rate_Hz"][1]) and np.isnan(out["vector_strength"][1])
    assert out["vector_strength"][0] == pytest.approx(np.exp(-0.3 ** 2 / 2), abs=0.05)
    assert out["mean_deg"][0] == pytest.approx(np.degrees(0.8), abs=6.0)
    assert out["vector_strength"][2] < 0.2
    with pytest.raises(ValueError, match="increasing"):
        locking_by_distance(ph, spike_d, cell_d, [0.0, 0.0], 500.0)
    with pytest.raises(ValueError, match="differ in length"):
        locking_by_distance(ph[:5], spike_d, cell_d, [0.0, 1.0], 500.0)
