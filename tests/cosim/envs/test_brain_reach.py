"""BrainForelimbReach-v0 on the tiny scene: gymnasium API, determinism, groups, vector envs."""

import dataclasses
import warnings

import gymnasium as gym
import numba
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from reach_helpers import BRAIN_ID, TINY_SCENE

from cosim.envs.brain_reach import BrainForelimbReachEnv
from cosim.envs.params import BrainReachParams, ReachParams

# check_env's notes on unbounded and unnormalised Boxes, and (when an earlier test ran the
# brain on OpenMP) the env's note about forking
EXPECTED_WARNINGS = ("infinity", "symmetric and normalized", "OpenMP threading layer")


@pytest.fixture(scope="module")
def env():
    env = gym.make(BRAIN_ID, scene=TINY_SCENE)
    yield env
    env.close()


def run(env, seed, n_steps, current_pA=400.0):
    """Observations, rewards and pool counts of n_steps of seeded random stimulation."""
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    rewards, counts = [], []
    for _ in range(n_steps):
        action = rng.uniform(0, current_pA, env.action_space.shape).astype(np.float32)
        obs, reward, terminated, truncated, info = env.step(action)
        out.append(obs)
        rewards.append(reward)
        counts.append(info["pool_counts"])
    return np.array(out), np.array(rewards), np.array(counts)


@pytest.mark.slow
def test_check_env_passes(env):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    assert not [w for w in caught if not any(e in str(w.message) for e in EXPECTED_WARNINGS)]


def test_spaces_layout_and_groups(env):
    u = env.unwrapped
    assert u.stim_group_names == ("L23_E/column(0,0)", "L23_E/column(1,0)")
    assert u.action_space == gym.spaces.Box(0, 500.0, (2,), np.float32)
    lay = u.observation_layout
    assert lay["pool_rate_Hz"] == slice(54, 64) and lay["stim_rate_Hz"] == slice(64, 66)
    assert lay["observed_rate_Hz"] == slice(66, 66)
    assert u.observation_space.shape == (66,)


@pytest.mark.slow
def test_same_seed_same_actions_identical_over_30_steps(env):
    a = run(env, seed=4, n_steps=30)
    b = run(env, seed=4, n_steps=30)
    for x, y in zip(a, b):
        assert np.array_equal(x, y)
    assert a[2].sum() > 0  # the stimulation made L5B fire


@pytest.mark.slow
def test_different_seeds_differ_in_target_and_brain_noise(env):
    a = run(env, seed=1, n_steps=10)
    b = run(env, seed=2, n_steps=10)
    lay = env.unwrapped.observation_layout
    assert not np.array_equal(a[0][0][lay["target_m"]], b[0][0][lay["target_m"]])
    assert not np.array_equal(a[2], b[2])  # other Poisson streams, other spikes


def test_stimulation_drives_the_muscles_and_rates_are_reported(env):
    env.reset(seed=0)
    _, _, _, _, quiet = env.step(np.zeros(2, np.float32))
    assert quiet["pool_counts"].sum() == 0 and np.all(quiet["excitation"] == 0)
    for _ in range(3):
        obs, reward, _, _, info = env.step(np.full(2, 500.0, np.float32))
    lay = env.unwrapped.observation_layout
    assert np.all(info["stim_current_pA"] == 500.0)
    assert np.all(info["stim_rate_Hz"] > 20.0)
    assert info["excitation"].max() > 0.1
    assert np.array_equal(obs[lay["pool_rate_Hz"]], info["pool_rate_Hz"].astype(np.float32))
    pool_size = env.unwrapped.pools.size
    assert np.allclose(info["pool_rate_Hz"], info["pool_counts"] / pool_size / 0.01)
    assert reward == info["reward_distance"] + info["reward_effort"]


def test_thalamus_stimulation_and_observed_groups():
    env = BrainForelimbReachEnv(TINY_SCENE, stim_groups=["TC"],
                                observed_groups=("L5B_E", "L23_FS+L23_LTS/column"),
                                control_interval_ms=5.0)
    assert env.stim_group_names == ("TC",)
    assert env.observed_group_names == ("L5B_E", "L23_FS+L23_LTS/column(0,0)",
                                        "L23_FS+L23_LTS/column(1,0)")
    env.reset(seed=0)
    obs, *_, info = env.step(np.array([500.0], np.float32))
    assert info["time_s"] == pytest.approx(0.005)
    assert info["stim_rate_Hz"][0] > 0 and info["observed_rate_Hz"].shape == (3,)
    assert obs.shape == env.observation_space.shape == (54 + 10 + 1 + 3,)
    env.close()


@pytest.mark.parametrize("options, match", [
    ({"stim_groups": ("L23_X/column",)}, "unknown cell type 'L23_X'"),
    ({"stim_groups": ("L23_E/layer",)}, "TYPES/column"),
    ({"stim_groups": ()}, "non-empty"),
    ({"max_current_pA": -1.0}, "max_current_pA"),
    ({"control_interval_ms": 2.5}, "whole multiple of bridge.interval_ms"),
])
def test_bad_brain_options_are_rejected(options, match):
    with pytest.raises(ValueError, match=match):
        BrainForelimbReachEnv(TINY_SCENE, **options)


def test_docstring_lists_every_option_with_its_default():
    for cls in (ReachParams, BrainReachParams):
        for field in dataclasses.fields(cls):
            assert f"``{field.name}``" in BrainForelimbReachEnv.__doc__
            assert f"``{field.default!r}``" in BrainForelimbReachEnv.__doc__


def _omp_already_running() -> bool:
    try:
        return numba.threading_layer() == "omp"
    except ValueError:  # no parallel kernel has run in this process yet
        return False


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_env_with_four_copies(mode):
    vector_kwargs = {}
    if mode == "async" and _omp_already_running():
        # an earlier test ran the brain on numba's OpenMP layer, which forked children cannot
        # use (the env picks a fork-safe layer only if it comes first); start them fresh
        vector_kwargs["context"] = "forkserver"
    envs = gym.make_vec(BRAIN_ID, num_envs=4, vectorization_mode=mode, scene=TINY_SCENE,
                        episode_ms=50.0, vector_kwargs=vector_kwargs)
    try:
        obs, info = envs.reset(seed=[0, 1, 2, 3])
        assert obs.shape == (4, 66)
        for _ in range(6):  # past the 5-step episode: autoreset
            obs, reward, terminated, truncated, info = envs.step(
                np.full((4, 2), 400.0, np.float32))
        assert np.all(np.isfinite(obs)) and info["pool_counts"].shape == (4, 10)
    finally:
        envs.close()
