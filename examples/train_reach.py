"""Train an agent on cosim/ForelimbReach-v0 and print the learning curve.

Default method: the cross-entropy method (CEM, an evolution strategy) on a linear policy,
numpy only. The policy maps the paw-to-target vector, the target and the joint velocities to
muscle excitations, ``excitation = clip(W @ features + b, 0, 1)``; each generation samples
policies around the current mean, scores them on the same few episodes, and refits the mean
and spread to the best ones. With ``--algo ppo`` it trains stable-baselines3's PPO instead
(``pip install stable-baselines3``).

    python examples/train_reach.py                 # CEM, ~1-2 minutes
    python examples/train_reach.py --quick         # a short run (what the test does)
    python examples/train_reach.py --algo ppo --timesteps 200000
    python examples/train_reach.py --env cosim/BrainForelimbReach-v0 --quick   # through the brain
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import cosim  # noqa: F401  (registers the envs)


class LinearPolicy:
    """action = clip(W @ features(obs) + b, low, high), features from the observation layout.

    Features (all unitless): paw-to-target vector and target position relative to the
    workspace centre, both in workspace standard deviations; joint velocities in units of
    ``qvel_scale``; and for the brain env nothing more (rates are left out to keep it small).
    """

    def __init__(self, env: gym.Env, qvel_scale: float = 10.0):
        u = env.unwrapped
        self.layout = u.observation_layout
        ws = u.workspace_m
        self.centre_m, self.scale_m = ws.mean(axis=0), float(ws.std(axis=0).mean())
        self.qvel_scale = qvel_scale
        self.low, self.high = env.action_space.low, env.action_space.high
        self.n_features = 6 + (self.layout["qvel"].stop - self.layout["qvel"].start)
        self.n_actions = env.action_space.shape[0]
        self.n_params = self.n_actions * (self.n_features + 1)

    def features(self, obs: np.ndarray) -> np.ndarray:
        lay = self.layout
        target, paw = obs[lay["target_m"]], obs[lay["end_effector_m"]]
        return np.concatenate([(target - paw) / self.scale_m,
                               (target - self.centre_m) / self.scale_m,
                               obs[lay["qvel"]] / self.qvel_scale])

    def act(self, params: np.ndarray, obs: np.ndarray) -> np.ndarray:
        W = params.reshape(self.n_actions, self.n_features + 1)
        # the policy works in [0, 1]; the action space may be scaled (brain env: pA)
        u = W[:, :-1] @ self.features(obs) + W[:, -1]
        return (self.low + np.clip(u, 0.0, 1.0) * (self.high - self.low)).astype(np.float32)


def episode_return(env: gym.Env, act, seed: int) -> float:
    obs, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(act(obs))
        total += reward
        done = terminated or truncated
    return total


def random_return(env: gym.Env, seeds) -> float:
    """Mean return of uniformly random actions (the baseline to beat)."""
    env.action_space.seed(0)
    return float(np.mean([episode_return(env, lambda o: env.action_space.sample(), s)
                          for s in seeds]))


def train_cem(env: gym.Env, generations: int = 30, population: int = 32, elite: int = 8,
              episodes: int = 4, seed: int = 0, init_std: float = 0.5, eval_seeds=(),
              log=print):
    """Cross-entropy method on a LinearPolicy.

    Returns
    -------
    policy : LinearPolicy
    mean_params : numpy.ndarray of float64, shape (policy.n_params,)
    history : list of dict
        Per generation: ``population_return`` (mean over all candidates, on this
        generation's episodes) and ``eval_return`` (the mean policy on the fixed
        ``eval_seeds`` episodes, the learning curve), starting with the initial policy.
    """
    policy = LinearPolicy(env)
    rng = np.random.default_rng(seed)
    mean = np.zeros(policy.n_params)
    mean.reshape(policy.n_actions, -1)[:, -1] = 0.1  # start with weak, even excitation
    std = np.full(policy.n_params, init_std)
    def evaluate(params):
        return float(np.mean([episode_return(env, lambda o: policy.act(params, o), s)
                              for s in eval_seeds])) if len(eval_seeds) else float("nan")

    history = [{"population_return": float("nan"), "eval_return": evaluate(mean)}]
    log(f"initial policy: evaluation return {history[0]['eval_return']:9.3f}")
    for gen in range(generations):
        seeds = [int(s) for s in rng.integers(2**31 - 1, size=episodes)]  # same for every candidate
        candidates = mean + std * rng.standard_normal((population, policy.n_params))
        scores = np.array([np.mean([episode_return(env, lambda o: policy.act(c, o), s)
                                    for s in seeds]) for c in candidates])
        best = candidates[np.argsort(scores)[-elite:]]
        mean, std = best.mean(axis=0), best.std(axis=0) + 0.02  # floor: keep exploring
        history.append({"population_return": float(scores.mean()),
                        "eval_return": evaluate(mean)})
        log(f"generation {gen:3d}: population mean return {scores.mean():9.3f}   "
            f"best {scores.max():9.3f}   mean policy on evaluation episodes "
            f"{history[-1]['eval_return']:9.3f}")
    return policy, mean, history


def train_ppo(env_id: str, timesteps: int, seed: int, env_kwargs: dict, eval_seeds, log=print):
    """stable-baselines3 PPO; returns the per-chunk evaluation returns."""
    try:
        from stable_baselines3 import PPO
    except ImportError:
        raise ImportError("--algo ppo needs stable-baselines3: pip install stable-baselines3") \
            from None
    env = gym.make(env_id, **env_kwargs)
    eval_env = gym.make(env_id, **env_kwargs)
    model = PPO("MlpPolicy", env, seed=seed, verbose=0)
    chunk, history = max(2048, timesteps // 10), []
    for done in range(chunk, timesteps + chunk, chunk):
        model.learn(total_timesteps=chunk, reset_num_timesteps=False)
        ret = float(np.mean([episode_return(
            eval_env, lambda o: model.predict(o, deterministic=True)[0], s)
            for s in eval_seeds]))
        history.append(ret)
        log(f"{done:8d} steps: mean evaluation return {ret:9.3f}")
    return model, history


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="cosim/ForelimbReach-v0")
    parser.add_argument("--algo", choices=("cem", "ppo"), default="cem")
    parser.add_argument("--generations", type=int, default=30)
    parser.add_argument("--population", type=int, default=32)
    parser.add_argument("--episodes", type=int, default=4, help="episodes per candidate")
    parser.add_argument("--episode-ms", type=float, default=500.0)
    parser.add_argument("--timesteps", type=int, default=200_000, help="PPO only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a short run: 12 generations of 20, 3 episodes of 300 ms")
    args = parser.parse_args(argv)
    if args.quick:
        args.generations, args.population, args.episodes, args.episode_ms = 12, 20, 3, 300.0
        args.timesteps = 20_000
    env_kwargs = {"episode_ms": args.episode_ms}
    if args.env.startswith("cosim/Brain") and args.quick:
        env_kwargs["scene"] = "brain_reach_tiny.toml"
    eval_seeds = range(10_000, 10_010)  # held out: never seen in training
    curve_seeds = range(20_000, 20_000 + (4 if args.quick else 8))  # the learning curve
    env = gym.make(args.env, **env_kwargs)
    t0 = time.perf_counter()
    baseline = random_return(env, eval_seeds)
    print(f"random policy: mean return {baseline:.3f} over {len(eval_seeds)} held-out episodes")
    if args.algo == "ppo":
        _, curve = train_ppo(args.env, args.timesteps, args.seed, env_kwargs, eval_seeds)
        final = curve[-1]
    else:
        policy, params, history = train_cem(env, args.generations, args.population,
                                            max(2, args.population // 4), args.episodes,
                                            args.seed, eval_seeds=curve_seeds)
        curve = [h["eval_return"] for h in history]
        final = float(np.mean([episode_return(env, lambda o: policy.act(params, o), s)
                               for s in eval_seeds]))
    print(f"trained policy: mean return {final:.3f} on the held-out episodes "
          f"(random {baseline:.3f}); {time.perf_counter() - t0:.1f} s")
    env.close()
    return {"random_return": baseline, "final_return": final, "curve": curve}


if __name__ == "__main__":
    main()
