"""Power spectra and coherence of sampled signals (e.g. population rates), with a chance level.

Signals are 1-D arrays sampled at ``fs_Hz``; segment lengths are given in ms and converted to
samples, so the same call works for any sampling rate.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import signal as sps

__all__ = ["welch_psd", "band_power", "peak_frequency", "has_peak_in", "coherence",
           "band_coherence", "coherence_surrogate", "CoherenceVsChance", "coherence_vs_chance"]

# 256 ms segments give 3.9 Hz resolution: fine enough to place a gamma peak within a few Hz,
# short enough that a few seconds of signal still average over tens of segments.
DEFAULT_SEGMENT_MS = 256.0


def _segment(n_samples: int, fs_Hz: float, segment_ms: float, overlap: float) -> tuple[int, int]:
    if n_samples < 2:
        raise ValueError(f"signal needs at least 2 samples, got {n_samples}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    nperseg = int(min(max(round(segment_ms * fs_Hz / 1000.0), 2), n_samples))
    return nperseg, int(overlap * nperseg)


def _band(f_Hz, lo_Hz: float, hi_Hz: float) -> np.ndarray:
    f = np.asarray(f_Hz)
    sel = (f >= lo_Hz) & (f <= hi_Hz)
    if not sel.any():
        # An empty band usually means it is narrower than the frequency resolution.
        step = f"{f[1] - f[0]:.3g}" if f.size > 1 else "?"
        raise ValueError(f"no frequency bins in [{lo_Hz}, {hi_Hz}] Hz (resolution {step} Hz)")
    return sel


def welch_psd(signal, fs_Hz: float, segment_ms: float = DEFAULT_SEGMENT_MS, overlap: float = 0.5,
              detrend: str | bool = "constant") -> tuple[np.ndarray, np.ndarray]:
    """Power spectral density by Welch's method (Hann window).

    Parameters
    ----------
    signal : array_like, shape (n,), float
        Signal sampled at ``fs_Hz`` (e.g. a population rate in Hz).
    fs_Hz : float
        Sampling rate, Hz (1 kHz for 1 ms bins).
    segment_ms : float
        Segment length, ms; clipped to the signal length.
    overlap : float
        Fraction of a segment shared with the next, in [0, 1).
    detrend : str or False
        Passed to :func:`scipy.signal.welch`; ``'constant'`` removes each segment's mean.

    Returns
    -------
    f_Hz : ndarray, shape (nperseg // 2 + 1,), float64
        Frequencies, Hz.
    psd : ndarray, same shape, float64
        One-sided PSD, (signal units)^2 / Hz.
    """
    x = np.asarray(signal, dtype=np.float64).ravel()
    nperseg, noverlap = _segment(x.size, fs_Hz, segment_ms, overlap)
    return sps.welch(x, fs=fs_Hz, window="hann", nperseg=nperseg, noverlap=noverlap,
                     detrend=detrend, scaling="density")


def band_power(f_Hz, psd, lo_Hz: float, hi_Hz: float) -> float:
    """Mean power density over the bins with ``lo_Hz <= f <= hi_Hz``.

    A density (not the integral), so bands of different widths can be compared directly.

    Parameters
    ----------
    f_Hz : array_like, shape (m,), float
        Frequencies, Hz.
    psd : array_like, shape (m,), float
        Power spectral density.
    lo_Hz, hi_Hz : float
        Band edges, Hz, both included.

    Returns
    -------
    float
        Mean PSD in the band, same units as ``psd``.  Raises ``ValueError`` for a band with
        no bins.
    """
    return float(np.mean(np.asarray(psd)[_band(f_Hz, lo_Hz, hi_Hz)]))


def peak_frequency(f_Hz, psd, lo_Hz: float, hi_Hz: float) -> float:
    """Frequency of the largest PSD value in ``[lo_Hz, hi_Hz]``, Hz.

    Parameters
    ----------
    f_Hz, psd : array_like, shape (m,), float
        Frequencies (Hz) and PSD.
    lo_Hz, hi_Hz : float
        Search range, Hz, both included.
    """
    sel = _band(f_Hz, lo_Hz, hi_Hz)
    f = np.asarray(f_Hz)[sel]
    return float(f[np.argmax(np.asarray(psd)[sel])])


def has_peak_in(f_Hz, psd, band: tuple[float, float],
                search: tuple[float, float] = (10.0, 150.0)) -> bool:
    """True if the largest PSD value within ``search`` (Hz) lies inside ``band`` (Hz)."""
    peak = peak_frequency(f_Hz, psd, *search)
    return bool(band[0] <= peak <= band[1])


def coherence(x, y, fs_Hz: float, segment_ms: float = DEFAULT_SEGMENT_MS,
              overlap: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude-squared coherence of two signals (Welch, Hann window).

    Parameters
    ----------
    x, y : array_like, shape (n,), float
        Signals sampled at ``fs_Hz``, same length.
    fs_Hz : float
        Sampling rate, Hz.
    segment_ms, overlap
        As in :func:`welch_psd`.  With K segments the chance level is about 1/K, so short
        signals need short segments.

    Returns
    -------
    f_Hz : ndarray, shape (nperseg // 2 + 1,), float64
        Frequencies, Hz.
    Cxy : ndarray, same shape, float64
        Coherence in [0, 1].
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    nperseg, noverlap = _segment(x.size, fs_Hz, segment_ms, overlap)
    return sps.coherence(x, y, fs=fs_Hz, window="hann", nperseg=nperseg, noverlap=noverlap)


def band_coherence(f_Hz, Cxy, lo_Hz: float, hi_Hz: float) -> float:
    """Mean coherence over the bins with ``lo_Hz <= f <= hi_Hz`` (dimensionless, in [0, 1])."""
    return float(np.mean(np.asarray(Cxy)[_band(f_Hz, lo_Hz, hi_Hz)]))


def coherence_surrogate(x, y, fs_Hz: float, lo_Hz: float, hi_Hz: float, n_shifts: int = 20,
                        min_shift_ms: float = 100.0, segment_ms: float = DEFAULT_SEGMENT_MS,
                        overlap: float = 0.5,
                        seed: int | np.random.Generator = 0) -> np.ndarray:
    """Band coherence of ``x`` with circularly shifted copies of ``y``: the chance level.

    A circular shift keeps each signal's spectrum but breaks their common timing, so the
    coherence left over is what unrelated signals with these spectra give.  ``min_shift_ms``
    must exceed the signals' correlation time; a strictly periodic drive never decorrelates,
    and its surrogate stays high.

    Parameters
    ----------
    x, y : array_like, shape (n,), float
        Signals sampled at ``fs_Hz``.
    fs_Hz : float
        Sampling rate, Hz.
    lo_Hz, hi_Hz : float
        Band, Hz.
    n_shifts : int
        Number of shifted copies.
    min_shift_ms : float
        Shifts are drawn uniformly from ``[min_shift_ms, duration - min_shift_ms]``, ms.
    segment_ms, overlap
        As in :func:`coherence`.
    seed : int or numpy.random.Generator
        Source of the shifts.

    Returns
    -------
    ndarray, shape (n_shifts,), float64
        Band coherence for each shift.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    min_shift = int(np.ceil(min_shift_ms * fs_Hz / 1000.0))
    if y.size - min_shift <= min_shift:
        raise ValueError(f"signal of {y.size} samples too short for shifts >= {min_shift}")
    shifts = rng.integers(min_shift, y.size - min_shift, size=n_shifts, endpoint=True)
    out = np.empty(n_shifts)
    for i, s in enumerate(shifts):
        f, c = coherence(x, np.roll(y, s), fs_Hz, segment_ms, overlap)
        out[i] = band_coherence(f, c, lo_Hz, hi_Hz)
    return out


class CoherenceVsChance(NamedTuple):
    """Observed band coherence and its chance level from circular shifts."""

    observed: float
    surrogate_mean: float
    surrogate_p95: float


def coherence_vs_chance(x, y, fs_Hz: float, lo_Hz: float, hi_Hz: float, n_shifts: int = 20,
                        min_shift_ms: float = 100.0, segment_ms: float = DEFAULT_SEGMENT_MS,
                        overlap: float = 0.5,
                        seed: int | np.random.Generator = 0) -> CoherenceVsChance:
    """Band coherence of ``x`` and ``y`` with the mean and 95th percentile of its surrogate.

    Arguments as in :func:`coherence_surrogate`.  Returns a named tuple
    ``(observed, surrogate_mean, surrogate_p95)``, all dimensionless in [0, 1].
    """
    f, c = coherence(x, y, fs_Hz, segment_ms, overlap)
    sur = coherence_surrogate(x, y, fs_Hz, lo_Hz, hi_Hz, n_shifts, min_shift_ms, segment_ms,
                              overlap, seed)
    return CoherenceVsChance(band_coherence(f, c, lo_Hz, hi_Hz), float(sur.mean()),
                             float(np.percentile(sur, 95)))
