"""render_mode="rgb_array": check_env with rendering, and frames, in a fresh process.

MuJoCo picks its GL backend once per process, so each check runs in a subprocess with
MUJOCO_GL=egl (or the caller's MUJOCO_GL) and is skipped when no backend works here.
"""

import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import warnings
import numpy as np
import gymnasium as gym
import cosim
from gymnasium.utils.env_checker import check_env

warnings.simplefilter("ignore")
for env_id, kwargs in [("cosim/ForelimbReach-v0", {}),
                       ("cosim/BrainForelimbReach-v0", {"scene": "brain_reach_tiny.toml"})]:
    env = gym.make(env_id, render_mode="rgb_array", render_width=160, render_height=120,
                   **kwargs)
    check_env(env.unwrapped)
    env.reset(seed=0)
    first = env.render()
    assert first.shape == (120, 160, 3) and first.dtype == np.uint8, first.shape
    high = env.action_space.high
    for _ in range(20):
        env.step(high)
    moved = env.render()
    env.close()
    print("FRAME", env_id, float(first.std()), int((first != moved).any(axis=2).sum()))
"""

GL_MARKERS = ("cannot render", "OpenGL", "EGL", "OSMesa", "glGetError", "mjr_makeContext")


@pytest.mark.render
@pytest.mark.slow
def test_check_env_with_rgb_array_rendering():
    env = {**os.environ, "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl")}
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0:
        if "AssertionError" not in result.stderr and any(m in result.stderr
                                                        for m in GL_MARKERS):
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            pytest.skip(f"no OpenGL backend (MUJOCO_GL={env['MUJOCO_GL']}): {last}")
        pytest.fail(result.stderr)
    lines = [line.split() for line in result.stdout.splitlines() if line.startswith("FRAME")]
    assert len(lines) == 2
    for _, env_id, std, changed in lines:
        assert float(std) > 5.0, env_id  # not a blank frame
        assert int(changed) > 0, env_id  # the limb moved in the picture
