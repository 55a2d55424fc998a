"""Exact propagators of the two-state synaptic conductance (Rotter & Diesmann 1999).

Each receptor is the linear system  x' = -x / tau_rise,  g' = -g / tau_decay + c x,
so one step of length h is  (x, g) <- exp(A h) (x, g).  A spike of weight w adds
``gain * w`` to x, with ``gain`` chosen so that the conductance peaks at w nS.
Kinds: "alpha" (tau_rise = tau_decay = tau: g = w t/tau exp(1 - t/tau)),
"dual_exp" (tau_rise < tau_decay, peak normalised to w) and "exp" (instant rise,
g jumps by w then decays with tau_decay).
"""
from dataclasses import dataclass
import math

import numpy as np

__all__ = ["Propagator", "propagator", "conductance_kernel"]


@dataclass(frozen=True)
class Propagator:
    """Coefficients of one step: g' = p22 g + p21 x;  x' = p11 x;  x += gain * w on arrival."""

    p11: float
    p21: float
    p22: float
    gain: float


def propagator(kind: str, tau_rise_ms: float, tau_decay_ms: float, dt_ms: float) -> Propagator:
    """Propagator for one receptor kind over a step of ``dt_ms``.

    Parameters
    ----------
    kind : {"alpha", "dual_exp", "exp"}
    tau_rise_ms, tau_decay_ms : time constants (ms); for "alpha" both equal tau,
        for "exp" tau_rise_ms is ignored.
    dt_ms : step (ms).
    """
    h = dt_ms
    if not (h > 0 and tau_decay_ms > 0):
        raise ValueError(f"dt_ms and tau_decay_ms must be > 0, got {dt_ms}, {tau_decay_ms}")
    ed = math.exp(-h / tau_decay_ms)
    if kind == "exp":
        # x carries this step's arrivals into g (p11 = 0); g decays over the step.
        return Propagator(p11=0.0, p21=ed, p22=ed, gain=1.0)
    if kind == "alpha":
        tau = tau_decay_ms
        # x' = -x/tau, g' = -g/tau + x/tau  ->  g(t) = x0 (t/tau) e^{-t/tau}
        return Propagator(p11=ed, p21=(h / tau) * ed, p22=ed, gain=math.e)
    if kind == "dual_exp":
        tr, td = tau_rise_ms, tau_decay_ms
        if not (0 < tr < td):
            raise ValueError(f"dual_exp needs 0 < tau_rise_ms < tau_decay_ms, got {tr}, {td}")
        er = math.exp(-h / tr)
        scale = tr * td / (td - tr)
        t_peak = scale * math.log(td / tr)
        peak = scale * (math.exp(-t_peak / td) - math.exp(-t_peak / tr))
        return Propagator(p11=er, p21=scale * (ed - er), p22=ed, gain=1.0 / peak)
    raise ValueError(f"unknown receptor kind {kind!r}; expected 'alpha', 'dual_exp' or 'exp'")


def conductance_kernel(kind: str, tau_rise_ms: float, tau_decay_ms: float,
                       t_ms: np.ndarray) -> np.ndarray:
    """Analytic conductance (nS) at times ``t_ms`` after one spike of weight 1 nS."""
    t = np.asarray(t_ms, dtype=float)
    if kind == "alpha":
        g = (t / tau_decay_ms) * np.exp(1.0 - t / tau_decay_ms)
    elif kind == "exp":
        g = np.exp(-t / tau_decay_ms)
    elif kind == "dual_exp":
        tr, td = tau_rise_ms, tau_decay_ms
        scale = tr * td / (td - tr)
        t_peak = scale * math.log(td / tr)
        peak = scale * (math.exp(-t_peak / td) - math.exp(-t_peak / tr))
        g = scale * (np.exp(-t / td) - np.exp(-t / tr)) / peak
    else:
        raise ValueError(f"unknown receptor kind {kind!r}")
    return np.where(t >= 0, g, 0.0)
