"""Oscillation phase of a reference signal and the phase locking of spikes to it.

Phase convention (used everywhere in this package)
---------------------------------------------------
The phase of a reference oscillation is the angle of the analytic signal of the band-passed
reference, in radians in ``[-pi, pi)``: **0 at each peak of the band-passed reference**,
increasing with time (+pi/2 a quarter cycle after the peak, -pi/2 a quarter cycle before it).
Hence a group of cells whose rate peaks together with the reference has mean spike phase ~0,
and a group whose rate peaks *later* than the reference has a *positive* mean phase: a lag of
``dt`` ms at frequency ``f`` Hz reads as ``+360 * f * dt / 1000`` degrees.
"""
from __future__ import annotations

import numpy as np
from scipy import signal as sps

__all__ = ["wrap_phase", "bandpass", "hilbert_phase", "spike_phases", "circular_mean",
           "vector_strength", "rayleigh_p", "phase_difference_deg", "group_spike_phases",
           "group_phase_stats", "locking_by_distance"]


def wrap_phase(phase_rad):
    """Wrap angles to ``[-pi, pi)`` radians (array or scalar, float64)."""
    return np.mod(np.asarray(phase_rad, dtype=np.float64) + np.pi, 2.0 * np.pi) - np.pi


def bandpass(signal, fs_Hz: float, lo_Hz: float, hi_Hz: float, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass (second-order sections, forward and backward).

    Parameters
    ----------
    signal : array_like, shape (n,), float
        Signal sampled at ``fs_Hz``.
    fs_Hz : float
        Sampling rate, Hz.
    lo_Hz, hi_Hz : float
        Pass band, Hz, ``0 < lo_Hz < hi_Hz < fs_Hz / 2``.
    order : int
        Butterworth order of each pass (the forward-backward filter has twice the roll-off).

    Returns
    -------
    ndarray, shape (n,), float64
        Filtered signal, same units as ``signal``, no phase shift.
    """
    if not 0.0 < lo_Hz < hi_Hz < fs_Hz / 2.0:
        raise ValueError(f"need 0 < lo_Hz < hi_Hz < fs_Hz/2, got {lo_Hz}, {hi_Hz}, fs={fs_Hz}")
    sos = sps.butter(order, [lo_Hz, hi_Hz], btype="bandpass", fs=fs_Hz, output="sos")
    return sps.sosfiltfilt(sos, np.asarray(signal, dtype=np.float64).ravel())


def hilbert_phase(signal, fs_Hz: float, lo_Hz: float = 30.0, hi_Hz: float = 50.0,
                  order: int = 3) -> np.ndarray:
    """Instantaneous phase of a reference signal in a frequency band.

    Band-pass (:func:`bandpass`), then the angle of the analytic signal.  Phase is 0 at the
    peaks of the band-passed signal and grows with time (see the module docstring).  The
    first and last cycle or so are distorted by filter and Hilbert edge effects; leave them
    out of the analysis window.

    Parameters
    ----------
    signal : array_like, shape (n,), float
        Reference signal sampled at ``fs_Hz`` (e.g. a population rate in 1 ms bins).
    fs_Hz : float
        Sampling rate, Hz.
    lo_Hz, hi_Hz : float
        Band, Hz (default gamma, 30-50 Hz).
    order : int
        Butterworth order, as in :func:`bandpass`.

    Returns
    -------
    ndarray, shape (n,), float64
        Phase of each sample, radians in ``[-pi, pi)``.
    """
    return wrap_phase(np.angle(sps.hilbert(bandpass(signal, fs_Hz, lo_Hz, hi_Hz, order))))


def spike_phases(spike_times_ms, t_ms, phase) -> np.ndarray:
    """Reference phase at each spike time.

    The unwrapped phase is interpolated linearly between samples, so spikes between two
    samples get an in-between phase rather than the nearest sample's.

    Parameters
    ----------
    spike_times_ms : array_like, shape (k,), float
        Spike times, ms.
    t_ms : array_like, shape (n,), float
        Sample times of ``phase``, ms, increasing (e.g. the bin centres of the reference).
    phase : array_like, shape (n,), float
        Phase at each sample, radians.

    Returns
    -------
    ndarray, shape (k_in,), float64
        Phase of each spike inside ``[t_ms[0], t_ms[-1]]`` (others dropped), in input
        order, radians in ``[-pi, pi)``.
    """
    t = np.asarray(t_ms, dtype=np.float64).ravel()
    ph = np.asarray(phase, dtype=np.float64).ravel()
    if t.shape != ph.shape:
        raise ValueError(f"t_ms and phase must have the same length, got {t.size}, {ph.size}")
    s = np.asarray(spike_times_ms, dtype=np.float64).ravel()
    if t.size == 0:
        return np.zeros(0)
    s = s[(s >= t[0]) & (s <= t[-1])]
    return wrap_phase(np.interp(s, t, np.unwrap(ph)))


def _resultant(phases) -> complex | None:
    p = np.asarray(phases, dtype=np.float64).ravel()
    return None if p.size == 0 else complex(np.mean(np.exp(1j * p)))


def circular_mean(phases) -> float:
    """Circular mean of angles, radians in ``[-pi, pi)``; NaN for no angles.

    Parameters
    ----------
    phases : array_like, shape (k,), float
        Angles, radians.
    """
    z = _resultant(phases)
    return float("nan") if z is None else float(wrap_phase(np.angle(z)))


def vector_strength(phases) -> float:
    """Length of the mean resultant vector, R in [0, 1] (1 = all angles equal); NaN if empty.

    For spikes of an inhomogeneous Poisson process with rate ``r0 * (1 + m cos(theta))``
    the expected R is ``m / 2``.
    """
    z = _resultant(phases)
    return float("nan") if z is None else float(min(abs(z), 1.0))


def rayleigh_p(phases) -> float:
    """p-value of Rayleigh's test against a uniform phase distribution (1.0 if empty).

    Uses Zar's approximation ``p = exp(sqrt(1 + 4n + 4(n^2 - (nR)^2)) - (1 + 2n))``
    (Biostatistical Analysis, eq. 27.4), clipped to [0, 1].
    """
    n = np.asarray(phases).size
    if n == 0:
        return 1.0
    Rn = n * vector_strength(phases)
    p = np.exp(np.sqrt(1.0 + 4.0 * n + 4.0 * (n * n - Rn * Rn)) - (1.0 + 2.0 * n))
    return float(np.clip(p, 0.0, 1.0))


def phase_difference_deg(a_rad, b_rad):
    """``a - b`` in degrees, wrapped to ``(-180, 180]``.

    Positive means ``a`` is later in the cycle than ``b`` (see the module docstring).

    Parameters
    ----------
    a_rad, b_rad : float or array_like, radians

    Returns
    -------
    float or ndarray, float64, degrees
    """
    d = np.degrees(np.asarray(a_rad, dtype=np.float64) - np.asarray(b_rad, dtype=np.float64))
    # Wrapping the negated difference into [-180, 180) and negating back gives (-180, 180].
    out = -(np.mod(-d + 180.0, 360.0) - 180.0)
    return float(out) if out.ndim == 0 else out


def group_spike_phases(spike_times_ms, spike_ids, groups: dict, t_ms,
                       phase) -> dict[object, np.ndarray]:
    """Reference phase of the spikes of each group of cells.

    Parameters
    ----------
    spike_times_ms : array_like, shape (k,), float
        Spike times, ms.
    spike_ids : array_like, shape (k,), int
        Cell id of each spike.
    groups : dict
        Group key -> array of cell ids.
    t_ms, phase : array_like, shape (n,)
        Reference phase (radians) and its sample times (ms), as in :func:`spike_phases`.

    Returns
    -------
    dict
        Group key -> phases of the group's spikes in the sampled window, radians.
    """
    times = np.asarray(spike_times_ms, dtype=np.float64).ravel()
    ids = np.asarray(spike_ids).ravel()
    if times.shape != ids.shape:
        raise ValueError(f"spike_times_ms and spike_ids differ in length: {times.size}, "
                         f"{ids.size}")
    return {name: spike_phases(times[np.isin(ids, np.asarray(cells))], t_ms, phase)
            for name, cells in groups.items()}


def group_phase_stats(spike_times_ms, spike_ids, groups: dict, t_ms, phase) -> dict:
    """Phase-locking statistics of each group of cells to a reference phase.

    Arguments as in :func:`group_spike_phases`.

    Returns
    -------
    dict
        Group key -> ``{"n_spikes": int, "mean_deg": float (degrees in [-180, 180), NaN if
        no spikes), "vector_strength": float, "rayleigh_p": float}``.
    """
    out = {}
    for name, p in group_spike_phases(spike_times_ms, spike_ids, groups, t_ms, phase).items():
        out[name] = {"n_spikes": int(p.size), "mean_deg": float(np.degrees(circular_mean(p))),
                     "vector_strength": vector_strength(p), "rayleigh_p": rayleigh_p(p)}
    return out


def locking_by_distance(spike_phases_rad, spike_distance_um, cell_distance_um, edges_um,
                        window_ms: float) -> dict:
    """Phase locking of a group of cells in rings of distance from a site (e.g. the
    stimulus), to show how far a locally generated rhythm entrains the cells around it.

    Parameters
    ----------
    spike_phases_rad : array_like, shape (k,)
        Reference phase of each spike, radians.
    spike_distance_um : array_like, shape (k,)
        Distance of each spike's cell from the site, um.
    cell_distance_um : array_like, shape (n,)
        Distance of every cell of the group (silent ones too), um: the rates' denominator.
    edges_um : array_like, shape (m + 1,)
        Ring edges, increasing, um; ring ``i`` is ``[edges[i], edges[i + 1])``.
    window_ms : float
        Length of the window the spikes come from, ms.

    Returns
    -------
    dict
        ``{"edges_um", "n_cells", "rate_Hz", "vector_strength", "mean_deg"}``, lists of m
        values per ring (NaN where a ring has no cell or no spike).
    """
    ph = np.asarray(spike_phases_rad, dtype=np.float64).ravel()
    sd = np.asarray(spike_distance_um, dtype=np.float64).ravel()
    cd = np.asarray(cell_distance_um, dtype=np.float64).ravel()
    edges = np.asarray(edges_um, dtype=np.float64)
    if ph.shape != sd.shape:
        raise ValueError(f"spike_phases_rad and spike_distance_um differ in length: "
                         f"{ph.size}, {sd.size}")
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"edges_um must be increasing, with at least 2 values: {edges}")
    ring_spike = np.searchsorted(edges, sd, side="right") - 1
    ring_cell = np.searchsorted(edges, cd, side="right") - 1
    out = {"edges_um": edges.tolist(), "n_cells": [], "rate_Hz": [], "vector_strength": [],
           "mean_deg": []}
    for i in range(edges.size - 1):
        n = int(np.count_nonzero(ring_cell == i))
        p = ph[ring_spike == i]
        out["n_cells"].append(n)
        out["rate_Hz"].append(p.size / n / (window_ms / 1e3) if n else float("nan"))
        out["vector_strength"].append(vector_strength(p))
        out["mean_deg"].append(float(np.degrees(circular_mean(p))))
    return out
