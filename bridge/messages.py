"""The bridge's message format: what crosses between brain ranks and the body rank.

Three messages, each a flat array with a fixed header so that any transport (a
Python queue, MPI point-to-point) carries the same bytes:

* ``Hello`` (body -> every brain rank, once): protocol version and muscle names.
* ``MotorCounts`` (brain rank -> body, every interval): L5B spike counts per motor pool.
* ``Afferents`` (body -> every brain rank, every interval): Ia/II/Ib rates per muscle (Hz).

Header (float64): [MAGIC, VERSION, kind, interval index, payload length, stop signal].
The stop signal (0: none) is how a run stops cleanly on SIGINT/SIGTERM over MPI: a brain
rank that caught signal N says so in its counts; the body, which decides for everyone,
marks the afferents of the first interval the brain should no longer compute.
"""
from __future__ import annotations

from dataclasses import dataclass
import json

import numpy as np

__all__ = ["PROTOCOL_VERSION", "ProtocolError", "Hello", "MotorCounts", "Afferents",
           "HEADER_LEN"]

PROTOCOL_VERSION = 2
_MAGIC = 0x434F53  # "COS"
HEADER_LEN = 6
_KIND_COUNTS = 2
_KIND_AFFERENTS = 3


class ProtocolError(RuntimeError):
    """A message that does not match what the receiver expects."""


def _pack(kind: int, interval: int, payload: np.ndarray, stop_signal: int = 0) -> np.ndarray:
    buf = np.empty(HEADER_LEN + payload.size, dtype=np.float64)
    buf[:HEADER_LEN] = (_MAGIC, PROTOCOL_VERSION, kind, interval, payload.size, stop_signal)
    buf[HEADER_LEN:] = payload.ravel()
    return buf


def _unpack(buf: np.ndarray, kind: int, name: str):
    buf = np.asarray(buf, dtype=np.float64)
    if buf.size < HEADER_LEN or buf[0] != _MAGIC:
        raise ProtocolError(f"{name}: not a bridge message (bad magic or {buf.size} values)")
    if buf[1] != PROTOCOL_VERSION:
        raise ProtocolError(f"{name}: protocol version {int(buf[1])}, "
                            f"expected {PROTOCOL_VERSION}")
    if buf[2] != kind:
        raise ProtocolError(f"{name}: got message kind {int(buf[2])}, expected {kind}")
    n = int(buf[4])
    if buf.size != HEADER_LEN + n:
        raise ProtocolError(f"{name}: header says {n} values, got {buf.size - HEADER_LEN}")
    return int(buf[3]), buf[HEADER_LEN:], int(buf[5])


@dataclass(frozen=True)
class Hello:
    """Sent once by the body: what the brain needs to know about it."""

    muscle_names: tuple
    interval_ms: float
    version: int = PROTOCOL_VERSION

    def pack(self) -> np.ndarray:
        text = json.dumps({"version": self.version, "muscles": list(self.muscle_names),
                           "interval_ms": self.interval_ms})
        return np.frombuffer(text.encode(), dtype=np.uint8).copy()

    @classmethod
    def unpack(cls, buf: np.ndarray) -> "Hello":
        try:
            d = json.loads(bytes(np.asarray(buf, dtype=np.uint8)).decode())
        except ValueError as exc:
            raise ProtocolError(f"Hello: not valid JSON ({exc})") from None
        if d.get("version") != PROTOCOL_VERSION:
            raise ProtocolError(f"Hello: protocol version {d.get('version')}, "
                                f"expected {PROTOCOL_VERSION}")
        return cls(muscle_names=tuple(d["muscles"]), interval_ms=float(d["interval_ms"]))


@dataclass(frozen=True)
class MotorCounts:
    """Spike counts of the motor pools in one interval. counts: int64[n_pools];
    stop_signal: a signal the sender caught (asks the body to stop the run), 0 if none."""

    interval: int
    counts: np.ndarray
    stop_signal: int = 0

    def pack(self) -> np.ndarray:
        return _pack(_KIND_COUNTS, self.interval, np.asarray(self.counts, dtype=np.float64),
                     self.stop_signal)

    @classmethod
    def unpack(cls, buf: np.ndarray) -> "MotorCounts":
        interval, payload, stop = _unpack(buf, _KIND_COUNTS, "MotorCounts")
        return cls(interval=interval, counts=payload.astype(np.int64), stop_signal=stop)


@dataclass(frozen=True)
class Afferents:
    """Afferent firing rates for one interval. rates_Hz: float64[n_muscles, 3] (Ia, II, Ib);
    stop_signal: nonzero when the run stops (by that signal) before this interval."""

    interval: int
    rates_Hz: np.ndarray
    stop_signal: int = 0

    def pack(self) -> np.ndarray:
        return _pack(_KIND_AFFERENTS, self.interval, np.asarray(self.rates_Hz, dtype=np.float64),
                     self.stop_signal)

    @classmethod
    def unpack(cls, buf: np.ndarray) -> "Afferents":
        interval, payload, stop = _unpack(buf, _KIND_AFFERENTS, "Afferents")
        if payload.size % 3:
            raise ProtocolError(f"Afferents: {payload.size} values is not n_muscles x 3")
        return cls(interval=interval, rates_Hz=payload.reshape(-1, 3).copy(), stop_signal=stop)
