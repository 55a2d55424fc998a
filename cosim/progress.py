"""Progress bar with simulated time, real-time factor and ETA (tqdm), off when not wanted.

The first update includes numba's compilation of the kernels (seconds, once per machine
when cached), so it is shown apart ("compiling kernels...", then its wall time) and the
real-time factor is measured from there on.
"""
from __future__ import annotations

import time

__all__ = ["Progress"]


class Progress:
    """``with Progress(scene) as bar: bar.update(k)`` after each interval k."""

    def __init__(self, scene, enabled: bool = True, every_ms: float = 50.0):
        self.scene, self.enabled = scene, enabled
        self.every = max(1, int(round(every_ms / scene.bridge.interval_ms)))
        self._bar = None

    def __enter__(self):
        if self.enabled:
            from tqdm import tqdm
            self._bar = tqdm(total=round(self.scene.run.duration_ms), unit="ms sim",
                             desc="compiling kernels...", leave=True, dynamic_ncols=True)
        self._t0 = time.perf_counter()
        self._done_ms = 0.0
        self._first = None          # (wall s, simulated ms) at the first update
        return self

    def update(self, k: int) -> None:
        if self._bar is None or ((k + 1) % self.every and k + 1 != self.scene.n_intervals):
            return
        now_ms = (k + 1) * self.scene.bridge.interval_ms
        wall = time.perf_counter() - self._t0
        if self._first is None:
            self._first = (wall, now_ms)
            self._bar.set_description("simulating")
            self._bar.reset()           # tqdm's rate and ETA start after the compilation
            self._bar.update(round(now_ms))
            self._bar.set_postfix_str(f"first {now_ms:g} ms incl. compiling: {wall:.1f} s")
        else:
            self._bar.update(round(now_ms) - round(self._done_ms))
            w0, t0 = self._first
            self._bar.set_postfix_str(f"{(wall - w0) / ((now_ms - t0) * 1e-3):.2f} s wall / "
                                      f"s sim (first {t0:g} ms {w0:.1f} s)")
        self._done_ms = now_ms

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False
