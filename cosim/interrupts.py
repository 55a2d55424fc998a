"""Why a run stops early: a non-finite state, or SIGINT/SIGTERM.

SIGINT/SIGTERM: finish the interval, write what was computed, stop.
A signal only sets a flag; the loop looks at it between intervals, so the file never
holds the spikes of an interval without its body row.  Exit status 128 + signal number
(130 for Ctrl-C, 143 for SIGTERM), as shells report a process killed by the signal.
"""
from __future__ import annotations

from contextlib import contextmanager
import signal
import threading

__all__ = ["RunInterrupted", "SimulationFault", "deferred_signals"]


class SimulationFault(RuntimeError):
    """The state went non-finite: the run stops at the interval it was found in."""


class RunInterrupted(Exception):
    """The run was stopped by a signal after writing everything up to ``t_ms``."""

    def __init__(self, signum: int, t_ms: float):
        self.signum, self.t_ms = signum, t_ms
        self.exit_code = 128 + signum
        self.checkpoint: str | None = None   # set when a checkpoint was written on the way
        super().__init__(f"{signal.Signals(signum).name} at t = {t_ms:g} ms: stopped after "
                         "writing everything up to there (the file is marked interrupted)")


@contextmanager
def deferred_signals():
    """Yield a list that receives the numbers of the SIGINT/SIGTERM caught meanwhile.

    Outside the main thread (where Python cannot install handlers) the list stays empty
    and signals keep their usual effect.
    """
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    old = {s: signal.signal(s, lambda signum, frame: caught.append(signum))
           for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield caught
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
