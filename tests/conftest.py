"""Shared fixtures: small scenes derived from the shipped demo, paths, MPI helpers."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENES = ROOT / "scenes"
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def scene_text(**replace) -> str:
    """The demo scene's text with ``old=new`` line replacements (keys are TOML lines)."""
    text = (SCENES / "demo.toml").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def write_scene(tmp_path: Path, name: str = "scene.toml", **replace) -> Path:
    """Write a variant of the demo scene next to a copy of its MJCF reference."""
    path = tmp_path / name
    text = scene_text(**replace).replace('mjcf_path = "forelimb.xml"',
                                         f'mjcf_path = "{SCENES / "forelimb.xml"}"')
    path.write_text(text)
    return path


SMALL = {"duration_ms = 1000.0": "duration_ms = 200.0",
         "density_scale = 0.3 ": "density_scale = 0.1 ",
         "start_ms = 200.0": "start_ms = 50.0",
         "stop_ms = 800.0": "stop_ms = 150.0"}


@pytest.fixture
def small_scene_path(tmp_path) -> Path:
    """A ~1000-cell, 200 ms variant of the demo (fast enough for many tests)."""
    return write_scene(tmp_path, "small.toml", **SMALL)


def diverge_body_at(monkeypatch, call: int) -> None:
    """Make the body's ``call``-th ``Body.step`` (1-based; one per bridge interval) start
    from an infinite velocity, so MuJoCo resets the state and the run must stop there."""
    from body.body import Body
    real_step, calls = Body.step, []

    def step(self, excitation, duration_s):
        calls.append(1)
        if len(calls) == call:
            self.data.qvel[:] = np.inf
        real_step(self, excitation, duration_s)

    monkeypatch.setattr(Body, "step", step)
