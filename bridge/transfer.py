"""Transfer functions of the bridge: spike counts -> excitation, afferent rates -> drive."""
from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np

__all__ = ["MuscleTransfer", "BridgeParams", "ExcitationTransfer", "afferent_drive_Hz"]


@dataclass(frozen=True, kw_only=True)
class MuscleTransfer:
    """excitation = clip(baseline + gain_per_Hz * pool rate, 0, saturation), unitless."""

    gain_per_Hz: float = 0.02
    baseline: float = 0.0
    saturation: float = 1.0

    def __post_init__(self):
        if not (0 <= self.gain_per_Hz < math.inf):
            raise ValueError(f"gain_per_Hz = {self.gain_per_Hz!r}: must be >= 0 and finite")
        if not (0 <= self.baseline <= 1):
            raise ValueError(f"baseline = {self.baseline!r}: must be in [0, 1]")
        if not (0 < self.saturation <= 1):
            raise ValueError(f"saturation = {self.saturation!r}: must be in (0, 1]")


@dataclass(frozen=True, kw_only=True)
class BridgeParams:
    """How brain and body are coupled.

    interval_ms : communication interval (a multiple of the brain step).
    lag : one-interval lag so brain and body compute at the same time (else lockstep).
    motor_output : if false the body ignores the brain (counts still recorded).
    feedback : if false the brain hears the afferent rates of the limb at rest for the
        whole run (proprioceptive feedback off; the limb still moves).
    pool_cell_type : the output cell type pooled per muscle.
    rate_tau_ms : low-pass time constant of the pool rate estimate (0 = none).
    transfer : default per-muscle transfer; muscles : overrides by muscle name.
    """

    interval_ms: float = 1.0
    lag: bool = True
    motor_output: bool = True
    feedback: bool = True
    pool_cell_type: str = "L5B_E"
    rate_tau_ms: float = 10.0
    transfer: MuscleTransfer = MuscleTransfer()
    muscles: dict = field(default_factory=dict)

    def __post_init__(self):
        if not (0 < self.interval_ms < math.inf):
            raise ValueError(f"interval_ms = {self.interval_ms!r}: must be > 0 and finite")
        if not (0 <= self.rate_tau_ms < math.inf):
            raise ValueError(f"rate_tau_ms = {self.rate_tau_ms!r}: must be >= 0 and finite")

    def transfer_arrays(self, muscle_names):
        """(gain_per_Hz, baseline, saturation) as float64[n_muscles] for these muscles."""
        unknown = sorted(set(self.muscles) - set(muscle_names))
        if unknown:
            raise ValueError(f"muscles.{unknown[0]}: no such muscle in the body; "
                             f"muscles are {', '.join(muscle_names)}")
        rows = [self.muscles.get(m, self.transfer) for m in muscle_names]
        return tuple(np.array([getattr(r, k) for r in rows], dtype=np.float64)
                     for k in ("gain_per_Hz", "baseline", "saturation"))


class ExcitationTransfer:
    """Pool spike counts per interval -> muscle excitation in [0, 1].

    The pool rate (Hz) is low-passed with ``rate_tau_ms`` (exact exponential update),
    then mapped by each muscle's transfer.
    """

    def __init__(self, params: BridgeParams, muscle_names, pool_size: np.ndarray):
        self.gain, self.baseline, self.saturation = params.transfer_arrays(muscle_names)
        self.pool_size = np.maximum(np.asarray(pool_size, dtype=np.float64), 1.0)
        self.interval_ms = params.interval_ms
        tau = params.rate_tau_ms
        self.decay = float(np.exp(-params.interval_ms / tau)) if tau > 0 else 0.0
        self.rate_Hz = np.zeros(len(self.pool_size))

    def rest(self) -> np.ndarray:
        """Excitation with no brain output (the baseline)."""
        return np.clip(self.baseline, 0.0, self.saturation)

    def __call__(self, counts: np.ndarray) -> np.ndarray:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.shape != self.pool_size.shape:
            raise ValueError(f"counts: expected shape {self.pool_size.shape}, got {counts.shape}")
        instant_Hz = counts / (self.pool_size * self.interval_ms * 1e-3)
        self.rate_Hz = self.decay * self.rate_Hz + (1.0 - self.decay) * instant_Hz
        # np.clip's bits without its Python wrapper (this runs every interval)
        return np.minimum(np.maximum(self.baseline + self.gain * self.rate_Hz, 0.0),
                          self.saturation)


def afferent_drive_Hz(rates_Hz: np.ndarray, channel_of_cell: np.ndarray,
                      fibres_per_cell: float) -> np.ndarray:
    """Poisson input rate (Hz) of each afferent input cell.

    rates_Hz : float64[n_muscles, 3] (Ia, II, Ib); channel_of_cell : int64[k] into
    the flattened rates; each cell pools ``fibres_per_cell`` fibres of its channel.
    """
    return np.asarray(rates_Hz, dtype=np.float64).ravel()[channel_of_cell] * fibres_per_cell
