"""Known answers for cosim.analysis.rates."""
from __future__ import annotations

import numpy as np
import pytest

from cosim.analysis.rates import cell_rates, population_rate, rate_profile, voxel_rate_map


def test_population_rate_exact_counts():
    # 4.0 is at t_stop (half-open window) and -0.5 before t_start: both excluded.
    times = np.array([0.2, 0.7, 1.0, 1.5, 3.99, 4.0, -0.5])
    t, rate = population_rate(times, n_cells=2, t_start_ms=0.0, t_stop_ms=4.0, bin_ms=1.0)
    np.testing.assert_allclose(t, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(rate, np.array([2, 2, 0, 1]) / (2 * 0.001))


def test_population_rate_bin_width_and_offset_window():
    times = np.arange(100.0, 200.0, 0.5)  # 2 spikes per ms
    t, rate = population_rate(times, n_cells=4, t_start_ms=100.0, t_stop_ms=200.0, bin_ms=5.0)
    assert t.size == 20 and t[0] == 102.5
    np.testing.assert_allclose(rate, 10 / (4 * 0.005))


def test_population_rate_no_cells_gives_zeros():
    t, rate = population_rate([1.0, 2.0], n_cells=0, t_start_ms=0.0, t_stop_ms=10.0)
    assert t.size == 10 and np.all(rate == 0.0)


def test_population_rate_empty_window_raises():
    with pytest.raises(ValueError):
        population_rate([], 1, 5.0, 5.0)


def test_cell_rates_exact_in_requested_order():
    ids = np.array([3, 3, 5, 7, 3])
    times = np.array([10.0, 20.0, 30.0, 40.0, 1000.0])  # the last is outside the window
    rates = cell_rates(ids, times, cell_ids=[5, 3, 9, 3], t_start_ms=0.0, t_stop_ms=500.0)
    np.testing.assert_allclose(rates, [2.0, 4.0, 0.0, 4.0])


# Grid (AP=2, DV=3, LR=2); per-cell spike counts in a 1 s window give rates in Hz directly.
IJK = np.array([[0, 0, 0], [0, 2, 0], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
GRID = (2, 3, 2)
COUNTS = [2, 4, 1, 0, 3]


def _spikes():
    ids = np.repeat(np.arange(len(COUNTS)), COUNTS)
    times = np.linspace(10.0, 990.0, ids.size)
    return ids, times


def test_voxel_rate_map_top_view_exact_and_nan_where_empty():
    ids, times = _spikes()
    rate_map, n_map = voxel_rate_map(ids, times, IJK, GRID, 0.0, 1000.0)
    np.testing.assert_array_equal(n_map, [[2, 1], [0, 2]])
    np.testing.assert_allclose(rate_map, [[3.0, 3.0], [np.nan, 0.5]])


def test_voxel_rate_map_mask_and_other_axis():
    ids, times = _spikes()
    mask = np.array([True, False, True, True, True])
    rate_map, n_map = voxel_rate_map(ids, times, IJK, GRID, 0.0, 1000.0, cells_mask=mask)
    np.testing.assert_allclose(rate_map, [[2.0, 3.0], [np.nan, 0.5]])
    # Along AP the map is (DV, LR).
    rate_map, n_map = voxel_rate_map(ids, times, IJK, GRID, 0.0, 1000.0, project_axis=0)
    assert rate_map.shape == (3, 2)
    np.testing.assert_allclose(rate_map, [[2.0, 0.0], [np.nan, 2.0], [4.0, np.nan]])
    np.testing.assert_array_equal(n_map, [[1, 1], [0, 2], [1, 0]])


def test_voxel_rate_map_rejects_ids_outside_cell_table():
    with pytest.raises(ValueError):
        voxel_rate_map([5], [1.0], IJK, GRID, 0.0, 1000.0)


def test_rate_profile_exact():
    ids, times = _spikes()
    profile, n = rate_profile(ids, times, IJK, GRID, 0.0, 1000.0, axis=0)
    np.testing.assert_allclose(profile, [3.0, 0.5])
    np.testing.assert_array_equal(n, [3, 2])
    mask = np.array([False, True, False, False, False])
    profile, n = rate_profile(ids, times, IJK, GRID, 0.0, 1000.0, cells_mask=mask, axis=1)
    np.testing.assert_allclose(profile, [np.nan, np.nan, 4.0])
    np.testing.assert_array_equal(n, [0, 0, 1])
