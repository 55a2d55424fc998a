"""Analysis of run outputs: rates, spectra, coherence and spike phases (pure numpy/scipy).

Times are in ms, rates and frequencies in Hz, phases in radians in ``[-pi, pi)``; phase 0 is
the peak of the band-passed reference and later is positive (see :mod:`cosim.analysis.phases`).
Figures live in :mod:`cosim.analysis.figures`, which is not imported here so that the
numerical functions do not pull in matplotlib.
"""
from cosim.analysis.phases import (bandpass, circular_mean, group_phase_stats,
                                   group_spike_phases, hilbert_phase, locking_by_distance,
                                   phase_difference_deg,
                                   rayleigh_p, spike_phases, vector_strength, wrap_phase)
from cosim.analysis.rates import cell_rates, population_rate, rate_profile, voxel_rate_map
from cosim.analysis.spectra import (CoherenceVsChance, band_coherence, band_power, coherence,
                                    coherence_surrogate, coherence_vs_chance, has_peak_in,
                                    peak_frequency, welch_psd)

__all__ = [
    "population_rate", "cell_rates", "voxel_rate_map", "rate_profile",
    "welch_psd", "band_power", "peak_frequency", "has_peak_in", "coherence", "band_coherence",
    "coherence_surrogate", "coherence_vs_chance", "CoherenceVsChance",
    "bandpass", "hilbert_phase", "spike_phases", "wrap_phase", "circular_mean",
    "vector_strength", "rayleigh_p", "phase_difference_deg", "group_spike_phases",
    "group_phase_stats", "locking_by_distance",
]
