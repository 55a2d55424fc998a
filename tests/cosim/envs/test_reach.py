"""ForelimbReach-v0: gymnasium API, determinism, reward terms, options, vector envs, any MJCF."""

import dataclasses
import os
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from cosim.envs.params import ReachParams
from cosim.envs.reach import ForelimbReachEnv

from reach_helpers import BODY_ID

# what check_env says of any env with unbounded observations (gymnasium's MuJoCo envs too)
EXPECTED_WARNINGS = ("infinity", "symmetric and normalized")


def check_env_quietly(env, **kwargs):
    """check_env, failing on any warning other than the expected ones."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, **kwargs)
    unexpected = [str(w.message) for w in caught
                  if not any(e in str(w.message) for e in EXPECTED_WARNINGS)]
    assert not unexpected


def rollout(env, seed, n_steps, action_seed=0):
    """(observations, rewards, flags) of n_steps random actions, resetting when done."""
    rng = np.random.default_rng(action_seed)
    obs, _ = env.reset(seed=seed)
    out_obs, rewards, flags = [obs], [], []
    for _ in range(n_steps):
        action = rng.uniform(0, 1, env.action_space.shape).astype(np.float32)
        action *= env.action_space.high
        obs, reward, terminated, truncated, _ = env.step(action)
        out_obs.append(obs)
        rewards.append(reward)
        flags.append((terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
            out_obs.append(obs)
    return np.array(out_obs), np.array(rewards), flags


def test_check_env_passes():
    check_env_quietly(gym.make(BODY_ID).unwrapped, skip_render_check=True)


def test_spaces_and_layout():
    env = gym.make(BODY_ID).unwrapped
    assert env.action_space == gym.spaces.Box(0, 1, (10,), np.float32)
    assert env.observation_space.shape == (54,) and env.observation_space.dtype == np.float32
    lay = env.observation_layout
    assert list(lay) == ["qpos", "qvel", "muscle_length_m", "muscle_velocity_m_per_s",
                         "muscle_force_N", "muscle_activation", "end_effector_m", "target_m"]
    covered = np.concatenate([np.arange(54)[s] for s in lay.values()])
    assert np.array_equal(covered, np.arange(54))
    obs, info = env.reset(seed=3)
    assert np.allclose(obs[lay["target_m"]], info["target_m"])
    assert np.allclose(obs[lay["end_effector_m"]], info["end_effector_m"])
    assert np.allclose(obs[lay["muscle_force_N"]], info["force_N"], rtol=1e-6)


def test_same_seed_and_actions_give_identical_episodes_over_200_steps():
    a = rollout(gym.make(BODY_ID), seed=11, n_steps=200)
    b = rollout(gym.make(BODY_ID), seed=11, n_steps=200)
    assert np.array_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1])
    assert a[2] == b[2]
    assert any(trunc for _, trunc in a[2])  # the 100-step episode ended and reset in between


def test_different_seeds_give_different_targets():
    env = gym.make(BODY_ID)
    targets = {tuple(env.reset(seed=s)[1]["target_m"]) for s in range(8)}
    assert len(targets) >= 6
    starts = {tuple(env.reset(seed=s)[1]["end_effector_m"]) for s in range(4)}
    assert len(starts) == 4  # the joint noise differs too


def test_reward_terms_sum_to_the_reward():
    env = gym.make(BODY_ID)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, reward, _, _, info = env.step(rng.uniform(0, 1, 10).astype(np.float32))
        assert reward == info["reward_distance"] + info["reward_effort"]
        assert info["reward_distance"] == pytest.approx(-100.0 * info["distance_m"])
        assert info["reward_effort"] == pytest.approx(-0.01 * np.mean(info["excitation"] ** 2))
        assert info["reward_effort"] < 0


def test_holding_the_target_terminates_and_time_truncates():
    env = gym.make(BODY_ID, hold_ms=30.0, episode_ms=200.0, init_qpos_noise=0.0)
    _, info = env.reset(seed=0)
    env.reset(seed=0, options={"target_m": info["end_effector_m"]})
    rest = np.zeros(10, np.float32)
    flags = [env.step(rest)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (True, False)]
    env.reset(seed=0, options={"target_m": info["end_effector_m"] + [0.01, 0, 0]})
    flags = [env.step(rest)[2:4] for _ in range(20)]
    assert flags[-1] == (False, True) and not any(f[1] for f in flags[:-1])


def test_options_change_control_interval_and_episode_length():
    env = gym.make(BODY_ID, control_interval_ms=5.0, episode_ms=50.0)
    env.reset(seed=0)
    for k in range(10):
        *_, truncated, info = env.step(env.action_space.sample())
    assert info["time_s"] == pytest.approx(0.05) and truncated
    assert env.unwrapped.metadata["render_fps"] == 200.0


@pytest.mark.parametrize("options, error, match", [
    ({"control_interval": 5.0}, TypeError, "did you mean 'control_interval_ms'"),
    ({"control_interval_ms": 2.5}, ValueError, "whole multiple of the body timestep"),
    ({"episode_ms": 15.0}, ValueError, "whole multiple of control_interval_ms"),
    ({"target_tolerance_m": float("nan")}, ValueError, "target_tolerance_m"),
    ({"end_effector": "hand"}, ValueError, "no site or body of that name"),
    ({"render_mode": "human"}, ValueError, "render_mode"),
])
def test_bad_options_are_rejected_with_a_clear_message(options, error, match):
    with pytest.raises(error, match=match):
        ForelimbReachEnv(**options)


def test_bad_reset_options_and_actions_are_rejected():
    env = gym.make(BODY_ID).unwrapped
    with pytest.raises(ValueError, match="unknown"):
        env.reset(options={"target": [0, 0, 0]})
    with pytest.raises(ValueError, match="target_m"):
        env.reset(options={"target_m": [0, 0]})
    env.reset(seed=0)
    with pytest.raises(ValueError, match="one value per muscle"):
        env.step(np.zeros(3, np.float32))


def test_docstring_lists_every_option_with_its_default():
    for field in dataclasses.fields(ReachParams):
        assert f"``{field.name}``" in ForelimbReachEnv.__doc__
        assert f"``{field.default!r}``" in ForelimbReachEnv.__doc__


def test_render_without_render_mode_warns_and_returns_none():
    env = gym.make(BODY_ID).unwrapped
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_vector_env_with_four_copies(mode):
    envs = gym.make_vec(BODY_ID, num_envs=4, vectorization_mode=mode, episode_ms=100.0)
    try:
        obs, info = envs.reset(seed=[0, 1, 2, 3])
        assert obs.shape == (4, 54) and obs.dtype == np.float32
        assert len({tuple(t) for t in info["target_m"]}) == 4
        for _ in range(12):  # past the 10-step episode: autoreset
            obs, reward, terminated, truncated, info = envs.step(envs.action_space.sample())
        assert reward.shape == (4,) and np.all(np.isfinite(obs))
        assert info["excitation"].shape == (4, 10)
    finally:
        envs.close()


def test_sync_and_async_vector_envs_agree():
    kwargs = dict(num_envs=4, episode_ms=100.0)
    sync = gym.make_vec(BODY_ID, vectorization_mode="sync", **kwargs)
    asyn = gym.make_vec(BODY_ID, vectorization_mode="async", **kwargs)
    try:
        a, _ = sync.reset(seed=5)
        b, _ = asyn.reset(seed=5)
        assert np.array_equal(a, b)
        actions = np.random.default_rng(1).uniform(0, 1, (5, 4, 10)).astype(np.float32)
        for act in actions:
            a, ra, *_ = sync.step(act)
            b, rb, *_ = asyn.step(act)
        assert np.array_equal(a, b) and np.array_equal(ra, rb)
    finally:
        sync.close()
        asyn.close()


# ----------------------------------------------------------------------- any muscle MJCF

@pytest.mark.parametrize("end_effector", ["fingertip", "hand"])  # a site, a body
def test_generic_mjcf_with_a_site_or_body_as_end_effector(arm_path, end_effector):
    env = gym.make(BODY_ID, model_path=str(arm_path), end_effector=end_effector)
    check_env_quietly(env.unwrapped, skip_render_check=True)
    u = env.unwrapped
    assert u.muscle_names == ("anterior", "posterior", "flexor", "extensor")
    assert u.action_space.shape == (4,) and u.observation_space.shape == (2 * 2 + 4 * 4 + 6,)
    # the workspace is this arm's own: spread over tens of cm, in its x-z plane
    ws = u.workspace_m
    assert np.ptp(ws[:, 0]) > 0.1 and np.ptp(ws[:, 2]) > 0.05 and np.ptp(ws[:, 1]) < 1e-9
    obs, info = env.reset(seed=0)
    assert any(np.allclose(info["target_m"], w) for w in ws)
    for _ in range(5):
        obs, reward, *_ = env.step(env.action_space.sample())
    assert info["time_s"] == 0.0 and np.all(np.isfinite(obs))


def test_myo_sim_elbow_model():
    myo_sim = pytest.importorskip(
        "myo_sim", reason="myo-sim is not installed (pip install --no-deps myo-sim)")
    path = os.path.join(myo_sim.MODELS_DIR, "legacy", "elbow", "myoelbow_2dof6muscles.xml")
    env = gym.make(BODY_ID, model_path=path, end_effector="wrist")
    check_env_quietly(env.unwrapped, skip_render_check=True)
    u = env.unwrapped
    assert u.muscle_names == ("TRIlong", "TRIlat", "TRImed", "BIClong", "BICshort", "BRA")
    assert np.ptp(u.workspace_m, axis=0).max() > 0.05  # the elbow flexes over a human range
    env.reset(seed=0)
    for _ in range(10):
        obs, *_ = env.step(env.action_space.sample())
    assert np.all(np.isfinite(obs))
