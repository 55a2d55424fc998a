"""Progress bar with simulated time and real-time factor (tqdm), off when not wanted."""
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
                             desc="simulating", leave=True, dynamic_ncols=True)
        self._t0 = time.perf_counter()
        self._done_ms = 0.0
        return self

    def update(self, k: int) -> None:
        if self._bar is None or ((k + 1) % self.every and k + 1 != self.scene.n_intervals):
            return
        now_ms = (k + 1) * self.scene.bridge.interval_ms
        self._bar.update(round(now_ms) - round(self._done_ms))
        self._done_ms = now_ms
        wall = time.perf_counter() - self._t0
        self._bar.set_postfix_str(f"{wall / (now_ms * 1e-3):.2f} s wall / s sim")

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()
        return False
