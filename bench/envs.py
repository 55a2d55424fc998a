#!/usr/bin/env python3
"""Env steps per second of the gymnasium envs, single env and a 4-env AsyncVectorEnv, next to
MyoSuite's elbow env (myoElbowPose1D6MRandom-v0) when myosuite is installed.

    python bench/envs.py [--seconds 5] [--brain-scene brain_reach.toml] [--json OUT.json]

Random actions; episodes reset when they end (vector envs autoreset). "steps/s" is wall
clock; "cpu steps/s" divides by this process's CPU time (single env only), which shows the
cost when other jobs share the cores. For the brain env the real-time factor is wall seconds
per simulated second (control_interval_ms of brain + body per step). The async rows count
the steps of all 4 copies; on a machine with fewer than 4 cores they share them.
"""
from __future__ import annotations

import argparse
import json
import time

import gymnasium as gym

import cosim  # noqa: F401  (registers the envs)

MYO_ID = "myoElbowPose1D6MRandom-v0"


def bench_single(make, seconds: float) -> dict:
    env = make()
    env.action_space.seed(0)
    env.reset(seed=0)
    for _ in range(20):  # warm-up: JIT caches, first allocations
        _step(env)
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        for _ in range(50):
            _step(env)
        n += 50
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    env.close()
    return {"steps_per_s": n / wall, "cpu_steps_per_s": n / cpu, "steps": n}


def _step(env) -> None:
    *_, terminated, truncated, _ = env.step(env.action_space.sample())
    if terminated or truncated:
        env.reset()


def bench_async(env_id: str, kwargs: dict, seconds: float, n_envs: int = 4) -> dict:
    envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="async", **kwargs)
    envs.action_space.seed(0)
    envs.reset(seed=0)
    for _ in range(10):
        envs.step(envs.action_space.sample())
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(10):
            envs.step(envs.action_space.sample())
        n += 10 * n_envs
    wall = time.perf_counter() - t0
    envs.close()
    return {"steps_per_s": n / wall, "steps": n}


def bench_myosuite(seconds: float):
    try:
        import myosuite  # noqa: F401  (registers the myo envs)
    except ImportError:
        return None
    return bench_single(lambda: gym.make(MYO_ID), seconds)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--brain-scene", default="brain_reach.toml")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    body_id, brain_id = "cosim/ForelimbReach-v0", "cosim/BrainForelimbReach-v0"
    brain_kwargs = {"scene": args.brain_scene}
    results = {}
    results["body_single"] = bench_single(lambda: gym.make(body_id), args.seconds)
    results["body_async4"] = bench_async(body_id, {}, args.seconds)
    probe = gym.make(brain_id, **brain_kwargs).unwrapped
    interval_s = probe.interval_s
    results["brain_size"] = {"scene": args.brain_scene, "cells": int(probe.n_cells),
                             "synapses": int(probe.n_synapses),
                             "control_interval_ms": interval_s * 1e3}
    probe.close()
    results["brain_single"] = bench_single(lambda: gym.make(brain_id, **brain_kwargs),
                                           args.seconds)
    results["brain_async4"] = bench_async(brain_id, brain_kwargs, args.seconds)
    for key in ("brain_single", "brain_async4"):
        results[key]["real_time_factor"] = 1.0 / (results[key]["steps_per_s"] * interval_s)
    results["myosuite_single"] = bench_myosuite(args.seconds)

    size = results["brain_size"]
    print(f"{'env':<44} {'steps/s':>10} {'cpu steps/s':>12} {'RTF':>7}")
    rows = [(f"{body_id} (single)", results["body_single"]),
            (f"{body_id} (4 x async)", results["body_async4"]),
            (f"{brain_id} (single)", results["brain_single"]),
            (f"{brain_id} (4 x async)", results["brain_async4"])]
    for name, r in rows:
        cpu = f"{r['cpu_steps_per_s']:12.0f}" if "cpu_steps_per_s" in r else f"{'':>12}"
        rtf = f"{r['real_time_factor']:7.2f}" if "real_time_factor" in r else f"{'':>7}"
        print(f"{name:<44} {r['steps_per_s']:10.0f} {cpu} {rtf}")
    if results["myosuite_single"] is None:
        print(f"MyoSuite {MYO_ID}: not installed (pip install myosuite)")
    else:
        r = results["myosuite_single"]
        print(f"{'MyoSuite ' + MYO_ID + ' (single)':<44} {r['steps_per_s']:10.0f} "
              f"{r['cpu_steps_per_s']:12.0f}")
    print(f"brain: {size['scene']}, {size['cells']} cells, {size['synapses']} synapses; "
          f"one env step = {size['control_interval_ms']:g} ms of brain and body")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
