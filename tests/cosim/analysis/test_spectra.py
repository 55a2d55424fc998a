"""Known answers for cosim.analysis.spectra."""
from __future__ import annotations

import numpy as np
import pytest
from analysis_trains import cosine_rate, diffusing_drive, poisson_trains

from cosim.analysis.rates import population_rate
from cosim.analysis.spectra import (band_coherence, band_power, coherence, coherence_surrogate,
                                    coherence_vs_chance, has_peak_in, peak_frequency, welch_psd)

FS = 1000.0
DURATION_MS = 5000.0
N_CELLS = 200


def _rate(ids_times):
    return population_rate(ids_times[1], N_CELLS, 0.0, DURATION_MS, bin_ms=1.0)[1]


def test_welch_sine_power_and_resolution():
    t = np.arange(0.0, 4.0, 1.0 / FS)
    x = 3.0 * np.sin(2 * np.pi * 50.0 * t) + 7.0  # the offset is removed by detrending
    f, psd = welch_psd(x, FS)
    assert np.isclose(f[1] - f[0], FS / 256)
    # The density integrates to the variance of the sine, A^2 / 2.
    assert np.isclose(np.sum(psd) * (f[1] - f[0]), 4.5, rtol=0.02)
    assert abs(peak_frequency(f, psd, 10, 150) - 50.0) < 2.0


def test_welch_segment_clipped_to_short_signal():
    f, psd = welch_psd(np.random.default_rng(0).normal(size=100), FS)
    assert f.size == 51


def test_modulated_population_rate_has_gamma_peak():
    rng = np.random.default_rng(1)
    rate = _rate(poisson_trains(rng, N_CELLS, DURATION_MS, cosine_rate(0.0), 36.0))
    f, psd = welch_psd(rate, FS)
    assert 38.0 <= peak_frequency(f, psd, 10, 150) <= 42.0
    assert has_peak_in(f, psd, (30, 50)) and not has_peak_in(f, psd, (60, 100))
    assert band_power(f, psd, 30, 50) > 20 * band_power(f, psd, 60, 100)


def test_band_power_is_a_density():
    f = np.arange(0.0, 101.0)
    psd = np.full(f.shape, 2.0)
    assert band_power(f, psd, 10, 20) == band_power(f, psd, 10, 90) == 2.0
    with pytest.raises(ValueError):
        band_power(f, psd, 10.2, 10.8)


def test_coherence_with_itself_is_one():
    x = np.random.default_rng(2).normal(size=5000)
    f, c = coherence(x, x, FS)
    np.testing.assert_allclose(c[1:], 1.0, atol=1e-9)
    assert np.isclose(band_coherence(f, c, 30, 50), 1.0)


def test_coherence_of_independent_noise_is_near_zero():
    rng = np.random.default_rng(3)
    f, c = coherence(rng.normal(size=5000), rng.normal(size=5000), FS)
    assert band_coherence(f, c, 30, 50) < 0.1


def test_shared_drive_coherence_beats_shift_surrogate():
    rng = np.random.default_rng(4)
    drive = diffusing_drive(rng, DURATION_MS)

    def rate(t):
        return 20.0 * (1.0 + 0.8 * drive(t))
    x = _rate(poisson_trains(rng, N_CELLS, DURATION_MS, rate, 36.0))
    y = _rate(poisson_trains(rng, N_CELLS, DURATION_MS, rate, 36.0, first_id=N_CELLS))
    result = coherence_vs_chance(x, y, FS, 35, 45, n_shifts=20, min_shift_ms=100, seed=0)
    observed, sur_mean, sur_p95 = result
    assert observed > 0.8
    assert sur_p95 < 0.2 and sur_mean < sur_p95
    assert observed > 4 * sur_p95
    # Independent cells with independent drives: no coherence beyond chance.
    drive2 = diffusing_drive(rng, DURATION_MS)
    z = _rate(poisson_trains(rng, N_CELLS, DURATION_MS, lambda t: 20.0 * (1 + 0.8 * drive2(t)),
                             36.0))
    assert coherence_vs_chance(x, z, FS, 35, 45, seed=0).observed < 0.2


def test_surrogate_is_seeded_and_shift_bounds_checked():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=2000), rng.normal(size=2000)
    a = coherence_surrogate(x, y, FS, 30, 50, n_shifts=5, seed=7)
    b = coherence_surrogate(x, y, FS, 30, 50, n_shifts=5, seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (5,)
    with pytest.raises(ValueError):
        coherence_surrogate(x[:150], y[:150], FS, 30, 50, min_shift_ms=100)


def test_strictly_periodic_drive_survives_shifts():
    # The documented limitation: shifting a strict cosine only changes its phase, which is the
    # same in every segment, so the "chance level" stays high.  Real rhythms drift in phase.
    rng = np.random.default_rng(6)
    x = _rate(poisson_trains(rng, N_CELLS, DURATION_MS, cosine_rate(0.0), 36.0))
    y = _rate(poisson_trains(rng, N_CELLS, DURATION_MS, cosine_rate(0.0), 36.0))
    assert coherence_vs_chance(x, y, FS, 35, 45, n_shifts=5, seed=0).surrogate_mean > 0.5
